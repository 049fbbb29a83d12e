"""Async HTTP clients of SIASN (BKN) and SIAPP NV: plain Python, no Airflow, so they run and
are tested outside a task, and the Airflow hooks stay a thin connection → client step.

One transport core (:mod:`~siapp_siasn.clients.http`: session, bounded concurrency, rate limit,
retries that honour Retry-After, tokens) under two API clients (:mod:`~siapp_siasn.clients.siasn`,
:mod:`~siapp_siasn.clients.siapp`) that return raw dicts; parsing belongs to
:mod:`siapp_siasn.models`. Settings are validated by :mod:`~siapp_siasn.clients.config`.
"""
