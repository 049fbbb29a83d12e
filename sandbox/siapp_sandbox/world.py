"""Deterministic synthetic world of civil servants (ASN) for the sandbox.

A :class:`World` is fully determined by ``(seed, employees, ivb_share)`` plus the simulated clock
``day`` and a small overlay of externally applied events. Nothing per employee is kept as Python
objects: the world holds compact numpy arrays (about 90 bytes per employee, sorted by NIP) and
builds records on demand from ``(seed, index, day)``; 250,000 employees cost ~25 MB.

Clock: world day 0 is :data:`DAY0` (2026-01-05, a Monday). Every scheduled event has a world day;
``advance(days)`` only moves the clock, so the record of employee ``i`` on day ``d`` is a pure
function of the seed, ``i``, ``d`` and the overlay events with ``event.day <= d``.

Public API (stable; the SIAPP side of the sandbox imports it)
-------------------------------------------------------------
Construction and clock::

    w = World(seed=1, employees=3000, ivb_share=0.08, day=0)
    w.n, w.seed, w.ivb_share, w.day, w.date      # size, parameters, clock
    w.advance(days=1) -> int                      # new day (days >= 0)
    day_to_date(d) -> date; date_to_day(date) -> int; DAY0

Lookup (index = position in NIP order, 0..n-1)::

    w.index_of(nip: str | int) -> int | None      # binary search, O(log n)
    w.nip_of(index) -> str                        # 18 digits
    w.nips(indices=None) -> np.ndarray[int64]

Vectorised queries (numpy, whole population; ``day=None`` means today)::

    w.golongan(day) -> int8[n]                    # golongan id 11..45
    w.kedudukan(day) -> int8[n]                   # 1 aktif, 66 diberhentikan, 77 wafat, 99 pensiun
    w.kategori(day) -> int8[n]                    # index into KATEGORI
    w.active_indices(day, min_gol=42) -> int64[]  # active with golongan >= min_gol, NIP order
    w.active_nips(day, min_gol=42) -> list[str]
    w.pks_scope_indices(day) -> int64[]           # active JPT Utama / JPT Madya / JF Ahli Utama
    w.changes(start, end) -> Changes              # records changed on days start..end inclusive
    w.changes_on(day) -> Changes                  # = changes(day, day)
    w.changes_since(since, day=None) -> Changes   # = changes(since, day or today)
    w.last_change_day(indices, day) -> int32[]    # latest change day <= day
    w.enumerate_asn(day, since=None) -> (indices, updated_days)   # PKS enumeration semantics

Records (typed Python values: ``date`` for dates, ``int`` for numeric ids, ``None`` for null)::

    w.record(index, day) -> dict       # data-utama fields (CONTRACT.md subset), in contract order
    w.pasangan(index, day) -> list[dict]
    w.anak(index, day) -> list[dict]
    w.ortu(index, day) -> dict          # {"ayah": dict | None, "ibu": dict | None}
    w.rw_golongan(index, day) -> list[dict]    # oldest first
    w.kategori_of(index, day) -> str    # e.g. "JPT_MADYA", "JF_AHLI_UTAMA", "PELAKSANA"
    w.hash64(index, *tags) -> int       # stable per-record hash (for quirk choices)
    w.version_key(index, day) -> tuple  # changes iff any part of the record may have changed
    w.overlay_version(index) -> int     # number of external events of index (cache keys)

Overlay of external events (e.g. the SIAPP side delivers a Keppres)::

    w.apply_promotion(nip, day, golongan_id, tmt, no_sk, *, tgl_sk=None, jenis_kp=None,
                      no_pertek="", tgl_pertek=None) -> ExternalEvent
    w.apply_dismissal(nip, day, kedudukan="99", tmt=None, no_sk="") -> ExternalEvent
    w.apply_appointment(nip, day, kategori, tmt=None, no_sk="") -> ExternalEvent
    w.events(nip=None) -> list[ExternalEvent]

Withheld decrees (fault knob, set from ``common.Faults.keppres_withhold_rate`` /
``keppres_withhold``)::

    w.set_keppres_withhold(rate=0.0, usulan_ids=(), seed=0)
    w.withholds_keppres(usulan_id, jenis, day) -> bool   # asked once per delivered Keppres
    w.withheld_keppres() -> list[dict]                   # {usulan_id, jenis, day, date}

An event takes effect on world day ``event.day`` (default: today) and is reported by
:meth:`changes` on that day. Re-applying an identical event is a no-op (returns the first one).
Exceptions never carry NIPs or other personal data.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Any

import numpy as np

from . import refdata as R

__all__ = [
    "CHANGE_KINDS",
    "DAY0",
    "KATEGORI",
    "NEVER",
    "PKS_KATEGORI",
    "Changes",
    "ExternalEvent",
    "World",
    "date_to_day",
    "day_to_date",
]

DAY0 = date(2026, 1, 5)
_DAY0_ORD = DAY0.toordinal()
_DAY0_NP = np.datetime64("2026-01-05", "D")
_EPOCH_ORD = date(1970, 1, 1).toordinal()
NEVER = np.iinfo(np.int32).max

# jabatan categories (index = code stored in arrays)
KATEGORI: tuple[str, ...] = (
    "PELAKSANA",
    "JF_KETERAMPILAN",
    "JF_AHLI_PERTAMA",
    "JF_AHLI_MUDA",
    "JF_AHLI_MADYA",
    "JF_AHLI_UTAMA",
    "PENGAWAS",
    "ADMINISTRATOR",
    "JPT_PRATAMA",
    "JPT_MADYA",
    "JPT_UTAMA",
)
_K = {name: i for i, name in enumerate(KATEGORI)}
PKS_KATEGORI: tuple[str, ...] = ("JPT_UTAMA", "JPT_MADYA", "JF_AHLI_UTAMA")
_PKS_CODES = np.array([_K[k] for k in PKS_KATEGORI], dtype=np.int8)
_JF_JENJANG = {
    _K["JF_AHLI_PERTAMA"]: "Ahli Pertama",
    _K["JF_AHLI_MUDA"]: "Ahli Muda",
    _K["JF_AHLI_MADYA"]: "Ahli Madya",
    _K["JF_AHLI_UTAMA"]: "Ahli Utama",
}
_ESELON_OF = {
    _K["JPT_UTAMA"]: ("10", "10"),
    _K["JPT_MADYA"]: ("11", "12"),
    _K["JPT_PRATAMA"]: ("21", "22"),
    _K["ADMINISTRATOR"]: ("31", "32"),
    _K["PENGAWAS"]: ("41", "42"),
}

# change kinds (bit flags)
CHANGE_KINDS: dict[str, int] = {
    "golongan": 1,
    "kedudukan": 2,
    "kontak": 4,
    "unor": 8,
    "jabatan": 16,
    "keluarga": 32,
    "data_utama": 64,  # an unspecified edit before day 0 (initial state)
}
_CG, _CK, _CC, _CU, _CJ, _CF, _CD = (CHANGE_KINDS[k] for k in CHANGE_KINDS)
_EDIT_BITS = np.array([0, _CC, _CU, _CJ], dtype=np.uint16)  # edit kind 1,2,3 -> bit

_GOLS = R.GOLONGAN_IDS
_RANK = np.full(46, -1, dtype=np.int8)
for _r, _g in enumerate(_GOLS):
    _RANK[_g] = _r
_NEXT = np.zeros(46, dtype=np.int8)
for _a, _b in itertools.pairwise(_GOLS):
    _NEXT[_a] = _b
_NEXT[45] = 45


def day_to_date(day: int) -> date:
    """World day -> calendar date (day 0 = 2026-01-05)."""
    return date.fromordinal(_DAY0_ORD + int(day))


def date_to_day(d: date) -> int:
    """Calendar date -> world day (may be negative)."""
    return d.toordinal() - _DAY0_ORD


def _build_kategori_lut() -> np.ndarray:
    """LUT[track, golongan, u] -> kategori code. track 0 struktural, 1 JF, 2 umum."""
    lut = np.zeros((3, 46, 256), dtype=np.int8)
    u = np.arange(256)
    for g in _GOLS:
        # JF track: jenjang follows golongan
        if g <= 24:
            jf = _K["JF_KETERAMPILAN"]
        elif g <= 32:
            jf = _K["JF_AHLI_PERTAMA"]
        elif g <= 34:
            jf = _K["JF_AHLI_MUDA"]
        elif g <= 43:
            jf = _K["JF_AHLI_MADYA"]
        else:
            jf = _K["JF_AHLI_UTAMA"]
        lut[1, g, :] = jf
        lut[2, g, :] = _K["PELAKSANA"]
        if g <= 24:
            s = np.full(256, _K["PELAKSANA"])
        elif g <= 33:
            s = np.where(u < 128, _K["PENGAWAS"], _K["PELAKSANA"])
        elif g <= 41:
            s = np.where(u < 160, _K["ADMINISTRATOR"], _K["PENGAWAS"])
        elif g == 42:
            s = np.where(u < 100, _K["JPT_PRATAMA"], _K["ADMINISTRATOR"])
        elif g == 43:
            s = np.select(
                [u < 150, u < 185], [_K["JPT_PRATAMA"], _K["JPT_MADYA"]], _K["ADMINISTRATOR"]
            )
        elif g == 44:
            s = np.select(
                [u < 90, u < 220], [_K["JPT_MADYA"], _K["JPT_PRATAMA"]], _K["ADMINISTRATOR"]
            )
        else:
            s = np.select([u < 40, u < 170], [_K["JPT_UTAMA"], _K["JPT_MADYA"]], _K["JPT_PRATAMA"])
        lut[0, g, :] = s
    return lut


_KAT_LUT = _build_kategori_lut()


def _bup_of(kat: np.ndarray) -> np.ndarray:
    bup = np.full(kat.shape, 58, dtype=np.int8)
    bup[kat >= _K["JPT_PRATAMA"]] = 60
    bup[kat == _K["JF_AHLI_MADYA"]] = 60
    bup[kat == _K["JF_AHLI_UTAMA"]] = 65
    return bup


def _month_index(y: int, m: int) -> int:
    """Months since 1970-01 (numpy datetime64[M] integer)."""
    return (y - 1970) * 12 + (m - 1)


def _month_to_day(months: np.ndarray) -> np.ndarray:
    """datetime64[M] integers -> world day of the 1st of that month."""
    d = months.astype("datetime64[M]").astype("datetime64[D]")
    return (d - _DAY0_NP).astype(np.int64).astype(np.int32)


@dataclass(frozen=True, slots=True)
class ExternalEvent:
    """An event applied from outside the world's own schedule (see the module docstring)."""

    seq: int
    index: int
    day: int
    kind: str  # "promotion" | "dismissal" | "appointment"
    golongan_id: int | None = None
    tmt: date | None = None
    no_sk: str = ""
    tgl_sk: date | None = None
    jenis_kp: str | None = None
    no_pertek: str = ""
    tgl_pertek: date | None = None
    kedudukan: str | None = None
    kategori: str | None = None

    def identity(self) -> tuple[Any, ...]:
        return (
            self.index,
            self.day,
            self.kind,
            self.golongan_id,
            self.tmt,
            self.no_sk,
            self.kedudukan,
            self.kategori,
        )


