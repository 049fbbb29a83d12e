"""SIAPP NV payloads (ours: clean snake_case JSON, ISO 8601 dates, UTC timestamps).

Inbound (SIAPP NV → hub): token, error, list pages with a cursor of usulan, verifikasi, keppres
and PIC, each with its documents. Outbound (hub → SIAPP NV `/api/v1/inbound/...`): BKN status
(F3), pertek and ralat pertek metadata (F4, sent with the PDF), penolakan (scope refusals).
"""

from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import Field, SecretStr

from siapp_siasn.models.base import OutboundModel, SiappModel, personal
from siapp_siasn.models.pks import HasilVerifikasiBkn
from siapp_siasn.models.types import (
    Code,
    EnumCode,
    GolonganId,
    Guid,
    IsoDate,
    LongText,
    Nip,
    NotNull,
    NullableStr,
    OptionalNip,
    RequiredCode,
    RequiredEnumCode,
    RequiredStr,
    Sha256Hex,
    SiappId,
    SiasnInt,
    SizeBytes,
    UtcDatetime,
    enum_type,
    siasn_int,
    text_type,
)

ItemT = TypeVar("ItemT")

JENIS_USULAN = ("KP", "PEMBERHENTIAN", "PENGANGKATAN")
KATEGORI_IN_SCOPE = ("JPT_UTAMA", "JPT_MADYA", "JF_AHLI_UTAMA")
"""Kategori jabatan the agreement covers; other values are valid input but out of scope."""
HASIL_VERIFIKASI = ("DISETUJUI", "DITOLAK")
AKSI_PIC = ("GRANT", "REVOKE")

Version = Annotated[siasn_int(ge=1, description="version number (>= 1)"), NotNull]
OptionalVersion = siasn_int(ge=1, description="version number (>= 1)")
Cursor = text_type(1024, description="opaque cursor")
PathText = text_type(1024, description="document path on the SIASN side")


class SiappTokenResponse(SiappModel):
    """`POST /oauth/token` (client_credentials) answer."""

    access_token: SecretStr = Field(max_length=8192)
    token_type: NullableStr = None
    expires_in: SiasnInt = None


class SiappErrorBody(SiappModel):
    """Error body `{"error": "invalid_token", "error_description": "..."}`."""

    error: NullableStr = None
    error_description: LongText = None


class SiappDokumen(SiappModel):
    """A document attached to a SIAPP NV item (download with `GET /api/v1/dokumen/{id}`)."""

    id: SiappId
    jenis: Code = None
    id_ref_dokumen: Code = None
    sha256: Annotated[Sha256Hex, NotNull]
    size: Annotated[SizeBytes, NotNull]


class SiappUsulan(SiappModel):
    """`GET /api/v1/usulan` item: a proposal for KP / PEMBERHENTIAN / PENGANGKATAN."""

    id: SiappId
    version: Version
    updated_at: UtcDatetime
    created_at: UtcDatetime | None = None
    jenis: RequiredEnumCode
    kategori_jabatan: RequiredEnumCode
    nip: Nip
    instansi_id: Guid = None
    golongan_baru_id: GolonganId = None
    tmt: IsoDate = None
    jenis_kp: Code = None
    status: EnumCode = None
    dokumen: list[SiappDokumen] = Field(default_factory=list, max_length=100)

    #: optional contract fields the hub forwards to SIASN: absent is not null (SIAPP NV always
    #: sends them, null when empty), so a missing one is drift, never a null to pass on
    FORWARDED: ClassVar[tuple[str, ...]] = ("instansi_id", "golongan_baru_id", "tmt", "jenis_kp")

    def missing_fields(self) -> list[str]:
        """Wire names of forwarded contract fields absent from the input, documents' fields
        as ``dokumen[].<name>``, sorted (names only, never values)."""
        out = {f for f in self.FORWARDED if f not in self.model_fields_set}
        for d in self.dokumen:
            out.update(f"dokumen[].{f}" for f in d.absent_fields())
        return sorted(out)

    def scope_violation(self) -> str | None:
        """Why the agreement does not cover this usulan (a code), or None when it does.

        `JENIS_OUT_OF_SCOPE`, `KATEGORI_OUT_OF_SCOPE`, or `PENGANGKATAN_NOT_JF_AHLI_UTAMA`
        (appointments are in scope for JF Keahlian Utama only).
        """
        if self.jenis not in JENIS_USULAN:
            return "JENIS_OUT_OF_SCOPE"
        if self.kategori_jabatan not in KATEGORI_IN_SCOPE:
            return "KATEGORI_OUT_OF_SCOPE"
        if self.jenis == "PENGANGKATAN" and self.kategori_jabatan != "JF_AHLI_UTAMA":
            return "PENGANGKATAN_NOT_JF_AHLI_UTAMA"
        return None


class SiappVerifikasi(SiappModel):
    """`GET /api/v1/verifikasi` item: Kemensetneg's verification of an usulan."""

    id: SiappId
    usulan_id: SiappId
    version: Version
    updated_at: UtcDatetime
    hasil: enum_type(*HASIL_VERIFIKASI, required=True)  # type: ignore[valid-type]
    catatan: LongText = personal()
    verified_at: UtcDatetime | None = None


class SiappKeppres(SiappModel):
    """`GET /api/v1/keppres` item: an issued Keppres and its copy."""

    id: SiappId
    usulan_id: SiappId
    version: Version
    updated_at: UtcDatetime
    nip: Nip
    no_keppres: RequiredStr
    tgl_keppres: Annotated[IsoDate, NotNull]
    tmt: IsoDate = None
    dokumen: SiappDokumen | None = None


