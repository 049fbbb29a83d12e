"""Faults of the process or the machine under the reconciliation and the monitoring &
evaluation report, with the store on the real PostgreSQL: a full disk for the reports (a
file-size limit: EFBIG, as ENOSPC on a full disk), the store's backend terminated in the
middle of a run, and SIGKILL in the middle of a repair.

The attempt that meets the fault runs in a process of its own (tests/reliability/_worker.py)
when the fault ends or limits that process; the retried task runs in this one. The tests
share one scene (a sandbox and a store after a few days of traffic) and each leaves every
document ok behind it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.monitoring_report import build_monitoring_report
from siapp_siasn.flows.reconciliation_run import ReconcileParams, reconcile
from siapp_siasn.lineage import LineageRecord
from siapp_siasn.store import Store, StoreError
from tests.fixtures.postgres import PostgresServer
from tests.flows._usulan import WORLD, Hub, siapp_client
from tests.flows.conftest import CLIENT_DEFAULTS, HASH_KEY, SANDBOX_CREDENTIALS, sandbox_today
from tests.reliability.conftest import BackendKiller

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("_worker.py")
DAYS = 3
#: big enough for every CSV of both reports, too small for either HTML page
FSIZE = 8192
EFBIG = re.compile(
    r"ERROR OSError: \[Errno 27\] report not written \(File too large\); no partial file left: "
    r"'[^'\n]+'"
)
#: the tables a failed report must leave as they were
TABLES = (
    "asn",
    "outbox",
    "document_ledger",
    "usulan_lifecycle",
    "quarantine",
    "lineage",
    "reconciliation_item",
)


@pytest.fixture(scope="module")
def scene(
    sandbox_module_factory: Any, postgres_server: PostgresServer
) -> Iterator[tuple[RunningSandbox, Hub]]:
    """A sandbox and a PostgreSQL store after :data:`DAYS` days of usulan traffic."""
    sb = sandbox_module_factory(**WORLD)
    url = postgres_server.create_database()
    store = Store(url, hash_key=HASH_KEY)
    store.migrate()
    hub = Hub(sb, store)
    hub.load_mirror()
    hub.cycle()
    for _ in range(DAYS):
        hub.day()
    try:
        yield sb, hub
    finally:
        store.close()
        postgres_server.drop_database(url.rsplit("/", 1)[1])


def _run(hub: Hub, flow: str, run_id: str, out: Path, **extra: Any) -> tuple[int, str, str]:
    cfg = {
        "flow": flow,
        "siasn_url": hub.sb.siasn_url,
        "siapp_url": hub.sb.siapp_url,
        "credentials": SANDBOX_CREDENTIALS,
        "client": CLIENT_DEFAULTS,
        "store_url": hub.store.url.render_as_string(hide_password=False),
        "hash_key": HASH_KEY.decode(),
        "dag_id": "reliability",
        "run_id": run_id,
        "task_id": flow,
        "now": hub.now().isoformat(),
        "report_dir": str(out),
        **extra,
    }
    proc = subprocess.run(
        [sys.executable, str(WORKER), json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of :data:`TABLES`, sorted (timestamps included: nothing may be touched)."""
    out = {}
    with store.engine.connect() as c:
        for name in TABLES:
            rows = c.execute(sa.text(f"SELECT * FROM {name}")).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _assert_all_ok(record: dict[str, Any], hub: Hub) -> None:
    counts = record["extra"]["categories"]
    ledger = hub.store.documents.list()
    assert counts["ok"] == len(ledger) > 10
    assert {c: n for c, n in counts.items() if c != "ok" and n} == {}
    assert record["failures"] == []
    assert hub.store.reconciliation.stats()["open"] == 0


def test_full_disk_for_the_reconciliation_report(scene: Any, tmp_path: Path) -> None:
    """The report cannot be written: the task fails with one clear line, leaves no file under
    the report's names (nor a ``.part``), the run is not recorded as finished and the store is
    as it was; once there is room, the retried task completes with a whole report."""
    _sb, hub = scene
    out = tmp_path / "reports"
    before = _snapshot(hub.store)

    code, _out, err = _run(hub, "reconcile", "daily-1", out, fsize=FSIZE)
    assert code == 3, err[-2000:]
    assert EFBIG.fullmatch(err.strip().splitlines()[-1]), err[-2000:]
    assert _files(out) == []
    assert _snapshot(hub.store) == before
    run_key = "reliability/daily-1/reconcile"
    started = hub.store.reconciliation.get_run(run_key)
    assert started is not None and started["finished_at"] is None

    # the retry, with room (in this process: only the failing attempt needs its own)
    ctx = RunContext(dag_id="reliability", run_id="daily-1", task_id="reconcile", now=hub.now())
    record = _reconcile(hub, ctx, out).to_xcom()
    _assert_all_ok(record, hub)
    csv_path, html_path = (Path(record["extra"]["report"][k]) for k in ("csv", "html"))
    assert _files(out) == sorted([csv_path.name, html_path.name])
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert csv_path.read_text(encoding="utf-8").startswith("category,usulan_id,")
    finished = hub.store.reconciliation.get_run(run_key)
    assert finished is not None and finished["finished_at"] is not None
    assert finished["report_html"] == str(html_path)


