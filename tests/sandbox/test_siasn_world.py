"""Unit tests of the synthetic world (no HTTP)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from siapp_sandbox import refdata
from siapp_sandbox.world import DAY0, KATEGORI, World, date_to_day, day_to_date
from siapp_siasn.models.siasn import REFERENCE_TABLES


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, employees=6000)


def _parse_nip(nip: str) -> tuple[date, int, int, int, int]:
    assert len(nip) == 18 and nip.isdigit()
    birth = date(int(nip[0:4]), int(nip[4:6]), int(nip[6:8]))
    return birth, int(nip[8:12]), int(nip[12:14]), int(nip[14]), int(nip[15:18])


def _full(w: World, i: int, d: int) -> tuple[object, ...]:
    return (w.record(i, d), w.pasangan(i, d), w.anak(i, d), w.ortu(i, d), w.rw_golongan(i, d))


def test_nips_are_unique_and_parse(world: World) -> None:
    nips = world.nips()
    assert np.unique(nips).size == world.n
    assert np.all(np.diff(nips) > 0), "arrays are kept in NIP order"
    for i in range(0, world.n, 7):
        nip = world.nip_of(i)
        birth, ty, tm, gender, seq = _parse_nip(nip)
        rec = world.record(i, 0)
        assert rec["tglLahir"] == birth
        assert rec["tmtCpns"] == date(ty, tm, 1)
        assert date(ty, tm, 1) > date(birth.year + 18, birth.month, min(birth.day, 28))
        assert gender in (1, 2) and rec["jenisKelamin"] == ("M" if gender == 1 else "F")
        assert 1 <= seq <= 999
        assert world.index_of(nip) == i
        assert world.index_of(int(nip)) == i


def test_index_of_rejects_unknown_and_garbage(world: World) -> None:
    assert world.index_of("000000000000000000") is None
    assert world.index_of("19720315") is None
    assert world.index_of("abc") is None
    assert world.index_of(world.nip_of(0)[:-1] + "X") is None


def test_same_seed_same_world_other_seed_differs() -> None:
    a, b, c = (
        World(seed=5, employees=2000),
        World(seed=5, employees=2000),
        World(seed=6, employees=2000),
    )
    assert np.array_equal(a.nips(), b.nips())
    assert [a.record(i, 30) for i in range(0, 2000, 97)] == [
        b.record(i, 30) for i in range(0, 2000, 97)
    ]
    assert not np.array_equal(a.nips(), c.nips())


@pytest.mark.parametrize("share", [0.08, 0.3])
def test_ivb_share_is_a_minority_by_default_and_configurable(share: float) -> None:
    w = World(seed=2, employees=20_000, ivb_share=share)
    got = float((w.golongan(0) >= 42).mean())
    assert abs(got - share) < 0.015
    gols = set(np.unique(w.golongan(0)).tolist())
    assert gols <= set(refdata.GOLONGAN)
    assert {11, 21, 31, 41, 42, 45} <= gols


def test_the_sandbox_serves_every_reference_table_the_hub_pulls() -> None:
    assert refdata.REF_NAMES == REFERENCE_TABLES  # one list for both sides
    for name in REFERENCE_TABLES:
        assert refdata.referensi(name), name
    assert refdata.referensi("no-such-ref") is None


def test_ids_are_consistent_with_reference_tables(world: World) -> None:
    ref = {name: {r["id"] for r in refdata.referensi(name)} for name in refdata.REF_NAMES}
    for i in range(0, world.n, 5):
        r = world.record(i, 0)
        assert str(r["golRuangAkhirId"]) in ref["golongan"]
        assert str(r["golRuangAwalId"]) in ref["golongan"]
        assert r["golRuangAwalId"] <= r["golRuangAkhirId"]
        assert str(r["agamaId"]) in ref["agama"]
        assert r["instansiIndukId"] in ref["instansi"] and r["instansiKerjaId"] in ref["instansi"]
        assert r["unorId"] in ref["unor"] and r["satuanKerjaKerjaId"] in ref["unor"]
        assert str(r["jenisJabatanId"]) in ref["jenis-jabatan"]
        assert r["kedudukanPnsId"] in ref["kedudukan-hukum"]
        assert f"{r['tkPendidikanTerakhirId']:02d}" in ref["tingkat-pendidikan"]
        assert r["eselonId"] is None or r["eselonId"] in ref["eselon"]
        assert (
            r["jabatanFungsionalId"] is None
            or r["jabatanFungsionalId"] in ref["jabatan-fungsional"]
        )
        assert r["golRuangAkhir"] == refdata.GOLONGAN[r["golRuangAkhirId"]][0]


def test_unor_belongs_to_the_employees_instansi(world: World) -> None:
    unor = {r["id"]: r for r in refdata.referensi("unor")}
    for i in range(0, world.n, 11):
        r = world.record(i, 0)
        assert unor[r["unorId"]]["instansiId"] == r["instansiIndukId"]


def test_jabatan_of_senior_grades_is_plausible(world: World) -> None:
    jf = {r["id"]: r for r in refdata.referensi("jabatan-fungsional")}
    seen: set[str] = set()
    for i in world.active_indices(0, 42).tolist():
        r = world.record(i, 0)
        kat = world.kategori_of(i, 0)
        seen.add(kat)
        if kat == "JPT_UTAMA":
            assert (r["eselonId"], r["jenisJabatanId"]) == ("10", 1)
        elif kat == "JPT_MADYA":
            assert r["eselonId"] in ("11", "12") and r["jenisJabatanId"] == 1
        elif kat == "JF_AHLI_UTAMA":
            assert r["jenisJabatanId"] == 2 and r["eselonId"] is None
            assert jf[r["jabatanFungsionalId"]]["asn_jenjang_jabatan"] == "Ahli Utama"
            assert r["golRuangAkhirId"] >= 44
    assert {"JPT_UTAMA", "JPT_MADYA", "JF_AHLI_UTAMA", "JPT_PRATAMA"} <= seen
    scope = world.pks_scope_indices(0)
    assert 0 < scope.size < world.active_indices(0, 42).size
    kat = world.kategori(0)
    assert {KATEGORI[k] for k in kat[scope].tolist()} == {"JPT_UTAMA", "JPT_MADYA", "JF_AHLI_UTAMA"}


def test_families_have_plausible_shapes(world: World) -> None:
    n_sp, n_ch, no_parent = set(), set(), 0
    for i in range(0, world.n, 3):
        sp, ch, ortu = world.pasangan(i), world.anak(i), world.ortu(i)
        n_sp.add(len(sp))
        n_ch.add(len(ch))
        assert len(sp) <= 3 and len(ch) <= 4
        assert sum(s["statusNikah"] == 1 for s in sp) <= 1
        for s in sp:
            assert s["statusNikah"] in (1, 2, 3)
            assert isinstance(s["orang"]["statusHidup"], bool)
            assert s["dataPernikahan"]["tgglMenikah"] <= world.date
        assert world.record(i)["jumlahAnak"] == len(ch)
        no_parent += ortu["ayah"] is None or ortu["ibu"] is None
    assert {0, 1, 2} <= n_sp and {0, 1, 2, 3, 4} <= n_ch
    assert no_parent > 0


def test_changes_are_exact_between_consecutive_days(world: World) -> None:
    for d in (1, 45, 310):
        changed = set(world.changes_on(d).indices.tolist())
        assert changed
        for i in range(0, world.n, 2):
            same = _full(world, i, d - 1) == _full(world, i, d)
            assert same == (i not in changed), (d, i)


def test_scheduled_promotion_adds_history_and_is_reported() -> None:
    w = World(seed=4, employees=4000)
    ch = w.changes(1, 400)
    pos = next(p for p in range(len(ch)) if "golongan" in ch.kind_names(p))
    i = int(ch.indices[pos])
    d = next(d for d in range(1, 401) if w.golongan(d)[i] != w.golongan(d - 1)[i])
    before, after = w.record(i, d - 1), w.record(i, d)
    assert after["golRuangAkhirId"] > before["golRuangAkhirId"]
    rows = w.rw_golongan(i, d)
    assert len(rows) == len(w.rw_golongan(i, d - 1)) + 1
    assert rows[-1]["golonganId"] == after["golRuangAkhirId"]
    assert rows[-1]["tmtGolongan"] == after["tmtGolAkhir"]
    assert "golongan" in w.changes_on(d).kind_names(
        int(np.searchsorted(w.changes_on(d).indices, i))
    )


@pytest.mark.parametrize("code", [99, 77, 66])
def test_departures_change_kedudukan(code: int) -> None:
    w = World(seed=9, employees=20_000)
    k0, k_end = w.kedudukan(0), w.kedudukan(3000)
    cands = np.flatnonzero((k0 == 1) & (k_end == code))
    assert cands.size > 0
    i = int(cands[0])
    d = next(d for d in range(1, 3001) if w.kedudukan(d)[i] == code)
    assert w.record(i, d - 1)["kedudukanPnsId"] == "01"
    assert w.record(i, d)["kedudukanPnsId"] == f"{code:02d}"
    assert i in set(w.changes_on(d).indices.tolist())
    if code == 99:
        assert w.record(i, d)["tmtPensiun"] == day_to_date(d)
    assert i not in set(w.active_indices(d, 11).tolist())


def test_clock_advance_is_forward_only() -> None:
    w = World(seed=1, employees=100)
    assert w.date == DAY0 == date(2026, 1, 5)
    assert w.advance(10) == 10 and w.date == date(2026, 1, 15)
    with pytest.raises(ValueError):
        w.advance(-1)
    assert date_to_day(day_to_date(-400)) == -400


def test_external_promotion_overlay() -> None:
    w = World(seed=3, employees=3000)
    i = int(np.flatnonzero((w.golongan(0) == 43) & (w.kedudukan(0) == 1))[0])
    nip = w.nip_of(i)
    ev = w.apply_promotion(nip, 20, 44, date(2026, 4, 1), "12/KEP/2026", no_pertek="PT-1/2026")
    again = w.apply_promotion(nip, 20, 44, date(2026, 4, 1), "12/KEP/2026", no_pertek="PT-1/2026")
    assert again is ev, "re-applying an identical event is a no-op"
    assert w.record(i, 19)["golRuangAkhirId"] == 43
    rec = w.record(i, 20)
    assert (rec["golRuangAkhirId"], rec["tmtGolAkhir"]) == (44, date(2026, 4, 1))
    assert w.golongan(20)[i] == 44 and w.golongan(19)[i] == 43
    last = w.rw_golongan(i, 20)[-1]
    assert (last["golonganId"], last["skNomor"], last["noPertekBkn"]) == (
        44,
        "12/KEP/2026",
        "PT-1/2026",
    )
    assert last["jenisKPId"] in ("201", "202", "101")
    pos = int(np.searchsorted(w.changes_on(20).indices, i))
    assert w.changes_on(20).indices[pos] == i
    assert "golongan" in w.changes_on(20).kind_names(pos)
    assert [e.seq for e in w.events(nip)] == [ev.seq]


def test_external_dismissal_and_appointment_overlay() -> None:
    w = World(seed=3, employees=3000)
    act = w.active_indices(0, 42)
    i, j = int(act[0]), int(act[1])
    w.apply_dismissal(w.nip_of(i), 5, "99", date(2026, 2, 1), "1/KEP/2026")
    assert w.record(i, 4)["kedudukanPnsId"] == "01"
    assert w.record(i, 5)["kedudukanPnsId"] == "99"
    assert i not in set(w.active_indices(5).tolist())
    w.apply_appointment(w.nip_of(j), 7, "JF_AHLI_UTAMA", date(2026, 1, 12), "2/KEP/2026")
    r = w.record(j, 7)
    assert w.kategori_of(j, 7) == "JF_AHLI_UTAMA" and r["jenisJabatanId"] == 2
    assert r["jabatanFungsionalNama"].endswith("Ahli Utama")
    assert r["tmtJabatan"] == date(2026, 1, 12)
    with pytest.raises(KeyError) as exc:
        w.apply_promotion("199001012015011001", 1, 42, date(2026, 4, 1), "x")
    assert "1990" not in str(exc.value)


def test_enumeration_semantics(world: World) -> None:
    d = 120
    full, _upd = world.enumerate_asn(d)
    assert np.array_equal(full, world.active_indices(d, 42))
    idx, upd = world.enumerate_asn(d, since=60)
    ch = world.changes_since(60, d)
    assert np.array_equal(ch.indices, world.changes(60, d).indices)
    g_now, g_before = world.golongan(d), world.golongan(59)
    expect = [i for i in ch.indices.tolist() if g_now[i] >= 42 or g_before[i] >= 42]
    assert idx.tolist() == expect
    assert np.all((upd >= 60) & (upd <= d))
    k = world.kedudukan(d)[idx]
    assert set(k.tolist()) - {1}, "departures are part of the incremental enumeration"


def test_memory_is_compact() -> None:
    w = World(seed=1, employees=50_000)
    nbytes = sum(v.nbytes for v in vars(w).values() if isinstance(v, np.ndarray))
    assert nbytes / w.n < 120
