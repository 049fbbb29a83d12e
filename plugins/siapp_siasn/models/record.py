"""The typed ASN record the pull flow stores: data-utama subset + family members, with hashes.

`AsnRecord` is `DataUtama` (snake_case python names, SIASN aliases, unknown fields kept) plus
`family`: pasangan, anak, ayah and ibu flattened into `FamilyMember` rows with a relation type.
`record_hash()` covers the typed data-utama fields (the NIK as its keyed token, never in
clear: `models/nik.py`), `family_hash()` the family; both are
sha256 over canonical JSON (sorted keys, ISO dates, None and unknown/volatile fields left out),
so they do not depend on key order, alias spelling or the order SIASN lists family members in.
"""

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError

from siapp_siasn.models.base import HubModel, spelling_variants
from siapp_siasn.models.errors import describe_validation_error
from siapp_siasn.models.nik import NIK_FIELDS, NikKey
from siapp_siasn.models.siasn import (
    Anak,
    DataAnak,
    DataOrtu,
    DataPasangan,
    DataUtama,
    OrangTua,
    Pasangan,
)
from siapp_siasn.models.types import (
    Code,
    Gender,
    Guid,
    NullableStr,
    SiasnBool,
    SiasnDate,
    SiasnInt,
)
from siapp_siasn.utils import canonical_json, sha256_json

Relation = Literal["pasangan", "anak", "ayah", "ibu"]
RELATIONS: tuple[str, ...] = ("pasangan", "anak", "ayah", "ibu")
"""Relation types, spelled as the store's `FAMILY_RELATIONS`."""


class FamilyMember(HubModel):
    """One family member of an ASN (python names; built from the SIASN family payloads).

    Fields are those of the real payloads: a spouse from `pns.OrangResp` and
    `pns.PnsOrangIstriResponse`, a child from `pns.ListAnak`, a parent from
    `pns.DataAyahResponse` / `pns.DataIbuResponse`.
    `raw()` is the member's object as SIASN sent it (kept, never re-dumped).
    """

    model_config = ConfigDict(extra="forbid")

    relation: Relation
    id: Guid = None
    nama: NullableStr = Field(None, repr=False)
    tempat_lahir: NullableStr = Field(None, repr=False)
    tgl_lahir: SiasnDate = Field(None, repr=False)
    jenis_kelamin: Gender = None
    tgl_meninggal: SiasnDate = None
    # pasangan only (statusHidup is served for spouses only)
    status_hidup: Code = None
    status_nikah: Code = None
    tgl_menikah: SiasnDate = None
    akta_menikah: NullableStr = Field(None, repr=False)
    tgl_cerai: SiasnDate = None
    akta_cerai: NullableStr = Field(None, repr=False)
    is_pns: SiasnBool = None
    posisi: SiasnInt = None
    # anak (and the parents' own jenisAnak)
    jenis_anak: Code = None
    ayah_id: Guid = None
    ibu_id: Guid = None
    _raw: dict[str, Any] | None = PrivateAttr(default=None)

    def raw(self) -> dict[str, Any]:
        """The member's object as SIASN sent it (a spouse: the `listPasangan` entry)."""
        if self._raw is not None:
            return self._raw
        return self.model_dump(mode="json", exclude_none=True, exclude={"relation"})

    def _with_raw(self, raw: object) -> "FamilyMember":
        if isinstance(raw, Mapping):
            self._raw = dict(raw)
        return self

    @classmethod
    def from_parent(cls, relation: Relation, parent: OrangTua) -> "FamilyMember":
        """A parent from a parsed `ayah` / `ibu`."""
        return cls.model_construct(
            relation=relation,
            id=parent.id,
            nama=parent.nama,
            tempat_lahir=parent.tempat_lahir,
            tgl_lahir=parent.tgl_lahir,
            jenis_kelamin=parent.jenis_kelamin,
            tgl_meninggal=parent.tgl_meninggal,
            jenis_anak=parent.jenis_anak,
            ayah_id=getattr(parent, "ayah_id", None),
            ibu_id=getattr(parent, "ibu_id", None),
        )

    @classmethod
    def from_pasangan(cls, pasangan: Pasangan) -> "FamilyMember":
        """A spouse from one parsed `listPasangan` entry."""
        o = pasangan.orang
        member = cls.model_construct(
            relation="pasangan",
            id=o.id,
            nama=o.nama,
            tempat_lahir=o.tempat_lahir,
            tgl_lahir=o.tgl_lahir,
            jenis_kelamin=o.jenis_kelamin,
            tgl_meninggal=o.tgl_meninggal,
            status_hidup=o.status_hidup,
            status_nikah=pasangan.status_nikah,
        )
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
            tempat_lahir=anak.tempat_lahir,
            tgl_lahir=anak.tgl_lahir,
            jenis_kelamin=anak.jenis_kelamin,
            jenis_anak=anak.jenis_anak,
            ayah_id=anak.ayah_id,
            ibu_id=anak.ibu_id,
        )

    def member_hash(self) -> str:
        """sha256 of this member's canonical JSON."""
        return self.content_hash()


def _raw_items(raw: object, key: str) -> list[Any]:
    """The items of list `key` of a raw family payload (any accepted spelling), else []."""
    if not isinstance(raw, Mapping):
        return []
    for k in spelling_variants(key):
        items = raw.get(k)
        if isinstance(items, list):
            return items
    return []


def _raw_part(raw: object, key: str) -> object:
    if not isinstance(raw, Mapping):
        return None
    for k in spelling_variants(key):
        if k in raw:
            return raw[k]
    return None


