"""The typed ASN record the pull flow stores: data-utama subset + family members, with hashes.

`AsnRecord` is `DataUtama` (snake_case python names, SIASN aliases, unknown fields kept) plus
`family`: pasangan, anak, ayah and ibu flattened into `FamilyMember` rows with a relation type.
`record_hash()` covers the typed data-utama fields, `family_hash()` the family; both are
sha256 over canonical JSON (sorted keys, ISO dates, None and unknown/volatile fields left out),
so they do not depend on key order, alias spelling or the order SIASN lists family members in.
"""

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError

from siapp_siasn.models.base import HubModel
from siapp_siasn.models.errors import describe_validation_error
from siapp_siasn.models.siasn import (
    Anak,
    DataAnak,
    DataOrtu,
    DataPasangan,
    DataUtama,
    Orang,
    Pasangan,
)
from siapp_siasn.models.types import (
    Code,
    Gender,
    Guid,
    NullableStr,
    SiasnBool,
    SiasnDate,
    text_type,
)
from siapp_siasn.utils import canonical_json, sha256_json

Relation = Literal["pasangan", "anak", "ayah", "ibu"]
RELATIONS: tuple[str, ...] = ("pasangan", "anak", "ayah", "ibu")
"""Relation types, spelled as the store's `FAMILY_RELATIONS`."""
NIK = text_type(32, description="national identity number (personal)")


class FamilyMember(HubModel):
    """One family member of an ASN (python names; built from the SIASN family payloads)."""

    model_config = ConfigDict(extra="forbid")

    relation: Relation
    id: Guid = None
    nama: NullableStr = Field(None, repr=False)
    tgl_lahir: SiasnDate = Field(None, repr=False)
    jenis_kelamin: Gender = None
    nik: NIK = Field(None, repr=False)
    status_hidup: Code = None
    # pasangan only
    status_nikah: Code = None
    tgl_menikah: SiasnDate = None
    akta_menikah: NullableStr = Field(None, repr=False)
    tgl_cerai: SiasnDate = None
    akta_cerai: NullableStr = Field(None, repr=False)
    is_pns: SiasnBool = None
    posisi: Code = None
    # anak only
    status_anak: Code = None
    orang_tua_id: Guid = None

    @classmethod
    def from_orang(cls, relation: Relation, orang: Orang) -> "FamilyMember":
        """A parent (or the person part of a spouse) from a parsed `Orang`."""
        return cls.model_construct(
            relation=relation,
            id=orang.id,
            nama=orang.nama,
            tgl_lahir=orang.tgl_lahir,
            jenis_kelamin=orang.jenis_kelamin,
            nik=orang.nik,
            status_hidup=orang.status_hidup,
        )

    @classmethod
    def from_pasangan(cls, pasangan: Pasangan) -> "FamilyMember":
        """A spouse from one parsed `listPasangan` entry."""
        member = cls.from_orang("pasangan", pasangan.orang)
        member.status_nikah = pasangan.status_nikah
        nikah = pasangan.data_pernikahan
        if nikah is not None:
            member.tgl_menikah = nikah.tgl_menikah
            member.akta_menikah = nikah.akta_menikah
            member.tgl_cerai = nikah.tgl_cerai
            member.akta_cerai = nikah.akta_cerai
            member.is_pns = nikah.is_pns
            member.posisi = nikah.posisi
        return member

    @classmethod
    def from_anak(cls, anak: Anak) -> "FamilyMember":
        """A child from one parsed `listAnak` entry."""
        return cls.model_construct(
            relation="anak",
            id=anak.id,
            nama=anak.nama,
            tgl_lahir=anak.tgl_lahir,
            jenis_kelamin=anak.jenis_kelamin,
            nik=anak.nik,
            status_hidup=anak.status_hidup,
            status_anak=anak.status_anak,
            orang_tua_id=anak.orang_tua_id,
        )

    def member_hash(self) -> str:
        """sha256 of this member's canonical JSON."""
        return self.content_hash()


