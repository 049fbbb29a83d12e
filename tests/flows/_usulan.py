"""Wiring shared by the usulan_sync flow tests: clients on the sandbox, a hub that runs the flows
the way the DAG does, on the sandbox's simulated clock, and readers of the sandbox's truth.

Everything is real: HTTP over loopback to a sandbox subprocess and a real store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siapp_sandbox.siasn_public import write_export
from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.clients.config import SiappConfig
from siapp_siasn.clients.siapp import SiappClient
from siapp_siasn.clients.siasn import SiasnClient
from siapp_siasn.flows.asn_pull import PullParams, pull_asn, pull_referensi
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.usulan_push import AfterPost, PushParams, push_outbox
from siapp_siasn.flows.usulan_rules import RetryPolicy
from siapp_siasn.flows.usulan_sync import collect_siapp, status_back
from siapp_siasn.lineage import LineageRecord
from siapp_siasn.models.siasn import REFERENCE_TABLES
from siapp_siasn.store import Store
from tests.flows.conftest import CLIENT_DEFAULTS, SANDBOX_CREDENTIALS, sandbox_today, siasn_client

#: A small world with enough employees of the PKS kategori (JPT Utama/Madya, JF Ahli Utama).
WORLD: dict[str, Any] = {"employees": 1500, "seed": 3, "ivb_share": 0.3}


def siapp_client(sb: RunningSandbox, **overrides: Any) -> SiappClient:
    """A fresh SIAPP NV client on the sandbox."""
    config = SiappConfig(
        base_url=sb.siapp_url,
        client_id=SANDBOX_CREDENTIALS["client_id"],
        client_secret=SANDBOX_CREDENTIALS["client_secret"],
        **{**CLIENT_DEFAULTS, **overrides},
    )
    return SiappClient.from_config(config)


@dataclass
class Hub:
    """Runs the usulan_sync flows against one sandbox and one store, like the DAG would.

    ``clock`` is the hub's wall clock (UTC) on the sandbox's simulated calendar: every call of
    :meth:`tick` moves it forward, so backoffs (``next_attempt_at``) expire as runs go by.
    """

    sb: RunningSandbox
    store: Store
    client: dict[str, Any] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=6, base_s=60))
    hour: float = 1.0
    runs: int = 0
    lineage: list[LineageRecord] = field(default_factory=list)
    #: SIASN API mode: ``pks`` or ``public`` (NIP list from export files in ``export_dir``,
    #: statuses from ``pns/kp-instansi-byId``)
    mode: str = "pks"
    export_dir: Path | None = None
    exports: int = 0

    def siasn(self) -> SiasnClient:
        """A fresh SIASN client of the hub's mode."""
        client = siasn_client(self.sb, **self.client)
        if self.mode == "public":
            assert self.export_dir is not None, "public mode needs export_dir"
            client.api_mode, client.export_dir = "public", str(self.export_dir)
        return client

    def now(self) -> dt.datetime:
        day = sandbox_today(self.sb)
        return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC) + dt.timedelta(hours=self.hour)

    def ctx(self, task: str) -> RunContext:
        self.runs += 1
        return RunContext(
            dag_id="usulan-tests", run_id=f"run-{self.runs}", task_id=task, now=self.now()
        )

    def tick(self, hours: float = 1.0) -> None:
        self.hour = min(self.hour + hours, 23.9)

    def _keep(self, record: LineageRecord) -> LineageRecord:
        self.lineage.append(record)
        return record

    def load_mirror(self) -> None:
        """F2 + F1 into the store (the scope check reads the ASN mirror)."""
        ctx = self.ctx("pull")
        asyncio.run(pull_referensi(self.siasn(), self.store, REFERENCE_TABLES, ctx))
        self.pull_mirror()

    def pull_mirror(self) -> None:
        if self.mode == "public":  # the operator drops today's Export Data ASN file
            assert self.export_dir is not None
            self.exports += 1
            write_export(self.sb.truth("export-asn"), self.export_dir, stamp=self.exports)
        asyncio.run(pull_asn(self.siasn(), self.store, PullParams(), self.ctx("pull")))

    def collect(self) -> LineageRecord:
        return self._keep(
            asyncio.run(
                collect_siapp(siapp_client(self.sb, **self.client), self.store, self.ctx("collect"))
            )
        )

    def status(self) -> LineageRecord:
        return self._keep(
            asyncio.run(status_back(self.siasn(), self.store, self.ctx("status_back")))
        )

    def push(self, target: str, after_post: AfterPost | None = None) -> LineageRecord:
        params = PushParams(target=target, retry=self.retry, concurrency=6)
        return self._keep(
            asyncio.run(
                push_outbox(
                    self.siasn(),
                    siapp_client(self.sb, **self.client),
                    self.store,
                    params,
                    self.ctx(f"push_{target}"),
                    after_post=after_post,
                )
            )
        )

    def cycle(self) -> None:
        """One DAG run: collect, push to SIASN, status back, push to SIAPP NV."""
        self.collect()
        self.push("siasn")
        self.status()
        self.push("siapp")
        self.tick(0.25)

    def day(self, runs: int = 1) -> None:
        """Advance the sandbox one day, refresh the mirror (nightly DAG), run ``runs`` cycles."""
        self.sb.advance(1)
        self.hour = 1.0
        self.pull_mirror()
        for _ in range(runs):
            self.cycle()


def agency_entry(sb: RunningSandbox, days: int | None) -> None:
    """Public-API mode: the agency enters each usulan version in SIASN ``days`` after SIAPP NV
    created it (``None``: never), as ``PUT /_sandbox/agency-entry`` sets it."""
    r = sb.client.put("/_sandbox/agency-entry", json={"agency_entry_days": days})
    r.raise_for_status()
    assert r.json() == {"agency_entry_days": days}


def per_version(entries: list[dict[str, Any]]) -> Counter[tuple[str, int]]:
    """First receipts of siapp.usulan per (usulan id, versi)."""
    return Counter(
        (str(e["payload"]["id_usulan_siapp"]), int(e["payload"]["versi"])) for e in entries
    )
