"""The inventories of the document reconciliation, read from the real sandbox over loopback
(SIAPP NV's ``GET /api/v1/dokumen``, SIASN's PKS ``siapp/dokumen``, the hub's ledger) after
days of real proposal traffic; bad pages are quarantined and never read as missing documents.
"""

from __future__ import annotations

import asyncio
import csv
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.flows.context import FlowConfigError
from siapp_siasn.flows.reconciliation_run import ReconcileParams, reconcile
from siapp_siasn.flows.reconciliation_sources import QUARANTINE_ENTITY, ChunkPipe
from siapp_siasn.lineage import LineageRecord
from siapp_siasn.store import Store
from tests.flows._usulan import WORLD, Hub, siapp_client
from tests.flows.conftest import HASH_KEY

pytestmark = pytest.mark.integration

#: simulated days of traffic: enough for perteks to reach SIAPP NV
DAYS = 8


def traffic(sb: RunningSandbox, store: Store, days: int = DAYS) -> Hub:
    """The hub's usulan_sync flows over ``days`` simulated days (documents on both sides)."""
    hub = Hub(sb, store)
    hub.load_mirror()
    hub.cycle()
    for _ in range(days):
        hub.day()
    return hub


def run_reconcile(hub: Hub, report_dir: Path, name: str, **params: Any) -> LineageRecord:
    """One reconciliation run of the hub (fresh clients), reports under ``report_dir``."""
    p = ReconcileParams(report_dir=report_dir, **params)
    return asyncio.run(reconcile(hub.ctx(name), hub.siasn(), siapp_client(hub.sb), hub.store, p))


def run_key(record: LineageRecord) -> str:
    """The store's id of the run that published ``record``."""
    return f"{record.dag_id}/{record.run_id}/{record.task_id}"


def differences(record: LineageRecord) -> set[tuple[str, str, str, str]]:
    """(usulan_id, direction, ref, category) of every difference in the run's CSV."""
    with Path(record.extra["report"]["csv"]).open(encoding="utf-8") as fh:
        return {
            (r["usulan_id"], r["direction"], r["ref"], r["category"]) for r in csv.DictReader(fh)
        }


def new_store(tmp_path: Path, name: str = "store") -> Store:
    store = Store(f"sqlite:///{tmp_path / name}.sqlite", hash_key=HASH_KEY)
    store.migrate()
    return store


@pytest.fixture(scope="module")
def scene(
    sandbox_module_factory: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunningSandbox, Hub]:
    """A sandbox and a store after :data:`DAYS` days of traffic (no faults)."""
    sb = sandbox_module_factory(**WORLD)
    store = new_store(tmp_path_factory.mktemp("sources"))
    return sb, traffic(sb, store)


def test_clean_traffic_reconciles_every_document_ok(scene: Any, tmp_path: Path) -> None:
    sb, hub = scene
    record = run_reconcile(hub, tmp_path, "clean")
    counts = record.extra["categories"]
    ledger = hub.store.documents.list()
    assert counts["ok"] == len(ledger) > 20
    assert {c: n for c, n in counts.items() if c != "ok" and n} == {}
    assert differences(record) == set()
    inv = record.extra["inventories"]
    assert inv["siapp"]["rows"] == inv["siasn"]["rows"] == inv["ledger"]["rows"] == len(ledger)
    assert all(inv[s]["complete"] and not inv[s]["quarantined_pages"] for s in inv)
    # both directions were compared: usulan documents and delivered perteks
    assert {r["direction"] for r in ledger} == {"siapp_to_siasn", "siasn_to_siapp"}
    # SIAPP NV documents the hub never took on (waiting, out of scope) are not owed yet
    truth_docs = {d["dok_id"] for d in sb.truth("documents")["siapp"] if d["source"] == "SIAPP"}
    owed = {r["doc_id"] for r in ledger if r["direction"] == "siapp_to_siasn"}
    assert inv["siapp"]["skipped"]["not_owed"] == len(truth_docs - owed)
    # the report and the store's run row
    assert Path(record.extra["report"]["html"]).read_text(encoding="utf-8").startswith("<!DOCTYPE")
    run = hub.store.reconciliation.get_run(run_key(record))
    assert run is not None and run["counts"]["ok"] == counts["ok"]
    assert run["report_csv"] == record.extra["report"]["csv"]
    assert hub.store.reconciliation.stats()["open"] == 0


def test_small_pages_and_chunks_read_the_same(scene: Any, tmp_path: Path) -> None:
    """Page and chunk sizes are a memory knob only: one row per page gives the same counts."""
    _sb, hub = scene
    big = run_reconcile(hub, tmp_path / "big", "big", dry_run=True)
    small = run_reconcile(
        hub,
        tmp_path / "small",
        "small",
        dry_run=True,
        siapp_page_size=7,
        siasn_page_size=5,
        ledger_chunk_size=3,
        partitions=3,
        spill_rows=10,
        pipe_depth=1,
    )
    assert small.extra["categories"] == big.extra["categories"]
    # a dry run compares and reports only: no run row, no items
    assert hub.store.reconciliation.get_run(run_key(big)) is None
    assert Path(big.extra["report"]["csv"]).exists()
    assert small.extra["inventories"]["siasn"]["pages"] > 10
    assert small.extra["inventories"]["siapp"]["pages"] > 10


