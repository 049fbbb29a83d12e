"""The proposal traffic's store (F3-F8): outbox, document ledger, usulan lifecycle, and
migration 0003 - on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_siasn.store import (
    LIFECYCLE_STAMPS,
    OutboxItem,
    OutboxRow,
    Store,
    StoreError,
    downgrade,
    head_revision,
    outbox_key,
)
from siapp_siasn.store.types import JSONType, UTCDateTime

from .conftest import HASH_KEY, T0

MINUTE = dt.timedelta(minutes=1)


def item(n: int, *, flow: str = "F5", version: str = "v1", **kw: Any) -> OutboxItem:
    entity = f"usulan-{n:03d}"
    return OutboxItem(
        flow=flow,
        entity_id=entity,
        version_hash=version,
        idempotency_key=outbox_key(flow, entity, version),
        payload={"id_usulan_siapp": entity, "nip": f"19720315199803100{n % 10}", "versi": 1},
        **kw,
    )


def ids(rows: list[OutboxRow]) -> list[str]:
    return [r.entity_id for r in rows]


# ---------------------------------------------------------------------- outbox


def test_enqueue_is_idempotent(store: Store) -> None:
    first = [item(1), item(2), item(1)]  # the repeated key counts once
    assert store.outbox.enqueue(first) == 2
    assert store.outbox.enqueue(first) == 0  # a rerun adds nothing
    changed = OutboxItem(**{**_fields(item(1)), "payload": {"other": True}})
    assert store.outbox.enqueue([changed, item(3)]) == 1  # same key: kept as first stored
    rows = store.outbox.list()
    assert ids(rows) == ["usulan-001", "usulan-002", "usulan-003"]
    one = rows[0]
    assert one.payload == item(1).payload
    assert (one.status, one.attempts, one.next_attempt_at, one.sent_at) == (
        "pending",
        0,
        None,
        None,
    )
    assert one.idempotency_key == "F5:usulan-001:v1"
    assert one.created_at.tzinfo is not None
    assert store.outbox.enqueue([]) == 0


def _fields(i: OutboxItem) -> dict[str, Any]:
    return {name: getattr(i, name) for name in OutboxItem.__slots__}


def test_enqueue_commits_with_the_callers_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as conn:
        assert store.outbox.enqueue([item(1)], conn=conn) == 1
        raise RuntimeError("boom")
    assert store.outbox.list() == []
    with store.transaction() as conn:
        store.outbox.enqueue([item(1)], conn=conn)
        store.usulan.upsert("usulan-001", stamps={"submitted_at": T0}, conn=conn)
    assert len(store.outbox.list()) == 1
    assert store.usulan.get("usulan-001") is not None


def test_outbox_item_checks_name_fields_not_values() -> None:
    secret = "3273011503720004"
    with pytest.raises(ValueError, match="status") as e:
        OutboxItem("F5", secret, "v", "k", {}, status="sent")
    assert secret not in str(e.value)
    with pytest.raises(ValueError, match="entity_id longer than 128") as e:
        OutboxItem("F5", secret * 9, "v", "k", {})
    assert secret not in str(e.value)
    with pytest.raises(ValueError, match="idempotency_key"):
        OutboxItem("F5", "u", "v", "", {})
    with pytest.raises(TypeError, match="payload"):
        OutboxItem("F5", "u", "v", "k", [1])  # type: ignore[arg-type]


def test_due_ordering_and_next_attempt_filter(store: Store) -> None:
    store.outbox.enqueue([item(1), item(2, flow="F6"), item(3), item(4, flow="F8")])
    a, _b, c, d = store.outbox.list()
    store.outbox.mark_attempt_failed(
        a.id, error="HTTP 503", next_attempt_at=T0 + 10 * MINUTE, dead=False
    )
    store.outbox.mark_attempt_failed(c.id, error="HTTP 429", next_attempt_at=None, dead=False)
    # a waits; c (retry, no time) is due at once; ordered by id
    assert ids(store.outbox.due(T0)) == ["usulan-002", "usulan-003", "usulan-004"]
    assert ids(store.outbox.due(T0 + 10 * MINUTE - dt.timedelta(microseconds=1))) == [
        "usulan-002",
        "usulan-003",
        "usulan-004",
    ]
    assert ids(store.outbox.due(T0 + 10 * MINUTE)) == [
        "usulan-001",
        "usulan-002",
        "usulan-003",
        "usulan-004",
    ]
    assert ids(store.outbox.due(T0 + 10 * MINUTE, limit=2)) == ["usulan-001", "usulan-002"]
    assert ids(store.outbox.due(T0 + 10 * MINUTE, flows=["F5", "F8"])) == [
        "usulan-001",
        "usulan-003",
        "usulan-004",
    ]
    assert store.outbox.due(T0 + 10 * MINUTE, flows=[]) == []
    # another time zone, same instant
    wib = dt.timezone(dt.timedelta(hours=7))
    assert ids(store.outbox.due((T0 + 10 * MINUTE).astimezone(wib), flows=["F5"])) == [
        "usulan-001",
        "usulan-003",
    ]
    assert {r.status for r in store.outbox.due(T0 + 10 * MINUTE)} == {"pending", "retry"}
    assert d.status == "pending"


def test_mark_sent(store: Store) -> None:
    store.outbox.enqueue([item(1), item(2)])
    a, b = store.outbox.list()
    sent_at = T0 + dt.timedelta(seconds=3, microseconds=250)
    answer = {"code": 1, "data": {"id": "8ae4828b6f3a4c1e8f0b2c3d4e5f6a7b", "status": "diterima"}}
    store.outbox.mark_attempt_failed(a.id, error="timeout", next_attempt_at=None, dead=False)
    store.outbox.mark_sent(a.id, response=answer, sent_at=sent_at)
    store.outbox.mark_sent(b.id, response=None, sent_at=sent_at)
    sent = store.outbox.list(status="sent")
    assert [r.id for r in sent] == [a.id, b.id]
    assert sent[0].response == answer
    assert sent[0].sent_at == sent_at
    assert sent[0].attempts == 1  # failed attempts only
    assert sent[0].next_attempt_at is None
    assert sent[1].response is None
    assert store.outbox.due(T0 + dt.timedelta(days=1)) == []
    # a second mark keeps the first delivery
    store.outbox.mark_sent(a.id, response={"other": 1}, sent_at=sent_at + MINUTE)
    again = store.outbox.list(entity_id="usulan-001")[0]
    assert (again.response, again.sent_at) == (answer, sent_at)
    with pytest.raises(StoreError, match="no outbox row"):
        store.outbox.mark_sent(999_999, response=None, sent_at=sent_at)
    with pytest.raises(StoreError, match="is sent"):
        store.outbox.mark_attempt_failed(a.id, error="x", next_attempt_at=None, dead=False)


def test_failures_retry_then_dead(store: Store) -> None:
    max_attempts = 3
    store.outbox.enqueue([item(1), item(2)])
    row, other = store.outbox.list()
    now = T0
    seen = []
    while True:
        due = store.outbox.due(now, flows=["F5"])
        if row.id not in [r.id for r in due]:
            break
        current = next(r for r in due if r.id == row.id)
        dead = current.attempts + 1 >= max_attempts
        attempts = store.outbox.mark_attempt_failed(
            row.id,
            error=f"HTTP 502 from SIASN POST usulan (attempt {current.attempts + 1})",
            next_attempt_at=now + 2**current.attempts * MINUTE,
            dead=dead,
        )
        seen.append((attempts, store.outbox.list(entity_id=row.entity_id)[0].status))
        now += 10 * MINUTE
    assert seen == [(1, "retry"), (2, "retry"), (3, "dead")]
    final = store.outbox.list(entity_id=row.entity_id)[0]
    assert final.next_attempt_at is None
    assert final.last_error == "HTTP 502 from SIASN POST usulan (attempt 3)"
    assert final.payload == item(1).payload  # kept for a later requeue
    # a long error is cut to 500 characters
    store.outbox.mark_attempt_failed(other.id, error="E" * 2000, next_attempt_at=None, dead=True)
    long = store.outbox.list(entity_id=other.entity_id)[0]
    assert long.last_error is not None and len(long.last_error) == 500
    assert store.outbox.due(now + dt.timedelta(days=365)) == []
    # the dead-letter view: no payload
    with store.engine.connect() as c:
        result = c.execute(sa.text("SELECT * FROM v_outbox_dead ORDER BY id"))
        assert set(result.keys()) == {
            "id",
            "flow",
            "entity_id",
            "attempts",
            "last_error",
            "updated_at",
        }
        dead_rows = result.mappings().all()
    assert [(r["entity_id"], r["attempts"]) for r in dead_rows] == [
        ("usulan-001", 3),
        ("usulan-002", 1),
    ]
    # requeue: another round from zero attempts
    assert store.outbox.requeue_dead(ids=[row.id]) == 1
    back = store.outbox.list(entity_id=row.entity_id)[0]
    assert (back.status, back.attempts, back.last_error) == ("retry", 0, final.last_error)
    assert ids(store.outbox.due(now)) == ["usulan-001"]
    assert store.outbox.requeue_dead(flow="F6") == 0
    assert store.outbox.requeue_dead() == 1


def test_rejected_is_never_due(store: Store) -> None:
    rejected = item(1, status="rejected", reason="GOLONGAN_DI_BAWAH_IVB")
    penolakan = item(1, flow="penolakan")
    assert store.outbox.enqueue([rejected, penolakan, item(2)]) == 3
    assert ids(store.outbox.due(T0 + dt.timedelta(days=30))) == ["usulan-001", "usulan-002"]
    assert [r.flow for r in store.outbox.due(T0)] == ["penolakan", "F5"]
    kept = store.outbox.list(status="rejected")
    assert [(r.entity_id, r.reason, r.flow) for r in kept] == [
        ("usulan-001", "GOLONGAN_DI_BAWAH_IVB", "F5")
    ]
    with pytest.raises(StoreError, match="rejected"):
        store.outbox.mark_sent(kept[0].id, response=None, sent_at=T0)
    with pytest.raises(StoreError, match="rejected"):
        store.outbox.mark_attempt_failed(kept[0].id, error="x", next_attempt_at=None, dead=True)
    assert store.outbox.list(status="rejected")[0].attempts == 0
    assert store.outbox.stats() == {
        "F5": {"pending": 1, "rejected": 1},
        "penolakan": {"pending": 1},
    }
    assert store.outbox.list(flow="penolakan", entity_id="usulan-001")[0].status == "pending"


# ---------------------------------------------------------------------- document ledger

DOC = {
    "usulan_id": "usulan-001",
    "jenis": "876",
    "direction": "siapp_to_siasn",
    "sha256": "a" * 64,
    "size": "20480",
    "source_system": "SIAPP",
    "source_ref": "dok-1",
    "target_system": "SIASN",
}


def test_ledger_upsert_get_list(store: Store) -> None:
    assert store.documents.get("dok-1") is None
    with pytest.raises(ValueError, match="needs direction, source_system, target_system"):
        store.documents.upsert("dok-1", status="pending")
    with pytest.raises(ValueError, match="unknown fields: nama"):
        store.documents.upsert("dok-1", nama="x", **DOC)
    store.documents.upsert("dok-1", **DOC)
    row = store.documents.get("dok-1")
    assert row is not None
    assert (row["status"], row["attempts"], row["size"]) == ("pending", 0, 20480)
    assert row["created_at"] == row["updated_at"]
    # a partial update keeps the other columns
    transferred = T0 + MINUTE
    store.documents.upsert(
        "dok-1",
        status="transferred",
        target_dok_id="3f1c",
        target_dok_uri="peremajaan/usulan/3f1c.pdf",
        transferred_at=transferred,
    )
    row = store.documents.get("dok-1")
    assert row is not None
    assert (row["status"], row["sha256"], row["transferred_at"]) == (
        "transferred",
        "a" * 64,
        transferred,
    )
    assert row["updated_at"] >= row["created_at"]
    # the same upsert again changes nothing, not even updated_at
    store.documents.upsert("dok-1", status="transferred", transferred_at=transferred)
    assert store.documents.get("dok-1") == row
    assert store.documents.mark_failed("dok-1", error="sha256 differs after upload") == 1
    assert store.documents.mark_failed("dok-1", error="sha256 differs after upload") == 2
    failed = store.documents.get("dok-1")
    assert failed is not None
    assert (failed["status"], failed["attempts"]) == ("failed", 2)
    with pytest.raises(StoreError, match="no such document_ledger row"):
        store.documents.mark_failed("nope", error="x")
    store.documents.upsert("dok-2", **{**DOC, "source_ref": "dok-2"}, last_error="E" * 900)
    store.documents.upsert(
        "sk-1",
        **{**DOC, "usulan_id": "usulan-002", "direction": "siasn_to_siapp"},
        status="verified",
    )
    assert len(store.documents.get("dok-2")["last_error"]) == 500  # type: ignore[index]
    assert [r["doc_id"] for r in store.documents.list(usulan_id="usulan-001")] == ["dok-1", "dok-2"]
    assert [r["doc_id"] for r in store.documents.list(status="verified")] == ["sk-1"]
    assert [r["doc_id"] for r in store.documents.list()] == ["dok-1", "dok-2", "sk-1"]
    assert store.documents.list(usulan_id="usulan-001", status="verified") == []
    assert store.documents.stats() == {
        "total": 3,
        "failed": 1,
        "pending": 1,
        "verified": 1,
        "siapp_to_siasn:failed": 1,
        "siapp_to_siasn:pending": 1,
        "siasn_to_siapp:verified": 1,
    }


def test_ledger_get_many(store: Store) -> None:
    assert store.documents.get_many([]) == {}
    store.documents.upsert("dok-1", **DOC)
    store.documents.upsert("dok-2", **{**DOC, "source_ref": "dok-2"}, status="verified")
    many = store.documents.get_many(["dok-2", "nope", "dok-1", "dok-2"])
    assert many == {"dok-1": store.documents.get("dok-1"), "dok-2": store.documents.get("dok-2")}
    with store.transaction() as conn:
        store.documents.upsert("dok-3", **{**DOC, "source_ref": "dok-3"}, conn=conn)
        assert list(store.documents.get_many(["dok-3"], conn=conn)) == ["dok-3"]
    # more ids than one IN list takes
    wanted = [f"dok-{i}" for i in range(1, 2_000)]
    assert sorted(store.documents.get_many(wanted)) == ["dok-1", "dok-2", "dok-3"]


def test_per_row_statements_are_compiled_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The push's per-row calls reuse statements SQLAlchemy has compiled already (its log
    says ``[cached since …]`` for those, ``[generated …]`` or ``[no key …]`` otherwise)."""
    store.outbox.enqueue([item(n) for n in range(3)])
    rows = store.outbox.list()

    def push_row(n: int) -> None:
        with store.transaction() as conn:
            store.documents.get_many([f"dok-{n}"], conn=conn)
            store.documents.upsert(
                f"dok-{n}", **DOC, status="transferred", transferred_at=T0, conn=conn
            )
            store.documents.upsert(f"dok-{n}", status="verified", conn=conn)
            store.outbox.mark_sent(rows[n].id, response={"id": "x"}, sent_at=T0, conn=conn)
            store.usulan.upsert(
                f"usulan-{n}", fields={"status": "terkirim"}, stamps={"sent_at": T0}, conn=conn
            )

    push_row(0)
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
        push_row(1)
        push_row(2)
    stats = [m for m in caplog.messages if m.startswith(("[generated", "[no key", "[cached"))]
    assert len(stats) == 10
    assert all(m.startswith("[cached since") for m in stats), stats
    assert store.documents.get("dok-2")["status"] == "verified"  # type: ignore[index]
    assert store.usulan.get("usulan-2")["sent_at"] == T0  # type: ignore[index]


