"""The usulan (proposal) world of the sandbox: SIAPP NV records and their lifecycle at both sides.

Pure and deterministic: the state is a function of the seed, the simulated day, and the ordered
history of what each side received (the hub's deliveries). Nothing here does I/O or reads the wall
clock; the apps (`siapp_app`, `siasn_pks`) call :meth:`UsulanWorld.sync` with the clock's day and
report every first-time delivery through the ``siasn_*`` / ``siapp_*`` methods.

Lifecycle (days are simulated days; ``D`` is the day an event was received):

* Every day SIAPP NV creates 2–4 new usulan (KP / PEMBERHENTIAN / PENGANGKATAN for JPT Utama,
  JPT Madya, JF Ahli Utama of golongan ≥ IV/b) with 2–4 documents each; ~7.5 % are deliberately
  out of scope (kategori JPT_PRATAMA, PENGANGKATAN of a JPT, or a NIP below IV/b). PIC grant and
  revoke records appear on some days.
* Hub delivers a version to SIASN (F5) on day D → ``statusUsulan`` 1 on D.
* D+1: BKN verification → 13 MS (~80 %), 11 BTS (~12 %, first version only) or 12 TMS; out of
  scope usulan that reach SIASN always get TMS.
* BTS: once SIAPP NV has received that BTS status (inbound status-usulan, F3) on day S, it issues
  the next version with one replaced document on S+2..S+3; the hub must deliver it again.
* MS on day V → pertek (22) on V+1..V+3 with a PDF at SIASN; ~15 % get a ralat pertek (23) two
  days later (only while the status is still 22).
* SIAPP NV receives the pertek PDF (F4, sha256 must equal SIASN's) on day P → Setneg verifikasi
  record on P+1 (DISETUJUI ~95 %); DISETUJUI → Keppres record with its PDF on P+3..P+5.
* SIASN receives the Keppres (F7) on day K → status 32 on K; for KP the employee's golongan is
  promoted through the employee directory (PEMBERHENTIAN: kedudukan becomes 99 Pensiun;
  PENGANGKATAN: the jabatan becomes JF Ahli Utama).

Agency entry (public-API mode, :attr:`UsulanWorld.agency_entry_days`, off by default): BKN
publishes no endpoint to submit an usulan, so the agency enters it in SIASN itself. With the
knob set to N, every usulan version SIAPP NV created on day C is entered on C+N (unless the hub
refused the usulan) with its documents attached, and starts the same lifecycle as an F5 POST
(status 1, verification the next day): the ground truth is the same in both modes. The SK
copy of such an usulan arriving through ``upload-dok-sk-kp`` (with ``no_sk``/``tgl_sk``) while
it is at 22/23 has the effect of an F7 POST (status 32 and the employee's change).

Public API: :class:`UsulanWorld` (``sync(day)``; SIASN side ``siasn_upload``,
``siasn_receive_usulan|verifikasi|keppres|pic``, ``siasn_status_rows``, ``siasn_documents``,
``siasn_file``; SIAPP NV side ``siapp_list``, ``siapp_document``, ``siapp_receive_status|pertek|
penolakan``; truth ``truth_usulan``, ``truth_documents``, ``truth_out_of_scope``; ``digest``),
:class:`WorldDirectory` (adapter over :class:`~.world.World`), :func:`scope_verdict`,
:func:`attach` (one world per sandbox state, truth endpoints, clock hook).
Refusals raise :class:`UsulanError` (message safe to return: no personal data).

SIAPP NV records change only on tick days (when the clock enters a day), so every SIAPP record
with ``updated_at`` on day X exists as soon as the clock is at X: an ``updated_since`` watermark
never misses a record.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from . import refdata
from .documents import DocSpec, sha256_hex

EPOCH = date(2026, 1, 5)

JENIS = ("KP", "PEMBERHENTIAN", "PENGANGKATAN")
KATEGORI_IN_SCOPE = ("JPT_UTAMA", "JPT_MADYA", "JF_AHLI_UTAMA")
KATEGORI_ALL = (*KATEGORI_IN_SCOPE, "JPT_PRATAMA")
GOL_MIN = 42  # IV/b
GOL_MAX = 45  # IV/e

STATUS_NAMA = {
    "1": "Usulan Diterima",
    "11": "Berkas Tidak Sesuai (BTS)",
    "12": "Tidak Memenuhi Syarat (TMS)",
    "13": "Memenuhi Syarat (MS)",
    "22": "Pertek Ditandatangani",
    "23": "Ralat Pertek",
    "32": "SK (Keppres) Diterima",
}
HASIL_BY_STATUS = {"11": "BTS", "12": "TMS", "13": "MS"}

# Document kinds per jenis usulan: (jenis dokumen, id_ref_dokumen). The ids are looked up in
# the served ref-dokumen table by document name (refdata.USULAN_DOKUMEN), as the hub does:
# never hard-coded, since SIASN's ids mean other documents elsewhere.
_KINDS_BY_JENIS: dict[str, tuple[str, ...]] = {
    "KP": ("SK_PANGKAT_TERAKHIR", "SK_JABATAN_TERAKHIR", "PENILAIAN_KINERJA"),
    "PEMBERHENTIAN": ("SK_PANGKAT_TERAKHIR", "AKTA_NIKAH_KK", "DAFTAR_RIWAYAT_HIDUP"),
    "PENGANGKATAN": ("SK_JABATAN_TERAKHIR", "IJAZAH_TERAKHIR", "SURAT_PERNYATAAN_HUKDIS"),
}
DOC_KINDS: dict[str, list[tuple[str, str]]] = {
    jenis: [(kind, refdata.ref_dokumen_id(kind)) for kind in kinds]
    for jenis, kinds in _KINDS_BY_JENIS.items()
}
DOC_PENGANTAR = ("SURAT_PENGANTAR", refdata.ref_dokumen_id("SURAT_PENGANTAR"))
REF_SK = refdata.ref_dokumen_id("SALINAN_KEPPRES")  # Keputusan Presiden (Salinan)
REF_PERTEK = refdata.ref_dokumen_id("PERTEK")
REF_RALAT_PERTEK = refdata.ref_dokumen_id("RALAT_PERTEK")

# Out-of-scope reasons (the hub's scope check must find these).
OOS_KATEGORI = "KATEGORI_DI_LUAR_PKS"
OOS_PENGANGKATAN_JPT = "PENGANGKATAN_JPT"
OOS_GOLONGAN = "GOLONGAN_DI_BAWAH_IVB"


# --------------------------------------------------------------------------- helpers


def _h(*parts: object) -> int:
    raw = "|".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def _u(*parts: object) -> float:
    return _h(*parts) / 2**64


def _uuid(*parts: object) -> str:
    raw = hashlib.blake2b("|".join(str(p) for p in parts).encode("utf-8"), digest_size=16).digest()
    return str(uuid.UUID(bytes=raw, version=4))


def _guid(*parts: object) -> str:
    raw = "|".join(str(p) for p in parts).encode("utf-8")
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def day_date(day: int) -> date:
    """The calendar date of a simulated day (day 0 is 2026-01-05)."""
    return EPOCH + timedelta(days=day)


def iso_ts(day: int, second: int) -> str:
    """ISO 8601 UTC timestamp of ``second`` seconds into simulated ``day``."""
    second = max(0, min(second, 86399))
    hh, rem = divmod(second, 3600)
    mm, ss = divmod(rem, 60)
    return f"{day_date(day).isoformat()}T{hh:02d}:{mm:02d}:{ss:02d}Z"


def dmy(d: date) -> str:
    """SIASN date format ``dd-mm-yyyy``."""
    return d.strftime("%d-%m-%Y")


def parse_dmy(text: str) -> date | None:
    """Parse ``dd-mm-yyyy`` (None when empty, malformed or the SIASN null ``01-01-0001``)."""
    try:
        dd, mm, yy = (int(x) for x in text.strip().split("-"))
        d = date(yy, mm, dd)
    except (ValueError, AttributeError):
        return None
    return None if d.year <= 1 else d


def _first_of_month_after(d: date, months: int) -> date:
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


# --------------------------------------------------------------------------- employee directory


@dataclass(frozen=True)
class EmployeeProfile:
    """What the usulan world needs to know about an employee on a given day (no personal data)."""

    nip: str
    golongan_id: int
    kategori: str
    instansi_id: str
    kedudukan_id: str


class EmployeeDirectory(Protocol):
    """The view of the employee world the usulan world uses (see :class:`WorldDirectory`)."""

    def pick(self, day: int, want: str, salt: int, exclude: set[str]) -> EmployeeProfile | None:
        """Deterministically pick an active employee, preferring one not in ``exclude``.

        ``want``: a kategori (``JPT_UTAMA``, ``JPT_MADYA``, ``JF_AHLI_UTAMA``, ``JPT_PRATAMA``)
        with golongan ≥ IV/b; ``CALON_JF_AHLI_UTAMA`` (JF Ahli Madya/Utama ≥ IV/b, for
        PENGANGKATAN); ``LOW`` (golongan III/a–IV/a); ``ANY`` (any active employee).
        """
        ...

    def profile(self, nip: str, day: int) -> EmployeeProfile | None:
        """The employee's profile on ``day`` (None when the NIP is unknown)."""
        ...

    def promote(self, nip: str, day: int, golongan_id: int, tmt: date, no_sk: str) -> None:
        """Overlay a promotion decided by a delivered Keppres."""
        ...

    def dismiss(self, nip: str, day: int, tmt: date, no_sk: str) -> None:
        """Overlay a dismissal (kedudukan 99) decided by a delivered Keppres."""
        ...

    def appoint(self, nip: str, day: int, kategori: str, tmt: date, no_sk: str) -> None:
        """Overlay an appointment (new jabatan kategori) decided by a delivered Keppres."""
        ...


