"""From validated SIASN payloads (models/) to the store's plain rows (store/).

The models parse every quirk; this module only maps typed values onto store columns and decides
what a record means for the mirror (in scope, departed, quarantined).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.pks import PksAsnRow
from siapp_siasn.models.record import AsnRecord, validate_asn_record
from siapp_siasn.models.record import FamilyMember as ModelFamilyMember
from siapp_siasn.models.siasn import ref_row_model
from siapp_siasn.store.records import AsnRow, FamilyMember, QuarantineItem

MIN_GOLONGAN = 42  # IV/b: the agreement's scope for F1
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
    unknown_fields: list[str]


def parse_enumeration_row(raw: Any) -> tuple[EnumeratedAsn | None, str | None]:
    """A PKS enumeration row, or a redaction-safe reason."""
    model, reason = validate_payload(PksAsnRow, raw)
    if model is None:
        return None, reason
    updated = model.updated.isoformat() if isinstance(model.updated, date) else None
    return EnumeratedAsn(
        model.nip_baru, updated, model.gol_ruang_akhir_id, model.kedudukan_pns_id
    ), None


def _family_row(member: ModelFamilyMember) -> FamilyMember:
    status = member.status_nikah if member.relation == "pasangan" else member.status_anak
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
        orang_tua_id=member.orang_tua_id,
        payload=member.model_dump(mode="json", exclude_none=True),
    )


def to_store_row(
    record: AsnRecord, raw_data_utama: dict[str, Any], source_updated: str | None
) -> AsnRow:
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
        record_hash=record.record_hash(),
        family_hash=record.family_hash(),
        family=[_family_row(m) for m in record.family],
        payload=raw_data_utama,
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


def build_employee(
    nip: str,
    source_updated: str | None,
    data_utama: Any,
    pasangan: Any,
    anak: Any,
    ortu: Any,
) -> EmployeeRecord | QuarantineItem:
    """Validate the four payloads of one employee; quarantine the whole employee on any fault.

    A half-validated employee is never stored: the mirror keeps the last good version instead.
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
    return EmployeeRecord(
        row=to_store_row(record, data_utama, source_updated),
        departure_reason=departure_reason(record),
        unknown_fields=record.unknown_fields(),
    )


def referensi_rows(
    ref: str, raw_rows: list[Any]
) -> tuple[list[dict[str, Any]], list[QuarantineItem]]:
    """Validate one reference table's rows: (rows for the store, quarantined)."""
    model_cls = ref_row_model(ref)
    good: list[dict[str, Any]] = []
    bad: list[QuarantineItem] = []
    for raw in raw_rows:
        model, reason = validate_payload(model_cls, raw)
        if model is None:
            key = str(raw.get("id", "")) if isinstance(raw, dict) else ""
            bad.append(
                QuarantineItem(
                    flow="F2",
                    entity_kind=f"referensi:{ref}",
                    key=key,
                    reason="invalid",
                    detail=reason,
                    payload=raw,
                )
            )
            continue
        good.append({"id": str(model.id), "nama": getattr(model, "nama", None), "payload": raw})
    return good, bad
