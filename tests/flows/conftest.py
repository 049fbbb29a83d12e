"""Wiring of the flow tests: a SIASN client on a running sandbox, stores on SQLite or on the
real PostgreSQL, run contexts dated on the sandbox's simulated clock.

Everything here is real: HTTP over loopback to a sandbox subprocess, a SQLite file in the
test's ``tmp_path`` or a fresh database on the session's PostgreSQL (tests/fixtures/postgres.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.clients.config import SiasnConfig
from siapp_siasn.clients.siasn import SiasnClient
from siapp_siasn.flows.asn_pull import PullParams, pull_asn, pull_referensi
from siapp_siasn.flows.context import RunContext
from siapp_siasn.lineage import LineageRecord
from siapp_siasn.models.siasn import REFERENCE_TABLES
from siapp_siasn.store import Store

T = TypeVar("T")

HASH_KEY = b"flow-tests-hash-key"
#: The sandbox's default credentials (sandbox/README.md).
SANDBOX_CREDENTIALS: dict[str, str] = {
    "client_id": "siapp-hub",
    "client_secret": "sandbox-secret",
    "sso_username": "siapp",
    "sso_password": "sandbox-password",
}
#: Client settings for loopback tests: no client-side rate limit, short backoffs.
CLIENT_DEFAULTS: dict[str, Any] = {
    "concurrency": 32,
    "rate_limit_rps": None,
    "backoff_base_s": 0.05,
    "backoff_max_s": 1.0,
    "timeout": 20.0,
}

StoreFactory = Callable[..., Store]


def client_config(sb: RunningSandbox, **overrides: Any) -> SiasnConfig:
    """Validated SIASN settings pointing at the sandbox (``overrides`` win)."""
    return SiasnConfig(
        base_url=sb.siasn_url, **{**SANDBOX_CREDENTIALS, **CLIENT_DEFAULTS, **overrides}
    )


def siasn_client(sb: RunningSandbox, **overrides: Any) -> SiasnClient:
    """A fresh SIASN client on the sandbox (a client is one ``async with`` session)."""
    return SiasnClient.from_config(client_config(sb, **overrides))


def sandbox_today(sb: RunningSandbox) -> dt.date:
    """Today on the sandbox's simulated clock."""
    return dt.date.fromisoformat(sb.clock()["date"])


def run_context(sb: RunningSandbox, run_id: str, **kw: Any) -> RunContext:
    """A run dated on the sandbox's today (the flows take "today" from ``RunContext.now``)."""
    # noon UTC is 19:00 in Jakarta: the same calendar day on both clocks
    now = dt.datetime.combine(sandbox_today(sb), dt.time(12, 0), tzinfo=dt.UTC)
    return RunContext(dag_id="flow-tests", run_id=run_id, task_id="pull", now=now, **kw)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one flow coroutine to completion."""
    return asyncio.run(coro)


def pull(
    sb: RunningSandbox,
    store: Store,
    run_id: str,
    params: PullParams | None = None,
    *,
    client: SiasnClient | None = None,
    **ctx: Any,
) -> LineageRecord:
    """``pull_asn`` once, with a fresh client unless one is given."""
    return run(
        pull_asn(
            client or siasn_client(sb),
            store,
            params or PullParams(),
            run_context(sb, run_id, **ctx),
        )
    )


def pull_everything(sb: RunningSandbox, store: Store, run_id: str) -> LineageRecord:
    """F2 then F1 (full sweep on an empty store), as the nightly DAG does."""
    run(pull_referensi(siasn_client(sb), store, REFERENCE_TABLES, run_context(sb, run_id)))
    return pull(sb, store, run_id)


def route_count(stats: dict[str, Any], route: str) -> int:
    """Requests the sandbox's SIASN app answered on ``route`` (e.g. ``GET /apisiasn/...``)."""
    return int(stats["routes"].get("siasn", {}).get(route, {}).get("count", 0))


@pytest.fixture
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """``store_factory("sqlite" | "postgres", name=...)``: a migrated, empty store.

    SQLite: a file in ``tmp_path``. PostgreSQL: a fresh database on the session's real server
    (started only by tests that ask for it).
    """
    stores: list[Store] = []

    def make(backend: str = "sqlite", name: str = "store") -> Store:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / name}.sqlite"
        elif backend == "postgres":
            url = request.getfixturevalue("postgres_db_url")
        else:
            raise ValueError(f"unknown backend {backend!r}")
        store = Store(url, hash_key=HASH_KEY)
        store.migrate()
        stores.append(store)
        return store

    try:
        yield make
    finally:
        for store in stores:
            store.close()
