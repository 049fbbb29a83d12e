"""ASN current rows, SCD2 history, family replacement, departures, idempotent reruns."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import traceback
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_siasn.store import (
    AsnRow,
    BatchCounts,
    FamilyMember,
    QuarantineItem,
    Store,
    StoreError,
)
from siapp_siasn.store.asn import BULK_WRITERS
from siapp_siasn.store.tables import asn, asn_family, asn_history

from .conftest import T0, make_row, snapshot

DAY = dt.timedelta(days=1)


def _open_versions(s: Store) -> dict[str, int]:
    with s.engine.connect() as c:
        rows = c.execute(
            sa.select(asn_history.c.nip, sa.func.count())
            .where(asn_history.c.valid_to.is_(None))
            .group_by(asn_history.c.nip)
        ).all()
    return dict(rows)


def _assert_continuous(history: list[dict]) -> None:
    """Versions follow each other without gap or overlap; only the last is open."""
    for before, after in itertools.pairwise(history):
        assert before["valid_to"] == after["valid_from"]
        assert before["valid_from"] < before["valid_to"]
    assert history[-1]["valid_to"] is None


def test_insert_then_unchanged_rerun_adds_nothing(store: Store) -> None:
    rows = [make_row(i) for i in range(50)]
    counts = store.asn.apply_batch(rows, "run-1", T0)
    assert counts == BatchCounts(inserted=50, history_rows=50, family_replaced=50)
    assert store.stats()["asn_history"] == {"rows": 50, "open": 50}
    before = snapshot(store)

    again = store.asn.apply_batch(rows, "run-1", T0)
    assert again == BatchCounts(unchanged=50)
    assert snapshot(store) == before

    # a later unchanged pull only moves last_seen forward
    later = store.asn.apply_batch(rows, "run-2", T0 + DAY)
    assert later == BatchCounts(unchanged=50)
    assert store.stats()["asn_history"] == {"rows": 50, "open": 50}
    current = store.asn.get(rows[0].nip)
    assert current is not None
    assert current["last_seen"] == T0 + DAY
    assert current["first_seen"] == T0
    assert current["run_id"] == "run-1"


def test_stored_row_round_trips(store: Store) -> None:
    row = make_row(7)
    store.asn.apply_batch([row], "run-1", T0)
    current = store.asn.get(row.nip)
    assert current is not None
    for name, value in row.typed_values().items():
        assert current[name] == value, name
    assert current["payload"] == row.payload  # unknown fields kept
    assert current["payload"]["someNewField"] == "x0"
    assert current["record_hash"] == row.record_hash
    assert current["family_hash"] == row.family_hash
    assert current["is_active"] is True


def test_change_closes_and_opens_exactly_one_version(store: Store) -> None:
    rows = [make_row(i) for i in range(10)]
    store.asn.apply_batch(rows, "run-1", T0)
    changed = [make_row(i, version=1) if i < 3 else make_row(i) for i in range(10)]
    counts = store.asn.apply_batch(changed, "run-2", T0 + DAY)
    assert counts == BatchCounts(updated=3, unchanged=7, history_rows=3)
    assert store.stats()["asn_history"] == {"rows": 13, "open": 10}
    assert set(_open_versions(store).values()) == {1}

    history = store.asn.history(rows[0].nip)
    assert [h["record_hash"] for h in history] == [rows[0].record_hash, changed[0].record_hash]
    assert history[0]["valid_from"] == T0
    assert history[0]["valid_to"] == T0 + DAY
    assert history[1]["valid_from"] == T0 + DAY
    assert history[1]["run_id"] == "run-2"
    assert history[1]["gol_ruang_akhir_id"] == "43"
    current = store.asn.get(rows[0].nip)
    assert current is not None
    assert current["gol_ruang_akhir_id"] == "43"
    assert current["first_seen"] == T0


def test_history_continuity_over_many_versions(store: Store) -> None:
    row = make_row(1)
    for day, version in enumerate([0, 1, 1, 2, 0, 0, 3]):
        store.asn.apply_batch([make_row(1, version=version)], f"run-{day}", T0 + day * DAY)
    history = store.asn.history(row.nip)
    # 0 -> 1 -> 2 -> 0 -> 3: five versions (reruns with the same hash add none)
    assert len(history) == 5
    _assert_continuous(history)
    assert [h["valid_from"] for h in history] == [T0 + d * DAY for d in (0, 1, 3, 4, 6)]
    assert store.quality.counts()["asn_with_several_open_versions"] == 0
    assert store.quality.counts()["asn_open_version_mismatch"] == 0


def test_change_at_same_instant_replaces_open_version(store: Store) -> None:
    store.asn.apply_batch([make_row(1)], "run-1", T0)
    counts = store.asn.apply_batch([make_row(1, version=1)], "run-1", T0)
    assert counts == BatchCounts(updated=1)
    history = store.asn.history(make_row(1).nip)
    assert len(history) == 1
    assert history[0]["record_hash"] == make_row(1, version=1).record_hash
    assert history[0]["valid_to"] is None
    # an older as_of never opens a version before the open one
    store.asn.apply_batch([make_row(1, version=2)], "run-0", T0 - DAY)
    history = store.asn.history(make_row(1).nip)
    assert len(history) == 1
    assert history[0]["valid_from"] == T0
    assert history[0]["record_hash"] == make_row(1, version=2).record_hash


def test_duplicate_nips_in_a_batch_last_wins(store: Store) -> None:
    counts = store.asn.apply_batch([make_row(1), make_row(1, version=1)], "run-1", T0)
    assert counts == BatchCounts(inserted=1, history_rows=1, family_replaced=1, duplicates=1)
    current = store.asn.get(make_row(1).nip)
    assert current is not None
    assert current["record_hash"] == make_row(1, version=1).record_hash


def test_family_replaced_per_employee_only_when_hash_changes(store: Store) -> None:
    store.asn.apply_batch([make_row(1), make_row(2)], "run-1", T0)
    assert [(m["relation"], m["ordinal"]) for m in store.asn.family(make_row(1).nip)] == [
        ("anak", 1),
        ("ibu", 1),
        ("pasangan", 1),
    ]
    before_2 = store.asn.family(make_row(2).nip)

    counts = store.asn.apply_batch([make_row(1, family_version=2), make_row(2)], "run-2", T0 + DAY)
    # family-only change: the row is updated, no new history version
    assert counts == BatchCounts(updated=1, unchanged=1, family_replaced=1)
    fam_1 = store.asn.family(make_row(1).nip)
    assert [m["member_id"] for m in fam_1 if m["relation"] == "anak"] == [
        f"a1-{k}" for k in range(3)
    ]
    assert [m["ordinal"] for m in fam_1 if m["relation"] == "anak"] == [1, 2, 3]
    assert store.asn.family(make_row(2).nip) == before_2  # untouched, same ids and timestamps
    assert len(store.asn.history(make_row(1).nip)) == 1

    # family not fetched (None): rows and hash stay as they are
    store.asn.apply_batch([make_row(1, family_version=None)], "run-3", T0 + 2 * DAY)
    assert store.asn.family(make_row(1).nip) == fam_1
    current = store.asn.get(make_row(1).nip)
    assert current is not None
    assert current["family_hash"] == make_row(1, family_version=2).family_hash

    # an empty family list removes every member
    empty = dataclasses.replace(make_row(1), family=[], family_hash="empty")
    store.asn.apply_batch([empty], "run-4", T0 + 3 * DAY)
    assert store.asn.family(make_row(1).nip) == []


def test_family_replace_is_atomic(store: Store) -> None:
    """A batch that fails half way leaves every employee's family (and row) as it was."""
    store.asn.apply_batch([make_row(1), make_row(2)], "run-1", T0)
    before = snapshot(store)
    bad = make_row(2, family_version=1)
    assert bad.family is not None
    bad.family.append(FamilyMember("sepupu", nama="RAHASIA ORANG"))  # violates the CHECK
    with pytest.raises(StoreError) as err:
        store.asn.apply_batch([make_row(1, family_version=2), bad], "run-2", T0 + DAY)
    assert snapshot(store) == before
    # the message names the constraint, never the values
    message = str(err.value)
    assert "relation" in message
    assert "RAHASIA" not in message
    assert make_row(2).nip not in message
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__ is True
    printed = "".join(traceback.format_exception(err.value))
    assert "RAHASIA" not in printed
    assert make_row(2).nip not in printed


