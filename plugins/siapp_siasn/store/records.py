"""Plain records the store takes and returns (no ORM, no pydantic: the flows map to these)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from siapp_siasn.store.tables import ASN_TYPED_COLUMNS, FAMILY_RELATIONS

_DATE_FIELDS = (
    "tgl_lahir",
    "tmt_jabatan",
    "tmt_gol_akhir",
    "tmt_cpns",
    "tmt_pns",
    "tmt_pensiun",
    "source_updated",
)
_INT_FIELDS = ("bup_pensiun", "mk_tahun", "mk_bulan", "jumlah_anak")
_FAMILY_DATE_FIELDS = ("tgl_lahir", "tgl_menikah", "tgl_cerai")


def _coerce_date(name: str, value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"field {name}: not an ISO date") from None
    raise TypeError(f"field {name}: expected a date, got {type(value).__name__}")


def _coerce_int(name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"field {name}: not an integer") from None
    raise TypeError(f"field {name}: expected an integer, got {type(value).__name__}")


@dataclass(slots=True)
class FamilyMember:
    """One family member of an employee (``relation``: pasangan, anak, ayah or ibu)."""

    relation: str
    member_id: str | None = None
    nama: str | None = None
    tgl_lahir: dt.date | None = None
    jenis_kelamin: str | None = None
    #: statusHidup (served for spouses only)
    status_hidup: str | None = None
    #: statusNikah for a spouse, jenisAnak for a child
    status_hubungan: str | None = None
    tgl_menikah: dt.date | None = None
    tgl_cerai: dt.date | None = None
    #: a child's other parent: the one of ayahId / ibuId that is not the employee
    orang_tua_id: str | None = None
    #: the member's object as SIASN sent it (a spouse: its ``listPasangan`` entry)
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in _FAMILY_DATE_FIELDS:
            value = getattr(self, name)
            if value is not None and type(value) is not dt.date:
                setattr(self, name, _coerce_date(name, value))
        if self.payload is None:
            self.payload = {}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FamilyMember:
        """Build from a dict with the same keys; unknown keys are an error (names only)."""
        unknown = sorted(set(data) - _FAMILY_FIELDS)
        if unknown:
            raise ValueError(f"unknown family member fields: {', '.join(unknown)}")
        return cls(**data)

    def is_valid_relation(self) -> bool:
        return self.relation in FAMILY_RELATIONS


@dataclass(slots=True)
class AsnRow:
    """One employee's data-utama as the store keeps it.

    ``payload`` is data-utama as SIASN sent it (every field, typed or not, kept).
    ``record_hash`` decides SCD2:
    a new history version is written only when it changes. ``family`` is the complete list
    of family members, or None when the family was not fetched (then the stored family and
    ``family_hash`` are left alone). Family rows are replaced only when ``family_hash``
    changes.
    """

    nip: str
    record_hash: str
    payload: dict[str, Any] = field(default_factory=dict)
    family_hash: str | None = None
    family: list[FamilyMember] | None = None
    pns_id: str | None = None
    nip_lama: str | None = None
    nama: str | None = None
    gelar_depan: str | None = None
    gelar_belakang: str | None = None
    tempat_lahir: str | None = None
    tgl_lahir: dt.date | None = None
    jenis_kelamin: str | None = None
    agama_id: str | None = None
    jenis_pegawai_id: str | None = None
    kedudukan_pns_id: str | None = None
    status_pegawai: str | None = None
    instansi_induk_id: str | None = None
    instansi_induk_nama: str | None = None
    instansi_kerja_id: str | None = None
    satuan_kerja_id: str | None = None
    unor_id: str | None = None
    unor_nama: str | None = None
    jenis_jabatan_id: str | None = None
    jabatan_nama: str | None = None
    jabatan_fungsional_id: str | None = None
    jabatan_fungsional_nama: str | None = None
    eselon_id: str | None = None
    tmt_jabatan: dt.date | None = None
    gol_ruang_awal_id: str | None = None
    gol_ruang_akhir_id: str | None = None
    pangkat_akhir: str | None = None
    tmt_gol_akhir: dt.date | None = None
    tmt_cpns: dt.date | None = None
    tmt_pns: dt.date | None = None
    tmt_pensiun: dt.date | None = None
    bup_pensiun: int | None = None
    mk_tahun: int | None = None
    mk_bulan: int | None = None
    pendidikan_terakhir_id: str | None = None
    tk_pendidikan_terakhir_id: str | None = None
    jenis_kawin_id: str | None = None
    jumlah_anak: int | None = None
    lokasi_kerja_id: str | None = None
    #: the ``updated`` day the PKS enumeration listed for this employee (not hashed, no
    #: history): lets an incremental run skip employees it already holds at that day
    source_updated: dt.date | None = None

    def __post_init__(self) -> None:
        """Normalise: ISO date strings to dates, integer strings to ints, dict members to
        :class:`FamilyMember` (errors name the field, never the value)."""
        for name in _DATE_FIELDS:
            value = getattr(self, name)
            if value is not None and type(value) is not dt.date:
                setattr(self, name, _coerce_date(name, value))
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if value is not None and type(value) is not int:
                setattr(self, name, _coerce_int(name, value))
        if self.payload is None:
            self.payload = {}
        if self.family is not None:
            self.family = [
                m if isinstance(m, FamilyMember) else FamilyMember.from_mapping(m)
                for m in self.family
            ]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AsnRow:
        """Build from a dict keyed like the columns (plus payload, hashes and ``family``).

        ISO date strings and integer strings are converted; unknown keys are an error (the
        message names the keys, never the values).
        """
        unknown = sorted(set(data) - _ASN_ROW_FIELDS)
        if unknown:
            raise ValueError(f"unknown ASN row fields: {', '.join(unknown)}")
        return cls(**data)

    def typed_values(self) -> dict[str, Any]:
        """The typed data-utama columns (without ``nip``)."""
        return {name: getattr(self, name) for name in ASN_TYPED_COLUMNS}


_ASN_ROW_FIELDS = frozenset(f.name for f in dataclasses.fields(AsnRow))
_FAMILY_FIELDS = frozenset(f.name for f in dataclasses.fields(FamilyMember))
_missing = set(ASN_TYPED_COLUMNS) - _ASN_ROW_FIELDS
assert not _missing, f"AsnRow lacks typed columns: {sorted(_missing)}"


def numbered_family(row: AsnRow) -> Iterator[tuple[str, int, FamilyMember]]:
    """The row's family members with their 1-based ordinal within each relation."""
    counters: dict[str, int] = {}
    for member in row.family or ():
        n = counters.get(member.relation, 0) + 1
        counters[member.relation] = n
        yield member.relation, n, member