class WorldDirectory:
    """:class:`EmployeeDirectory` over the sandbox's employee :class:`~.world.World`."""

    def __init__(self, world: Any) -> None:
        self.world = world

    def _mask(self, day: int, want: str) -> Any:
        import numpy as np

        from .world import KATEGORI

        w = self.world
        gol, ked, kat = w.golongan(day), w.kedudukan(day), w.kategori(day)
        active = ked == 1
        if want == "ANY":
            return active
        if want == "LOW":
            return active & (gol >= 31) & (gol < GOL_MIN)
        codes = {
            "CALON_JF_AHLI_UTAMA": ["JF_AHLI_MADYA", "JF_AHLI_UTAMA"],
        }.get(want, [want])
        idx = [KATEGORI.index(c) for c in codes if c in KATEGORI]
        return active & (gol >= GOL_MIN) & np.isin(kat, idx)

    def pick(self, day: int, want: str, salt: int, exclude: set[str]) -> EmployeeProfile | None:
        import numpy as np

        cand = np.flatnonzero(self._mask(day, want))
        n = len(cand)
        if n == 0:
            return None
        start = salt % n
        for k in range(min(n, 2000)):
            i = int(cand[(start + k * 7919) % n])
            if self.world.nip_of(i) not in exclude:
                return self._profile(i, day)
        # Every candidate already has an open usulan (small worlds): allow a second one.
        return self._profile(int(cand[start]), day)

    def _profile(self, i: int, day: int) -> EmployeeProfile:
        rec = self.world.record(i, day)
        ked = rec.get("kedudukanPnsId")
        return EmployeeProfile(
            nip=self.world.nip_of(i),
            golongan_id=int(self.world.golongan(day)[i]),
            kategori=self.world.kategori_of(i, day),
            instansi_id=str(rec.get("instansiIndukId") or ""),
            kedudukan_id=f"{int(ked):02d}" if str(ked or "").isdigit() else str(ked or ""),
        )

    def profile(self, nip: str, day: int) -> EmployeeProfile | None:
        i = self.world.index_of(nip)
        return None if i is None else self._profile(i, day)

    def promote(self, nip: str, day: int, golongan_id: int, tmt: date, no_sk: str) -> None:
        self.world.apply_promotion(nip, day, golongan_id, tmt, no_sk, tgl_sk=day_date(day))

    def dismiss(self, nip: str, day: int, tmt: date, no_sk: str) -> None:
        self.world.apply_dismissal(nip, day, "99", tmt, no_sk)

    def appoint(self, nip: str, day: int, kategori: str, tmt: date, no_sk: str) -> None:
        self.world.apply_appointment(nip, day, kategori, tmt, no_sk)


def scope_verdict(jenis: str, kategori: str, golongan_id: int | None) -> tuple[bool, str | None]:
    """The PKS scope rule: (in scope?, reason when not).

    KP and PEMBERHENTIAN for JPT Utama, JPT Madya and JF Ahli Utama; PENGANGKATAN for JF Ahli
    Utama only; the employee must be golongan IV/b (42) or above.
    """
    if kategori not in KATEGORI_IN_SCOPE:
        return False, OOS_KATEGORI
    if jenis == "PENGANGKATAN" and kategori != "JF_AHLI_UTAMA":
        return False, OOS_PENGANGKATAN_JPT
    if golongan_id is None or golongan_id < GOL_MIN:
        return False, OOS_GOLONGAN
    return True, None


# --------------------------------------------------------------------------- records


@dataclass
class Dokumen:
    """A SIAPP NV document (metadata; bytes come from ``spec``)."""

    id: str
    jenis: str
    id_ref_dokumen: str
    spec: DocSpec

    @property
    def sha256(self) -> str:
        return self.spec.sha256

    @property
    def size(self) -> int:
        return self.spec.size

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "jenis": self.jenis,
            "id_ref_dokumen": self.id_ref_dokumen,
            "sha256": self.sha256,
            "size": self.size,
        }


@dataclass
class Version:
    version: int
    created_day: int
    dokumen: list[Dokumen]
    replaced_dokumen_id: str | None = None


@dataclass
class SiasnDoc:
    """A document SIASN holds: an upload, or a generated pertek / ralat pertek."""

    dok_id: str
    dok_uri: str
    id_ref_dokumen: str
    sha256: str
    size: int
    day: int
    kind: str  # UPLOAD | SK | PERTEK | RALAT_PERTEK
    spec: DocSpec | None = None  # regenerable bytes
    raw: bytes | None = None  # bytes that match no known document (kept as received)
    nama: str = ""
    id_usulan_siapp: str = ""

    def bytes(self) -> bytes:
        if self.spec is not None:
            return self.spec.bytes()
        return self.raw or b""


@dataclass
class SiasnUsulan:
    """BKN's view of a usulan (what SIASN received and decided)."""

    id: str
    id_usulan_siapp: str
    nip: str
    jenis_usulan: str
    versi: int
    status: str
    updated_day: int
    received: dict[int, dict[str, Any]] = field(default_factory=dict)
    hasil: str = ""
    alasan: str = ""
    no_pertek: str = ""
    tgl_pertek: date | None = None
    pertek: SiasnDoc | None = None
    no_ralat: str = ""
    tgl_ralat: date | None = None
    ralat: SiasnDoc | None = None
    sk_docs: list[SiasnDoc] = field(default_factory=list)
    keppres: dict[str, Any] | None = None
    verifikasi_setneg: list[dict[str, Any]] = field(default_factory=list)
    entered_by_agency: bool = False  # entered in SIASN by the agency (public-API mode)