def family_members(
    pasangan: DataPasangan | None = None,
    anak: DataAnak | None = None,
    ortu: DataOrtu | None = None,
    raw: Mapping[str, object] | None = None,
) -> list[FamilyMember]:
    """Flatten parsed family payloads: ayah, ibu, spouses, children (source order kept).

    `raw` (`{"pasangan": ..., "anak": ..., "ortu": ...}` as SIASN sent them) gives each member
    its raw object; without it a member's `raw()` is its typed fields.
    """
    raw = raw or {}
    members: list[FamilyMember] = []
    if ortu is not None:
        if ortu.ayah is not None:
            members.append(
                FamilyMember.from_parent("ayah", ortu.ayah)._with_raw(
                    _raw_part(raw.get("ortu"), "ayah")
                )
            )
        if ortu.ibu is not None:
            members.append(
                FamilyMember.from_parent("ibu", ortu.ibu)._with_raw(
                    _raw_part(raw.get("ortu"), "ibu")
                )
            )
    if pasangan is not None:
        items = _raw_items(raw.get("pasangan"), "listPasangan")
        for i, p in enumerate(pasangan.list_pasangan):
            item = items[i] if i < len(items) else None
            members.append(FamilyMember.from_pasangan(p)._with_raw(item))
    if anak is not None:
        items = _raw_items(raw.get("anak"), "listAnak")
        for i, a in enumerate(anak.list_anak):
            item = items[i] if i < len(items) else None
            members.append(FamilyMember.from_anak(a)._with_raw(item))
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
    _source_missing: tuple[str, ...] = PrivateAttr(default=())
    _canonical: dict[str, Any] | None = PrivateAttr(default=None)

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
        du_missing: list[str] = []
        if isinstance(data_utama, DataUtama):
            raw: dict[str, Any] = {**(data_utama.model_extra or {}), **dict(data_utama)}
            du_missing = data_utama.missing_fields()
        else:
            raw = dict(data_utama)
        raw.pop("family", None)
        record = cls.model_validate(raw)
        record.family = family_members(
            p, a, o, raw={"pasangan": pasangan, "anak": anak, "ortu": ortu}
        )
        unknown: list[str] = []
        missing: list[str] = list(du_missing)
        for prefix, part in (("pasangan.", p), ("anak.", a), ("ortu.", o)):
            if part is not None:
                unknown.extend(prefix + f for f in part.unknown_fields())
                missing.extend(prefix + f for f in part.missing_fields())
        record._source_unknown = tuple(unknown)
        record._source_missing = tuple(missing)
        return record

    def unknown_fields(self) -> list[str]:
        """Unknown fields of data-utama, plus those of the family payloads (prefixed)."""
        return sorted({*super().unknown_fields(), *self._source_unknown})

    def missing_fields(self) -> list[str]:
        """Contract fields absent from data-utama and from the family payloads (prefixed
        `pasangan.`, `anak.`, `ortu.`): drift, never taken for null."""
        own = [f for f in super().missing_fields() if f != "family"]
        return sorted({*own, *self._source_missing})

    def record_hash(self, nik_key: NikKey | None = None) -> str:
        """sha256 over the typed data-utama fields (no family, no `path`, no unknown fields).

        Never over a clear NIK: with the other fields of the row, a hash over a 16-digit NIK
        whose middle digits are the birth date could be reversed by trying candidates. Under
        ``nik_key`` the NIK fields are covered as their tokens (a NIK change still changes the
        hash; the hash depends on the key, so a rotation rewrites it); without a key they are
        left out.
        """
        canonical = dict(self._hash_canonical())
        for name in NIK_FIELDS:
            value = canonical.pop(name, None)
            if value is not None and nik_key is not None:
                canonical[name] = nik_key.token(str(value))
        return sha256_json(canonical)

    def legacy_record_hash(self) -> str:
        """The hash stored before NIKs were pseudonymised (clear NIK covered): compared with
        what a store holds so that such rows are re-keyed rather than versioned again; never
        stored."""
        return sha256_json(self._hash_canonical())

    def _hash_canonical(self) -> dict[str, Any]:
        # a pull hashes each record two or three times (current key, legacy, previous key):
        # the canonical form is built once (records are not changed after validation)
        if self._canonical is None:
            self._canonical = self.canonical()
        return self._canonical

    def family_hash(self) -> str:
        """sha256 over the family members, independent of the order SIASN lists them in."""
        return sha256_json(sorted(canonical_json(m.canonical()) for m in self.family))

    def family_by_relation(self, relation: Relation) -> list[FamilyMember]:
        """The members with one relation type."""
        return [m for m in self.family if m.relation == relation]


#: SIASN's payloads nest 4 levels at most; unknown fields are stored verbatim, and the store's
#: JSON encoder (orjson) refuses documents nested deeper than 254: refuse them here instead
MAX_PAYLOAD_DEPTH = 32


def _nesting_exceeds(value: object, limit: int) -> bool:
    """Whether ``value`` (decoded JSON) nests objects/arrays deeper than ``limit`` (iterative:
    a hostile depth cannot exhaust the stack)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Iterable[object] = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def validate_asn_record(
    data_utama: object,
    pasangan: object = None,
    anak: object = None,
    ortu: object = None,
) -> tuple[AsnRecord | None, str | None]:
    """`AsnRecord.from_siasn` that never raises on bad input: `(record, None)` or `(None, reason)`.

    The reason is redaction-safe (`Model: field: kind; ...`), fit for the quarantine table.
    """
    if _nesting_exceeds([data_utama, pasangan, anak, ortu], MAX_PAYLOAD_DEPTH + 1):
        return None, "AsnRecord: <root>: nested_too_deep"
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