def test_duplicated_and_reordered_pages_change_nothing(scene: Any, tmp_path: Path) -> None:
    sb, hub = scene
    base = run_reconcile(hub, tmp_path / "a", "base", dry_run=True)
    sb.set_faults({"duplicate_page_rate": 1.0, "reorder_pages": True, "seed": 5})
    try:
        noisy = run_reconcile(hub, tmp_path / "b", "noisy", dry_run=True, siasn_page_size=9)
    finally:
        sb.set_faults({})
    assert noisy.extra["categories"] == base.extra["categories"]


def test_bad_pages_are_quarantined_and_never_read_as_missing(scene: Any, tmp_path: Path) -> None:
    """Every inventory row drifts (``sha256`` served as a list): every page fails
    validation, is quarantined with its reason, and its usulan are unread, not missing."""
    sb, hub = scene
    before = hub.store.reconciliation.stats()
    sb.set_faults({"schema_drift": {"retype": {"sha256": "list"}}})
    try:
        record = run_reconcile(hub, tmp_path, "drift", siasn_page_size=20)
    finally:
        sb.set_faults({})
    counts = record.extra["categories"]
    assert counts["missing_at_siasn"] == counts["missing_at_siapp"] == 0
    assert counts["source_missing"] == counts["orphan"] == 0
    assert counts["unread"] > 0
    inv = record.extra["inventories"]
    assert inv["siapp"]["quarantined_pages"] == inv["siapp"]["pages"] >= 1
    assert inv["siasn"]["quarantined_pages"] == inv["siasn"]["pages"] > 1
    assert record.counts.quarantined == inv["siapp"]["pages"] + inv["siasn"]["pages"]
    assert record.extra["complete"] is False
    rows = hub.store.quarantine.list(run_id=run_key(record))
    assert rows and all(r["entity_kind"] == QUARANTINE_ENTITY for r in rows)
    assert {r["flow"] for r in rows} == {"F4", "F7"}
    assert all(r["reason"] == "invalid_page" and "sha256" in (r["detail"] or "") for r in rows)
    # nothing was recorded nor resolved on the strength of a partial view
    assert hub.store.reconciliation.stats() == before


def test_chunk_pipe_is_bounded_and_passes_errors() -> None:
    pipe = ChunkPipe(depth=1)
    frames = [pd.DataFrame({"a": [i]}) for i in range(5)]
    put: list[int] = []

    async def produce() -> None:
        for i, f in enumerate(frames):
            await pipe.put(f)
            put.append(i)
        await pipe.close()

    got: list[int] = []

    def consume() -> None:
        time.sleep(0.3)
        # the producer is held back: at most ``depth`` chunks wait (+1 in hand)
        got.append(len(put))
        for f in pipe:
            got.append(int(f["a"].iloc[0]))

    t = threading.Thread(target=consume)
    t.start()
    asyncio.run(produce())
    t.join(5)
    assert got[0] <= 2
    assert got[1:] == [0, 1, 2, 3, 4]

    failing = ChunkPipe()
    failing.fail(RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        list(failing)


def test_bad_params_are_config_errors() -> None:
    with pytest.raises(FlowConfigError):
        ReconcileParams(repair_limit=-1)
    with pytest.raises(FlowConfigError):
        ReconcileParams(siasn_page_size=0)


def test_public_api_mode_reads_what_siasn_publishes(sandbox_factory: Any, tmp_path: Path) -> None:
    """In public-API mode BKN lists no documents: SIASN's side is what the status rows (and
    rw-golongan) reference, downloaded and hashed; the agency enters the usulan and their
    documents itself, so only the perteks and Keppres copies are compared."""
    sb = sandbox_factory(**WORLD)
    sb.client.put("/_sandbox/agency-entry", json={"agency_entry_days": 1}).raise_for_status()
    store = new_store(tmp_path)
    hub = Hub(sb, store, mode="public", export_dir=tmp_path / "exports")
    hub.load_mirror()
    hub.cycle()
    for _ in range(12):
        hub.day()
    clean = run_reconcile(hub, tmp_path / "r0", "clean")
    assert clean.window["api_mode"] == "public"
    assert differences(clean) == set()
    pertek = [r for r in store.documents.list() if r["direction"] == "siasn_to_siapp"]
    assert pertek and clean.extra["categories"]["ok"] == len(store.documents.list())

    sb.set_faults({"document_faults": {"missing_at_siapp": 1}, "seed": 4})
    (fault,) = sb.truth("dokumen-faults")["faults"]
    # the push names a pertek by its SIASN path when SIASN lists no documents
    (ref,) = [r["doc_id"] for r in pertek if r["source_ref"].lstrip("/") == fault["path"]]
    found = run_reconcile(hub, tmp_path / "r1", "found")
    assert differences(found) == {(fault["usulan_id"], fault["direction"], ref, "missing_at_siapp")}
    assert found.extra["repair"]["repaired"] == 1
    assert differences(run_reconcile(hub, tmp_path / "r2", "after")) == set()
    assert sb.truth("dokumen-faults")["active"] == 0


def test_reconciliation_flows_leave_sql_to_the_store() -> None:
    """The readers look the ledger up through ``store.documents`` (by usulan, by doc_id, by
    target copy): no flow of the reconciliation builds SQL or touches a table."""
    import ast

    import siapp_siasn.flows as flows

    root = Path(flows.__file__).parent
    for name in (
        "reconciliation",
        "reconciliation_sources",
        "reconciliation_repair",
        "reconciliation_run",
    ):
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        modules = {
            *(a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names),
            *(n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)),
        }
        assert not {
            m for m in modules if m.startswith("sqlalchemy") or m.endswith("store.tables")
        }, name
