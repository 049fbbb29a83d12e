"""Checks of what the APIs answer, as data: the finding shape and the contract/drift classifier.

Pure Python (no Airflow, no I/O): the API monitor (:mod:`siapp_siasn.flows.api_monitor`) feeds
sampled responses in and writes the findings to the store (``store.findings``); quality gates and
the reconciliation may write findings of the same shape later.
"""

from siapp_siasn.checks.contract import (
    Expectation,
    compare,
    expectation_from_contract,
    expectation_from_model,
    unwrap_envelope,
)
from siapp_siasn.checks.findings import (
    CODES,
    KINDS,
    SEVERITIES,
    SYSTEMS,
    Finding,
    describe,
    worst,
)

__all__ = [
    "CODES",
    "KINDS",
    "SEVERITIES",
    "SYSTEMS",
    "Expectation",
    "Finding",
    "compare",
    "describe",
    "expectation_from_contract",
    "expectation_from_model",
    "unwrap_envelope",
    "worst",
]