def test_departures_never_delete(store: Store) -> None:
    rows = [make_row(i) for i in range(5)]
    store.asn.apply_batch(rows, "run-1", T0)
    gone = [rows[0].nip, rows[1].nip, "199901012020011001"]
    counts = store.asn.mark_departed(
        gone, dt.date(2026, 1, 6), "pensiun", run_id="run-2", as_of=T0 + DAY
    )
    assert counts.as_dict() == {"departed": 2, "already_inactive": 0, "unknown": 1}
    assert store.asn.active_nips() == {r.nip for r in rows[2:]}
    stats = store.stats()
    assert stats["asn"] == {"active": 3, "inactive": 2}
    assert stats["tables"]["asn"] == 5
    assert stats["asn_family"]["ibu"] == 5  # family kept

    departed = store.asn.get(rows[0].nip)
    assert departed is not None
    assert departed["is_active"] is False
    assert departed["departed_on"] == dt.date(2026, 1, 6)
    assert departed["departure_reason"] == "pensiun"
    history = store.asn.history(rows[0].nip)
    assert len(history) == 2
    _assert_continuous(history)
    assert history[1]["is_active"] is False
    assert history[1]["departure_reason"] == "pensiun"
    assert history[1]["record_hash"] == rows[0].record_hash
    assert history[1]["nama"] == rows[0].nama

    # idempotent
    again = store.asn.mark_departed(gone, dt.date(2026, 1, 6), "pensiun", as_of=T0 + 2 * DAY)
    assert again.as_dict() == {"departed": 0, "already_inactive": 2, "unknown": 1}
    assert len(store.asn.history(rows[0].nip)) == 2

    # seen again: active again, a new version opens
    counts2 = store.asn.apply_batch([rows[0]], "run-3", T0 + 3 * DAY)
    assert counts2 == BatchCounts(updated=1, history_rows=1)
    back = store.asn.get(rows[0].nip)
    assert back is not None
    assert back["is_active"] is True
    assert back["departed_on"] is None
    history = store.asn.history(rows[0].nip)
    assert [h["is_active"] for h in history] == [True, False, True]
    _assert_continuous(history)
    assert store.quality.counts()["asn_open_version_mismatch"] == 0