@dataclass
class Usulan:
    """A SIAPP NV usulan with its versions, scope verdict and lifecycle at both sides."""

    id: str
    nip: str
    jenis: str
    kategori: str
    instansi_id: str
    golongan_asal_id: int
    golongan_baru_id: int | None
    tmt: date
    jenis_kp: str | None
    created_day: int
    in_scope: bool
    scope_reason: str | None
    versions: list[Version]
    status: str = "DIAJUKAN"
    updated_at: str = ""
    stages: list[tuple[str, int]] = field(default_factory=list)
    siasn: SiasnUsulan | None = None
    # SIAPP side bookkeeping
    bts_handled: set[int] = field(default_factory=set)
    pertek_received: list[dict[str, Any]] = field(default_factory=list)
    ralat_received: list[dict[str, Any]] = field(default_factory=list)
    status_received: list[dict[str, Any]] = field(default_factory=list)
    penolakan: list[dict[str, Any]] = field(default_factory=list)
    setneg_scheduled: bool = False
    verifikasi_id: str | None = None
    keppres_id: str | None = None

    @property
    def version(self) -> int:
        return self.versions[-1].version

    @property
    def current(self) -> Version:
        return self.versions[-1]

    def stage(self, name: str, day: int) -> None:
        self.stages.append((name, day))

    def as_record(self) -> dict[str, Any]:
        v = self.current
        return {
            "id": self.id,
            "version": v.version,
            "updated_at": self.updated_at,
            "created_at": iso_ts(self.created_day, 3600),
            "jenis": self.jenis,
            "kategori_jabatan": self.kategori,
            "nip": self.nip,
            "instansi_id": self.instansi_id,
            "golongan_baru_id": str(self.golongan_baru_id) if self.golongan_baru_id else None,
            "tmt": self.tmt.isoformat(),
            "jenis_kp": self.jenis_kp,
            "status": self.status,
            "dokumen": [d.as_dict() for d in v.dokumen],
        }


@dataclass
class Record:
    """A SIAPP NV verifikasi / keppres / pic record (plain dict payload + sort key)."""

    kind: str
    id: str
    updated_at: str
    data: dict[str, Any]

    def as_record(self) -> dict[str, Any]:
        return {**self.data, "id": self.id, "updated_at": self.updated_at}


