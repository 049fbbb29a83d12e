"""A store filled by real flow runs against the sandbox, for the "Hub audit" page tests.

One ``siasn_asn_daily`` run (F2 then F1, some employees malformed: quarantined) and one
``usulan_sync`` run (collect, push to SIASN under a 5xx storm with one attempt allowed, so
items dead-letter; status back; push to SIAPP NV), then a ``dokumen_reconciliation`` run (no repair:
its items stay open, its reports are written), each record stored as the operators store
it. The usulan ``collect`` names the ASN load it checked against as its upstream (the flow
finds it in the lineage table); ``push_siasn`` names ``collect`` by bare id (how older records
name their upstream), the other tasks name theirs as objects ``{lineage_id, dag_id, task_id,
flow}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.testing import RunningSandbox, run_sandbox
from siapp_siasn.flows.asn_pull import PullParams, pull_asn, pull_referensi
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.reconciliation_run import ReconcileParams, reconcile
from siapp_siasn.flows.usulan_push import PushParams, push_outbox
from siapp_siasn.flows.usulan_rules import RetryPolicy
from siapp_siasn.flows.usulan_sync import collect_siapp, status_back
from siapp_siasn.lineage import LineageRecord
from siapp_siasn.models.siasn import REFERENCE_TABLES
from siapp_siasn.store import Store
from tests.flows._truth import PERSONAL_KEYS, fetch_truth
from tests.flows._usulan import WORLD, siapp_client
from tests.flows.conftest import HASH_KEY, run, sandbox_today, siasn_client

ASN_DAG, ASN_RUN = "siasn_asn_daily", "scheduled__2026-11-29T18:00:00+00:00"
USULAN_DAG, USULAN_RUN = "usulan_sync", "manual__2026-12-01T02:00:00+00:00"
RECON_DAG, RECON_RUN = "dokumen_reconciliation", "scheduled__2026-12-01T20:00:00+00:00"


@dataclass
class AuditedStore:
    """The filled store and what the tests compare the page with."""

    url: str
    records: dict[str, dict[str, Any]]  # task_id -> stored record
    dead: list[dict[str, Any]]  # v_outbox_dead rows
    quarantine_reasons: dict[str, int]  # reason -> rows of the ASN run
    personal: set[str]  # personal values of the sandbox world
    reconciliation: dict[str, Any]  # the reconciliation run's row


def _ctx(sb: RunningSandbox, dag_id: str, run_id: str, task_id: str, **kw: Any) -> RunContext:
    now = dt.datetime.combine(sandbox_today(sb), dt.time(12, 0), tzinfo=dt.UTC)
    return RunContext(dag_id=dag_id, run_id=run_id, task_id=task_id, now=now, **kw)


def _ref(record: LineageRecord) -> dict[str, Any]:
    return {
        "lineage_id": record.lineage_id,
        "dag_id": record.dag_id,
        "task_id": record.task_id,
        "flow": record.flow,
    }


def _publish(store: Store, record: LineageRecord) -> LineageRecord:
    """What the operator does with a record besides XCom: store it."""
    store.lineage.write(record.to_xcom())
    return record


def _personal_values(sb: RunningSandbox, store: Store) -> set[str]:
    """Every personal value of the employees the hub touched (store NIPs and usulan NIPs),
    from the sandbox's truth."""
    import sqlalchemy as sa

    from siapp_siasn.store.tables import asn, usulan_lifecycle

    with store.engine.connect() as c:
        nips = set(c.scalars(sa.select(asn.c.nip)))
        nips |= {n for n in c.scalars(sa.select(usulan_lifecycle.c.nip)) if n}
    values: set[str] = set(nips)
    for truth in fetch_truth(sb, nips).values():
        for key in PERSONAL_KEYS:
            value = truth.get(key)
            if isinstance(value, str) and len(value) >= 6:
                values.add(value)
    return values


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditedStore]:
    tmp: Path = tmp_path_factory.mktemp("hub-audit")
    url = f"sqlite:///{tmp / 'store.sqlite'}"
    store = Store(url, hash_key=HASH_KEY)
    store.migrate()
    with run_sandbox(**WORLD) as sb:
        # --- siasn_asn_daily: F2 then F1
        ref = _publish(
            store,
            run(
                pull_referensi(
                    siasn_client(sb),
                    store,
                    REFERENCE_TABLES,
                    _ctx(sb, ASN_DAG, ASN_RUN, "pull_referensi"),
                )
            ),
        )
        sb.set_faults({"malformed_rate": 0.01, "seed": 4})  # some employees get quarantined
        _publish(
            store,
            run(
                pull_asn(
                    siasn_client(sb),
                    store,
                    PullParams(),
                    _ctx(sb, ASN_DAG, ASN_RUN, "pull_asn", upstream=[_ref(ref)]),
                )
            ),
        )
        sb.set_faults({})
        sb.advance(2)
        # --- usulan_sync: collect against that mirror, a push that dead-letters
        collect = _publish(
            store,
            run(
                collect_siapp(
                    siapp_client(sb),
                    store,
                    _ctx(sb, USULAN_DAG, USULAN_RUN, "collect"),
                )
            ),
        )
        sb.set_faults({"error_5xx_rate": 0.5, "retry_after_s": 0, "seed": 11})
        push = _publish(
            store,
            run(
                push_outbox(
                    siasn_client(sb, max_retries=0),
                    siapp_client(sb, max_retries=0),
                    store,
                    PushParams(target="siasn", retry=RetryPolicy(max_attempts=1), concurrency=4),
                    _ctx(sb, USULAN_DAG, USULAN_RUN, "push_siasn", upstream=[collect.lineage_id]),
                )
            ),
        )
        sb.set_faults({})
        status = _publish(
            store,
            run(
                status_back(
                    siasn_client(sb),
                    store,
                    _ctx(sb, USULAN_DAG, USULAN_RUN, "status_back", upstream=[_ref(push)]),
                )
            ),
        )
        _publish(
            store,
            run(
                push_outbox(
                    siasn_client(sb),
                    siapp_client(sb),
                    store,
                    PushParams(target="siapp", concurrency=4),
                    _ctx(sb, USULAN_DAG, USULAN_RUN, "push_siapp", upstream=[_ref(status)]),
                )
            ),
        )
        # --- dokumen_reconciliation: compare the documents (the dead letters left some
        # missing at SIASN), record the items, no repair, reports under tmp
        reconciled = _publish(
            store,
            run(
                reconcile(
                    _ctx(sb, RECON_DAG, RECON_RUN, "reconcile"),
                    siasn_client(sb),
                    siapp_client(sb),
                    store,
                    ReconcileParams(report_dir=tmp / "reports", repair_limit=0),
                )
            ),
        )
        personal = _personal_values(sb, store)

    records = {r["task_id"]: r for r in store.lineage.list()}
    with store.audit.read("test") as c:
        import sqlalchemy as sa

        dead = [dict(r) for r in c.execute(sa.text("SELECT * FROM v_outbox_dead")).mappings()]
    reasons: dict[str, int] = {}
    for row in store.quarantine.list(run_id=ASN_RUN):
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    recon = store.reconciliation.get_run(f"{RECON_DAG}/{RECON_RUN}/reconcile")
    assert recon is not None and records["reconcile"]["lineage_id"] == reconciled.lineage_id
    store.close()
    yield AuditedStore(url, records, dead, reasons, personal, recon)
