"""From validated SIASN payloads (models/) to the store's plain rows (store/).

The models parse every quirk; this module only maps typed values onto store columns and decides
what a record means for the mirror (in scope, departed, quarantined).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.nik import NikKey, is_token, nik_values, pseudonymise
from siapp_siasn.models.pks import PksAsnRow
from siapp_siasn.models.record import AsnRecord, validate_asn_record
from siapp_siasn.models.record import FamilyMember as ModelFamilyMember
from siapp_siasn.store.asn import Rekey
from siapp_siasn.store.records import AsnRow, FamilyMember, QuarantineItem

MIN_GOLONGAN = 42  # IV/b: the agreement's scope for F1
#: Cap on field names one report carries (unknown fields, absent fields): a payload with
#: 100,000 unknown keys must not put them into lineage, XCom or Asset events.
UNKNOWN_NAMES_MAX = 50
MISSING_NAMES_MAX = 20
DEPARTURE_KEDUDUKAN: dict[str, str] = {"66": "diberhentikan", "77": "wafat", "99": "pensiun"}

# AsnRecord field -> store column, where the names differ
_RENAMED = {"id": "pns_id", "satuan_kerja_kerja_id": "satuan_kerja_id"}
_STORE_COLUMNS = frozenset(AsnRow.__dataclass_fields__) - {
    "nip",
    "record_hash",
    "payload",
    "family_hash",
    "family",
}


@dataclass(frozen=True, slots=True)
class EnumeratedAsn:
    nip: str
    updated: str | None  # ISO date
    gol_ruang_akhir_id: int | None
    kedudukan_pns_id: str | None


@dataclass(slots=True)
class EmployeeRecord:
    """One validated employee: the store row and what it means for the mirror."""

    row: AsnRow
    departure_reason: str | None  # set when the employee left the scope or the service
    #: at most ``UNKNOWN_NAMES_MAX`` unknown field names (sorted) ...
    unknown_fields: list[str]
    #: ... and how many there were in all
    unknown_field_count: int = 0
    #: the older forms the store may hold this employee under (previous key, clear NIK)
    rekey: Rekey | None = field(default=None, repr=False)


def parse_enumeration_row(raw: Any) -> tuple[EnumeratedAsn | None, str | None]:
    """A PKS enumeration row, or a redaction-safe reason."""
    model, reason = validate_payload(PksAsnRow, raw)
    if model is None:
        return None, reason
    updated = model.updated.isoformat() if isinstance(model.updated, date) else None
    return EnumeratedAsn(
        model.nip_baru, updated, model.gol_ruang_akhir_id, model.kedudukan_pns_id
    ), None


def _other_parent(member: ModelFamilyMember, record: AsnRecord) -> str | None:
    """A child's parent who is not the employee: the id of `ayahId` / `ibuId` that is not the
    employee's own id, else the one the employee's gender does not take."""
    others = [p for p in (member.ayah_id, member.ibu_id) if p is not None and p != record.id]
    if len(others) == 1:
        return others[0]
    if record.jenis_kelamin == "M":
        return member.ibu_id
    if record.jenis_kelamin == "F":
        return member.ayah_id
    return None


def _family_row(member: ModelFamilyMember, record: AsnRecord) -> FamilyMember:
    """The store row of one member; ``payload`` is the member's object as SIASN sent it."""
    if member.relation == "pasangan":
        status, other_parent = member.status_nikah, None
    elif member.relation == "anak":
        status, other_parent = member.jenis_anak, _other_parent(member, record)
    else:
        status, other_parent = None, None
    return FamilyMember(
        relation=member.relation,
        member_id=member.id,
        nama=member.nama,
        tgl_lahir=member.tgl_lahir,
        jenis_kelamin=member.jenis_kelamin,
        status_hidup=member.status_hidup,
        status_hubungan=status,
        tgl_menikah=member.tgl_menikah,
        tgl_cerai=member.tgl_cerai,
        orang_tua_id=other_parent,
        payload=member.raw(),
    )


def to_store_row(
    record: AsnRecord,
    raw_data_utama: dict[str, Any],
    source_updated: str | None,
    nik_key: NikKey | None = None,
) -> AsnRow:
    """The store row of a validated employee. ``payload`` is data-utama as SIASN sent it (not
    the model's re-dump): fields the store does not type are never lost, but the NIK fields
    hold the NIK's token under ``nik_key`` (the store refuses a clear NIK); the record hash
    covers the token, never the clear NIK."""
    values: dict[str, Any] = {}
    for name in type(record).model_fields:
        column = _RENAMED.get(name, name)
        if column in _STORE_COLUMNS:
            value = getattr(record, name)
            values[column] = (
                str(value) if column.endswith("_id") and isinstance(value, int) else value
            )
    values["nip_lama"] = record.nip_lama
    return AsnRow(
        nip=record.nip_baru,
        record_hash=record.record_hash(nik_key),
        family_hash=record.family_hash(),
        family=[_family_row(m, record) for m in record.family],
        payload=raw_data_utama if nik_key is None else pseudonymise(raw_data_utama, nik_key),
        source_updated=source_updated,
        **{k: v for k, v in values.items() if k != "source_updated"},
    )