class UsulanError(Exception):
    """A request the usulan world refuses (message is safe to return: no personal data)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --------------------------------------------------------------------------- the world


class UsulanWorld:
    """Deterministic usulan world: SIAPP NV records, SIASN's view, and the lifecycle between."""

    def __init__(
        self,
        seed: int,
        employees: EmployeeDirectory,
        *,
        per_day: tuple[int, int] = (2, 4),
        out_of_scope_rate: float = 0.075,
        start_day: int = 0,
    ) -> None:
        self.seed = seed
        self.employees = employees
        self.per_day = per_day
        self.out_of_scope_rate = out_of_scope_rate
        self.day = start_day - 1  # last tick processed
        self._start_day = start_day
        self.usulan: dict[str, Usulan] = {}
        self.records: dict[str, dict[str, Record]] = {"verifikasi": {}, "keppres": {}, "pic": {}}
        self.documents: dict[str, Dokumen] = {}  # SIAPP NV documents by id
        self.siasn_by_id: dict[str, SiasnUsulan] = {}
        self.siasn_docs: dict[str, SiasnDoc] = {}  # by dok_id
        self.siasn_paths: dict[str, str] = {}  # dok_uri → dok_id
        self.siapp_held: list[dict[str, Any]] = []  # inbound documents SIAPP NV holds
        self.received: list[tuple[int, str, dict[str, Any]]] = []  # (day, kind, body)
        self._agenda: dict[int, list[tuple[str, str, int]]] = {}
        self._active_nips: set[str] = set()
        self._sha_index: dict[str, DocSpec] = {}
        self._upload_counts: dict[str, int] = {}
        self._pic_active: list[str] = []
        self._keppres_seq = 0
        self._lock = threading.RLock()
        #: public-API mode: days after its creation an usulan version is entered in SIASN by
        #: the agency (None: never; the hub's F5 POST delivers it)
        self.agency_entry_days: int | None = None

    # ------------------------------------------------------------------ clock

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def sync(self, day: int) -> None:
        """Process every tick up to and including ``day`` (the clock never goes back)."""
        with self._lock:
            while self.day < day:
                self.day += 1
                self._tick(self.day)

    def _tick(self, d: int) -> None:
        for kind, uid, arg in self._agenda.pop(d, []):
            getattr(self, f"_do_{kind}")(d, self.usulan[uid], arg)
        self._generate_usulan(d)
        self._generate_pic(d)
        self._agency_entries(d)

    def _schedule(self, day: int, kind: str, uid: str, arg: int = 0) -> None:
        self._agenda.setdefault(day, []).append((kind, uid, arg))

    def _touch(self, u: Usulan, d: int, tag: str) -> None:
        ts = iso_ts(d, 3600 + _h(self.seed, "ts", u.id, d, tag) % (20 * 3600))
        if u.updated_at and ts <= u.updated_at:
            ts = _bump(u.updated_at)
        u.updated_at = ts

    def _put_record(self, kind: str, rid: str, d: int, data: dict[str, Any]) -> Record:
        prev = self.records[kind].get(rid)
        ts = iso_ts(d, 3600 + _h(self.seed, "ts", kind, rid, d) % (20 * 3600))
        if prev is not None and ts <= prev.updated_at:
            ts = _bump(prev.updated_at)
        rec = Record(kind, rid, ts, data)
        self.records[kind][rid] = rec
        return rec

    # ------------------------------------------------------------------ generation

    def _pick(self, d: int, tag: str, want: str) -> EmployeeProfile | None:
        salt = _h(self.seed, "pick", d, tag)
        return self.employees.pick(d, want, salt, self._active_nips)

    def _generate_usulan(self, d: int) -> None:
        lo, hi = self.per_day
        count = lo + _h(self.seed, "n_usulan", d) % (hi - lo + 1)
        for i in range(count):
            tag = f"{d}-{i}"
            r = _u(self.seed, "kategori", tag)
            kategori = "JPT_UTAMA" if r < 0.15 else "JPT_MADYA" if r < 0.55 else "JF_AHLI_UTAMA"
            r = _u(self.seed, "jenis", tag)
            jenis = "KP" if r < 0.55 else "PEMBERHENTIAN" if r < 0.8 else "PENGANGKATAN"
            want = kategori
            if jenis == "PENGANGKATAN":
                kategori, want = "JF_AHLI_UTAMA", "CALON_JF_AHLI_UTAMA"
            if _u(self.seed, "oos", tag) < self.out_of_scope_rate:
                reason = (OOS_KATEGORI, OOS_PENGANGKATAN_JPT, OOS_GOLONGAN)[
                    _h(self.seed, "oos_reason", tag) % 3
                ]
                if reason == OOS_KATEGORI:
                    kategori = want = "JPT_PRATAMA"
                    jenis = "PEMBERHENTIAN" if jenis == "PENGANGKATAN" else jenis
                elif reason == OOS_PENGANGKATAN_JPT:
                    jenis = "PENGANGKATAN"
                    kategori = want = ("JPT_UTAMA", "JPT_MADYA")[_h(self.seed, "k2", tag) % 2]
                else:
                    want = "LOW"
            profile = self._pick(d, tag, want)
            if profile is None and want in KATEGORI_IN_SCOPE:
                # A small world may have no free employee of that kategori: take another one.
                for alt in KATEGORI_IN_SCOPE:
                    profile = self._pick(d, tag, alt)
                    if profile is not None:
                        kategori = alt
                        break
            if profile is None:
                continue
            if jenis == "KP" and profile.golongan_id >= GOL_MAX:
                jenis = "PEMBERHENTIAN"
            self._create_usulan(d, tag, profile, jenis, kategori)

    def _create_usulan(
        self, d: int, tag: str, p: EmployeeProfile, jenis: str, kategori: str
    ) -> Usulan:
        uid = _uuid(self.seed, "usulan", tag)
        today = day_date(d)
        gol_baru: int | None = None
        jenis_kp: str | None = None
        if jenis == "KP":
            gol_baru = min(p.golongan_id + 1, GOL_MAX)
            jenis_kp = "101" if _u(self.seed, "jkp", uid) < 0.6 else "203"
            tmt = _first_of_month_after(today, 2)
        elif jenis == "PEMBERHENTIAN":
            tmt = _first_of_month_after(today, 3)
        else:
            tmt = _first_of_month_after(today, 1)
        in_scope, reason = scope_verdict(jenis, kategori, p.golongan_id)
        kinds = DOC_KINDS[jenis]
        n_docs = 2 + _h(self.seed, "ndocs", uid) % 3  # 2..4
        chosen = [DOC_PENGANTAR, *kinds][:n_docs]
        docs = [self._new_doc(uid, 1, slot, j, ref) for slot, (j, ref) in enumerate(chosen)]
        u = Usulan(
            id=uid,
            nip=p.nip,
            jenis=jenis,
            kategori=kategori,
            instansi_id=p.instansi_id,
            golongan_asal_id=p.golongan_id,
            golongan_baru_id=gol_baru,
            tmt=tmt,
            jenis_kp=jenis_kp,
            created_day=d,
            in_scope=in_scope,
            scope_reason=reason,
            versions=[Version(1, d, docs)],
        )
        self.usulan[uid] = u
        self._active_nips.add(p.nip)
        self._touch(u, d, "create")
        u.stage("SUBMITTED", d)
        return u

    def _new_doc(self, uid: str, version: int, slot: int, jenis: str, ref: str) -> Dokumen:
        did = _uuid(self.seed, "dok", uid, version, slot)
        size = 50_000 + _h(self.seed, "size", did) % 250_001
        spec = DocSpec(key=f"{self.seed}:siapp:{did}", size=size, title=f"{jenis} {did}")
        doc = Dokumen(did, jenis, ref, spec)
        self.documents[did] = doc
        self._sha_index.setdefault(doc.sha256, spec)
        return doc

    def _generate_pic(self, d: int) -> None:
        if _u(self.seed, "pic_grant", d) < 0.4:
            p = self._pick(d, f"pic-{d}", "ANY")
            if p is not None:
                rid = _uuid(self.seed, "pic", d)
                data = {"version": 1, "nip": p.nip, "instansi_id": p.instansi_id, "aksi": "GRANT"}
                self._put_record("pic", rid, d, data)
                self._pic_active.append(rid)
        if self._pic_active and _u(self.seed, "pic_revoke", d) < 0.15:
            rid = self._pic_active.pop(_h(self.seed, "pic_which", d) % len(self._pic_active))
            old = self.records["pic"][rid]
            data = {**old.data, "version": old.data["version"] + 1, "aksi": "REVOKE"}
            self._put_record("pic", rid, d, data)

    # ------------------------------------------------------------------ BKN (SIASN) transitions

    def _do_bkn_verify(self, d: int, u: Usulan, versi: int) -> None:
        s = u.siasn
        if s is None or s.versi != versi or s.status != "1":
            return
        r = _u(self.seed, "bkn", u.id, versi)
        if not u.in_scope:
            status, alasan = "12", "Usulan di luar cakupan PKS"
        elif versi == 1 and r < 0.12:
            status, alasan = "11", "Berkas tidak sesuai: dokumen perlu diganti"
        elif r > (0.92 if versi == 1 else 0.93):
            status, alasan = "12", "Tidak memenuhi syarat masa kerja"
        else:
            status, alasan = "13", ""
        s.status, s.hasil, s.alasan, s.updated_day = status, HASIL_BY_STATUS[status], alasan, d
        u.stage(HASIL_BY_STATUS[status], d)
        if status == "13":
            self._schedule(d + 1 + _h(self.seed, "pertek_delay", u.id) % 3, "bkn_pertek", u.id)

    def _do_bkn_pertek(self, d: int, u: Usulan, _: int) -> None:
        s = u.siasn
        if s is None or s.status != "13":
            return
        s.status, s.updated_day = "22", d
        s.no_pertek = f"PERTEK-{_h(self.seed, 'nopertek', u.id) % 100000:05d}/KP/{day_date(d).year}"
        s.tgl_pertek = day_date(d)
        s.pertek = self._siasn_generated_doc(u, "pertek", REF_PERTEK, "PERTEK", d)
        u.stage("PERTEK", d)
        if _u(self.seed, "ralat", u.id) < 0.15:
            self._schedule(d + 2, "bkn_ralat", u.id)

    def _do_bkn_ralat(self, d: int, u: Usulan, _: int) -> None:
        s = u.siasn
        if s is None or s.status != "22":
            return
        s.status, s.updated_day = "23", d
        s.no_ralat = f"RALAT-{_h(self.seed, 'noralat', u.id) % 100000:05d}/KP/{day_date(d).year}"
        s.tgl_ralat = day_date(d)
        s.ralat = self._siasn_generated_doc(u, "ralat-pertek", REF_RALAT_PERTEK, "RALAT_PERTEK", d)
        u.stage("RALAT_PERTEK", d)

    def _siasn_generated_doc(self, u: Usulan, folder: str, ref: str, kind: str, d: int) -> SiasnDoc:
        dok_id = _uuid(self.seed, kind, u.id)
        size = 80_000 + _h(self.seed, "size", dok_id) % 120_001
        spec = DocSpec(key=f"{self.seed}:siasn:{dok_id}", size=size, title=f"{kind} {dok_id}")
        path = f"siapp/{folder}/{dok_id.replace('-', '')}.pdf"
        doc = SiasnDoc(
            dok_id, path, ref, spec.sha256, spec.size, d, kind, spec=spec, id_usulan_siapp=u.id
        )
        self._register_siasn_doc(doc)
        self._sha_index.setdefault(doc.sha256, spec)
        return doc

    def _register_siasn_doc(self, doc: SiasnDoc) -> None:
        self.siasn_docs[doc.dok_id] = doc
        self.siasn_paths[doc.dok_uri] = doc.dok_id

    # ------------------------------------------------------------------ SIAPP NV transitions

    def _do_siapp_new_version(self, d: int, u: Usulan, from_version: int) -> None:
        if u.version != from_version:
            return
        cur = u.current
        slot = _h(self.seed, "replace", u.id, from_version) % len(cur.dokumen)
        old = cur.dokumen[slot]
        new = self._new_doc(u.id, from_version + 1, slot, old.jenis, old.id_ref_dokumen)
        docs = [*cur.dokumen[:slot], new, *cur.dokumen[slot + 1 :]]
        u.versions.append(Version(from_version + 1, d, docs, replaced_dokumen_id=old.id))
        u.status = "DIAJUKAN"
        self._touch(u, d, f"v{from_version + 1}")
        u.stage(f"VERSION_{from_version + 1}", d)

    def _do_siapp_status(self, d: int, u: Usulan, code: int) -> None:
        status = {1: "DITOLAK_BKN", 2: "DITOLAK_HUB"}[code]
        if u.status in ("KEPPRES_TERBIT", status):
            return
        u.status = status
        self._touch(u, d, status)
        self._active_nips.discard(u.nip)

    def _do_setneg_verify(self, d: int, u: Usulan, _: int) -> None:
        rid = _uuid(self.seed, "verifikasi", u.id)
        ok = _u(self.seed, "setneg", u.id) < 0.95
        data = {
            "usulan_id": u.id,
            "version": u.version,
            "hasil": "DISETUJUI" if ok else "DITOLAK",
            "catatan": "" if ok else "Tidak disetujui pada sidang TPA",
            "verified_at": iso_ts(d, 2 * 3600),
        }
        self._put_record("verifikasi", rid, d, data)
        u.verifikasi_id = rid
        u.status = "DISETUJUI_SETNEG" if ok else "DITOLAK_SETNEG"
        self._touch(u, d, "setneg")
        u.stage("SETNEG_" + data["hasil"], d)
        if ok:
            self._schedule(d + 2 + _h(self.seed, "keppres_delay", u.id) % 3, "keppres", u.id)
        else:
            self._active_nips.discard(u.nip)

    def _do_keppres(self, d: int, u: Usulan, _: int) -> None:
        self._keppres_seq += 1
        rid = _uuid(self.seed, "keppres", u.id)
        did = _uuid(self.seed, "keppres_dok", u.id)
        size = 60_000 + _h(self.seed, "size", did) % 140_001
        spec = DocSpec(key=f"{self.seed}:siapp:{did}", size=size, title=f"SALINAN_KEPPRES {did}")
        doc = Dokumen(did, "SALINAN_KEPPRES", REF_SK, spec)
        self.documents[did] = doc
        self._sha_index.setdefault(doc.sha256, spec)
        year = day_date(d).year
        suffix = "KP" if u.jenis == "KP" else "TPA"
        data = {
            "usulan_id": u.id,
            "version": 1,
            "nip": u.nip,
            "no_keppres": f"{_h(self.seed, 'nokep', u.id) % 900 + 100}/{suffix} TAHUN {year}",
            "tgl_keppres": day_date(d).isoformat(),
            "tmt": u.tmt.isoformat(),
            "dokumen": {"id": did, "jenis": doc.jenis, "sha256": doc.sha256, "size": doc.size},
        }
        self._put_record("keppres", rid, d, data)
        u.keppres_id = rid
        u.status = "KEPPRES_TERBIT"
        self._touch(u, d, "keppres")
        u.stage("KEPPRES_ISSUED", d)

    # ------------------------------------------------------------------ agency entry (public)

    def _agency_entries(self, d: int) -> None:
        n = self.agency_entry_days
        if n is None:
            return
        for u in sorted(self.usulan.values(), key=lambda x: x.id):
            v = u.current
            if v.created_day + n > d or u.penolakan or u.status != "DIAJUKAN":
                continue
            s = u.siasn
            if s is not None and (v.version in s.received or s.status == "32"):
                continue
            self._agency_enter(d, u, v)

    def _agency_enter(self, d: int, u: Usulan, v: Version) -> None:
        """The agency enters version ``v`` of ``u`` in SIASN, attaching its documents."""
        dok_ids = []
        for doc in v.dokumen:
            dok_id = _uuid(self.seed, "agency-dok", doc.id)
            if dok_id not in self.siasn_docs:
                held = SiasnDoc(
                    dok_id,
                    f"peremajaan/usulan/{dok_id}.pdf",
                    doc.id_ref_dokumen,
                    doc.sha256,
                    doc.size,
                    d,
                    "UPLOAD",
                    spec=doc.spec,
                    nama=f"{doc.jenis}.pdf",
                    id_usulan_siapp=u.id,
                )
                self._register_siasn_doc(held)
            dok_ids.append(dok_id)
        body = {
            "nip": u.nip,
            "jenis_usulan": u.jenis,
            "golongan_baru_id": str(u.golongan_baru_id or ""),
            "tmt": dmy(u.tmt),
        }
        s = self._accept_version(d, u, v.version, body, dok_ids, "agency")
        s.entered_by_agency = True

    # ------------------------------------------------------------------ SIASN receives (F5–F8)

    def siasn_upload(
        self,
        data: bytes,
        id_ref_dokumen: str,
        filename: str,
        *,
        sk_for: str | None = None,
        sk: dict[str, str] | None = None,
    ) -> SiasnDoc:
        """Store an uploaded file (upload-dok / upload-dok-sk-kp) and return its record.

        ``sk`` (``no_sk``, ``tgl_sk`` of upload-dok-sk-kp): for an usulan the agency entered
        (public-API mode) at status 22/23, the SK copy is the decree reaching SIASN."""
        with self._lock:
            u = self._usulan_for_siasn_ref(sk_for) if sk_for else None
            sha = sha256_hex(data)
            n = self._upload_counts.get(sha, 0)
            self._upload_counts[sha] = n + 1
            dok_id = _uuid(self.seed, "upload", sha, id_ref_dokumen, sk_for or "", n)
            folder = "sk-kp" if sk_for else "usulan"
            path = f"peremajaan/{folder}/{dok_id}.pdf"
            spec = self._known_spec(sha)
            doc = SiasnDoc(
                dok_id,
                path,
                id_ref_dokumen,
                sha,
                len(data),
                self.day,
                "SK" if sk_for else "UPLOAD",
                spec=spec,
                raw=None if spec is not None else bytes(data),
                nama=_safe_name(filename),
            )
            self._register_siasn_doc(doc)
            if u is not None:
                doc.id_usulan_siapp = u.id
                assert u.siasn is not None
                u.siasn.sk_docs.append(doc)
                s = u.siasn
                if sk is not None and s.entered_by_agency and s.status in ("22", "23"):
                    keppres = {"no_keppres": sk.get("no_sk", ""), "tgl_keppres": sk.get("tgl_sk")}
                    self._decree(self.day, u, s, {**keppres, "via": "upload-dok-sk-kp"}, u.tmt)
            self.received.append(
                (self.day, "siasn.upload", {"dok_id": dok_id, "sha256": sha, "sk_for": sk_for})
            )
            return doc

    def _known_spec(self, sha: str) -> DocSpec | None:
        return self._sha_index.get(sha)

    def _usulan_for_siasn_ref(self, ref: str) -> Usulan:
        s = self.siasn_by_id.get(ref)
        u = self.usulan.get(s.id_usulan_siapp) if s is not None else self.usulan.get(ref)
        if u is None or u.siasn is None:
            raise UsulanError("id_usulan tidak ditemukan")
        return u

    def siasn_receive_usulan(self, body: dict[str, Any]) -> dict[str, Any]:
        """F5: SIASN receives a usulan version (validated body) → ``{"id", "status"}``."""
        with self._lock:
            uid = str(body["id_usulan_siapp"])
            u = self.usulan.get(uid)
            if u is None:
                raise UsulanError("id_usulan_siapp tidak dikenal")
            try:
                versi = int(str(body["versi"]))
            except ValueError as exc:
                raise UsulanError("versi harus bilangan bulat") from exc
            if self.employees.profile(str(body["nip"]), self.day) is None:
                raise UsulanError("nip tidak ditemukan")
            docs = body.get("dokumen") or []
            if not isinstance(docs, list) or not docs:
                raise UsulanError("dokumen wajib diisi")
            for item in docs:
                if not isinstance(item, dict) or not item.get("dok_id"):
                    raise UsulanError("dokumen.dok_id wajib diisi")
                held = self.siasn_docs.get(str(item["dok_id"]))
                if held is None or held.kind != "UPLOAD":
                    raise UsulanError(f"dok_id {item['dok_id']} tidak ditemukan")
                if item.get("sha256") and str(item["sha256"]).lower() != held.sha256:
                    raise UsulanError(f"sha256 dokumen {item['dok_id']} tidak sesuai")
            s = u.siasn
            if s is not None and versi < s.versi:
                raise UsulanError("versi usulan lebih lama dari yang sudah diterima", 409)
            dok_ids = [str(item["dok_id"]) for item in docs]
            s = self._accept_version(self.day, u, versi, body, dok_ids, "hub")
            return {"id": s.id, "status": "diterima"}

    def _accept_version(
        self, d: int, u: Usulan, versi: int, body: dict[str, Any], dok_ids: list[str], via: str
    ) -> SiasnUsulan:
        """SIASN takes version ``versi`` of ``u`` (from the hub's F5 POST, ``via="hub"``, or the
        agency's entry, ``via="agency"``): status 1 today, verification tomorrow."""
        uid = u.id
        s = u.siasn
        if s is None:
            s = SiasnUsulan(
                id=_guid(self.seed, "siasn", uid),
                id_usulan_siapp=uid,
                nip=str(body["nip"]),
                jenis_usulan=str(body["jenis_usulan"]),
                versi=versi,
                status="1",
                updated_day=d,
            )
            u.siasn = s
            self.siasn_by_id[s.id] = s
        kind = "siasn.usulan" if via == "hub" else "siasn.agency-entry"
        self.received.append((d, kind, {"id": uid, "versi": versi}))
        if versi in s.received:
            return s
        for dok_id in dok_ids:
            self.siasn_docs[dok_id].id_usulan_siapp = uid
        s.received[versi] = {
            "day": d,
            "dok_ids": list(dok_ids),
            "body_sha256": sorted(self.siasn_docs[x].sha256 for x in dok_ids),
            "golongan_baru_id": str(body.get("golongan_baru_id") or ""),
            "tmt": str(body.get("tmt") or ""),
        }
        if s.status == "32":
            return s
        s.versi, s.status, s.updated_day = versi, "1", d
        s.hasil = s.alasan = ""
        u.stage(f"{'DELIVERED' if via == 'hub' else 'ENTERED'}_V{versi}", d)
        self._schedule(d + 1, "bkn_verify", uid, versi)
        return s

    def siasn_receive_verifikasi(self, body: dict[str, Any]) -> dict[str, Any]:
        """F6: SIASN receives Setneg's verification result."""
        with self._lock:
            u = self._usulan_for_siasn_ref(str(body["id_usulan_siapp"]))
            assert u.siasn is not None
            u.siasn.verifikasi_setneg.append({"day": self.day, **_plain(body)})
            self.received.append(
                (self.day, "siasn.verifikasi", {"id": str(body["id_verifikasi_siapp"])})
            )
            u.stage("VERIFIKASI_DELIVERED", self.day)
            return {
                "id": _guid(self.seed, "siasn-ver", body["id_verifikasi_siapp"]),
                "status": "diterima",
            }

    def siasn_receive_keppres(self, body: dict[str, Any]) -> dict[str, Any]:
        """F7: SIASN receives a Keppres → status 32; KP promotes the employee."""
        with self._lock:
            u = self._usulan_for_siasn_ref(str(body["id_usulan_siapp"]))
            s = u.siasn
            assert s is not None
            if s.status not in ("22", "23", "32"):
                raise UsulanError("usulan belum memiliki pertek")
            if str(body["nip"]) != s.nip:
                raise UsulanError("nip tidak sesuai dengan usulan")
            dok = body.get("dokumen")
            if not isinstance(dok, dict) or not dok.get("dok_id"):
                raise UsulanError("dokumen.dok_id wajib diisi")
            held = self.siasn_docs.get(str(dok["dok_id"]))
            if held is None:
                raise UsulanError(f"dok_id {dok['dok_id']} tidak ditemukan")
            if dok.get("sha256") and str(dok["sha256"]).lower() != held.sha256:
                raise UsulanError(f"sha256 dokumen {dok['dok_id']} tidak sesuai")
            tmt = parse_dmy(str(body["tmt"]))
            if tmt is None:
                raise UsulanError("tmt harus dd-mm-yyyy")
            d = self.day
            self.received.append((d, "siasn.keppres", {"id": str(body["id_keppres_siapp"])}))
            rid = _guid(self.seed, "siasn-kep", body["id_keppres_siapp"])
            if s.status == "32":
                return {"id": rid, "status": "diterima"}
            held.id_usulan_siapp = u.id
            if held not in s.sk_docs:
                s.sk_docs.append(held)
            self._decree(d, u, s, _plain(body), tmt)
            return {"id": rid, "status": "diterima"}

    def _decree(
        self, d: int, u: Usulan, s: SiasnUsulan, keppres: dict[str, Any], tmt: date
    ) -> None:
        """The Keppres reached SIASN (F7 POST, or the SK upload of an agency-entered usulan):
        status 32 today and its effect on the employee."""
        s.keppres = {"day": d, **keppres}
        s.status, s.updated_day = "32", d
        u.stage("KEPPRES_DELIVERED", d)
        self._active_nips.discard(u.nip)
        ref = str(keppres["no_keppres"])
        # fault knob keppres_withhold_rate / keppres_withhold (common.Faults; decided by
        # World.withholds_keppres): SIASN accepts the decree but leaves the employee as is
        withholds = getattr(getattr(self.employees, "world", None), "withholds_keppres", None)
        if withholds is not None and withholds(u.id, u.jenis, d):
            u.stage("KEPPRES_WITHHELD", d)
        elif u.jenis == "KP" and u.golongan_baru_id:
            sent = str(s.received.get(s.versi, {}).get("golongan_baru_id") or "")
            gol = int(sent) if sent.isdigit() and GOL_MIN < int(sent) <= GOL_MAX else 0
            self.employees.promote(u.nip, d, gol or u.golongan_baru_id, tmt, ref)
            u.stage("GOLONGAN_PROMOTED", d)
        elif u.jenis == "PEMBERHENTIAN":
            self.employees.dismiss(u.nip, d, tmt, ref)
            u.stage("DISMISSED", d)
        elif u.jenis == "PENGANGKATAN":
            self.employees.appoint(u.nip, d, u.kategori, tmt, ref)
            u.stage("APPOINTED", d)

    def siasn_receive_pic(self, body: dict[str, Any]) -> dict[str, Any]:
        """F8: SIASN receives a PIC grant/revoke."""
        with self._lock:
            rid = str(body["id_pic_siapp"])
            self.received.append(
                (self.day, "siasn.pic", {"id": rid, "aksi": str(body.get("aksi", ""))})
            )
            return {
                "id": _guid(self.seed, "siasn-pic", rid, body.get("aksi")),
                "status": "diterima",
            }

    # ------------------------------------------------------------------ SIAPP NV receives (F3/F4)

    def _siapp_usulan(self, uid: str) -> Usulan:
        u = self.usulan.get(uid)
        if u is None:
            raise UsulanError("usulan tidak dikenal", 404)
        return u

    def siapp_receive_status(self, body: dict[str, Any]) -> str:
        """F3: SIAPP NV receives a BKN status; BTS of the current version → new version later."""
        with self._lock:
            u = self._siapp_usulan(str(body["usulan_id"]))
            d = self.day
            code = str(body.get("status_bkn") or "")
            hasil = str(body.get("hasil_verifikasi") or HASIL_BY_STATUS.get(code, "")).upper()
            try:
                version = int(body.get("version") or u.version)
            except (TypeError, ValueError) as exc:
                raise UsulanError("version must be an integer", 422) from exc
            iid = _uuid(self.seed, "inbound-status", u.id, len(u.status_received))
            u.status_received.append({"day": d, "status_bkn": code, "hasil": hasil, "v": version})
            self.received.append((d, "siapp.status", {"usulan_id": u.id, "status_bkn": code}))
            if hasil == "BTS" and version == u.version and version not in u.bts_handled:
                u.bts_handled.add(version)
                delay = 2 + _h(self.seed, "bts_delay", u.id, version) % 2
                self._schedule(d + delay, "siapp_new_version", u.id, version)
            elif hasil == "TMS":
                self._schedule(d + 1, "siapp_status", u.id, 1)
            return iid

    def siapp_receive_pertek(self, meta: dict[str, Any], data: bytes, *, ralat: bool) -> str:
        """F4: SIAPP NV receives a pertek (or ralat pertek) PDF with its metadata."""
        with self._lock:
            u = self._siapp_usulan(str(meta["usulan_id"]))
            d = self.day
            sha = sha256_hex(data)
            s = u.siasn
            expected = None
            if s is not None:
                src = s.ralat if ralat else s.pertek
                expected = src.sha256 if src is not None else None
            kind = "RALAT_PERTEK" if ralat else "PERTEK"
            lst = u.ralat_received if ralat else u.pertek_received
            iid = _uuid(self.seed, "inbound", kind, u.id, len(lst))
            entry = {
                "id": iid,
                "day": d,
                "usulan_id": u.id,
                "kind": kind,
                "sha256": sha,
                "size": len(data),
                "expected_sha256": expected,
                "ok": expected is not None and sha == expected,
                "nomor": str(meta.get("no_ralat_pertek" if ralat else "no_pertek") or ""),
            }
            lst.append(entry)
            self.siapp_held.append(entry)
            self.received.append((d, f"siapp.{kind.lower()}", {"usulan_id": u.id, "sha256": sha}))
            if entry["ok"] and not ralat and not u.setneg_scheduled:
                u.setneg_scheduled = True
                u.stage("PERTEK_DELIVERED", d)
                self._schedule(d + 1, "setneg_verify", u.id)
            elif entry["ok"] and ralat:
                u.stage("RALAT_DELIVERED", d)
            return iid

    def siapp_receive_penolakan(self, body: dict[str, Any]) -> str:
        """SIAPP NV learns that the hub refused a usulan (scope check)."""
        with self._lock:
            u = self._siapp_usulan(str(body["usulan_id"]))
            d = self.day
            iid = _uuid(self.seed, "penolakan", u.id, len(u.penolakan))
            u.penolakan.append({"day": d, "alasan": str(body.get("alasan_kode") or "")})
            self.received.append((d, "siapp.penolakan", {"usulan_id": u.id}))
            if not u.penolakan[:-1]:
                u.stage("REFUSED_BY_HUB", d)
                self._schedule(d + 1, "siapp_status", u.id, 2)
            return iid

    # ------------------------------------------------------------------ reads

    def siapp_list(self, kind: str) -> list[dict[str, Any]]:
        """SIAPP NV records of ``kind`` (usulan, verifikasi, keppres, pic) by (updated_at, id)."""
        with self._lock:
            if kind == "usulan":
                rows = [u.as_record() for u in self.usulan.values()]
            else:
                rows = [r.as_record() for r in self.records[kind].values()]
        rows.sort(key=lambda r: (r["updated_at"], r["id"]))
        return rows

    def siapp_document(self, doc_id: str) -> Dokumen | None:
        """A SIAPP NV document by id (usulan documents of every version, Keppres copies)."""
        return self.documents.get(doc_id)

    def siasn_status_rows(self) -> list[dict[str, Any]]:
        """Rows of SIASN's status-usulan list (modelled on list-kp-instansi), by (updated, id)."""
        with self._lock:
            rows = [self._status_row(s) for s in self.siasn_by_id.values()]
        rows.sort(key=lambda r: (r["_day"], r["id"]))
        return rows

    def _status_row(self, s: SiasnUsulan) -> dict[str, Any]:
        quirk = _h(self.seed, "quirk", s.id)

        def path(doc: SiasnDoc | None) -> Any:
            if doc is None:
                return ""
            return {"": doc.dok_uri} if quirk % 2 == 0 else doc.dok_uri

        def tgl(d: date | None) -> str:
            if d is None:
                return "01-01-0001" if quirk % 3 == 0 else ""
            return dmy(d)

        return {
            "id": s.id,
            "id_usulan_siapp": s.id_usulan_siapp,
            "nipBaru": s.nip,
            "jenis_usulan": s.jenis_usulan,
            "versi": str(s.versi),
            "statusUsulan": s.status,
            "statusUsulanNama": STATUS_NAMA[s.status],
            "hasil_verifikasi": s.hasil,
            "alasan": s.alasan,
            "no_pertek": s.no_pertek,
            "tgl_pertek": tgl(s.tgl_pertek),
            "path_ttd_pertek": path(s.pertek),
            "no_ralat_pertek": s.no_ralat,
            "tgl_ralat_pertek": tgl(s.tgl_ralat),
            "path_ralat_pertek": path(s.ralat),
            "updated": dmy(day_date(s.updated_day)),
            "_day": s.updated_day,
        }

    def siasn_documents(self, ref: str | None = None) -> list[dict[str, Any]]:
        """Documents SIASN holds for SIAPP usulan (attached uploads, SK, pertek, ralat)."""
        with self._lock:
            if ref:
                s = self.siasn_by_id.get(ref)
                if s is None:
                    u = self.usulan.get(ref)
                    s = u.siasn if u is not None else None
                targets = [s] if s is not None else []
            else:
                targets = sorted(self.siasn_by_id.values(), key=lambda x: x.id_usulan_siapp)
            out: list[dict[str, Any]] = []
            for s in targets:
                for doc in self._held_by(s):
                    out.append(
                        {
                            "dok_id": doc.dok_id,
                            "dok_uri": doc.dok_uri,
                            "id_ref_dokumen": doc.id_ref_dokumen,
                            "id_usulan_siapp": s.id_usulan_siapp,
                            "jenis": doc.kind,
                            "sha256": doc.sha256,
                            "size": str(doc.size),
                        }
                    )
            return out

    def _held_by(self, s: SiasnUsulan) -> list[SiasnDoc]:
        seen: dict[str, SiasnDoc] = {}
        for versi in sorted(s.received):
            for dok_id in s.received[versi]["dok_ids"]:
                seen.setdefault(dok_id, self.siasn_docs[dok_id])
        for doc in (*s.sk_docs, s.pertek, s.ralat):
            if doc is not None:
                seen.setdefault(doc.dok_id, doc)
        return list(seen.values())

    def siasn_file(self, path: str) -> SiasnDoc | None:
        """A file SIASN serves at download-dok (pertek, ralat pertek, uploads)."""
        with self._lock:
            dok_id = self.siasn_paths.get(path.lstrip("/"))
            return self.siasn_docs.get(dok_id) if dok_id else None

    # ------------------------------------------------------------------ truth

    def truth_usulan(self) -> list[dict[str, Any]]:
        """Ground truth of every usulan: versions, scope verdict, lifecycle stages."""
        with self._lock:
            out = []
            for u in sorted(self.usulan.values(), key=lambda x: (x.created_day, x.id)):
                s = u.siasn
                out.append(
                    {
                        "id": u.id,
                        "nip": u.nip,
                        "jenis": u.jenis,
                        "kategori_jabatan": u.kategori,
                        "golongan_asal_id": str(u.golongan_asal_id),
                        "golongan_baru_id": str(u.golongan_baru_id or ""),
                        "in_scope": u.in_scope,
                        "scope_reason": u.scope_reason,
                        "created_day": u.created_day,
                        "siapp_status": u.status,
                        "updated_at": u.updated_at,
                        "stage": u.stages[-1][0],
                        "stages": [
                            {"stage": n, "day": d, "date": day_date(d).isoformat()}
                            for n, d in u.stages
                        ],
                        "versions": [
                            {
                                "version": v.version,
                                "created_day": v.created_day,
                                "replaced_dokumen_id": v.replaced_dokumen_id,
                                "dokumen": [x.as_dict() for x in v.dokumen],
                                "delivered_day": (s.received[v.version]["day"])
                                if s and v.version in s.received
                                else None,
                                "delivered_matches": (
                                    s.received[v.version]["body_sha256"]
                                    == sorted(x.sha256 for x in v.dokumen)
                                )
                                if s and v.version in s.received
                                else None,
                            }
                            for v in u.versions
                        ],
                        "siasn": None
                        if s is None
                        else {
                            "id": s.id,
                            "versi": s.versi,
                            "statusUsulan": s.status,
                            "hasil_verifikasi": s.hasil,
                            "no_pertek": s.no_pertek,
                            "pertek_sha256": s.pertek.sha256 if s.pertek else None,
                            "ralat_sha256": s.ralat.sha256 if s.ralat else None,
                            "verifikasi_setneg_received": len(s.verifikasi_setneg),
                            "keppres_received": s.keppres is not None,
                            "entered_by_agency": s.entered_by_agency,
                        },
                        "verifikasi_id": u.verifikasi_id,
                        "keppres_id": u.keppres_id,
                        "penolakan_received": len(u.penolakan),
                    }
                )
            return out

    def truth_documents(self) -> dict[str, Any]:
        """Documents each side holds, with sha256 (and whether it matches the source)."""
        with self._lock:
            siapp: list[dict[str, Any]] = []
            for u in sorted(self.usulan.values(), key=lambda x: (x.created_day, x.id)):
                seen: set[str] = set()
                docs = [(v.version, d) for v in u.versions for d in v.dokumen]
                if u.keppres_id:
                    kd = self.records["keppres"][u.keppres_id].data["dokumen"]["id"]
                    docs.append((0, self.documents[kd]))
                for version, d in docs:
                    if d.id in seen:
                        continue
                    seen.add(d.id)
                    siapp.append(
                        {
                            "owner": "SIAPP",
                            "source": "SIAPP",
                            "dok_id": d.id,
                            "jenis": d.jenis,
                            "usulan_id": u.id,
                            "first_version": version or None,
                            "sha256": d.sha256,
                            "size": d.size,
                        }
                    )
            siapp += [
                {
                    "owner": "SIAPP",
                    "source": "INBOUND",
                    "dok_id": e["id"],
                    "jenis": e["kind"],
                    "usulan_id": e["usulan_id"],
                    "sha256": e["sha256"],
                    "size": e["size"],
                    "expected_sha256": e["expected_sha256"],
                    "ok": e["ok"],
                }
                for e in self.siapp_held
            ]
            siasn = []
            for s in self.siasn_by_id.values():
                for doc in self._held_by(s):
                    siasn.append(
                        {
                            "owner": "SIASN",
                            "kind": doc.kind,
                            "dok_id": doc.dok_id,
                            "dok_uri": doc.dok_uri,
                            "usulan_id": s.id_usulan_siapp,
                            "sha256": doc.sha256,
                            "size": doc.size,
                            "known_source": doc.spec is not None,
                        }
                    )
            return {"siapp": siapp, "siasn": siasn}

    def truth_out_of_scope(self) -> list[dict[str, Any]]:
        """Every out-of-scope usulan, whether it reached SIASN and whether the hub refused it."""
        with self._lock:
            return [
                {
                    "id": u.id,
                    "jenis": u.jenis,
                    "kategori_jabatan": u.kategori,
                    "golongan_asal_id": str(u.golongan_asal_id),
                    "reason": u.scope_reason,
                    "created_day": u.created_day,
                    "delivered_to_siasn": u.siasn is not None,
                    "penolakan_received": bool(u.penolakan),
                }
                for u in sorted(self.usulan.values(), key=lambda x: (x.created_day, x.id))
                if not u.in_scope
            ]

    def digest(self) -> str:
        """A hash over the whole observable state (for determinism checks)."""
        parts: list[str] = []
        for kind in ("usulan", "verifikasi", "keppres", "pic"):
            parts.extend(repr(sorted(r.items())) for r in self.siapp_list(kind))
        parts.extend(repr(sorted(r.items())) for r in self.siasn_status_rows())
        parts.append(repr(self.truth_usulan()))
        return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- small helpers


