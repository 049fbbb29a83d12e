"""The document reconciliation's store: runs, items not ok with their repair bookkeeping, decree
cross-checks, the chunked ledger reader and migration 0004 - on SQLite and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from siapp_siasn.store import HASH_KEY_ENV, Store, StoreError, downgrade, keyed_hash
from siapp_siasn.store.documents import INVENTORY_COLUMNS, INVENTORY_DTYPES, LEDGER_DIRECTIONS
from siapp_siasn.store.reconciliation import (
    REPAIRABLE_CATEGORIES,
    ItemKey,
    KeppresCheck,
    ReconItem,
)
from siapp_siasn.store.tables import document_ledger

from .conftest import HASH_KEY, T0

DAY = dt.timedelta(days=1)
TO_SIASN, TO_SIAPP = LEDGER_DIRECTIONS
RECON_TABLES = {"reconciliation_run", "reconciliation_item", "keppres_check"}
TARGET_INDEXES = {
    "ix_document_ledger_target_system_target_dok_id",
    "ix_document_ledger_target_system_target_dok_uri",
}


def ledger_indexes(s: Store) -> set[str]:
    return {i["name"] for i in sa.inspect(s.engine).get_indexes("document_ledger")}


def key(n: int, ref: str = "doc-1", direction: str = TO_SIASN) -> ItemKey:
    return ItemKey(f"usulan-{n:03d}", direction, ref)


def item(n: int, category: str = "missing_at_siasn", jenis: str = "SK_KP", **kw: Any) -> ReconItem:
    return ReconItem(*key(n, **kw), category, jenis)


def open_keys(store: Store, **kw: Any) -> list[tuple[str, str, str]]:
    return [
        (r["usulan_id"], r["direction"], r["ref"]) for r in store.reconciliation.open_items(**kw)
    ]


# ---------------------------------------------------------------------- runs


def test_runs_record_params_counts_and_reports(store: Store) -> None:
    rec = store.reconciliation
    rec.start_run("run-1", params={"repair_limit": 50}, started_at=T0)
    rec.start_run("run-1", params={"repair_limit": 10}, started_at=T0 + DAY)  # a retried task
    rec.start_run("run-2", params={}, started_at=T0 + DAY)
    rec.finish_run(
        "run-1",
        counts={"ok": 10, "missing_at_siasn": 2},
        report_csv="/reports/run-1.csv",
        report_html="/reports/run-1.html",
        finished_at=T0 + dt.timedelta(minutes=5),
    )
    one = rec.get_run("run-1")
    assert one == {
        "run_id": "run-1",
        "started_at": T0,  # the first start is kept
        "finished_at": T0 + dt.timedelta(minutes=5),
        "params": {"repair_limit": 10},  # the retry's params
        "counts": {"ok": 10, "missing_at_siasn": 2},
        "report_csv": "/reports/run-1.csv",
        "report_html": "/reports/run-1.html",
    }
    assert rec.get_run("run-2")["finished_at"] is None
    assert rec.get_run("nope") is None
    assert [r["run_id"] for r in rec.runs()] == ["run-2", "run-1"]
    assert [r["run_id"] for r in rec.runs(limit=1)] == ["run-2"]
    with pytest.raises(StoreError, match="run not started"):
        rec.finish_run("nope", counts={})


# ---------------------------------------------------------------------- items


def test_items_are_inserted_seen_again_and_resolved(store: Store) -> None:
    rec = store.reconciliation
    assert rec.upsert_items("r1", [item(1), item(2), item(3, "orphan")], seen_at=T0) == {
        "new": 3,
        "open": 0,
        "resolved": 0,
    }
    # r2: 1 still missing, 2 now mismatched, 3 fine again, 4 new
    r2 = [item(1), item(2, "hash_mismatch"), item(4, "size_mismatch")]
    assert rec.upsert_items("r2", r2, seen_at=T0 + DAY) == {"new": 1, "open": 2, "resolved": 1}
    one, two = rec.get_item(key(1)), rec.get_item(key(2))
    assert (one["first_seen_run"], one["first_seen_at"]) == ("r1", T0)
    assert (one["last_seen_run"], one["last_seen_at"]) == ("r2", T0 + DAY)
    assert (two["category"], two["first_seen_run"]) == ("hash_mismatch", "r1")
    three = rec.get_item(key(3))
    assert (three["resolved_run"], three["resolved_at"]) == ("r2", T0 + DAY)  # kept for audit
    assert open_keys(store) == [key(1), key(2), key(4)]
    assert open_keys(store, category="size_mismatch") == [key(4)]
    assert rec.stats() == {
        "open": 3,
        "flagged": 0,
        "resolved": 1,
        "open:missing_at_siasn": 1,
        "open:hash_mismatch": 1,
        "open:size_mismatch": 1,
    }
    # an usulan with no answer has no direction nor ref: stored as "" (also when the items
    # come from a DataFrame, with pandas' missing values)
    frame = pd.DataFrame(
        {
            "usulan_id": ["usulan-900", "usulan-901", "usulan-902"],
            "direction": pd.Categorical([None, None, TO_SIAPP]),
            "ref": pd.array([None, None, "siasn:p1"], dtype="str"),
            "category": ["unanswered", "unanswered", "orphan"],
            "jenis": pd.array([None, None, "PERTEK"], dtype="str"),
        }
    )
    frame.loc[1, "ref"] = pd.NA
    rec.upsert_items("r3", frame.itertuples(index=False, name=None), seen_at=T0 + 2 * DAY)
    assert rec.get_item(("usulan-900",))["category"] == "unanswered"
    assert rec.get_item(("usulan-900",))["jenis"] is None
    assert open_keys(store) == [
        ("usulan-900", "", ""),
        ("usulan-901", "", ""),
        ("usulan-902", TO_SIAPP, "siasn:p1"),
    ]
    assert rec.get_item(("usulan-902", TO_SIAPP, "siasn:p1"))["jenis"] == "PERTEK"


def test_documents_of_one_jenis_are_items_of_their_own(store: Store) -> None:
    """The item key is the comparison's ``(usulan_id, direction, ref)``: a version-1 document
    and its version-2 replacement (one jenis), and SIASN orphans (all ``UPLOAD``), are each an
    item, repaired and resolved on their own."""
    rec = store.reconciliation
    items = [
        ReconItem("usulan-001", TO_SIASN, "doc-v1", "missing_at_siasn", "SK_KP"),
        ReconItem("usulan-001", TO_SIASN, "doc-v2", "hash_mismatch", "SK_KP"),
        ReconItem("usulan-001", TO_SIASN, "siasn:o1", "orphan", "UPLOAD"),
        ReconItem("usulan-001", TO_SIASN, "siasn:o2", "orphan", "UPLOAD"),
    ]
    assert rec.upsert_items("r1", items, seen_at=T0) == {"new": 4, "open": 0, "resolved": 0}
    assert open_keys(store) == [
        ("usulan-001", TO_SIASN, r) for r in ("doc-v1", "doc-v2", "siasn:o1", "siasn:o2")
    ]
    assert {r["ref"]: r["category"] for r in rec.to_repair(10)} == {
        "doc-v1": "missing_at_siasn",
        "doc-v2": "hash_mismatch",
    }
    assert rec.mark_repair_attempt(ItemKey("usulan-001", TO_SIASN, "doc-v1"), ok=True) == 1
    assert rec.get_item(ItemKey("usulan-001", TO_SIASN, "doc-v2"))["repair_attempts"] == 0
    assert rec.flag_unrepairable(ItemKey("usulan-001", TO_SIASN, "siasn:o1"), "orphan") is True
    assert open_keys(store, flagged=False) == [
        ("usulan-001", TO_SIASN, r) for r in ("doc-v1", "doc-v2", "siasn:o2")
    ]
    # r2: v1 repaired, one orphan gone; the rest stay open, each on its own
    assert rec.upsert_items("r2", items[1:3], seen_at=T0 + DAY) == {
        "new": 0,
        "open": 2,
        "resolved": 2,
    }
    assert rec.get_item(("usulan-001", TO_SIASN, "siasn:o1"))["jenis"] == "UPLOAD"


def test_a_partial_view_resolves_nothing_and_batches_of_one_run_add_up(store: Store) -> None:
    rec = store.reconciliation
    rec.upsert_items("r1", [item(1), item(2), item(3)], seen_at=T0)
    # an inventory page could not be read: the absent keys stay open
    assert rec.upsert_items("r2", [item(1)], seen_at=T0 + DAY, complete=False)["resolved"] == 0
    assert open_keys(store) == [key(1), key(2), key(3)]
    # r3 sends its items in two batches, the last one completes the run
    assert rec.upsert_items("r3", [item(2)], seen_at=T0 + DAY, complete=False)["resolved"] == 0
    assert rec.upsert_items("r3", [item(5)], seen_at=T0 + DAY)["resolved"] == 2
    assert open_keys(store) == [key(2), key(5)]
    # a run that finds everything ok resolves every open item
    assert rec.upsert_items("r4", [], seen_at=T0 + 2 * DAY) == {"new": 0, "open": 0, "resolved": 2}
    assert open_keys(store) == []


def test_rerunning_a_run_changes_nothing(store: Store) -> None:
    rec = store.reconciliation
    items = [item(1), item(2, "hash_mismatch"), item(1)]  # the repeated key counts once
    assert rec.upsert_items("r1", items, seen_at=T0)["new"] == 2
    before = rec.open_items()
    assert rec.upsert_items("r1", items, seen_at=T0) == {"new": 0, "open": 2, "resolved": 0}
    assert rec.open_items() == before


def test_items_commit_with_the_callers_transaction(store: Store) -> None:
    rec = store.reconciliation
    rec.upsert_items("r1", [item(1)], seen_at=T0)
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as conn:
        rec.upsert_items("r2", [item(2)], seen_at=T0 + DAY, conn=conn)
        rec.mark_repair_attempt(key(2), ok=True, conn=conn)
        store.state.save_checkpoint("recon", "repair", 1, {"done": 1}, conn=conn)
        raise RuntimeError("boom")
    assert open_keys(store) == [key(1)]  # r2 rolled back: item 1 not resolved, 2 not added
    assert store.state.load_checkpoint("recon", "repair") is None


def test_to_repair_hands_out_what_may_be_repaired(store: Store) -> None:
    rec = store.reconciliation
    rec.upsert_items("r1", [item(1), item(2, "hash_mismatch")], seen_at=T0)
    rec.upsert_items(
        "r2",
        [
            item(1),
            item(2, "hash_mismatch"),
            item(3, "size_mismatch", direction=TO_SIAPP),
            item(4, "orphan"),  # not repairable by a re-transfer
            item(5, "missing_at_siapp"),
            item(6, "source_missing"),
        ],
        seen_at=T0 + DAY,
    )
    rec.flag_unrepairable(key(5), "SOURCE_GONE")
    got = [(r["usulan_id"], r["category"]) for r in rec.to_repair(10)]
    # oldest first, then by key
    assert got == [
        ("usulan-001", "missing_at_siasn"),
        ("usulan-002", "hash_mismatch"),
        ("usulan-003", "size_mismatch"),
    ]
    assert len(rec.to_repair(2)) == 2
    assert [r["usulan_id"] for r in rec.to_repair(10, categories=("orphan",))] == ["usulan-004"]
    assert set(REPAIRABLE_CATEGORIES) >= {"missing_at_siasn", "hash_mismatch", "size_mismatch"}


def test_repair_bookkeeping_one_attempt_per_run_up_to_the_maximum(store: Store) -> None:
    rec = store.reconciliation
    rec.upsert_items("r1", [item(1), item(2)], seen_at=T0)
    assert rec.mark_repair_attempt(key(1), ok=False, error="x" * 900, at=T0) == 1
    assert rec.mark_repair_attempt(key(2), ok=True, at=T0) == 1
    one, two = rec.get_item(key(1)), rec.get_item(key(2))
    assert len(one["last_error"]) == 500 and one["repaired_at"] is None
    assert (one["last_attempt_run"], one["last_attempt_at"]) == ("r1", T0)
    assert (two["repaired_at"], two["last_error"]) == (T0, None)
    # attempted since r1 saw them: not again in the same run
    assert rec.to_repair(10, max_attempts=2) == []
    # r2: the repaired document is fine now, the other still missing
    assert rec.upsert_items("r2", [item(1)], seen_at=T0 + DAY)["resolved"] == 1
    assert [r["usulan_id"] for r in rec.to_repair(10, max_attempts=2)] == ["usulan-001"]
    assert rec.mark_repair_attempt(key(1), ok=False, error="again") == 2
    rec.upsert_items("r3", [item(1)], seen_at=T0 + 2 * DAY)
    assert rec.to_repair(10, max_attempts=2) == []  # attempts exhausted
    assert [r["repair_attempts"] for r in rec.to_repair(10, max_attempts=3)] == [2]
    with pytest.raises(StoreError, match="no open item"):
        rec.mark_repair_attempt(key(2), ok=True)  # resolved
    with pytest.raises(StoreError, match="no open item"):
        rec.mark_repair_attempt(key(99), ok=True)


def test_unrepairable_items_are_flagged_once(store: Store) -> None:
    rec = store.reconciliation
    rec.upsert_items("r1", [item(1), item(2)], seen_at=T0)
    assert rec.flag_unrepairable(key(1), "SOURCE_MISSING_AT_SIAPP", at=T0) is True
    assert rec.flag_unrepairable(key(1), "OTHER_REASON", at=T0 + DAY) is False
    flagged = rec.get_item(key(1))
    assert (flagged["unrepairable_reason"], flagged["flagged_at"]) == (
        "SOURCE_MISSING_AT_SIAPP",
        T0,
    )
    assert open_keys(store, flagged=True) == [key(1)]
    assert open_keys(store, flagged=False) == [key(2)]
    assert rec.stats()["flagged"] == 1
    # still not ok in later runs: stays flagged, never handed out for repair
    for n in range(2, 5):
        rec.upsert_items(f"r{n}", [item(1)], seen_at=T0 + n * DAY)
        assert rec.to_repair(10) == []
        assert rec.flag_unrepairable(key(1), "SOURCE_MISSING_AT_SIAPP") is False
    assert rec.get_item(key(1))["flagged_at"] == T0
    with pytest.raises(StoreError, match="no open item"):
        rec.flag_unrepairable(key(99), "X")
    with pytest.raises(ValueError, match="may not be empty"):
        rec.flag_unrepairable(key(1), "")
    # fixed by hand, later broken again: a new occurrence, repairable again
    rec.upsert_items("r5", [], seen_at=T0 + 5 * DAY)
    assert rec.flag_unrepairable(key(1), "X") is False  # resolved while flagged: kept as is
    rec.upsert_items("r6", [item(1, "hash_mismatch")], seen_at=T0 + 6 * DAY)
    again = rec.get_item(key(1))
    assert again["first_seen_run"] == "r6"
    assert (again["flagged_at"], again["unrepairable_reason"], again["resolved_at"]) == (
        None,
        None,
        None,
    )
    assert (again["repair_attempts"], again["category"]) == (0, "hash_mismatch")
    assert [r["usulan_id"] for r in rec.to_repair(10)] == ["usulan-001"]


def test_bad_items_are_refused(store: Store) -> None:
    rec = store.reconciliation
    with pytest.raises(ValueError, match="usulan_id: may not be empty"):
        rec.upsert_items("r1", [(None, TO_SIASN, "d", "orphan")])
    with pytest.raises(ValueError, match="category: may not be empty"):
        rec.upsert_items("r1", [("u", TO_SIASN, "d", "")])
    with pytest.raises(ValueError, match="longer than 32"):
        rec.upsert_items("r1", [("u", TO_SIASN, "d", "c" * 33)])
    assert rec.open_items() == []


# ---------------------------------------------------------------------- decree cross-checks


NIP_A, NIP_B = "197203151998031001", "198001012005012002"


def test_keppres_checks_store_a_keyed_hash_never_the_nip(store: Store) -> None:
    rec = store.reconciliation
    checks = [
        KeppresCheck("usulan-001", "kp", NIP_A, T0, "keppres_not_applied", 9),
        KeppresCheck("usulan-002", "pemberhentian", NIP_B, T0 - DAY, "applied", 10),
    ]
    assert rec.upsert_keppres_checks(checks, run_id="r1", checked_at=T0 + 9 * DAY) == 2
    rows = rec.keppres_checks()
    assert [(r["usulan_id"], r["kind"], r["status"], r["age_days"]) for r in rows] == [
        ("usulan-001", "kp", "keppres_not_applied", 9),
        ("usulan-002", "pemberhentian", "applied", 10),
    ]
    assert rows[0]["nip_hash"] == keyed_hash(NIP_A, secret=HASH_KEY)
    assert (rows[0]["delivered_at"], rows[0]["checked_at"], rows[0]["run_id"]) == (
        T0,
        T0 + 9 * DAY,
        "r1",
    )
    with store.engine.connect() as c:
        raw = c.execute(sa.text("SELECT * FROM keppres_check")).all()
    assert not any(NIP_A in str(v) or NIP_B in str(v) for row in raw for v in row)
    # a later check overwrites the row of its usulan and kind
    later = KeppresCheck("usulan-001", "kp", NIP_A, T0, "applied", 12)
    assert rec.upsert_keppres_checks([later], run_id="r2", checked_at=T0 + 12 * DAY) == 1
    assert [r["usulan_id"] for r in rec.keppres_checks(status="applied")] == [
        "usulan-001",
        "usulan-002",
    ]
    assert rec.keppres_checks(status="keppres_not_applied") == []
    assert [r["usulan_id"] for r in rec.keppres_checks(kind="kp")] == ["usulan-001"]
    assert rec.upsert_keppres_checks([], run_id="r3") == 0


def test_keppres_checks_refuse_unknown_kinds_and_statuses(store: Store) -> None:
    rec = store.reconciliation
    with pytest.raises(ValueError, match="kind: one of kp, pemberhentian"):
        rec.upsert_keppres_checks([KeppresCheck("u", "kpx", NIP_A, T0, "applied", 1)], run_id="r")
    with pytest.raises(ValueError, match="status: one of applied, keppres_not_applied"):
        rec.upsert_keppres_checks([KeppresCheck("u", "kp", NIP_A, T0, "late", 1)], run_id="r")
    # and so does the database
    row = {
        "usulan_id": "u",
        "kind": "kp",
        "nip_hash": "h",
        "delivered_at": T0,
        "checked_at": T0,
        "status": "late",
        "age_days": 1,
    }
    with pytest.raises(StoreError, match="ck_keppres_check_status"), store.transaction() as c:
        c.execute(
            sa.text(
                "INSERT INTO keppres_check (usulan_id, kind, nip_hash, delivered_at, "
                "checked_at, status, age_days) VALUES (:usulan_id, :kind, :nip_hash, "
                ":delivered_at, :checked_at, :status, :age_days)"
            ),
            row,
        )
    assert rec.keppres_checks() == []


def test_a_store_without_hash_key_refuses_to_store_a_nip(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HASH_KEY_ENV, raising=False)
    s = Store(store_url)
    try:
        s.migrate()
        with pytest.raises(StoreError, match="no hash key"):
            s.reconciliation.upsert_keppres_checks(
                [KeppresCheck("u", "kp", NIP_A, T0, "applied", 1)], run_id="r"
            )
        assert s.reconciliation.keppres_checks() == []
    finally:
        s.close()


# ---------------------------------------------------------------------- chunked ledger reader


def _ledger_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "doc_id": f"doc-{i:06d}",
            "usulan_id": f"usulan-{i // 3:05d}",
            "jenis": ("SK_KP", "PERTEK", "DRH")[i % 3],
            "direction": LEDGER_DIRECTIONS[i % 2],
            "sha256": f"{i:064x}",
            "size": None if i % 97 == 0 else 1000 + i,
            "source_system": "siapp",
            "target_system": "siasn",
            "status": ("transferred", "pending")[i % 5 == 0],
            "attempts": 0,
            "created_at": T0,
            "updated_at": T0,
        }
        for i in range(n)
    ]


def test_iter_inventory_yields_every_ledger_row_once_in_bounded_chunks(store: Store) -> None:
    rows = _ledger_rows(1234)
    with store.transaction() as c:
        c.execute(sa.insert(document_ledger), rows[::-1])  # insertion order does not matter
    chunks = list(store.documents.iter_inventory(chunk_size=100))
    assert [len(c) for c in chunks] == [100] * 12 + [34]
    assert all(tuple(c.columns) == INVENTORY_COLUMNS for c in chunks)
    assert all(
        str(c[name].dtype) == str(pd.Series([], dtype=dtype).dtype)
        for c in chunks
        for name, dtype in INVENTORY_DTYPES.items()
    )
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["ref"].tolist() == sorted(r["doc_id"] for r in rows)  # each row exactly once
    first = whole.iloc[0]
    assert (first["usulan_id"], first["jenis"], first["direction"], first["status"]) == (
        "usulan-00000",
        "SK_KP",
        TO_SIASN,
        "pending",
    )
    assert pd.isna(first["size"]) and whole.iloc[1]["size"] == 1001
    assert whole.iloc[1]["sha256"] == f"{1:064x}"


def test_iter_inventory_pages_by_key_not_by_offset(store: Store) -> None:
    """Rows written behind the reader while it iterates shift nothing: each later page starts
    after the last ``doc_id`` read (an ``OFFSET`` page would repeat rows), rows ahead of it
    are read."""
    with store.transaction() as c:
        c.execute(sa.insert(document_ledger), _ledger_rows(300))
    behind = [{**r, "doc_id": f"doc-000000-{i}"} for i, r in enumerate(_ledger_rows(50))]
    ahead = [{**r, "doc_id": f"doc-999999-{i}"} for i, r in enumerate(_ledger_rows(5))]
    refs: list[str] = []
    for n, chunk in enumerate(store.documents.iter_inventory(chunk_size=100)):
        refs += chunk["ref"].tolist()
        if n == 0:
            with store.transaction() as c:
                c.execute(sa.insert(document_ledger), behind + ahead)
    assert len(refs) == len(set(refs)) == 305
    assert refs == sorted(r["doc_id"] for r in _ledger_rows(300) + ahead)


def test_iter_inventory_edges_and_direction_filter(store: Store) -> None:
    assert list(store.documents.iter_inventory()) == []
    with store.transaction() as c:
        c.execute(sa.insert(document_ledger), _ledger_rows(200))
    assert [len(c) for c in store.documents.iter_inventory(chunk_size=100)] == [100, 100]
    to_siapp = pd.concat(store.documents.iter_inventory(chunk_size=30, direction=TO_SIAPP))
    assert len(to_siapp) == 100 and set(to_siapp["direction"]) == {TO_SIAPP}
    with store.transaction() as conn:
        assert sum(map(len, store.documents.iter_inventory(chunk_size=64, conn=conn))) == 200
    with pytest.raises(ValueError, match="chunk_size"):
        next(store.documents.iter_inventory(chunk_size=0))


# ---------------------------------------------------------------------- migration 0004


def test_migration_0004_up_and_down(store_url: str) -> None:
    s = Store(store_url, hash_key=HASH_KEY)
    try:
        assert s.migrate("0003") == "0003"
        assert RECON_TABLES & set(sa.inspect(s.engine).get_table_names()) == set()
        s.outbox.list()  # the older tables are there
        assert s.migrate("0004") == "0004"
        assert set(sa.inspect(s.engine).get_table_names()) >= RECON_TABLES
        assert ledger_indexes(s) >= TARGET_INDEXES
        s.reconciliation.upsert_items("r1", [item(1)], seen_at=T0)
        s.reconciliation.start_run("r1", params={})
        assert downgrade(s.engine, "0003") == "0003"
        tables = set(sa.inspect(s.engine).get_table_names())
        assert RECON_TABLES & tables == set() and {"outbox", "document_ledger"} <= tables
        assert ledger_indexes(s) & TARGET_INDEXES == set()
        assert s.migrate("0004") == "0004"
        assert s.reconciliation.open_items() == [] and s.reconciliation.runs() == []
        s.migrate()  # stats counts every table of the newest schema
        assert set(s.stats()["tables"]) >= RECON_TABLES
    finally:
        s.close()


def test_ledger_look_ups_by_target_and_by_usulan(store: Store) -> None:
    """What a destination lists maps back to the ledger row by its copy (indexed look-up), and
    the rows of some usulan come in one call: the reconciliation's readers use both."""
    docs = store.documents
    base = {"direction": TO_SIASN, "source_system": "siapp", "status": "verified"}
    docs.upsert(
        "d1",
        usulan_id="u1",
        target_system="siasn",
        target_dok_id="S1",
        target_dok_uri="/f/1.pdf",
        **base,
    )
    docs.upsert(
        "d2",
        usulan_id="u1",
        target_system="siasn",
        target_dok_id="S2",
        target_dok_uri="f/2.pdf",
        **base,
    )
    docs.upsert(
        "d3",
        usulan_id="u2",
        target_system="siapp",
        target_dok_id="S1",
        **{**base, "direction": TO_SIAPP},
    )
    docs.upsert("d4", usulan_id="u3", target_system="siasn", **base)

    def refs(rows: list[dict[str, Any]]) -> list[str]:
        return [r["doc_id"] for r in rows]

    assert refs(docs.by_target("siasn", dok_ids=["S1", "S9"])) == ["d1"]  # not d3: at SIAPP NV
    assert refs(docs.by_target("siapp", dok_ids=["S1"])) == ["d3"]
    assert refs(docs.by_target("siasn", dok_uris=["/f/1.pdf", "f/2.pdf"])) == ["d1", "d2"]
    assert refs(docs.by_target("siasn", dok_ids=["S2"], dok_uris=["/f/1.pdf", "f/2.pdf"])) == [
        "d1",
        "d2",
    ]
    assert docs.by_target("siasn") == [] and docs.by_target("siasn", dok_ids=[""]) == []
    ids = [f"S{n}" for n in range(2500)]  # more than one IN list
    assert refs(docs.by_target("siasn", dok_ids=ids)) == ["d1", "d2"]
    assert docs.by_target("siasn", dok_ids=["S1"])[0]["usulan_id"] == "u1"
    assert refs(docs.for_usulan(["u1", "u3", "nope", ""])) == ["d1", "d2", "d4"]
    assert docs.for_usulan([]) == []