@dataclass(slots=True)
class Changes:
    """Records changed in a window: ``indices`` (NIP order), ``kinds`` (bit flags, see
    :data:`CHANGE_KINDS`) and ``last_day`` (latest change day inside the window)."""

    indices: np.ndarray
    kinds: np.ndarray
    last_day: np.ndarray

    def kind_names(self, pos: int) -> list[str]:
        """Names of the change kinds of the ``pos``-th changed record."""
        k = int(self.kinds[pos])
        return [name for name, bit in CHANGE_KINDS.items() if k & bit]

    def __len__(self) -> int:
        return int(self.indices.size)


@dataclass(slots=True)
class _Fam:
    spouses: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, Any]] = field(default_factory=list)
    ayah: dict[str, Any] | None = None
    ibu: dict[str, Any] | None = None
    never_married: bool = True


class World:
    """The synthetic world. See the module docstring for the public API."""

    def __init__(
        self, seed: int = 1, employees: int = 3000, ivb_share: float = 0.08, day: int = 0
    ) -> None:
        if employees < 1:
            raise ValueError("employees must be >= 1")
        if not 0.0 <= ivb_share <= 1.0:
            raise ValueError("ivb_share must be within [0, 1]")
        if day < 0:
            raise ValueError("day must be >= 0")
        self.seed = int(seed)
        self.n = int(employees)
        self.ivb_share = float(ivb_share)
        self.day = int(day)
        self._seed_h = _tag_hash(("seed", self.seed))
        self._events: dict[int, list[ExternalEvent]] = {}
        self._event_seq = 0
        self._vec_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._fam_cache: OrderedDict[tuple[int, int, int], _Fam] = OrderedDict()
        # fault knob (common.Faults.keppres_withhold_rate / keppres_withhold): decrees SIASN
        # accepts but never applies, and the ones it withheld (usulan id -> (jenis, day))
        self._withhold: tuple[float, frozenset[str], int] = (0.0, frozenset(), 0)
        self._withheld: dict[str, tuple[str, int]] = {}
        self._generate()

    # ------------------------------------------------------------------ generation
    def _generate(self) -> None:
        n = self.n
        rng = np.random.default_rng([self.seed, 0x51A5])
        # current golongan at day 0
        is_hi = rng.random(n) < self.ivb_share
        g_hi = rng.choice(
            np.array([42, 43, 44, 45], dtype=np.int8), size=n, p=[0.55, 0.27, 0.13, 0.05]
        )
        lo_ids = np.array([11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34, 41], dtype=np.int8)
        lo_p = np.array([5, 5, 5, 5, 50, 50, 50, 50, 130, 140, 150, 160, 200], dtype=float)
        g_lo = rng.choice(lo_ids, size=n, p=lo_p / lo_p.sum())
        g0 = np.where(is_hi, g_hi, g_lo).astype(np.int8)

        # education (tingkat pendidikan) consistent with golongan
        edu = np.zeros(n, dtype=np.int8)
        groups = [
            (g0 <= 14, [5, 10], [0.6, 0.4]),
            ((g0 >= 21) & (g0 <= 24), [15, 30], [0.75, 0.25]),
            ((g0 >= 31) & (g0 <= 34), [15, 30, 40, 45], [0.15, 0.10, 0.60, 0.15]),
            (g0 == 41, [15, 30, 40, 45, 50], [0.05, 0.05, 0.55, 0.30, 0.05]),
            (g0 >= 42, [40, 45, 50], [0.35, 0.50, 0.15]),
        ]
        for mask, codes, probs in groups:
            k = int(mask.sum())
            if k:
                edu[mask] = rng.choice(np.array(codes, dtype=np.int8), size=k, p=probs)
        awal_of_edu = np.zeros(64, dtype=np.int8)
        for code, (_nm, awal) in R.TINGKAT_PENDIDIKAN.items():
            awal_of_edu[code] = awal
        awal = awal_of_edu[edu]
        # an education whose starting golongan is above the current one is lowered to the
        # highest education that fits
        bad = awal > g0
        if bad.any():
            best = np.zeros(n, dtype=np.int8)
            for code in sorted(R.TINGKAT_PENDIDIKAN, key=lambda c: R.TINGKAT_PENDIDIKAN[c][1]):
                best = np.where(awal_of_edu[code] <= g0, np.int8(code), best).astype(np.int8)
            edu = np.where(bad, best, edu).astype(np.int8)
            awal = awal_of_edu[edu]
        steps = (_RANK[g0] - _RANK[awal]).astype(np.int16)

        # career track and sub-choice
        r = rng.random(n)
        hi = g0 >= 42
        mid = (g0 == 34) | (g0 == 41)
        track = np.where(
            hi,
            np.select([r < 0.45, r < 0.95], [0, 1], 2),
            np.where(
                mid,
                np.select([r < 0.3, r < 0.7], [0, 1], 2),
                np.select([r < 0.15, r < 0.5], [0, 1], 2),
            ),
        ).astype(np.int8)
        u = rng.integers(0, 256, size=n, dtype=np.uint8)
        kat0 = _KAT_LUT[track, g0, u]
        bup = _bup_of(kat0)

        # service length and entry age
        entry_lo = np.zeros(64)
        entry_hi = np.zeros(64)
        for code, (lo, hi_) in {
            5: (18.5, 25),
            10: (18.5, 26),
            15: (19, 28),
            30: (21, 30),
            40: (22.5, 32),
            45: (25, 38),
            50: (28, 42),
        }.items():
            entry_lo[code], entry_hi[code] = lo, hi_
        entry = entry_lo[edu] + rng.random(n) * (entry_hi[edu] - entry_lo[edu])
        service = steps.astype(np.int64) * 48 + rng.integers(0, 48, n)
        service += (rng.random(n) < 0.3) * rng.integers(0, 36, n)
        max_service = np.floor((bup - 0.3 - 18.5) * 12).astype(np.int64)
        service = np.clip(service, 12, max_service)
        entry = np.minimum(entry, bup - 0.3 - service / 12.0)
        day0_m = _month_index(2026, 1)
        tmt_cpns_m = day0_m - service
        tmt_cpns = _month_to_day(tmt_cpns_m)
        birth = (tmt_cpns - np.round(entry * 365.25)).astype(np.int32)

        gender = np.where(rng.random(n) < 0.55, 1, 2).astype(np.int8)

        # last promotion (TMT on 1 April / 1 October)
        last_period = _month_index(2025, 10)
        k_back = rng.integers(0, 8, n)
        tg_m = last_period - 6 * k_back
        min_m = tmt_cpns_m + np.maximum(steps, 1) * 12
        tg_m = np.where(tg_m < min_m, min_m + (-(min_m - 3) % 6), tg_m)
        tg_m = np.minimum(tg_m, last_period)
        tg_m = np.maximum(tg_m, tmt_cpns_m + 1)
        tg_m = np.where(steps == 0, tmt_cpns_m, tg_m)
        tmt_gol0 = _month_to_day(tg_m)

        # exits: pension at BUP, deaths, dismissals; 1 % already gone before day 0
        birth_dt = _DAY0_NP + birth.astype("timedelta64[D]")
        birth_m = birth_dt.astype("datetime64[M]").astype(np.int64)
        pension_m = birth_m + bup.astype(np.int64) * 12 + 1
        exit_day = _month_to_day(pension_m)
        exit_kind = np.full(n, 99, dtype=np.int8)
        rx = rng.random(n)
        other_day = rng.integers(1, 3651, n).astype(np.int32)
        death = rx < 0.015
        dism = (rx >= 0.015) & (rx < 0.02)
        early = (death | dism) & (other_day < exit_day)
        exit_day = np.where(early, other_day, exit_day).astype(np.int32)
        exit_kind = np.where(early & death, 77, np.where(early & dism, 66, exit_kind)).astype(
            np.int8
        )
        pre = (rx >= 0.02) & (rx < 0.03)
        exit_day = np.where(pre, -rng.integers(1, 731, n), exit_day).astype(np.int32)
        exit_kind = np.where(pre, np.where(rng.random(n) < 0.4, 66, 77), exit_kind).astype(np.int8)

        # scheduled promotions (the world promotes up to IV/b; IV/c and above need a Keppres,
        # which arrives through the overlay)
        can = (g0 < 42) & ~pre
        delay = rng.choice(np.array([0, 6, 12, 24]), size=n, p=[0.5, 0.25, 0.15, 0.10])
        t1_m = tg_m + 48 + delay
        first_future = _month_index(2026, 4)
        overdue = t1_m < first_future
        t1_m = np.where(overdue, first_future + 6 * rng.integers(0, 6, n), t1_m)
        tmt1 = _month_to_day(t1_m)
        p1 = (tmt1 - rng.integers(0, 61, n)).astype(np.int32)
        p1 = np.maximum(p1, 1)
        gol1 = _NEXT[g0]
        t2_m = t1_m + 48 + rng.choice(np.array([0, 6, 12]), size=n, p=[0.6, 0.25, 0.15])
        tmt2 = _month_to_day(t2_m)
        p2 = (tmt2 - rng.integers(0, 61, n)).astype(np.int32)
        gol2 = _NEXT[gol1]
        can2 = can & (gol1 < 42)
        p1 = np.where(can & (p1 < exit_day), p1, NEVER).astype(np.int32)
        p2 = np.where(can2 & (p2 < exit_day) & (p1 != NEVER), p2, NEVER).astype(np.int32)
        gol1 = np.where(p1 != NEVER, gol1, g0).astype(np.int8)
        gol2 = np.where(p2 != NEVER, gol2, gol1).astype(np.int8)

        # edits (1 kontak, 2 unor, 3 jabatan) and family changes, none after an exit
        edit_days = np.sort(rng.integers(1, 1096, (n, 3)), axis=1).astype(np.int32)
        edit_kind = rng.integers(1, 4, (n, 3)).astype(np.int8)
        edit_days = np.where(edit_days < exit_day[:, None], edit_days, NEVER).astype(np.int32)
        fam_days = np.sort(rng.integers(1, 3651, (n, 2)), axis=1).astype(np.int32)
        fam_days = np.where(fam_days < exit_day[:, None], fam_days, NEVER).astype(np.int32)
        upd0 = (-rng.integers(1, 1001, n)).astype(np.int32)

        # agency
        ninst = len(R.instansi_rows())
        w = 1.0 / (np.arange(ninst) + 3.0) ** 0.7
        instansi = rng.choice(np.arange(ninst, dtype=np.int16), size=n, p=w / w.sum())

        # NIP: yyyymmdd birth + yyyymm TMT CPNS + gender + seq (unique)
        bd = birth_dt
        by = bd.astype("datetime64[Y]").astype(np.int64) + 1970
        bm = bd.astype("datetime64[M]").astype(np.int64) % 12 + 1
        bday = (bd - bd.astype("datetime64[M]")).astype(np.int64) + 1
        ty = tmt_cpns_m // 12 + 1970
        tm = tmt_cpns_m % 12 + 1
        prefix = (((by * 100 + bm) * 100 + bday) * 10000 + ty) * 100 + tm
        prefix = prefix * 10 + gender
        seq = rng.integers(1, 1000, n)
        nip = prefix * 1000 + seq
        for _ in range(1000):
            order = np.argsort(nip, kind="stable")
            s = nip[order]
            dup = np.zeros(n, dtype=bool)
            dup[order[1:]] = s[1:] == s[:-1]
            if not dup.any():
                break
            k = int(dup.sum())
            nip[dup] = prefix[dup] * 1000 + rng.integers(1, 1000, k)
        else:  # pragma: no cover - needs > 999 people sharing birth day, TMT and gender
            raise RuntimeError("could not make NIPs unique")

        order = np.argsort(nip, kind="stable")
        self._nip = nip[order].astype(np.int64)
        self._birth = birth[order]
        self._tmt_cpns = tmt_cpns[order]
        self._gender = gender[order]
        self._g0 = g0[order]
        self._awal = awal[order]
        self._edu = edu[order]
        self._track = track[order]
        self._u = u[order]
        self._bup = bup[order]
        self._tmt_gol0 = tmt_gol0[order]
        self._gol1, self._p1, self._tmt1 = gol1[order], p1[order], tmt1[order]
        self._gol2, self._p2, self._tmt2 = gol2[order], p2[order], tmt2[order]
        self._exit_day, self._exit_kind = exit_day[order], exit_kind[order]
        self._pension_day = _month_to_day(pension_m)[order]
        self._edit_days, self._edit_kind = edit_days[order], edit_kind[order]
        self._fam_days = fam_days[order]
        self._upd0 = upd0[order]
        self._instansi = instansi[order]
        self._steps = steps[order]

    # ------------------------------------------------------------------ clock
    @property
    def date(self) -> date:
        """Calendar date of today."""
        return day_to_date(self.day)

    def advance(self, days: int = 1) -> int:
        """Move the clock forward by ``days`` (>= 0); returns the new day."""
        if days < 0:
            raise ValueError("the clock only moves forward")
        self.day += int(days)
        return self.day

    def _d(self, day: int | None) -> int:
        return self.day if day is None else int(day)

    # ------------------------------------------------------------------ lookup
    def index_of(self, nip: str | int) -> int | None:
        """Index of an 18-digit NIP, or None when it is not in the world."""
        try:
            key = int(nip)
        except (TypeError, ValueError):
            return None
        if isinstance(nip, str) and (len(nip) != 18 or not nip.isdigit()):
            return None
        i = int(np.searchsorted(self._nip, key))
        if i < self.n and int(self._nip[i]) == key:
            return i
        return None

    def nip_of(self, index: int) -> str:
        """The 18-digit NIP of employee ``index``."""
        return f"{int(self._nip[index]):018d}"

    def nips(self, indices: np.ndarray | None = None) -> np.ndarray:
        """NIPs (int64) of ``indices`` (all when None)."""
        return self._nip if indices is None else self._nip[indices]

    def identity(self, index: int) -> dict[str, str | None]:
        """``{"idPns", "nipBaru", "nipLama"}`` of ``index`` (the keys family payloads repeat)."""
        i = int(index)
        old = day_to_date(int(self._tmt_cpns[i])).year < 2000
        return {
            "idPns": R.guid(self.seed, "pns", int(self._nip[i])),
            "nipBaru": self.nip_of(i),
            "nipLama": f"0{self.hash64(i, 'nl') % 10**8:08d}" if old else None,
        }

    def hash64(self, index: int, *tags: object) -> int:
        """A stable 64-bit hash of (seed, index, tags) (splitmix64 over a cached tag hash)."""
        return _mix64(self._seed_h ^ _mix64(index ^ _tag_hash(tags)))

    # ------------------------------------------------------------------ vectorised
    def _cached(self, key: tuple[Any, ...], fn: Any) -> Any:
        key = (*key, self._event_seq)
        hit = self._vec_cache.get(key)
        if hit is not None:
            self._vec_cache.move_to_end(key)
            return hit
        val = fn()
        self._vec_cache[key] = val
        while len(self._vec_cache) > 24:
            self._vec_cache.popitem(last=False)
        return val

    def golongan(self, day: int | None = None) -> np.ndarray:
        """Golongan id of every employee on ``day`` (int8[n])."""
        d = self._d(day)

        def calc() -> np.ndarray:
            g = np.where(self._p2 <= d, self._gol2, np.where(self._p1 <= d, self._gol1, self._g0))
            g = g.astype(np.int8)
            for i, evs in self._events.items():
                if any(e.day <= d and e.kind == "promotion" for e in evs):
                    g[i] = self._gol_state(i, d)[0]
            g.setflags(write=False)
            return g

        return self._cached(("gol", d), calc)

    def kedudukan(self, day: int | None = None) -> np.ndarray:
        """Kedudukan hukum code of every employee on ``day`` (1, 66, 77 or 99; int8[n])."""
        d = self._d(day)

        def calc() -> np.ndarray:
            k = np.where(self._exit_day <= d, self._exit_kind, 1).astype(np.int8)
            for i in self._events:
                k[i] = self._kedudukan_of(i, d)
            k.setflags(write=False)
            return k

        return self._cached(("ked", d), calc)

    def kategori(self, day: int | None = None) -> np.ndarray:
        """Kategori code (index into :data:`KATEGORI`) of every employee on ``day``."""
        d = self._d(day)

        def calc() -> np.ndarray:
            k = _KAT_LUT[self._track, self.golongan(d), self._u]
            for i in self._events:
                k[i] = self._kategori_code(i, d)
            k.setflags(write=False)
            return k

        return self._cached(("kat", d), calc)

    def active_indices(self, day: int | None = None, min_gol: int = 42) -> np.ndarray:
        """Indices (NIP order) of active employees with golongan >= ``min_gol`` on ``day``."""
        d = self._d(day)
        return self._cached(
            ("act", d, min_gol),
            lambda: np.flatnonzero((self.kedudukan(d) == 1) & (self.golongan(d) >= min_gol)),
        )

    def active_nips(self, day: int | None = None, min_gol: int = 42) -> list[str]:
        """NIPs (strings) of :meth:`active_indices`."""
        return [f"{x:018d}" for x in self._nip[self.active_indices(day, min_gol)].tolist()]

    def pks_scope_indices(self, day: int | None = None) -> np.ndarray:
        """Active employees whose jabatan is JPT Utama, JPT Madya or JF Ahli Utama."""
        d = self._d(day)
        return np.flatnonzero((self.kedudukan(d) == 1) & np.isin(self.kategori(d), _PKS_CODES))

    def changes(self, start: int, end: int | None = None) -> Changes:
        """Records that changed on any day in ``start..end`` (inclusive; end defaults to today)."""
        e = self._d(end)
        s = int(start)
        return self._cached(("chg", s, e), lambda: self._changes(s, e))

    def changes_on(self, day: int) -> Changes:
        """Records that changed on ``day``."""
        return self.changes(day, day)

    def changes_since(self, since: int, day: int | None = None) -> Changes:
        """Records that changed on any day in ``since..day`` (day defaults to today)."""
        return self.changes(since, day)

    def _changes(self, s: int, e: int) -> Changes:
        n = self.n
        kinds = np.zeros(n, dtype=np.uint16)
        last = np.full(n, np.iinfo(np.int32).min, dtype=np.int64)

        def add(days: np.ndarray, bit: int | np.ndarray) -> None:
            nonlocal kinds, last
            m = (days >= s) & (days <= e)
            kinds |= np.where(m, bit, 0).astype(np.uint16)
            np.maximum(last, np.where(m, days, last), out=last)

        add(self._p1, _CG)
        add(self._p2, _CG)
        add(self._exit_day, _CK)
        add(self._upd0, _CD)
        for j in range(self._edit_days.shape[1]):
            add(self._edit_days[:, j], _EDIT_BITS[self._edit_kind[:, j]])
        for j in range(self._fam_days.shape[1]):
            add(self._fam_days[:, j], _CF)
        for i, evs in self._events.items():
            for ev in evs:
                if s <= ev.day <= e:
                    bit = {"promotion": _CG, "dismissal": _CK, "appointment": _CJ}[ev.kind]
                    kinds[i] |= bit
                    last[i] = max(int(last[i]), ev.day)
        idx = np.flatnonzero(kinds)
        return Changes(idx, kinds[idx], last[idx].astype(np.int32))

    def last_change_day(self, indices: np.ndarray, day: int | None = None) -> np.ndarray:
        """Latest change day <= ``day`` of each of ``indices`` (int32)."""
        d = self._d(day)
        idx = np.asarray(indices, dtype=np.int64)
        cols = [
            self._p1[idx],
            self._p2[idx],
            self._exit_day[idx],
            self._upd0[idx],
            *(self._edit_days[idx, j] for j in range(self._edit_days.shape[1])),
            *(self._fam_days[idx, j] for j in range(self._fam_days.shape[1])),
        ]
        m = np.stack(cols, axis=1).astype(np.int64)
        m = np.where(m <= d, m, np.iinfo(np.int32).min)
        out = m.max(axis=1)
        for p, i in enumerate(idx.tolist()):
            for ev in self._events.get(i, ()):
                if ev.day <= d:
                    out[p] = max(int(out[p]), ev.day)
        return out.astype(np.int32)

    def enumerate_asn(
        self, day: int | None = None, since: int | None = None, min_gol: int = 42
    ) -> tuple[np.ndarray, np.ndarray]:
        """The PKS enumeration (``GET /apisiasn/1.0/siapp/asn``): indices in NIP order and the
        day each was last updated. Without ``since``: active employees with golongan >=
        ``min_gol``. With ``since``: employees whose record changed on a day in ``since..day``
        and who have golongan >= ``min_gol`` now or had it before the change (departures too)."""
        d = self._d(day)

        def calc() -> tuple[np.ndarray, np.ndarray]:
            if since is None:
                idx = self.active_indices(d, min_gol)
            else:
                ch = self.changes(since, d)
                g_now = self.golongan(d)[ch.indices]
                g_before = self.golongan(since - 1)[ch.indices]
                idx = ch.indices[(g_now >= min_gol) | (g_before >= min_gol)]
            return idx, self.last_change_day(idx, d)

        return self._cached(("enum", d, since, min_gol), calc)

    # ------------------------------------------------------------------ per-record state
    def _gol_state(
        self, i: int, d: int
    ) -> tuple[int, int, list[tuple[int, int, ExternalEvent | None]]]:
        """(golongan, tmt day, promotions after day 0 as (tmt_day, gol, event|None))."""
        items: list[tuple[int, int, int, int, ExternalEvent | None]] = []
        p1, p2 = int(self._p1[i]), int(self._p2[i])
        if p1 <= d:
            items.append((p1, 0, int(self._tmt1[i]), int(self._gol1[i]), None))
        if p2 <= d:
            items.append((p2, 0, int(self._tmt2[i]), int(self._gol2[i]), None))
        for ev in self._events.get(i, ()):
            if ev.kind == "promotion" and ev.day <= d:
                assert ev.tmt is not None and ev.golongan_id is not None
                items.append((ev.day, ev.seq, date_to_day(ev.tmt), ev.golongan_id, ev))
        items.sort(key=lambda t: (t[0], t[1]))
        gol, tmt = int(self._g0[i]), int(self._tmt_gol0[i])
        promos: list[tuple[int, int, ExternalEvent | None]] = []
        for _day, _seq, t, g, ev in items:
            if ev is None and g <= gol:
                continue  # a scheduled promotion overtaken by an external one
            gol, tmt = g, t
            promos.append((t, g, ev))
        return gol, tmt, promos

    def _kedudukan_of(self, i: int, d: int) -> int:
        k = int(self._exit_kind[i]) if self._exit_day[i] <= d else 1
        for ev in self._events.get(i, ()):
            if ev.kind == "dismissal" and ev.day <= d and k == 1:
                k = int(ev.kedudukan or "99")
        return k

    def _exit_info(self, i: int, d: int) -> tuple[int, int | None]:
        """(kedudukan, day of the exit TMT or None)."""
        if self._exit_day[i] <= d:
            return int(self._exit_kind[i]), int(self._exit_day[i])
        for ev in self._events.get(i, ()):
            if ev.kind == "dismissal" and ev.day <= d:
                t = date_to_day(ev.tmt) if ev.tmt else ev.day
                return int(ev.kedudukan or "99"), t
        return 1, None

    def _kategori_code(self, i: int, d: int) -> int:
        k = int(_KAT_LUT[self._track[i], self._gol_state(i, d)[0], self._u[i]])
        for ev in self._events.get(i, ()):
            if ev.kind == "appointment" and ev.day <= d and ev.kategori:
                k = _K[ev.kategori]
        return k

    def kategori_of(self, index: int, day: int | None = None) -> str:
        """Jabatan category of employee ``index`` on ``day`` (a name in :data:`KATEGORI`)."""
        return KATEGORI[self._kategori_code(index, self._d(day))]

    def version_key(self, index: int, day: int | None = None) -> tuple[int, ...]:
        """A tuple that changes whenever the record of ``index`` may differ (cache key)."""
        d = self._d(day)
        i = index
        ev_count = sum(1 for ev in self._events.get(i, ()) if ev.day <= d)
        return (
            i,
            int(self._p1[i] <= d) + int(self._p2[i] <= d),
            int(self._exit_day[i] <= d),
            int((self._edit_days[i] <= d).sum()),
            int((self._fam_days[i] <= d).sum()),
            ev_count,
            d if ev_count or d < 0 else -1,
        )

    def overlay_version(self, index: int) -> int:
        """Number of external events of ``index`` (any day): part of response cache keys."""
        return len(self._events.get(index, ()))

    # ------------------------------------------------------------------ records
    def _unit(self, i: int, kat: int, unor_v: int) -> tuple[int, str, str, str, str]:
        """(level, unor id, unor nama, parent id, satuan kerja id) for the employee."""
        units = _units_by_level()[int(self._instansi[i])]
        if kat == _K["JPT_UTAMA"]:
            level = 0
        elif kat == _K["JPT_MADYA"]:
            level = 1
        elif kat == _K["JPT_PRATAMA"]:
            level = 2
        elif kat in (_K["ADMINISTRATOR"], _K["PENGAWAS"]):
            level = 3
        else:
            level = 2 + (self.hash64(i, "lvl", unor_v) & 1)
        choices = units[level]
        lv, uid, nama, parent = choices[_versioned_pick(self, i, "unor", unor_v, len(choices))]
        satker = _satker_of()[uid]
        return lv, uid, nama, parent, satker

    def record(self, index: int, day: int | None = None) -> dict[str, Any]:
        """Typed data-utama of employee ``index`` on ``day`` (keys in CONTRACT.md order)."""
        d = self._d(day)
        i = int(index)
        h = self.hash64
        gender = int(self._gender[i])
        male = gender == 1
        first = R.FIRST_M if male else R.FIRST_F
        f1 = first[h(i, "n1") % len(first)]
        ln = R.LAST[h(i, "n2") % len(R.LAST)]
        nama = f"{f1} {ln}".upper()
        if h(i, "n3") % 3 == 0:
            nama = f"{f1} {first[h(i, 'n4') % len(first)]} {ln}".upper()
        edu = int(self._edu[i])
        gelar_depan: str | None = None
        gelar_belakang: str | None = None
        if edu == 50:
            gelar_depan = "Dr." if h(i, "gd") % 10 < 7 else None
            gelar_belakang = R.GELAR_S2[h(i, "gb") % len(R.GELAR_S2)]
        elif edu == 45:
            gelar_belakang = (
                R.GELAR_S1[h(i, "gb1") % len(R.GELAR_S1)]
                + ", "
                + R.GELAR_S2[h(i, "gb") % len(R.GELAR_S2)]
            )
        elif edu == 40:
            gelar_belakang = R.GELAR_S1[h(i, "gb1") % len(R.GELAR_S1)]
            if h(i, "gd") % 10 == 0:
                gelar_depan = "Ir."
        elif edu == 30:
            gelar_belakang = "A.Md."
        birth = day_to_date(int(self._birth[i]))
        tmt_cpns_d = int(self._tmt_cpns[i])
        tmt_cpns = day_to_date(tmt_cpns_d)
        tmt_pns = day_to_date(_add_months(tmt_cpns_d, 12))
        inst = R.instansi_rows()[int(self._instansi[i])]
        inst_idx = int(self._instansi[i])

        # versions of the editable parts
        ed, ek = self._edit_days[i], self._edit_kind[i]
        contact_v = unor_v = jab_v = 0
        last_jab_edit = None
        for j in range(ed.shape[0]):
            if ed[j] <= d:
                kk = int(ek[j])
                if kk == 1:
                    contact_v += 1
                elif kk == 2:
                    unor_v += 1
                    last_jab_edit = int(ed[j])
                else:
                    jab_v += 1
                    last_jab_edit = int(ed[j])
        gol, tmt_gol, _promos = self._gol_state(i, d)
        kat = self._kategori_code(i, d)
        appt = [ev for ev in self._events.get(i, ()) if ev.kind == "appointment" and ev.day <= d]
        # kontak
        nik = (
            R.NIK_PROV[h(i, "nik0") % len(R.NIK_PROV)]
            + f"{h(i, 'nik1') % 79 + 1:02d}{h(i, 'nik2') % 40 + 1:02d}"
            + f"{birth.day + (0 if male else 40):02d}{birth.month:02d}{birth.year % 100:02d}"
            + f"{h(i, 'nik3') % 9999 + 1:04d}"
        )
        local = f"{f1}.{ln}".lower()
        email = f"{local}{h(i, 'em', contact_v) % 1000}@mail.example"
        email_gov = f"{local}@{inst['kode_cepat'].lower()}.go.id.example"
        no_hp = R.PHONE_PREFIX[h(i, "hp", contact_v) % len(R.PHONE_PREFIX)] + (
            f"{h(i, 'hp2', contact_v) % 10**8:08d}"
        )
        alamat = (
            f"Jl. {R.STREETS[h(i, 'al', contact_v) % len(R.STREETS)].replace('-', ' ')} "
            f"No. {h(i, 'al2', contact_v) % 200 + 1}, "
            f"{R.CITIES[h(i, 'al3', contact_v) % len(R.CITIES)]}"
        )
        # unor / jabatan
        _lv, unor_id, unor_nama, _parent, satker = self._unit(i, kat, unor_v)
        jf_id: str | None = None
        jf_nama: str | None = None
        eselon: str | None = None
        if kat in _JF_JENJANG:
            jenis_jab = 2
            k = _versioned_pick(self, i, "jf", jab_v, len(R.JF_NAMES))
            jf_nama = f"{R.JF_NAMES[k]} {_JF_JENJANG[kat]}"
            jf_id = R.jf_id(k, _JF_JENJANG[kat])
            jabatan = jf_nama
        elif kat == _K["JF_KETERAMPILAN"]:
            jenis_jab = 2
            k = _versioned_pick(self, i, "jf", jab_v, len(R.JF_NAMES))
            jen = R.JF_JENJANG_TERAMPIL[min(2, max(0, (gol % 10) - 1) // 2)]
            jf_nama = f"{R.JF_NAMES[k]} {jen}"
            jf_id = R.jf_id(k, jen)
            jabatan = jf_nama
        elif kat == _K["PELAKSANA"]:
            jenis_jab = 4
            jabatan = R.PELAKSANA_JABATAN[
                _versioned_pick(self, i, "pl", jab_v, len(R.PELAKSANA_JABATAN))
            ]
        else:
            jenis_jab = 1
            eselon = _ESELON_OF[kat][int(self._u[i]) & 1]
            if kat == _K["JPT_UTAMA"]:
                jabatan = ("Kepala " if inst["jenis"] == "LPNK" else "Sekretaris Utama ") + inst[
                    "nama"
                ]
            elif kat == _K["PENGAWAS"]:
                jabatan = "Kepala Subbagian " + unor_nama.split(" ", 1)[-1]
            else:
                jabatan = R.head_title(unor_nama)
        tmt_jab_d = max(tmt_gol, int(self._tmt_gol0[i]) - int(h(i, "tj") % 700))
        if last_jab_edit is not None:
            tmt_jab_d = max(tmt_jab_d, last_jab_edit)
        for ev in appt:
            tmt_jab_d = date_to_day(ev.tmt) if ev.tmt else ev.day
        # masa kerja golongan as of the last SK (changes only with the golongan)
        mk = _months_between(tmt_cpns_d, tmt_gol)
        ked, _exit_tmt = self._exit_info(i, d)
        fam = self._family(i, d)
        spouse_active = any(s["statusNikah"] == 1 for s in fam.spouses)
        if spouse_active:
            kawin = 2
        elif fam.never_married:
            kawin = 1
        else:
            kawin = 3 if any(s["statusNikah"] == 2 for s in fam.spouses) else 4
        pension_d = int(self._pension_day[i])
        return {
            "id": R.guid(self.seed, "pns", int(self._nip[i])),
            "nipBaru": self.nip_of(i),
            "nipLama": (f"0{h(i, 'nl') % 10**8:08d}" if tmt_cpns.year < 2000 else None),
            "nama": nama,
            "gelarDepan": gelar_depan,
            "gelarBelakang": gelar_belakang,
            "tempatLahir": R.CITIES[h(i, "tl") % len(R.CITIES)],
            "tglLahir": birth,
            "jenisKelamin": "M" if male else "F",
            "agamaId": _pick_weighted(h(i, "ag"), _AGAMA_W),
            "nik": nik,
            "email": email,
            "emailGov": email_gov,
            "noHp": no_hp,
            "alamat": alamat,
            "jenisPegawaiId": 2 if inst["jenis"] == "Pemda" else 1,
            "kedudukanPnsId": f"{ked:02d}",
            "statusPegawai": "PNS" if tmt_pns <= day_to_date(d) else "CPNS",
            "instansiIndukId": inst["id"],
            "instansiIndukNama": inst["nama"],
            "instansiKerjaId": inst["id"],
            "satuanKerjaKerjaId": satker,
            "unorId": unor_id,
            "unorNama": unor_nama,
            "jenisJabatanId": jenis_jab,
            "jabatanNama": jabatan,
            "jabatanFungsionalId": jf_id,
            "jabatanFungsionalNama": jf_nama,
            "eselonId": eselon,
            "tmtJabatan": day_to_date(tmt_jab_d),
            "golRuangAwalId": int(self._awal[i]),
            "golRuangAkhirId": gol,
            "golRuangAkhir": R.GOLONGAN[gol][0],
            "pangkatAkhir": R.GOLONGAN[gol][1],
            "tmtGolAkhir": day_to_date(tmt_gol),
            "tmtCpns": tmt_cpns,
            "tmtPns": tmt_pns,
            "tmtPensiun": day_to_date(pension_d),
            "bupPensiun": int(self._bup[i]),
            "mkTahun": mk // 12,
            "mkBulan": mk % 12,
            "pendidikanTerakhirId": R.guid("pendidikan", edu, h(i, "pd") % 8),
            "tkPendidikanTerakhirId": edu,
            "jenisKawinId": kawin,
            "jumlahAnak": len(fam.children),
            "kpknId": R.guid("kpkn", inst_idx % 9),
            "lokasiKerjaId": R.guid("lokasi", inst_idx),
        }

    def record_extra(
        self, index: int, day: int | None = None, rec: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The data-utama fields SIASN serves beyond :meth:`record` (names, codes, documents),
        typed like the record (``date``/``None``). Derived from the record, the family and
        stable per-employee hashes only, so they change exactly when the record does. Not part
        of ``/_sandbox/truth``. ``path`` is ``{ref-dokumen id: (document name, file stem)}``."""
        d = self._d(day)
        i = int(index)
        h = self.hash64
        rec = self.record(i, d) if rec is None else rec
        nip = rec["nipBaru"]
        inst_idx = int(self._instansi[i])
        inst = R.instansi_rows()[inst_idx]
        units = _unit_index()
        unor_nama, parent = units[rec["unorId"]]
        induk_id = parent or rec["unorId"]
        satker = rec["satuanKerjaKerjaId"]
        root = _units_by_level()[inst_idx][0][0]
        gol = rec["golRuangAkhirId"]
        edu = rec["tkPendidikanTerakhirId"]
        tmt_cpns: date = rec["tmtCpns"]
        tmt_pns: date = rec["tmtPns"]
        eselon = rec["eselonId"]
        jenis_jab = rec["jenisJabatanId"]
        fam = self._family(i, d)
        ked, exit_tmt = self._exit_info(i, d)
        dead = ked == 77
        kota = R.CITIES[h(i, "lk") % len(R.CITIES)]
        tgl_sk_cpns = tmt_cpns - timedelta(days=20 + h(i, "skc") % 40)
        tgl_sk_pns = tmt_pns - timedelta(days=10 + h(i, "skp") % 40)
        npwp = h(i, "npwp") % 3 != 0
        base = {1: 1_685_700, 2: 2_184_000, 3: 2_785_700, 4: 3_287_800}[gol // 10]
        gaji = base + (gol % 10 - 1) * 98_000 + (rec["mkTahun"] // 2) * 61_300
        jenjang = rec["jabatanFungsionalNama"]
        if jenjang is not None:
            jenjang = next(
                (j for j in R.JF_JENJANG_AHLI + R.JF_JENJANG_TERAMPIL if jenjang.endswith(j)), None
            )
        kawin = rec["jenisKawinId"]
        pendidikan = R.TINGKAT_PENDIDIKAN[edu][0]
        jurusan = _JURUSAN[h(i, "jur") % len(_JURUSAN)]
        docs = {
            key: (name, f"{nip}_{key}_{h(i, 'dok', key) % 10**8:08d}")
            for key, name in _data_utama_docs().items()
            if h(i, "dokp", key) % 10 < 8
        }
        return {
            "agama": R.AGAMA[rec["agamaId"]],
            "akteKelahiran": f"{h(i, 'akl') % 10**6:06d}/{rec['tglLahir'].year}"
            if h(i, "akl2") % 3
            else None,
            "akteMeninggal": f"{h(i, 'akm') % 10**6:06d}/AKM/{day_to_date(exit_tmt).year}"
            if dead and exit_tmt is not None
            else None,
            "bahasa": None,
            "bpjs": f"000{h(i, 'bpjs') % 10**10:010d}" if h(i, "bpjs2") % 4 else None,
            "eselon": R.ESELON[eselon] if eselon else None,
            "eselonLevel": eselon[0] if eselon else None,
            "gajiPokok": str(gaji),
            "golRuangAwal": R.GOLONGAN[rec["golRuangAwalId"]][0],
            "instansiKerjaKodeCepat": inst["kode_cepat"],
            "instansiKerjaNama": inst["nama"],
            "jabatanAsn": rec["jabatanNama"],
            "jabatanFungsionalUmumId": R.guid("jfu", rec["jabatanNama"])
            if jenis_jab == 4
            else None,
            "jabatanFungsionalUmumNama": rec["jabatanNama"] if jenis_jab == 4 else None,
            "jabatanStrukturalId": R.guid("jabstruk", rec["unorId"]) if jenis_jab == 1 else None,
            "jabatanStrukturalNama": rec["jabatanNama"] if jenis_jab == 1 else None,
            "jenisIdDokumenId": "1",
            "jenisIdDokumenNama": "KTP",
            "jenisJabatan": R.JENIS_JABATAN[jenis_jab],
            "jenisPegawaiNama": "PNS Pusat" if rec["jenisPegawaiId"] == 1 else "PNS Daerah",
            "jenjang": jenjang,
            "jumlahIstriSuami": sum(1 for s in fam.spouses if s["statusNikah"] == 1),
            "kanregId": f"{inst_idx % 14 + 1:02d}",
            "kanregNama": f"Kantor Regional {_ROMAN[inst_idx % 14]} BKN",
            "kartuAsn": f"KA-{h(i, 'ka') % 10**9:09d}" if h(i, "ka2") % 2 else None,
            "kedudukanPnsNama": R.KEDUDUKAN_HUKUM[rec["kedudukanPnsId"]],
            "kodePos": f"{h(i, 'kp') % 90000 + 10000}",
            "kpknNama": f"KPKN {R.CITIES[inst_idx % 9 % len(R.CITIES)]}",
            "kppnId": R.guid("kppn", inst_idx % 11),
            "kppnNama": f"KPPN {R.CITIES[inst_idx % 11 % len(R.CITIES)]}",
            "ktuaId": R.guid("ktua", inst_idx % 7),
            "ktuaNama": f"KTUA {R.CITIES[inst_idx % 7 % len(R.CITIES)]}",
            "lokasiKerja": kota,
            "masaKerja": f"{rec['mkTahun']} Tahun {rec['mkBulan']} Bulan",
            "noAskes": f"{h(i, 'askes') % 10**13:013d}" if h(i, "askes2") % 5 == 0 else None,
            "noNpwp": f"{h(i, 'npwpn') % 10**15:015d}" if npwp else None,
            "noSeriKarpeg": f"{'ABCDEFGHKLMNPQ'[h(i, 'kg') % 14]} {h(i, 'kg2') % 10**6:06d}",
            "noSpmt": f"SPMT/{h(i, 'spmt') % 9000 + 1000}/{tmt_cpns.year}",
            "noSuratKeteranganBebasNarkoba": None,
            "noSuratKeteranganDokter": f"SKD/{h(i, 'skd') % 900 + 100}/{tmt_cpns.year}"
            if h(i, "skd2") % 2
            else None,
            "noTaspen": f"{h(i, 'tsp') % 10**14:014d}",
            "noTelp": None,
            "nomorIdDocument": rec["nik"],
            "nomorSkCpns": f"{h(i, 'nskc') % 900 + 100}/SK-CPNS/{inst['kode_cepat']}/"
            f"{tgl_sk_cpns.year}",
            "nomorSkPns": f"{h(i, 'nskp') % 900 + 100}/SK-PNS/{inst['kode_cepat']}/"
            f"{tgl_sk_pns.year}",
            "nomorSttpl": f"STTPL/{h(i, 'sttpl') % 10**5:05d}/{tmt_pns.year}",
            "pendidikanTerakhirNama": f"{pendidikan} {jurusan}" if edu >= 30 else pendidikan,
            "satuanKerjaIndukId": root[1],
            "satuanKerjaIndukNama": root[2],
            "satuanKerjaKerjaNama": units[satker][0],
            "skck": None,
            "statusHidup": "0" if dead else "1",
            "statusPerkawinan": _STATUS_KAWIN[kawin],
            "tahunLulus": str(tmt_cpns.year - 1 - h(i, "lulus") % 3),
            "taspenId": R.guid("taspen", inst_idx % 5),
            "taspenNama": f"PT Taspen KC {R.CITIES[inst_idx % 5 % len(R.CITIES)]}",
            "tempatLahirId": R.guid("kabupaten", rec["tempatLahir"]),
            "tglMeninggal": day_to_date(exit_tmt) if dead and exit_tmt is not None else None,
            "tglNpwp": tmt_cpns + timedelta(days=30 + h(i, "tnpwp") % 900) if npwp else None,
            "tglSkCpns": tgl_sk_cpns,
            "tglSkPns": tgl_sk_pns,
            "tglSkck": None,
            "tglSttpl": tmt_pns - timedelta(days=30 + h(i, "tsttpl") % 60),
            "tglSuratKeteranganBebasNarkoba": None,
            "tglSuratKeteranganDokter": tgl_sk_cpns - timedelta(days=30 + h(i, "tskd") % 60)
            if h(i, "skd2") % 2
            else None,
            "tkPendidikanTerakhir": pendidikan,
            "tmtEselon": rec["tmtJabatan"] if eselon else None,
            "unorIndukId": induk_id,
            "unorIndukNama": units[induk_id][0] if parent else unor_nama,
            "validNik": h(i, "q", "nik") % 20 != 0,
            "tglSpmt": tmt_cpns + timedelta(days=h(i, "tspmt") % 14),
            "path": docs,
        }

    def rw_golongan(self, index: int, day: int | None = None) -> list[dict[str, Any]]:
        """Typed golongan history of ``index`` on ``day``, oldest first."""
        d = self._d(day)
        i = int(index)
        h = self.hash64
        pns_id = R.guid(self.seed, "pns", int(self._nip[i]))
        nip = self.nip_of(i)
        kode = R.instansi_rows()[int(self._instansi[i])]["kode_cepat"]
        tmt_cpns = int(self._tmt_cpns[i])
        awal = int(self._awal[i])
        steps = int(self._steps[i])
        tg0 = int(self._tmt_gol0[i])
        nip_lama = f"0{h(i, 'nl') % 10**8:08d}" if day_to_date(tmt_cpns).year < 2000 else None
        rows: list[dict[str, Any]] = []

        def row(k: Any, gol: int, tmt_d: int, jenis: str | None, ev: ExternalEvent | None) -> None:
            tmt = day_to_date(tmt_d)
            if ev is not None:
                sk_no, sk_tgl = ev.no_sk, ev.tgl_sk or day_to_date(ev.day)
                pertek_no = ev.no_pertek or None
                pertek_tgl = ev.tgl_pertek
            else:
                sk_tgl = day_to_date(tmt_d - 20 - h(i, "skt", k) % 60)
                sk_no = f"{h(i, 'skn', k) % 900 + 100}/KEP/{kode}/{sk_tgl.year}"
                if jenis is None:
                    pertek_no, pertek_tgl = None, None
                else:
                    pertek_tgl = day_to_date(tmt_d - 80 - h(i, "ptt", k) % 40)
                    pertek_no = f"PT-{h(i, 'ptn', k) % 10**7:07d}/{pertek_tgl.year}"
            mk = max(0, _months_between(tmt_cpns, tmt_d))
            rows.append(
                {
                    "id": R.guid(self.seed, "rwgol", int(self._nip[i]), k),
                    "idPns": pns_id,
                    "nipBaru": nip,
                    "nipLama": nip_lama,
                    "golonganId": gol,
                    "golongan": R.GOLONGAN[gol][0],
                    "skNomor": sk_no,
                    "skTanggal": sk_tgl,
                    "tmtGolongan": tmt,
                    "noPertekBkn": pertek_no,
                    "tglPertekBkn": pertek_tgl,
                    "jenisKPId": jenis,
                    "masaKerjaGolonganTahun": mk // 12,
                    "masaKerjaGolonganBulan": mk % 12,
                }
            )

        row(0, awal, tmt_cpns, None, None)
        g = awal
        for s in range(1, steps + 1):
            g = int(_NEXT[g])
            if s == steps:
                t = tg0
            else:
                t = tmt_cpns + (tg0 - tmt_cpns) * s // steps
                t = _snap_period(t)
            row(s, g, t, "101", None)
        _gol, _tmt, promos = self._gol_state(i, d)
        for t, g2, ev in promos:
            if ev is None:
                row(f"s{g2}", g2, t, "101", None)
            else:
                jenis = ev.jenis_kp or "101"
                row(f"e{ev.seq}", g2, t, jenis, ev)
        return rows

    # ------------------------------------------------------------------ family
    def _family(self, i: int, d: int) -> _Fam:
        nfe = int((self._fam_days[i] <= d).sum())
        key = (i, nfe, self._event_seq if i in self._events else 0)
        hit = self._fam_cache.get(key)
        if hit is not None:
            return hit
        fam = self._build_family(i, nfe)
        self._fam_cache[key] = fam
        while len(self._fam_cache) > 4096:
            self._fam_cache.popitem(last=False)
        return fam

    def _person(
        self, i: int, tag: str, male: bool, birth_d: int, alive: bool = True
    ) -> dict[str, Any]:
        """A family member (SIASN ``orang``): no NIK, SIASN does not serve one for family."""
        h = self.hash64
        first = R.FIRST_M if male else R.FIRST_F
        nama = f"{first[h(i, tag, 'n') % len(first)]} {R.LAST[h(i, tag, 'l') % len(R.LAST)]}"
        return {
            "id": R.guid(self.seed, "orang", int(self._nip[i]), tag),
            "nama": nama.upper(),
            "tglLahir": day_to_date(birth_d),
            "jenisKelamin": "M" if male else "F",
            "tempatLahir": R.CITIES[h(i, tag, "tl") % len(R.CITIES)],
            "statusHidup": alive,
            "tglMeninggal": None,
        }

    def _build_family(self, i: int, nfe: int) -> _Fam:
        h = self.hash64
        fam = _Fam()
        male = int(self._gender[i]) == 1
        pns_id = R.guid(self.seed, "pns", int(self._nip[i]))
        birth = int(self._birth[i])
        r = h(i, "fam") % 100
        n_sp = 0 if r < 12 else (2 if r >= 95 else 1)

        def add_spouse(k: int, married_d: int, status: int) -> dict[str, Any]:
            off = int(h(i, "spb", k) % (13 * 365)) - 8 * 365
            sp_birth = birth + (off if male else -off // 2)
            orang = self._person(i, f"sp{k}", not male, sp_birth)
            akta = f"{h(i, 'akta', k) % 10**6:06d}/{day_to_date(married_d).year}"
            sp = {
                "orang": orang,
                "statusNikah": status,
                "dataPernikahan": {
                    "id": R.guid(self.seed, "nikah", int(self._nip[i]), k),
                    "tgglMenikah": day_to_date(married_d),
                    "aktaMenikah": akta,
                    "tgglCerai": None,
                    "aktaCerai": None,
                    "isPns": h(i, "sppns", k) % 4 == 0,
                    "posisi": 1 if status == 1 else 2,
                },
                "_married": married_d,
            }
            fam.spouses.append(sp)
            fam.never_married = False
            return sp

        def add_child(born_d: int, parent: dict[str, Any] | None) -> None:
            k = len(fam.children)
            p = self._person(i, f"ch{k}", h(i, "chg", k) % 2 == 0, born_d)
            # jenisAnak: 1 kandung (of the employee and the spouse), 2 tiri, 3 angkat
            jenis = "1" if parent is not None else ("2" if h(i, "sa", k) % 2 else "3")
            other = parent["orang"]["id"] if parent is not None else None
            ch = {
                "id": p["id"],
                "nama": p["nama"],
                "tglLahir": p["tglLahir"],
                "jenisKelamin": p["jenisKelamin"],
                "tempatLahir": p["tempatLahir"],
                "kabupatenId": R.guid("kabupaten", p["tempatLahir"]),
                "jenisAnak": jenis,
                "ayahId": pns_id if male else other,
                "ibuId": other if male else pns_id,
            }
            fam.children.append(ch)

        age0 = -birth  # days old at day 0
        wed_age = (22 + int(h(i, "wed") % 10)) * 365
        if n_sp and age0 > wed_age + 365:
            married = birth + wed_age
            if n_sp == 2:
                first = add_spouse(0, married, 2 if h(i, "div") % 2 else 3)
                split = married + 365 * (2 + int(h(i, "dv2") % 6))
                split = min(split, -400)
                pd = first["dataPernikahan"]
                if first["statusNikah"] == 2:
                    pd["tgglCerai"] = day_to_date(split)
                    pd["aktaCerai"] = f"{h(i, 'ac') % 10**6:06d}/{day_to_date(split).year}"
                else:
                    _dies(first["orang"], split)
                married = split + 365
            current = add_spouse(len(fam.spouses), min(married, -30), 1)
            r2 = h(i, "nch") % 100
            nch = 0 if r2 < 15 else 1 if r2 < 40 else 2 if r2 < 75 else 3 if r2 < 93 else 4
            t = current["_married"] + 300 + int(h(i, "c0") % 400)
            for k in range(nch):
                if t >= -1:
                    break
                add_child(t, current)
                t += 500 + int(h(i, "ci", k) % 900)
        # parents (SIASN serves no statusHidup for them: a death shows as tglMeninggal)
        for tag, pmale, prob in (("ayah", True, 80), ("ibu", False, 85)):
            if h(i, tag) % 100 < prob:
                pb = birth - (24 + int(h(i, tag, "age") % 12)) * 365
                life = (64 + int(h(i, tag, "life") % 28)) * 365
                p = self._person(i, tag, pmale, pb)
                del p["statusHidup"]
                if pb + life < 0:
                    _dies(p, pb + life)
                setattr(fam, tag, p)
        # family events up to day d
        for k in range(nfe):
            ev_d = int(self._fam_days[i, k])
            rr = h(i, "fev", k) % 100
            current = next((s for s in fam.spouses if s["statusNikah"] == 1), None)
            alive_parents = [
                p for p in (fam.ayah, fam.ibu) if p is not None and p["tglMeninggal"] is None
            ]
            if current is None and (-birth + ev_d) > 20 * 365:
                add_spouse(len(fam.spouses), ev_d, 1)
            elif current is not None and rr < 60 and len(fam.children) < 4:
                add_child(ev_d - int(h(i, "fb", k) % 20), current)
            elif alive_parents and rr < 85:
                _dies(alive_parents[h(i, "fp", k) % len(alive_parents)], ev_d)
            elif current is not None and rr < 93:
                current["statusNikah"] = 2
                current["dataPernikahan"]["tgglCerai"] = day_to_date(ev_d)
                current["dataPernikahan"]["aktaCerai"] = (
                    f"{h(i, 'acx', k) % 10**6:06d}/{day_to_date(ev_d).year}"
                )
                current["dataPernikahan"]["posisi"] = 2
            elif current is not None:
                current["statusNikah"] = 3
                _dies(current["orang"], ev_d)
                current["dataPernikahan"]["posisi"] = 2
            elif len(fam.children) < 4:
                add_child(ev_d, None)
        for s in fam.spouses:
            s.pop("_married", None)
        return fam

    def pasangan(self, index: int, day: int | None = None) -> list[dict[str, Any]]:
        """Typed spouses (``orang``, ``statusNikah``, ``dataPernikahan``); may be empty."""
        return _deepcopy(self._family(int(index), self._d(day)).spouses)

    def anak(self, index: int, day: int | None = None) -> list[dict[str, Any]]:
        """Typed children; may be empty."""
        return _deepcopy(self._family(int(index), self._d(day)).children)

    def ortu(self, index: int, day: int | None = None) -> dict[str, Any]:
        """Typed parents ``{"ayah": dict | None, "ibu": dict | None}``."""
        fam = self._family(int(index), self._d(day))
        return {"ayah": _deepcopy(fam.ayah), "ibu": _deepcopy(fam.ibu)}

    # ------------------------------------------------------------------ overlay
    def _require(self, nip: str | int) -> int:
        i = self.index_of(nip)
        if i is None:
            raise KeyError("NIP not found in the sandbox world")
        return i

    def _add_event(self, ev: ExternalEvent) -> ExternalEvent:
        for old in self._events.get(ev.index, ()):
            if old.identity() == ev.identity():
                return old
        self._events.setdefault(ev.index, []).append(ev)
        self._event_seq += 1
        self._vec_cache.clear()
        return ev

    def apply_promotion(
        self,
        nip: str | int,
        day: int | None,
        golongan_id: int,
        tmt: date,
        no_sk: str,
        *,
        tgl_sk: date | None = None,
        jenis_kp: str | None = None,
        no_pertek: str = "",
        tgl_pertek: date | None = None,
    ) -> ExternalEvent:
        """Promote ``nip`` to ``golongan_id`` with TMT ``tmt`` (e.g. a delivered Keppres KP),
        visible from world day ``day`` (None = today). Adds a rw-golongan row. ``jenis_kp``
        defaults to 201 (struktural), 202 (JF) or 101 by the employee's jabatan."""
        i = self._require(nip)
        if int(golongan_id) not in R.GOLONGAN:
            raise ValueError("unknown golongan id")
        d = self._d(day)
        if jenis_kp is None:
            kat = self._kategori_code(i, d)
            jenis_kp = "201" if kat >= _K["PENGAWAS"] else "202" if kat >= 1 else "101"
        ev = ExternalEvent(
            seq=self._event_seq + 1,
            index=i,
            day=d,
            kind="promotion",
            golongan_id=int(golongan_id),
            tmt=tmt,
            no_sk=no_sk,
            tgl_sk=tgl_sk,
            jenis_kp=jenis_kp,
            no_pertek=no_pertek,
            tgl_pertek=tgl_pertek,
        )
        return self._add_event(ev)

    def apply_dismissal(
        self,
        nip: str | int,
        day: int | None,
        kedudukan: str = "99",
        tmt: date | None = None,
        no_sk: str = "",
    ) -> ExternalEvent:
        """End the service of ``nip`` from ``day`` (kedudukan ``99`` pensiun, ``66``
        diberhentikan, ``77`` wafat). A no-op on the record if the employee already left."""
        i = self._require(nip)
        if kedudukan not in ("66", "77", "99"):
            raise ValueError("kedudukan must be one of 66, 77, 99")
        ev = ExternalEvent(
            seq=self._event_seq + 1,
            index=i,
            day=self._d(day),
            kind="dismissal",
            kedudukan=kedudukan,
            tmt=tmt,
            no_sk=no_sk,
        )
        return self._add_event(ev)

    def apply_appointment(
        self,
        nip: str | int,
        day: int | None,
        kategori: str,
        tmt: date | None = None,
        no_sk: str = "",
    ) -> ExternalEvent:
        """Appoint ``nip`` to a jabatan of ``kategori`` (a name in :data:`KATEGORI`, e.g.
        ``"JF_AHLI_UTAMA"``) from ``day``; tmtJabatan becomes ``tmt`` (default: that day)."""
        i = self._require(nip)
        if kategori not in _K:
            raise ValueError("unknown kategori")
        ev = ExternalEvent(
            seq=self._event_seq + 1,
            index=i,
            day=self._d(day),
            kind="appointment",
            kategori=kategori,
            tmt=tmt,
            no_sk=no_sk,
        )
        return self._add_event(ev)

    def events(self, nip: str | int | None = None) -> list[ExternalEvent]:
        """External events (all, or those of one NIP), in the order they were applied."""
        if nip is None:
            out = [ev for evs in self._events.values() for ev in evs]
        else:
            i = self.index_of(nip)
            out = list(self._events.get(i, ())) if i is not None else []
        return sorted(out, key=lambda e: e.seq)

    # ------------------------------------------------------------------ withheld decrees
    def set_keppres_withhold(
        self, rate: float = 0.0, usulan_ids: Iterable[str] = (), seed: int = 0
    ) -> None:
        """Fault knob: SIASN answers a delivered Keppres KP or pemberhentian (status 32) but
        leaves the employee as it was, for the usulan in ``usulan_ids`` and a stable share
        ``rate`` of the others (chosen by ``seed`` and the usulan id). Decrees already
        delivered keep what happened to them."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        self._withhold = (float(rate), frozenset(map(str, usulan_ids)), int(seed))

    def withholds_keppres(self, usulan_id: str, jenis: str, day: int) -> bool:
        """Whether SIASN withholds the Keppres of ``usulan_id`` delivered on ``day`` (only
        ``KP`` and ``PEMBERHENTIAN``: the decrees the hub cross-checks); a withheld one is
        remembered for :meth:`withheld_keppres`. Called once, on the first delivery."""
        rate, ids, seed = self._withhold
        if jenis not in ("KP", "PEMBERHENTIAN"):
            return False
        if usulan_id in self._withheld:
            return True
        raw = f"{seed}:keppres-withhold:{usulan_id}".encode()
        unit = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little") / 2.0**64
        if usulan_id not in ids and not unit < rate:
            return False
        self._withheld[usulan_id] = (jenis, int(day))
        return True

    def withheld_keppres(self) -> list[dict[str, Any]]:
        """Ground truth of the withheld decrees: ``{usulan_id, jenis, day, date}`` by day, id."""
        return [
            {"usulan_id": uid, "jenis": jenis, "day": d, "date": day_to_date(d).isoformat()}
            for uid, (jenis, d) in sorted(self._withheld.items(), key=lambda kv: (kv[1][1], kv[0]))
        ]


# ---------------------------------------------------------------------- helpers
_M64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64 finaliser."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@lru_cache(maxsize=65536)
def _tag_hash(tags: tuple[object, ...]) -> int:
    raw = ":".join(map(str, tags)).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


_AGAMA_W = [(1, 85), (2, 7), (3, 3), (4, 2), (5, 1), (6, 1), (7, 1)]


def _pick_weighted(hv: int, weights: list[tuple[int, int]]) -> int:
    total = sum(w for _v, w in weights)
    x = hv % total
    for v, w in weights:
        if x < w:
            return v
        x -= w
    return weights[-1][0]


def _versioned_pick(w: World, i: int, tag: str, version: int, n: int) -> int:
    """A choice in 0..n-1 that differs between consecutive versions (when n > 1)."""
    pos = w.hash64(i, tag) % n
    if n > 1:
        for v in range(1, version + 1):
            pos = (pos + 1 + w.hash64(i, tag, v) % (n - 1)) % n
    return pos


def _months_between(a_day: int, b_day: int) -> int:
    a, b = day_to_date(a_day), day_to_date(b_day)
    m = (b.year - a.year) * 12 + (b.month - a.month) - (1 if b.day < a.day else 0)
    return max(m, 0)


def _add_months(day: int, months: int) -> int:
    d = day_to_date(day)
    m = d.month - 1 + months
    return date_to_day(date(d.year + m // 12, m % 12 + 1, 1))


def _snap_period(day: int) -> int:
    """Snap a day to the next KP period (1 April or 1 October)."""
    d = day_to_date(day)
    for y, m in ((d.year, 4), (d.year, 10), (d.year + 1, 4)):
        if date(y, m, 1) >= d:
            return date_to_day(date(y, m, 1))
    return day  # pragma: no cover


def _dies(person: dict[str, Any], day: int) -> None:
    """Mark a family member deceased on world ``day`` (tglMeninggal; statusHidup if kept)."""
    if "statusHidup" in person:
        person["statusHidup"] = False
    person["tglMeninggal"] = day_to_date(day)


def _deepcopy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deepcopy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deepcopy(v) for v in obj]
    return obj


@cache
def _units_by_level() -> list[list[list[tuple[int, str, str, str]]]]:
    """Per instansi: units grouped by level (0 root .. 3 eselon III)."""
    out = []
    for units in R.unor_tree():
        levels: list[list[tuple[int, str, str, str]]] = [[], [], [], []]
        for u in units:
            levels[u[0]].append(u)
        out.append(levels)
    return out


@cache
def _satker_of() -> dict[str, str]:
    """unor id -> id of its eselon I ancestor (the root maps to itself)."""
    m: dict[str, str] = {}
    for units in R.unor_tree():
        parent = {u[1]: u[3] for u in units}
        level = {u[1]: u[0] for u in units}
        for u in units:
            x = u[1]
            while level[x] > 1:
                x = parent[x]
            m[u[1]] = x
    return m


_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV")
_STATUS_KAWIN = {1: "Belum Kawin", 2: "Kawin", 3: "Cerai Hidup", 4: "Cerai Mati"}
_JURUSAN = (
    "Ilmu Administrasi Negara",
    "Ilmu Hukum",
    "Ekonomi Pembangunan",
    "Akuntansi",
    "Teknik Informatika",
    "Kesehatan Masyarakat",
    "Statistika",
    "Manajemen",
)


@cache
def _unit_index() -> dict[str, tuple[str, str]]:
    """unor id -> (nama, parent id) over every instansi ("" parent for a root)."""
    return {u[1]: (u[2], u[3]) for units in R.unor_tree() for u in units}


def _ref_dokumen(kind: str) -> tuple[str, str]:
    """(id, document name) of usulan document ``kind`` in the sandbox's own ref-dokumen table
    (looked up by name there), so a ``path`` points at ids the sandbox serves."""
    dok_id = R.ref_dokumen_id(kind)
    return dok_id, R.REF_DOKUMEN[dok_id]


@cache
def _data_utama_docs() -> dict[str, str]:
    """ref-dokumen id -> name of the documents data-utama ``path`` may hold (SK CPNS, SK PNS)."""
    return dict((_ref_dokumen("SK_CPNS"), _ref_dokumen("SK_PNS")))


@cache
def rw_golongan_doc() -> tuple[str, str]:
    """(ref-dokumen id, name) of the SK kenaikan pangkat a rw-golongan row's ``path`` holds."""
    return _ref_dokumen("SK_PANGKAT_TERAKHIR")


del _r, _g, _a, _b