def departure_reason(record: AsnRecord) -> str | None:
    """Why an employee leaves the mirror's active scope, or None when still in scope."""
    if record.kedudukan_pns_id in DEPARTURE_KEDUDUKAN:
        return DEPARTURE_KEDUDUKAN[record.kedudukan_pns_id]
    golongan = record.gol_ruang_akhir_id
    if golongan is not None and int(golongan) < MIN_GOLONGAN:
        return "below_iv_b"
    return None


def _rekey(
    record: AsnRecord,
    raw_data_utama: dict[str, Any],
    row: AsnRow,
    nik_key: NikKey,
    previous: NikKey | None,
) -> Rekey:
    """The older forms the store may hold this employee under: stored before NIKs were
    pseudonymised (clear NIK, legacy hash) or under the previous key of a rotation."""
    tokens: dict[str, str] = {}
    for value in nik_values(raw_data_utama).values():
        if isinstance(value, str) and value.strip() and not is_token(value):
            tokens[value] = nik_key.token(value)
            if previous is not None:
                tokens[previous.token(value)] = nik_key.token(value)
    old = [record.legacy_record_hash()]
    if previous is not None:
        old.append(record.record_hash(previous))
    return Rekey(
        nip=row.nip,
        old_hashes=tuple(h for h in old if h != row.record_hash),
        new_hash=row.record_hash,
        tokens=tokens,
    )


def build_employee(
    nip: str,
    source_updated: str | None,
    data_utama: Any,
    pasangan: Any,
    anak: Any,
    ortu: Any,
    *,
    nik_key: NikKey | None = None,
    nik_key_previous: NikKey | None = None,
) -> EmployeeRecord | QuarantineItem:
    """Validate the four payloads of one employee; quarantine the whole employee on any fault.

    ``nik_key`` (the store's ``nik_key``) pseudonymises the NIK of the row; without it the row
    keeps the NIK in clear and the store pseudonymises it or refuses it. With
    ``nik_key_previous`` (a rotation) the result says how to re-key the stored row.

    A half-validated employee is never stored: the mirror keeps the last good version instead.
    Faults: an invalid value (``invalid``) or a contract field absent from a payload
    (``missing_fields``, the detail naming the fields).
    """
    if data_utama is None:
        return QuarantineItem(flow="F1", entity_kind="asn", key=nip, reason="data_utama_not_found")
    if not isinstance(data_utama, dict):
        return QuarantineItem(
            flow="F1", entity_kind="asn", key=nip, reason="data_utama_not_an_object"
        )
    record, reason = validate_asn_record(data_utama, pasangan, anak, ortu)
    if record is None:
        payload = {"data_utama": data_utama, "pasangan": pasangan, "anak": anak, "ortu": ortu}
        return QuarantineItem(
            flow="F1", entity_kind="asn", key=nip, reason="invalid", detail=reason, payload=payload
        )
    if record.nip_baru != nip:
        return QuarantineItem(flow="F1", entity_kind="asn", key=nip, reason="nip_mismatch")
    missing = record.missing_fields()
    if missing:
        # absent is not null: a contract field SIASN stopped sending is drift, and storing the
        # record would overwrite the held values with NULL; keep the last good version
        payload = {"data_utama": data_utama, "pasangan": pasangan, "anak": anak, "ortu": ortu}
        return QuarantineItem(
            flow="F1",
            entity_kind="asn",
            key=nip,
            reason="missing_fields",
            detail=missing_detail(missing),
            payload=payload,
        )
    unknown = record.unknown_fields()
    row = to_store_row(record, data_utama, source_updated, nik_key)
    return EmployeeRecord(
        row=row,
        departure_reason=departure_reason(record),
        unknown_fields=unknown[:UNKNOWN_NAMES_MAX],
        unknown_field_count=len(unknown),
        rekey=None
        if nik_key is None
        else _rekey(record, data_utama, row, nik_key, nik_key_previous),
    )


def merge_unknown_fields(extra: dict[str, Any], result: EmployeeRecord) -> None:
    """Add one employee's unknown field names to a lineage record's ``extra``, capped.

    ``unknown_fields`` keeps the first ``UNKNOWN_NAMES_MAX`` names (sorted);
    ``unknown_fields_omitted`` counts the names left out (per employee that had them), so
    that lineage, XCom and Asset events stay small whatever SIASN sends.
    """
    if not result.unknown_field_count:
        return
    names = sorted({*extra.get("unknown_fields", []), *result.unknown_fields})
    kept = names[:UNKNOWN_NAMES_MAX]
    omitted = (
        int(extra.get("unknown_fields_omitted", 0))
        + (result.unknown_field_count - len(result.unknown_fields))
        + (len(names) - len(kept))
    )
    extra["unknown_fields"] = kept
    if omitted:
        extra["unknown_fields_omitted"] = omitted


def missing_detail(missing: list[str]) -> str:
    """``absent: a, b, ... (+N more)``: the absent contract fields, names only, capped."""
    shown = ", ".join(missing[:MISSING_NAMES_MAX])
    more = len(missing) - MISSING_NAMES_MAX
    return f"absent: {shown}" + (f" (+{more} more)" if more > 0 else "")


def absent_fields(item: QuarantineItem) -> list[str]:
    """The contract field names a ``missing_fields`` quarantine item names (see
    :func:`missing_detail`; the ``+N more`` left out), else none."""
    if item.reason != "missing_fields" or not item.detail:
        return []
    shown = item.detail.removeprefix("absent: ").split(" (+", 1)[0]
    return [name for name in shown.split(", ") if name]