def _bump(ts: str) -> str:
    """``ts`` plus one second (ISO, same day clamp)."""
    day = (date.fromisoformat(ts[:10]) - EPOCH).days
    hh, mm, ss = (int(x) for x in ts[11:19].split(":"))
    return iso_ts(day, hh * 3600 + mm * 60 + ss + 1)


def _safe_name(name: str) -> str:
    return "".join(ch for ch in (name or "dokumen.pdf") if ch.isalnum() or ch in "._-")[:100]


def _plain(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if isinstance(v, str | int | float | bool) or v is None}


# --------------------------------------------------------------------------- sandbox wiring


def attach(state: Any) -> UsulanWorld:
    """The usulan world of a sandbox state (created once, stored in ``state.ext["usulan"]``).

    Registers ``/_sandbox/truth/usulan``, ``/truth/documents`` and ``/truth/out-of-scope`` and a
    clock hook so ticks are processed when the clock advances. ``state`` is a
    :class:`~.common.SandboxState`; its world supplies the employees and the seed.
    """
    existing = state.ext.get("usulan")
    if existing is not None:
        return existing
    w = UsulanWorld(int(state.world.seed), WorldDirectory(state.world))
    state.ext["usulan"] = w
    w.sync(state.day)

    def on_advance(st: Any, _old: int, new: int) -> None:
        w.sync(new)

    def clock_fields() -> dict[str, Any]:
        return {"day": state.day, "date": day_date(state.day).isoformat()}

    def truth_usulan(q: dict[str, str]) -> dict[str, Any]:
        w.sync(state.day)
        rows = w.truth_usulan()
        if q.get("id"):
            rows = [r for r in rows if r["id"] == q["id"]]
        if q.get("stage"):
            rows = [r for r in rows if r["stage"] == q["stage"]]
        return {**clock_fields(), "count": len(rows), "usulan": rows}

    def truth_documents(q: dict[str, str]) -> dict[str, Any]:
        w.sync(state.day)
        docs = w.truth_documents()
        if q.get("usulan_id"):
            uid = q["usulan_id"]
            docs = {side: [d for d in rows if d["usulan_id"] == uid] for side, rows in docs.items()}
        return {**clock_fields(), **docs}

    def truth_oos(_q: dict[str, str]) -> dict[str, Any]:
        w.sync(state.day)
        rows = w.truth_out_of_scope()
        return {**clock_fields(), "count": len(rows), "usulan": rows}

    state.on_advance(on_advance)
    state.register_truth("usulan", truth_usulan)
    state.register_truth("documents", truth_documents)
    state.register_truth("out-of-scope", truth_oos)
    return w
