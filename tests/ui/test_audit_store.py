"""``store.audit`` on SQLite and on the real PostgreSQL: what the page reads, and that it
cannot write (its engine is read-only on both dialects)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from siapp_siasn.store import OutboxItem, QuarantineItem, Store, StoreError
from siapp_siasn.store.tables import lineage


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_db_url")
    s = Store(url, hash_key=b"audit-tests")
    s.migrate()
    try:
        yield s
    finally:
        s.close()


def _record(lineage_id: str, dag_id: str, run_id: str, task_id: str, **kw: object) -> dict:
    return {
        "lineage_id": lineage_id,
        "flow": kw.pop("flow", "F1"),
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        **kw,
    }


def test_runs_records_and_who_read_them(store: Store) -> None:
    store.lineage.write(_record("pull-1", "siasn_asn_daily", "r1", "pull_asn"))
    store.lineage.write(
        _record(
            "collect-1",
            "usulan_sync",
            "r2",
            "collect",
            flow="F5-F8",
            upstream=[{"lineage_id": "pull-1", "dag_id": "siasn_asn_daily"}],
        )
    )
    store.lineage.write(
        _record("push-1", "usulan_sync", "r2", "push_siasn", flow="F5-F8", upstream=["collect-1"])
    )
    runs = store.audit.recent_runs()
    assert [(r["dag_id"], r["run_id"], r["records"], r["flows"]) for r in runs] == [
        ("usulan_sync", "r2", 2, ["F5-F8"]),
        ("siasn_asn_daily", "r1", 1, ["F1"]),
    ]
    assert [r["task_id"] for r in store.audit.run_records("usulan_sync", "r2")] == [
        "collect",
        "push_siasn",
    ]
    assert set(store.audit.records_by_id(["pull-1", "nope"])) == {"pull-1"}
    readers = store.audit.referencing(["pull-1"])
    assert [(r["dag_id"], r["task_id"]) for r in readers] == [("usulan_sync", "collect")]


def test_quarantine_and_dead_letters_without_personal_columns(store: Store) -> None:
    store.quarantine.add(
        [
            QuarantineItem(
                "F1", "asn", "198001012010011001", "invalid", {"nama": "BUDI"}, detail="tglLahir"
            )
        ],
        run_id="r1",
    )
    (row,) = store.audit.quarantine("r1")
    assert set(row) == {"id", "flow", "entity_kind", "reason", "key_hash", "payload", "created_at"}
    assert "198001012010011001" not in str(row) and "BUDI" not in str(row)
    store.outbox.enqueue([OutboxItem("usulan", "u-1", "v1", "usulan:u-1:v1", {"nip": "x"})])
    (item,) = store.outbox.list(entity_id="u-1")
    store.outbox.mark_attempt_failed(item.id, error="HTTP 503", next_attempt_at=None, dead=True)
    (dead,) = store.audit.dead_letters()
    assert set(dead) == {"id", "flow", "entity_id", "attempts", "last_error", "updated_at"}
    assert (dead["entity_id"], dead["attempts"]) == ("u-1", 1)
    assert store.audit.dead_letter_counts() == {"usulan": 1}


def test_the_audit_engine_refuses_writes(store: Store) -> None:
    store.lineage.write(_record("pull-1", "d", "r", "t"))
    with pytest.raises(StoreError), store.audit.read("write") as c:
        c.execute(sa.delete(lineage))
    assert store.lineage.get("pull-1") is not None