def test_idempotent_rerun_of_a_mixed_batch(store: Store) -> None:
    store.asn.apply_batch([make_row(i) for i in range(30)], "run-1", T0)
    mixed = (
        [make_row(i, version=1) for i in range(10)]
        + [make_row(i, family_version=1) for i in range(10, 20)]
        + [make_row(i) for i in range(20, 40)]
    )
    first = store.asn.apply_batch(mixed, "run-2", T0 + DAY)
    assert first == BatchCounts(
        inserted=10, updated=20, unchanged=10, history_rows=20, family_replaced=20
    )
    after_first = snapshot(store)
    second = store.asn.apply_batch(mixed, "run-2", T0 + DAY)
    assert second == BatchCounts(unchanged=40)
    assert snapshot(store) == after_first


def test_mapping_rows_are_accepted(store: Store) -> None:
    row = make_row(3)
    as_dict = {
        "nip": row.nip,
        "record_hash": row.record_hash,
        "payload": row.payload,
        "nama": row.nama,
        "tgl_lahir": row.tgl_lahir.isoformat() if row.tgl_lahir else None,
        "mk_tahun": "21",
        "family": [{"relation": "ayah", "nama": "AYAH", "tgl_lahir": "1940-01-01"}],
    }
    store.asn.apply_batch([as_dict], "run-1", T0)
    current = store.asn.get(row.nip)
    assert current is not None
    assert current["tgl_lahir"] == row.tgl_lahir
    assert current["mk_tahun"] == 21
    assert current["family_hash"]  # computed when only members are given
    assert store.asn.family(row.nip)[0]["tgl_lahir"] == dt.date(1940, 1, 1)
    with pytest.raises(ValueError, match="unknown ASN row fields: golongan"):
        store.asn.apply_batch([{**as_dict, "golongan": "IV/b"}], "run-1", T0)


def test_insert_only_first_load_matches_merge_path(store: Store, store_url: str) -> None:
    """The insert-only path of a first load (COPY straight into the tables on PostgreSQL,
    plain INSERT on SQLite) and the merge path (staging + ON CONFLICT, upsert) leave the same
    rows behind, through later changes and a departure too."""
    batches = [
        ([make_row(i) for i in range(20)], T0),
        (
            [make_row(i, version=1) for i in range(10)] + [make_row(i) for i in range(20, 25)],
            T0 + DAY,
        ),
        ([make_row(i, version=1, family_version=1) for i in range(5)], T0 + DAY),
        ([make_row(i, version=2, family_version=None) for i in range(3)], T0 + 2 * DAY),
        ([make_row(i) for i in range(30, 35)], T0 + 2 * DAY),  # new NIPs only, later on
    ]
    other_db = None
    if store.dialect == "sqlite":
        other = Store(store_url.replace("store.sqlite", "other.sqlite"))
    else:
        server = store_url.rsplit("/", 1)[0]
        other_db = f"cmp_{abs(hash(store_url)) % 10**8}"
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql(f'CREATE DATABASE "{other_db}"')
        other = Store(f"{server}/{other_db}")
    other.migrate()
    try:
        counts: dict[bool, list[BatchCounts]] = {True: [], False: []}
        for insert_only, target in ((True, store), (False, other)):
            for rows, as_of in batches:
                counts[insert_only].append(
                    target.asn.apply_batch(rows, "run", as_of, insert_only=insert_only)
                )
            target.asn.mark_departed(
                [make_row(24).nip], dt.date(2026, 1, 7), "tms", as_of=T0 + 3 * DAY
            )
        assert counts[True] == counts[False]
        assert _comparable(store) == _comparable(other)
        assert store.quality.counts() == other.quality.counts()
    finally:
        other.close()
        if other_db is not None:
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql(f'DROP DATABASE "{other_db}"')