class SiappPic(SiappModel):
    """`GET /api/v1/pic` item: a NIP to grant or revoke PIC Instansi access."""

    id: SiappId
    version: Version
    updated_at: UtcDatetime
    nip: Nip
    instansi_id: Guid = None
    aksi: enum_type(*AKSI_PIC, required=True)  # type: ignore[valid-type]


class SiappPage(SiappModel, Generic[ItemT]):
    """A list page `{"data": [...], "next_cursor": "<opaque>" | null}` (null: last page)."""

    data: list[ItemT] = Field(default_factory=list)
    next_cursor: Cursor = None


class SiappDokumenInventoryRow(SiappModel):
    """`GET /api/v1/dokumen` item: one document SIAPP NV holds (the reconciliation's inventory).

    Usulan documents of every version, Keppres copies, and the pertek / ralat pertek copies the
    hub delivered (``jenis`` PERTEK / RALAT_PERTEK; ``id`` is then the id SIAPP NV answered the
    inbound POST with)."""

    usulan_id: SiappId
    id: SiappId
    jenis: Code = None
    id_ref_dokumen: Code = None
    sha256: Annotated[Sha256Hex, NotNull]
    size: Annotated[SizeBytes, NotNull]
    updated_at: UtcDatetime


SiappUsulanPage = SiappPage[SiappUsulan]
SiappVerifikasiPage = SiappPage[SiappVerifikasi]
SiappKeppresPage = SiappPage[SiappKeppres]
SiappPicPage = SiappPage[SiappPic]
SiappDokumenInventoryPage = SiappPage[SiappDokumenInventoryRow]

SIAPP_PAGES: dict[str, type[SiappPage[object]]] = {
    "usulan": SiappUsulanPage,  # type: ignore[dict-item]
    "verifikasi": SiappVerifikasiPage,  # type: ignore[dict-item]
    "keppres": SiappKeppresPage,  # type: ignore[dict-item]
    "pic": SiappPicPage,  # type: ignore[dict-item]
}
"""Page model per SIAPP NV list endpoint `/api/v1/{name}`."""


class InboundAccepted(SiappModel):
    """Answer of every inbound POST: `{"status": "accepted", "id": "..."}`."""

    status: NullableStr = None
    id: SiappId | None = None


# --------------------------------------------------------------------------------------------
# outbound (hub → SIAPP NV)
# --------------------------------------------------------------------------------------------
class _InboundBody(OutboundModel):
    FLOW: ClassVar[str] = ""
    ENDPOINT: ClassVar[str] = ""


class InboundStatusUsulan(_InboundBody):
    """`POST /api/v1/inbound/status-usulan` (F3): BKN's verification status of an usulan.

    `status_bkn` is SIASN's `statusUsulan` code; `version` the usulan version it refers to.
    """

    FLOW: ClassVar[str] = "F3"
    ENDPOINT: ClassVar[str] = "/api/v1/inbound/status-usulan"

    usulan_id: SiappId
    version: OptionalVersion = None
    siasn_id: Guid = None
    nip: Nip
    jenis_usulan: EnumCode = None
    status_bkn: RequiredCode
    status_bkn_nama: NullableStr = None
    hasil_verifikasi: HasilVerifikasiBkn = None
    alasan: LongText = personal()
    no_pertek: NullableStr = None
    tgl_pertek: IsoDate = None
    no_ralat_pertek: NullableStr = None
    tgl_ralat_pertek: IsoDate = None
    updated: IsoDate = None


class InboundPertekMetadata(_InboundBody):
    """`metadata` part of `POST /api/v1/inbound/pertek` (F4, multipart with `file`)."""

    FLOW: ClassVar[str] = "F4"
    ENDPOINT: ClassVar[str] = "/api/v1/inbound/pertek"

    usulan_id: SiappId
    nip: Nip
    no_pertek: RequiredStr
    tgl_pertek: IsoDate = None
    sha256: Annotated[Sha256Hex, NotNull]
    size: Annotated[SizeBytes, NotNull]
    siasn_path: PathText = None


class InboundRalatPertekMetadata(_InboundBody):
    """`metadata` part of `POST /api/v1/inbound/ralat-pertek` (F4, multipart with `file`)."""

    FLOW: ClassVar[str] = "F4"
    ENDPOINT: ClassVar[str] = "/api/v1/inbound/ralat-pertek"

    usulan_id: SiappId
    nip: Nip
    no_pertek: NullableStr = None
    no_ralat_pertek: RequiredStr
    tgl_ralat_pertek: IsoDate = None
    sha256: Annotated[Sha256Hex, NotNull]
    size: Annotated[SizeBytes, NotNull]
    siasn_path: PathText = None


class InboundPenolakan(_InboundBody):
    """`POST /api/v1/inbound/penolakan`: an usulan the hub refused (scope or invalid payload).

    `nip` is optional because an usulan may be refused precisely for an invalid NIP; `alasan`
    must be redaction-safe (e.g. the output of `describe_validation_error`).
    """

    FLOW: ClassVar[str] = "F5"
    ENDPOINT: ClassVar[str] = "/api/v1/inbound/penolakan"

    usulan_id: SiappId
    version: OptionalVersion = None
    nip: OptionalNip = None
    alasan_kode: RequiredEnumCode
    alasan: LongText = None