# ---------------------------------------------------------------------- usulan lifecycle


def test_lifecycle_stamps_first_time_wins_fields_overwrite(store: Store) -> None:
    assert store.usulan.get("u-1") is None
    store.usulan.upsert(
        "u-1",
        fields={"version": 1, "jenis": "KP", "nip": "197203151998031002", "status": "DIAJUKAN"},
        stamps={"submitted_at": T0},
    )
    row = store.usulan.get("u-1")
    assert row is not None
    assert (row["version"], row["status"], row["submitted_at"], row["sent_at"]) == (
        "1",
        "DIAJUKAN",
        T0,
        None,
    )
    # a replay with a later time: the stamp stays, nothing is written
    store.usulan.upsert("u-1", fields={"status": "DIAJUKAN"}, stamps={"submitted_at": T0 + MINUTE})
    assert store.usulan.get("u-1") == row
    # new facts: fields overwrite, new stamps are set, old ones stay
    store.usulan.upsert(
        "u-1",
        fields={
            "status_bkn": "22",
            "status_bkn_nama": "Pertek ditandatangani",
            "no_pertek": "PERTEK-1",
            "tgl_pertek": "2026-01-07",
            "version": "2",
        },
        stamps={"submitted_at": T0 + 2 * MINUTE, "pertek_at": T0 + 3 * MINUTE, "sent_at": None},
    )
    row = store.usulan.get("u-1")
    assert row is not None
    assert row["version"] == "2"
    assert row["status"] == "DIAJUKAN"  # not given: kept
    assert row["tgl_pertek"] == dt.date(2026, 1, 7)
    assert (row["submitted_at"], row["pertek_at"], row["sent_at"]) == (T0, T0 + 3 * MINUTE, None)
    # a row without fields starts at status "baru"
    store.usulan.upsert("u-2")
    store.usulan.upsert("u-2")
    assert store.usulan.get("u-2")["status"] == "baru"  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown fields: created_at"):
        store.usulan.upsert("u-1", fields={"created_at": T0})
    with pytest.raises(ValueError, match="unknown fields: status"):
        store.usulan.upsert("u-1", stamps={"status": T0})
    with pytest.raises(ValueError, match="status: may not be empty"):
        store.usulan.upsert("u-1", fields={"status": None})
    with pytest.raises(TypeError, match="keppres_at: expected a datetime"):
        store.usulan.upsert("u-1", stamps={"keppres_at": "2026-01-05"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="hasil_verifikasi: longer than 8"):
        store.usulan.upsert("u-1", fields={"hasil_verifikasi": "DISETUJUI-OLEH"})
    assert [r["usulan_id"] for r in store.usulan.list(status="baru")] == ["u-2"]
    assert [r["usulan_id"] for r in store.usulan.list(status_bkn="22")] == ["u-1"]


def test_lifecycle_stats_and_store_stats(store: Store) -> None:
    store.usulan.upsert("u-1", fields={"status": "DIAJUKAN"}, stamps={"submitted_at": T0})
    store.usulan.upsert(
        "u-2",
        fields={"status": "KEPPRES_TERBIT"},
        stamps={"submitted_at": T0, "sent_at": T0, "keppres_at": T0},
    )
    store.usulan.upsert("u-3", fields={"status": "DIAJUKAN"}, stamps={"submitted_at": T0})
    stats = store.usulan.stats()
    assert stats == {
        "total": 3,
        **dict.fromkeys(LIFECYCLE_STAMPS, 0),
        "submitted_at": 3,
        "sent_at": 1,
        "keppres_at": 1,
        "status:DIAJUKAN": 2,
        "status:KEPPRES_TERBIT": 1,
    }
    store.outbox.enqueue([item(1), item(2, status="rejected", reason="KATEGORI_DI_LUAR_PKS")])
    store.documents.upsert("dok-1", **DOC)
    overall = store.stats()
    assert overall["outbox"] == {"pending": 1, "rejected": 1}
    assert overall["document_ledger"] == {"pending": 1}
    assert overall["usulan_lifecycle"] == {"DIAJUKAN": 2, "KEPPRES_TERBIT": 1}
    assert overall["tables"]["outbox"] == 2


def test_stats_of_an_empty_store(store: Store) -> None:
    assert store.outbox.stats() == {}
    assert store.documents.stats() == {"total": 0}
    assert store.usulan.stats() == {"total": 0, **dict.fromkeys(LIFECYCLE_STAMPS, 0)}


# ---------------------------------------------------------------------- migration 0003

OLD_OUTBOX = sa.table(
    "outbox",
    sa.column("flow", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("version_hash", sa.String()),
    sa.column("idempotency_key", sa.String()),
    sa.column("payload", JSONType),
    sa.column("status", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def test_migration_from_empty(store_url: str) -> None:
    s = Store(store_url, hash_key=HASH_KEY)
    try:
        assert s.revision() is None
        assert s.migrate() == head_revision()
        assert "reason" in {c["name"] for c in sa.inspect(s.engine).get_columns("outbox")}
        assert "v_outbox_dead" in sa.inspect(s.engine).get_view_names()
        row = {
            "flow": "F5",
            "entity_id": "u",
            "version_hash": "v",
            "payload": {},
            "attempts": 0,
            "created_at": T0,
            "updated_at": T0,
        }
        with s.transaction() as conn:
            conn.execute(sa.insert(OLD_OUTBOX).values(**row, idempotency_key="a", status="retry"))
        # the new CHECK constraint: only the new vocabulary is accepted
        with pytest.raises(StoreError, match="ck_outbox_status"), s.transaction() as conn:
            conn.execute(sa.insert(OLD_OUTBOX).values(**row, idempotency_key="b", status="failed"))
        assert [r.status for r in s.outbox.list()] == ["retry"]
    finally:
        s.close()


def test_migration_from_0002_keeps_and_maps_rows(store_url: str) -> None:
    s = Store(store_url, hash_key=HASH_KEY)
    try:
        assert s.migrate("0002") == "0002"
        old = ["pending", "sending", "failed", "dead", "sent"]
        with s.engine.begin() as c:
            c.execute(
                sa.insert(OLD_OUTBOX),
                [
                    {
                        "flow": "F5",
                        "entity_id": f"u-{n}",
                        "version_hash": "v1",
                        "idempotency_key": f"F5:u-{n}:v1",
                        "payload": {"n": n},
                        "status": status,
                        "attempts": n,
                        "created_at": T0,
                        "updated_at": T0,
                    }
                    for n, status in enumerate(old)
                ],
            )
        assert s.migrate("0003") == "0003"
        rows = s.outbox.list()
        assert [(r.entity_id, r.status, r.attempts, r.payload) for r in rows] == [
            ("u-0", "pending", 0, {"n": 0}),
            ("u-1", "pending", 1, {"n": 1}),
            ("u-2", "retry", 2, {"n": 2}),
            ("u-3", "dead", 3, {"n": 3}),
            ("u-4", "sent", 4, {"n": 4}),
        ]
        assert ids(s.outbox.due(T0)) == ["u-0", "u-1", "u-2"]
        with s.engine.connect() as c:
            assert c.execute(sa.text("SELECT entity_id FROM v_outbox_dead")).scalars().all() == [
                "u-3"
            ]
        # the API works on the migrated table, ids continue
        assert s.outbox.enqueue([item(7, status="rejected", reason="PENGANGKATAN_JPT")]) == 1
        assert s.outbox.list(status="rejected")[0].id > rows[-1].id
        # down to 0002: the old vocabulary comes back, then up again
        assert downgrade(s.engine, "0002") == "0002"
        with s.engine.connect() as c:
            statuses = c.execute(sa.text("SELECT status FROM outbox ORDER BY id")).scalars().all()
            assert "v_outbox_dead" not in sa.inspect(c).get_view_names()
        assert statuses == ["pending", "pending", "failed", "dead", "sent", "dead"]
        assert s.migrate("0003") == "0003"
        assert [r.status for r in s.outbox.list()] == [
            "pending",
            "pending",
            "retry",
            "dead",
            "sent",
            "dead",
        ]
    finally:
        s.close()


def test_reader_role_cannot_read_dead_letters(postgres_db_url: str) -> None:
    """PostgreSQL only (roles): the consumer role sees the consumer views, not the outbox."""
    s = Store(postgres_db_url, hash_key=HASH_KEY)
    try:
        s.migrate()
        with s.engine.connect() as c:
            c.execute(sa.text("SET ROLE siapp_nv_reader"))
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                c.execute(sa.text("SELECT * FROM v_outbox_dead"))
            c.rollback()
    finally:
        s.close()