def family_members(
    pasangan: DataPasangan | None = None,
    anak: DataAnak | None = None,
    ortu: DataOrtu | None = None,
) -> list[FamilyMember]:
    """Flatten parsed family payloads: ayah, ibu, spouses, children (source order kept)."""
    members: list[FamilyMember] = []
    if ortu is not None:
        if ortu.ayah is not None:
            members.append(FamilyMember.from_orang("ayah", ortu.ayah))
        if ortu.ibu is not None:
            members.append(FamilyMember.from_orang("ibu", ortu.ibu))
    if pasangan is not None:
        members.extend(FamilyMember.from_pasangan(p) for p in pasangan.list_pasangan)
    if anak is not None:
        members.extend(FamilyMember.from_anak(a) for a in anak.list_anak)
    return members


def _parse(model: type[HubModel], raw: object) -> Any:
    if raw is None or isinstance(raw, model):
        return raw
    return model.model_validate(raw)


class AsnRecord(DataUtama):
    """The stored ASN record: typed data-utama fields + `family`, with deterministic hashes."""

    HASH_EXCLUDE: ClassVar[frozenset[str]] = DataUtama.HASH_EXCLUDE | {"family"}

    family: list[FamilyMember] = Field(default_factory=list, max_length=200)
    _source_unknown: tuple[str, ...] = PrivateAttr(default=())

    @classmethod
    def from_siasn(
        cls,
        data_utama: Mapping[str, Any] | DataUtama,
        pasangan: Mapping[str, Any] | DataPasangan | None = None,
        anak: Mapping[str, Any] | DataAnak | None = None,
        ortu: Mapping[str, Any] | DataOrtu | None = None,
    ) -> "AsnRecord":
        """Build from the `data` part of data-utama, data-pasangan, data-anak and data-ortu.

        Each argument is a raw dict or an already parsed model; None means SIASN answered 404
        (no spouse, no child, no parent data). Raises `ValidationError` (naming the payload
        model and field, never a value) when any part is invalid.
        """
        p: DataPasangan | None = _parse(DataPasangan, pasangan)
        a: DataAnak | None = _parse(DataAnak, anak)
        o: DataOrtu | None = _parse(DataOrtu, ortu)
        if isinstance(data_utama, DataUtama):
            raw: dict[str, Any] = {**(data_utama.model_extra or {}), **dict(data_utama)}
        else:
            raw = dict(data_utama)
        raw.pop("family", None)
        record = cls.model_validate(raw)
        record.family = family_members(p, a, o)
        unknown: list[str] = []
        for prefix, part in (("pasangan.", p), ("anak.", a), ("ortu.", o)):
            if part is not None:
                unknown.extend(prefix + f for f in part.unknown_fields())
        record._source_unknown = tuple(unknown)
        return record

    def unknown_fields(self) -> list[str]:
        """Unknown fields of data-utama, plus those of the family payloads (prefixed)."""
        return sorted({*super().unknown_fields(), *self._source_unknown})

    def record_hash(self) -> str:
        """sha256 over the typed data-utama fields (no family, no `path`, no unknown fields)."""
        return self.content_hash()

    def family_hash(self) -> str:
        """sha256 over the family members, independent of the order SIASN lists them in."""
        return sha256_json(sorted(canonical_json(m.canonical()) for m in self.family))

    def family_by_relation(self, relation: Relation) -> list[FamilyMember]:
        """The members with one relation type."""
        return [m for m in self.family if m.relation == relation]


def validate_asn_record(
    data_utama: object,
    pasangan: object = None,
    anak: object = None,
    ortu: object = None,
) -> tuple[AsnRecord | None, str | None]:
    """`AsnRecord.from_siasn` that never raises on bad input: `(record, None)` or `(None, reason)`.

    The reason is redaction-safe (`Model: field: kind; ...`), fit for the quarantine table.
    """
    try:
        return (
            AsnRecord.from_siasn(data_utama, pasangan, anak, ortu),  # type: ignore[arg-type]
            None,
        )
    except ValidationError as exc:
        return None, describe_validation_error(exc)
    except (TypeError, ValueError) as exc:
        return None, f"AsnRecord: <root>: {type(exc).__name__}"


def records_hash(records: Iterable[AsnRecord]) -> str:
    """Digest over (NIP, record hash, family hash) of many records, order-independent."""
    return sha256_json(sorted(f"{r.nip_baru}:{r.record_hash()}:{r.family_hash()}" for r in records))
