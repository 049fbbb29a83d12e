"""The store the report tests read: real flow runs against the sandbox over simulated days
(mirror pulls, proposal traffic both ways with a dead letter, a document reconciliation with
injected faults, a decree cross-check), each lineage record published as the operators publish
it, and a month of API monitor rows written through ``store.findings``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.flows.asn_pull import PullParams, pull_asn, pull_referensi
from siapp_siasn.flows.keppres_check import check_keppres
from siapp_siasn.flows.usulan_rules import FLOW_PIC, RetryPolicy, idempotency_key, version_hash
from siapp_siasn.lineage import LineageRecord
from siapp_siasn.models.siasn import REFERENCE_TABLES
from siapp_siasn.store import Store
from siapp_siasn.store.findings import ProbeRow
from siapp_siasn.store.records import OutboxItem
from tests.flows._truth import PERSONAL_KEYS, fetch_truth
from tests.flows._usulan import WORLD, Hub
from tests.flows.conftest import HASH_KEY
from tests.reconciliation.test_sources import run_reconcile

#: simulated days of proposal traffic (perteks reach SIAPP NV, decrees are delivered)
DAYS = 8
#: documents the reconciliation must find (one category each at least)
DOCUMENT_FAULTS = {"missing_at_siasn": 1, "orphan_at_siasn": 1}
#: a NIP SIASN does not know: its PIC grant is refused (400) every time, then dead-lettered
UNKNOWN_NIP = "199912312025121999"


@dataclass
class PublishingHub(Hub):
    """The test hub of tests/flows, publishing every lineage record to the store as
    ``HubOperator.publish`` does (the report reads the ``lineage`` table)."""

    def _keep(self, record: LineageRecord) -> LineageRecord:
        self.store.lineage.write(record.to_xcom())
        return super()._keep(record)

    def load_mirror(self) -> None:
        ctx = self.ctx("pull_referensi")
        self._keep(asyncio.run(pull_referensi(self.siasn(), self.store, REFERENCE_TABLES, ctx)))
        self.pull_mirror()

    def pull_mirror(self) -> None:
        ctx = self.ctx("pull_asn")
        self._keep(asyncio.run(pull_asn(self.siasn(), self.store, PullParams(), ctx)))


@dataclass
class Scene:
    sb: RunningSandbox
    hub: PublishingHub
    store: Store
    #: personal values of the employees the hub touched (the sandbox's truth)
    personal: set[str]
    #: ids of the monitor's incidents written
    incidents: dict[str, int]
    #: when the monitor rows were written (real UTC time, as the flows' own rows)
    monitored_at: dt.datetime


def _poison_pic() -> OutboxItem:
    payload = {
        "version": 1,
        "body": {
            "id_pic_siapp": "poison-pic",
            "versi": 1,
            "nip": UNKNOWN_NIP,
            "instansi_id": "0" * 32,
            "aksi": "GRANT",
        },
    }
    vhash = version_hash(payload)
    return OutboxItem(
        FLOW_PIC, "poison-pic", vhash, idempotency_key(FLOW_PIC, "poison-pic", vhash), payload
    )


def _monitor(store: Store, at: dt.datetime) -> dict[str, int]:
    """A day of the API monitor: probes of three endpoints, an outage opened and closed, a
    drift incident still open, and their findings."""
    hour = dt.timedelta(hours=1)
    for i in range(12):
        ok = i not in (4, 5)
        store.findings.add_probes(
            [
                ProbeRow("siasn", "/apisiasn/1.0/pns/data-utama/{nip}", 200, 40.0 + 3 * i, True),
                ProbeRow("siasn", "/apisiasn/1.0/referensi/{ref}", 200, 15.0 + i, True),
                ProbeRow("siapp", "/api/v1/usulan", 200 if ok else None, 80.0 + 7 * i, ok),
            ],
            observed_at=at - 12 * hour + i * hour,
        )
    outage = store.findings.open_incident(
        "outage", "siapp", "/api/v1/usulan", "breaking", opened_at=at - 8 * hour
    )
    store.findings.add_findings(
        [
            {
                "kind": "outage",
                "severity": "breaking",
                "system": "siapp",
                "endpoint": "/api/v1/usulan",
                "code": "unreachable",
                "subject": "GET",
                "detail": {"status": None},
                "incident_id": outage,
            }
        ]
        * 2,
        observed_at=at - 8 * hour,
    )
    store.findings.close_incident(outage, closed_at=at - 6 * hour)
    drift = store.findings.open_incident(
        "drift", "siasn", "/apisiasn/1.0/pns/data-utama/{nip}", "breaking", opened_at=at - 2 * hour
    )
    store.findings.add_findings(
        [
            {
                "kind": "drift",
                "severity": "breaking",
                "system": "siasn",
                "endpoint": "/apisiasn/1.0/pns/data-utama/{nip}",
                "code": "retyped_field",
                "subject": "golRuangAkhirId",
                "detail": {"expected": "string", "actual": "integer"},
                "incident_id": drift,
            },
            {
                "kind": "drift",
                "severity": "info",
                "system": "siasn",
                "endpoint": "/apisiasn/1.0/pns/data-utama/{nip}",
                "code": "new_field",
                "subject": "flagIkd",
                "detail": {"actual": "string"},
            },
        ],
        observed_at=at - 2 * hour,
    )
    return {"outage": outage, "drift": drift}


def _personal_values(sb: RunningSandbox, store: Store) -> set[str]:
    import sqlalchemy as sa

    from siapp_siasn.store.tables import asn, usulan_lifecycle

    with store.engine.connect() as c:
        nips = set(c.scalars(sa.select(asn.c.nip)))
        nips |= {n for n in c.scalars(sa.select(usulan_lifecycle.c.nip)) if n}
    values: set[str] = set(nips) | {UNKNOWN_NIP}
    for truth in fetch_truth(sb, nips).values():
        for key in PERSONAL_KEYS:
            value = truth.get(key)
            if isinstance(value, str) and len(value) >= 6:
                values.add(value)
    return values


@pytest.fixture(scope="module")
def scene(sandbox_module_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Scene:
    tmp: Path = tmp_path_factory.mktemp("report-scene")
    store = Store(f"sqlite:///{tmp / 'store.sqlite'}", hash_key=HASH_KEY)
    store.migrate()
    sb = sandbox_module_factory(**WORLD)
    sb.set_faults({"keppres_withhold_rate": 0.5, "seed": 5})
    hub = PublishingHub(sb, store, retry=RetryPolicy(max_attempts=2, base_s=60, max_s=120))
    hub.load_mirror()
    hub.cycle()
    assert store.outbox.enqueue([_poison_pic()]) == 1
    for _ in range(DAYS):
        hub.day()
    sb.set_faults({"keppres_withhold_rate": 0.5, "seed": 5, "document_faults": DOCUMENT_FAULTS})
    hub._keep(run_reconcile(hub, tmp / "recon", "reconcile-1", no_answer_days=0, repair_limit=10))
    checked = asyncio.run(
        check_keppres(hub.ctx("check_keppres"), hub.siasn(), store, min_age_days=0)
    )
    hub._keep(checked.record)
    sb.advance(1)
    hub.hour = 1.0
    hub.cycle()
    hub._keep(run_reconcile(hub, tmp / "recon", "reconcile-2", no_answer_days=0, repair_limit=10))
    # a last collect whose items no push has taken yet: the outbox's backlog
    sb.advance(1)
    hub.hour = 1.0
    hub.collect()
    at = dt.datetime.now(dt.UTC)
    incidents = _monitor(store, at)
    return Scene(sb, hub, store, _personal_values(sb, store), incidents, at)