def test_first_load_takes_the_insert_only_path(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a batch with no stored NIP skips the merge (and only unless told otherwise)."""
    writer = BULK_WRITERS[store.dialect]
    taken: list[str] = []
    for name in ("insert_new", "merge"):
        original = getattr(writer, name)

        def spy(self: object, *args: object, _name: str = name, _orig: Any = original) -> None:
            taken.append(_name)
            _orig(self, *args)

        monkeypatch.setattr(writer, name, spy)
    store.asn.apply_batch([make_row(i) for i in range(3)], "run-1", T0)
    store.asn.apply_batch([make_row(i) for i in range(2, 5)], "run-1", T0)  # one is stored
    store.asn.apply_batch([make_row(i) for i in range(5, 7)], "run-1", T0, insert_only=False)
    store.asn.apply_batch([make_row(i) for i in range(7, 9)], "run-1", T0)
    assert taken == ["insert_new", "merge", "merge", "insert_new"]
    assert len(store.asn.active_nips()) == 9


def _comparable(s: Store) -> dict[str, list[tuple]]:
    """Every table without the wall-clock columns (updated_at differs between two runs)."""
    out = {}
    with s.engine.connect() as c:
        for table in (asn, asn_history, asn_family):
            cols = [col for col in table.c if col.name != "updated_at"]
            rows = c.execute(sa.select(*cols)).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


def test_source_updated_tracking(store: Store) -> None:
    """The enumeration's ``updated`` day is kept without history and only moves forward."""
    rows = [dataclasses.replace(make_row(i), source_updated=dt.date(2026, 1, 2)) for i in range(3)]
    store.asn.apply_batch(rows, "run-1", T0)
    assert store.asn.source_updated_map([r.nip for r in rows] + ["199901012020011001"]) == {
        r.nip: "2026-01-02" for r in rows
    }
    # same record, later updated day (e.g. only rw-golongan changed): no new version
    later = [dataclasses.replace(rows[0], source_updated="2026-01-04"), rows[1], rows[2]]
    counts = store.asn.apply_batch(later, "run-2", T0 + DAY)
    assert counts == BatchCounts(unchanged=3)
    assert store.asn.source_updated_map([rows[0].nip])[rows[0].nip] == "2026-01-04"
    assert len(store.asn.history(rows[0].nip)) == 1
    before = snapshot(store)
    # an older day or none never moves it back; a rerun changes nothing
    store.asn.apply_batch(
        [dataclasses.replace(rows[0], source_updated=dt.date(2026, 1, 1)), *later[1:]],
        "run-2",
        T0 + DAY,
    )
    store.asn.apply_batch(later, "run-2", T0 + DAY)
    assert snapshot(store) == before


def test_quarantine_rides_with_the_batch(store: Store) -> None:
    bad = QuarantineItem("F1", "asn", make_row(9).nip, "invalid", {"nama": "X"})
    counts = store.asn.apply_batch([make_row(1)], "run-1", T0, quarantine=[bad])
    assert counts.inserted == 1
    assert [q["reason"] for q in store.quarantine.list(run_id="run-1")] == ["invalid"]
    # a batch failing at its last write (a checkpoint state that is not JSON) stores
    # neither its rows nor its quarantine
    other = QuarantineItem("F1", "asn", make_row(8).nip, "invalid", None)
    # (SQLAlchemy wraps the serialiser's TypeError on SQLite; psycopg raises it as is)
    with pytest.raises((StoreError, TypeError), match=r"TypeError|JSON serializable"):
        store.asn.apply_batch(
            [make_row(2)], "run-2", T0, quarantine=[other], checkpoint=("r", "s", 1, object())
        )
    assert store.quarantine.list(run_id="run-2") == []
    assert store.asn.get(make_row(2).nip) is None
    assert store.state.load_checkpoint("r", "s") is None


def test_row_normalisation() -> None:
    row = AsnRow(
        nip="197203151998031002",
        record_hash="h",
        tgl_lahir="1972-03-15",  # type: ignore[arg-type]
        mk_tahun="21",  # type: ignore[arg-type]
        source_updated="2026-01-05",  # type: ignore[arg-type]
        family=[{"relation": "anak", "tgl_lahir": "2001-02-03"}],  # type: ignore[list-item]
    )
    assert row.tgl_lahir == dt.date(1972, 3, 15)
    assert row.mk_tahun == 21
    assert row.source_updated == dt.date(2026, 1, 5)
    assert row.family is not None
    assert row.family[0].tgl_lahir == dt.date(2001, 2, 3)
    with pytest.raises(ValueError, match="field tgl_lahir: not an ISO date") as err:
        AsnRow(nip="x", record_hash="h", tgl_lahir="15-03-1972")  # type: ignore[arg-type]
    assert "1972" not in str(err.value)
