"""Reference data upserts, deactivation on full pulls, and reference quality checks."""

from __future__ import annotations

import sqlalchemy as sa

from siapp_siasn.store import RefCounts, Store, UnknownReference
from siapp_siasn.store.tables import referensi

from .conftest import T0, make_row

GOLONGAN = [
    {"id": "31", "nama": "III/a", "nama_pangkat": "Penata Muda"},
    {"id": "41", "nama": "IV/a", "nama_pangkat": "Pembina"},
    {"id": "42", "nama": "IV/b", "nama_pangkat": "Pembina Tingkat I"},
    {"id": "43", "nama": "IV/c", "nama_pangkat": "Pembina Utama Muda"},
]


def test_upsert_and_deactivate(store: Store) -> None:
    assert store.referensi.upsert("golongan", GOLONGAN) == RefCounts(inserted=4)
    assert store.referensi.upsert("golongan", GOLONGAN) == RefCounts(unchanged=4)
    changed = [*GOLONGAN[:3], {**GOLONGAN[3], "nama_pangkat": "Pembina Utama Madya"}]
    assert store.referensi.upsert("golongan", changed[1:] + changed[1:2]) == RefCounts(
        updated=1, unchanged=2, deactivated=1, duplicates=1
    )
    assert store.referensi.ids("golongan") == {"41", "42", "43"}
    assert store.referensi.ids("golongan", active_only=False) == {"31", "41", "42", "43"}
    # partial pull: nothing deactivated; an inactive id seen again is active again
    assert store.referensi.upsert("golongan", GOLONGAN[:1], full=False) == RefCounts(updated=1)
    assert store.referensi.ids("golongan") == {"31", "41", "42", "43"}
    # an empty full pull deactivates nothing
    assert store.referensi.upsert("golongan", []) == RefCounts()
    assert len(store.referensi.ids("golongan")) == 4
    # other refs are independent
    store.referensi.upsert("agama", [{"id": 1, "nama": "Islam"}])
    assert store.referensi.ids("agama") == {"1"}
    assert store.stats()["referensi"] == {
        "agama": {"active": 1, "inactive": 0},
        "golongan": {"active": 4, "inactive": 0},
    }


def test_unknown_reference_ids_and_quality_counts(store: Store) -> None:
    store.asn.apply_batch(
        [make_row(1), make_row(2, version=1), make_row(3, gol_ruang_akhir_id="45")], "run-1", T0
    )
    # no reference data loaded yet: nothing is checked unless asked
    assert store.quality.unknown_reference_ids() == []
    unloaded = store.quality.unknown_reference_ids(["gol_ruang_akhir_id"], include_unloaded=True)
    assert {u.id for u in unloaded} == {"42", "43", "45"}

    store.referensi.upsert("golongan", GOLONGAN)
    store.referensi.upsert("instansi", [{"id": "A5EB03E23BFBF6A0E040640A040252AD", "nama": "K"}])
    assert store.quality.unknown_reference_ids() == [
        UnknownReference("gol_ruang_akhir_id", "golongan", "45", 1)
    ]
    counts = store.quality.counts()
    assert counts == {
        "asn_history_orphans": 0,
        "asn_family_orphans": 0,
        "asn_active": 3,
        "asn_without_open_version": 0,
        "asn_with_several_open_versions": 0,
        "asn_open_version_mismatch": 0,
        "asn_missing_required": 0,
        "asn_unknown_reference_rows": 1,
    }
    # departed employees are not checked
    store.asn.mark_departed([make_row(3).nip], T0.date(), "pensiun")
    assert store.quality.unknown_reference_ids() == []


def test_wrapped_rows_store_the_raw_row(store: Store) -> None:
    raw = {"id": "42", "nama": "IV/b", "nama_pangkat": "Pembina Tingkat I", "extra": 1}
    assert store.referensi.upsert("golongan", [{"id": "42", "nama": "IV/b", "payload": raw}]) == (
        RefCounts(inserted=1)
    )
    # the same content as a raw row is the same hash: unchanged
    assert store.referensi.upsert("golongan", [raw]) == RefCounts(unchanged=1)
    with store.engine.connect() as c:
        payload = c.execute(sa.select(referensi.c.payload)).scalar_one()
    assert payload == raw