def test_full_disk_for_the_monitoring_report(scene: Any, tmp_path: Path) -> None:
    """The same for the monitoring & evaluation report: its CSVs fit, its page does not; no
    CSV is left without its page, and the rerun writes the whole folder."""
    sb, hub = scene
    today = sandbox_today(sb)
    period = {
        "period_from": (today - dt.timedelta(days=DAYS + 2)).isoformat(),
        "period_to": today.isoformat(),
    }
    out = tmp_path / "reports"
    before = _snapshot(hub.store)

    code, _out, err = _run(hub, "report", "monthly-1", out, fsize=FSIZE, **period)
    assert code == 3, err[-2000:]
    assert EFBIG.fullmatch(err.strip().splitlines()[-1]), err[-2000:]
    assert _files(out) == []
    assert _snapshot(hub.store) == before

    ctx = RunContext(dag_id="reliability", run_id="monthly-1", task_id="report", now=hub.now())
    record = build_monitoring_report(
        hub.store, period["period_from"], period["period_to"], out, run=ctx
    ).record.to_xcom()
    report = record["extra"]["report"]
    assert record["extra"]["empty"] is False  # the period's usulan traffic is in it
    written = [Path(report["html"]), *(Path(p) for p in report["csv"].values())]
    assert _files(out) == sorted(p.name for p in written)
    page = written[0].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert all(p.stat().st_size > 0 for p in written)


def test_reconciliation_store_dropped_mid_run_completes_on_rerun(
    scene: Any, tmp_path: Path
) -> None:
    """SIASN lost a document; the store's backend is terminated as the run records the
    items it found (the items, the repair and the run's end never commit). The task fails
    with a StoreError naming the operation; the retried task finds and repairs exactly the
    lost document, once."""
    sb, hub = scene
    sb.set_faults({"document_faults": {"missing_at_siasn": 1}, "seed": 17})
    try:
        [fault] = [f for f in sb.truth("dokumen-faults")["faults"] if f["active"]]
        uploads_before = len(sb.received("upload-dok"))
        killer = BackendKiller(hub.store, "INSERT INTO reconciliation_item", nth=1)
        ctx = RunContext(dag_id="reliability", run_id="daily-3", task_id="reconcile", now=hub.now())
        with pytest.raises(StoreError) as failed:
            _reconcile(hub, ctx, tmp_path / "a")
        assert killer.killed and "reconciliation.upsert_items" in str(failed.value)
        assert len(sb.received("upload-dok")) == uploads_before  # nothing repaired yet
        assert hub.store.reconciliation.stats()["open"] == 0  # the items rolled back

        retried = _reconcile(hub, ctx, tmp_path / "b")
        assert retried.extra["categories"]["missing_at_siasn"] == 1
        assert retried.extra["repair"]["repaired"] == 1 and retried.failures == []
        assert len(sb.received("upload-dok")) == uploads_before + 1
        assert [f for f in sb.truth("dokumen-faults")["faults"] if f["active"]] == []
        assert fault["ref"] in {k[2] for k in _repaired_refs(hub)}
        check = _reconcile(hub, hub.ctx("reconcile"), tmp_path / "c")
        _assert_all_ok(check.to_xcom(), hub)
    finally:
        sb.set_faults({})


def _repaired_refs(hub: Hub) -> set[tuple[str, str, str]]:
    """Keys of the items a run repaired (resolved or not)."""
    with hub.store.engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT usulan_id, direction, ref FROM reconciliation_item "
                "WHERE repaired_at IS NOT NULL"
            )
        ).all()
    return {tuple(r) for r in rows}


def test_reconciliation_killed_mid_repair_completes_on_rerun(scene: Any, tmp_path: Path) -> None:
    """SIASN lost two documents; the reconciliation's process is SIGKILLed right after SIASN
    took the first re-upload (the ledger never heard). The retried task (same run) and one
    more run leave every document ok on all three sides, each lost document restored once,
    no new outbox item, nothing flagged."""
    sb, hub = scene
    sb.set_faults({"document_faults": {"missing_at_siasn": 2}, "seed": 13})
    try:
        injected = [f for f in sb.truth("dokumen-faults")["faults"] if f["active"]]
        assert len(injected) == 2
        outbox_before = hub.store.outbox.stats()
        uploads_before = len(sb.received("upload-dok"))

        code, _out, err = _run(hub, "reconcile", "daily-2", tmp_path, kill_after_upload=True)
        assert code == -signal.SIGKILL, err[-2000:]
        assert len(sb.received("upload-dok")) == uploads_before + 1

        # the retried task: the same run, in a new process
        ctx = RunContext(dag_id="reliability", run_id="daily-2", task_id="reconcile", now=hub.now())
        retried = _reconcile(hub, ctx, tmp_path / "retry")
        assert retried.failures == []
        assert retried.extra["repair"]["flagged"] == 0
        assert [f for f in sb.truth("dokumen-faults")["faults"] if f["active"]] == []
        check = _reconcile(hub, hub.ctx("reconcile"), tmp_path / "check")
        _assert_all_ok(check.to_xcom(), hub)
        # each lost document was uploaded again exactly once, the killed one included
        assert len(sb.received("upload-dok")) - uploads_before == 2
        assert hub.store.outbox.stats() == outbox_before
        # the killed attempt's stale item was resolved by the retry (not repaired again,
        # which SIASN would refuse with a 409 on the replay: flagged reference_changed)
        assert retried.extra["items"]["resolved"] == 1
        assert retried.extra["repair"]["attempted"] == retried.extra["repair"]["repaired"] == 1
        # known gap (reported): the killed document's ledger row keeps status "pending"
    finally:
        sb.set_faults({})


def _reconcile(hub: Hub, ctx: RunContext, out: Path) -> LineageRecord:
    p = ReconcileParams(report_dir=out, max_unrepairable=0)
    return asyncio.run(reconcile(ctx, hub.siasn(), siapp_client(hub.sb), hub.store, p))