def as_asn_row(row: AsnRow | Mapping[str, Any]) -> AsnRow:
    """Accept an AsnRow or a mapping of the same fields."""
    return row if isinstance(row, AsnRow) else AsnRow.from_mapping(row)


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What one ``store.asn.apply_batch`` call did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    history_rows: int = 0
    family_replaced: int = 0
    duplicates: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self))
        )


@dataclass(frozen=True, slots=True)
class RefCounts:
    """What one ``store.referensi.upsert`` call did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class DepartureCounts:
    """What one ``store.asn.mark_departed`` call did."""

    departed: int = 0
    already_inactive: int = 0
    unknown: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a step of a run got to (resume from ``batch_no + 1``)."""

    run_key: str
    step: str
    batch_no: int
    state: Any
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    """A record that failed validation. ``key`` is stored only as a keyed hash and
    ``payload`` only redacted; ``detail`` must not contain values (field names are fine)."""

    flow: str
    entity_kind: str
    key: str
    reason: str
    payload: Any = None
    detail: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownReference:
    """An id used by active ``asn`` rows that the reference table does not hold."""

    column: str
    ref: str
    id: str
    rows: int


# ---------------------------------------------------------------------- proposal traffic

#: Statuses an item may be enqueued with (the others are reached through the store's API).
ENQUEUE_STATUSES = ("pending", "rejected")

_OUTBOX_LIMITS = (("flow", 32), ("entity_id", 128), ("version_hash", 64), ("idempotency_key", 255))


def outbox_key(flow: str, entity_id: str, version_hash: str) -> str:
    """The Idempotency-Key of one usulan version in one flow: ``flow:entity_id:version_hash``."""
    return f"{flow}:{entity_id}:{version_hash}"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message to send (F3-F8 or ``penolakan``), keyed by its Idempotency-Key.

    ``payload`` is what to send (it may hold personal data: it stays in the store). An item
    enqueued as ``rejected`` (out of scope) is kept for audit and never sent; ``reason`` says
    why, as a code or template text, never a value. Errors name fields, never values.
    """

    flow: str
    entity_id: str
    version_hash: str
    idempotency_key: str
    payload: dict[str, Any]
    status: str = "pending"
    reason: str | None = None

    def __post_init__(self) -> None:
        for name, limit in _OUTBOX_LIMITS:
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"outbox item: {name} must be a non-empty string")
            if len(value) > limit:
                raise ValueError(f"outbox item: {name} longer than {limit} characters")
        if not isinstance(self.payload, Mapping):
            raise TypeError(
                f"outbox item: payload must be a mapping, not {type(self.payload).__name__}"
            )
        if self.status not in ENQUEUE_STATUSES:
            raise ValueError(f"outbox item: status must be one of {', '.join(ENQUEUE_STATUSES)}")
        if self.reason is not None and len(self.reason) > 255:
            raise ValueError("outbox item: reason longer than 255 characters")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored outbox row (what ``store.outbox.due`` and ``store.outbox.list`` return).

    ``attempts`` counts failed delivery attempts (``mark_sent`` leaves it alone).
    """

    id: int
    flow: str
    entity_id: str
    version_hash: str
    idempotency_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    sent_at: dt.datetime | None
    response: dict[str, Any] | None
    created_at: dt.datetime
    reason: str | None = None
    updated_at: dt.datetime | None = None
