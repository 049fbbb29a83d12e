"""PKS endpoints under `/apisiasn/1.0/siapp/` (ours, in SIASN's envelope and casing style).

Inbound (SIASN → hub): the ASN enumeration (F1), status-usulan rows with pertek / ralat pertek
references (F3/F4), the documents SIASN holds (reconciliation), and the POST answer.
Outbound (hub → SIASN, snake_case JSON): usulan (F5), verifikasi-setneg (F6), keppres (F7),
pic (F8). Outbound bodies refuse unknown fields; dates go out as `dd-mm-yyyy`.
"""

from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import Field

from siapp_siasn.models.base import OutboundModel, SiasnModel, SiasnSnakeModel, personal, wire
from siapp_siasn.models.siasn import SiasnEnvelope
from siapp_siasn.models.types import (
    Code,
    EnumCode,
    GolonganId,
    Guid,
    LongText,
    Nip,
    NotNull,
    NullableStr,
    OptionalNip,
    RequiredCode,
    RequiredEnumCode,
    RequiredGuid,
    RequiredStr,
    Sha256Hex,
    SiappId,
    SiasnDate,
    SiasnInt,
    SiasnPath,
    SizeBytes,
    enum_type,
    siasn_int,
)

RowT = TypeVar("RowT")

HASIL_VERIFIKASI_BKN = ("MS", "TMS", "BTS")
HasilVerifikasiBkn = enum_type(
    *HASIL_VERIFIKASI_BKN, description="MS eligible, TMS not, BTS incomplete"
)
HASIL_VERIFIKASI_SETNEG = ("DISETUJUI", "DITOLAK")
AKSI_PIC = ("GRANT", "REVOKE")
Versi = Annotated[siasn_int(ge=1, description="version number (>= 1)"), NotNull]

STATUS_USULAN: dict[str, str] = {
    "1": "diterima",
    "11": "BTS (berkas tidak sesuai)",
    "12": "TMS (tidak memenuhi syarat)",
    "13": "MS (memenuhi syarat)",
    "22": "pertek ditandatangani",
    "23": "ralat pertek",
    "32": "SK (Keppres) diterima",
}
"""BKN `statusUsulan` codes (modelled on list-kp-instansi)."""
STATUS_PERTEK_SIGNED = "22"
STATUS_RALAT_PERTEK = "23"
STATUS_SK_RECEIVED = "32"


class PksList(SiasnModel, Generic[RowT]):
    """`data` of a PKS list: `{"total": "<n>", "list": [...]}`."""

    total: SiasnInt = None
    items: list[RowT] = wire("list", default_factory=list)


class PksAsnRow(SiasnModel):
    """`GET siapp/asn` row: who to fetch (≥ IV/b now or before the change)."""

    nip_baru: Nip
    gol_ruang_akhir_id: GolonganId = None
    kedudukan_pns_id: Code = None
    updated: SiasnDate = None


class StatusUsulanRow(SiasnModel):
    """`GET siapp/status-usulan` row: BKN verification status, pertek and ralat pertek (F3/F4).

    Mixed casing as in list-kp-instansi: `nipBaru`, `statusUsulan`, `statusUsulanNama` are
    camelCase, the rest snake_case. `path_*` may be `{"": "<path>"}` or a string.
    """

    id: RequiredGuid
    id_usulan_siapp: SiappId = wire("id_usulan_siapp")
    nip_baru: Nip
    jenis_usulan: EnumCode = wire("jenis_usulan", default=None)
    versi: SiasnInt = None
    status_usulan: RequiredCode
    status_usulan_nama: NullableStr = None
    hasil_verifikasi: HasilVerifikasiBkn = wire("hasil_verifikasi", default=None)
    alasan: LongText = personal()
    no_pertek: NullableStr = wire("no_pertek", default=None)
    tgl_pertek: SiasnDate = wire("tgl_pertek", default=None)
    path_ttd_pertek: SiasnPath = wire("path_ttd_pertek", default=None)
    no_ralat_pertek: NullableStr = wire("no_ralat_pertek", default=None)
    tgl_ralat_pertek: SiasnDate = wire("tgl_ralat_pertek", default=None)
    path_ralat_pertek: SiasnPath = wire("path_ralat_pertek", default=None)
    updated: SiasnDate = None

    @property
    def status_label(self) -> str | None:
        """Known meaning of `status_usulan`, or None for a code this hub does not know."""
        return STATUS_USULAN.get(self.status_usulan)


class SiasnDokumenRow(SiasnSnakeModel):
    """`GET siapp/dokumen` row: a document SIASN holds for a SIAPP usulan."""

    dok_id: RequiredGuid
    dok_uri: SiasnPath = None
    id_ref_dokumen: Code = None
    id_usulan_siapp: SiappId | None = None
    jenis: Code = None
    sha256: Sha256Hex = None
    size: SizeBytes = None


class PksPostResult(SiasnModel):
    """`data` of a PKS POST answer `{"id": "<guid>", "status": "diterima"}`."""

    id: RequiredGuid
    status: NullableStr = None


PksAsnPage = SiasnEnvelope[PksList[PksAsnRow]]
StatusUsulanPage = SiasnEnvelope[PksList[StatusUsulanRow]]
SiasnDokumenPage = SiasnEnvelope[PksList[SiasnDokumenRow]]
PksPostResponse = SiasnEnvelope[PksPostResult]


# --------------------------------------------------------------------------------------------
# outbound bodies
# --------------------------------------------------------------------------------------------
class PksDokumen(OutboundModel):
    """A document reference inside a PKS body (uploaded first with upload-dok)."""

    id_ref_dokumen: RequiredCode
    dok_id: RequiredGuid
    dok_uri: Annotated[SiasnPath, NotNull]
    sha256: Annotated[Sha256Hex, NotNull]
    size: Annotated[SizeBytes, NotNull]


class _PksBody(OutboundModel):
    FLOW: ClassVar[str] = ""
    ENDPOINT: ClassVar[str] = ""


class UsulanBody(_PksBody):
    """`POST siapp/usulan` (F5): a proposal and its documents."""

    FLOW: ClassVar[str] = "F5"
    ENDPOINT: ClassVar[str] = "/apisiasn/1.0/siapp/usulan"

    id_usulan_siapp: SiappId
    versi: Versi
    nip: Nip
    jenis_usulan: RequiredEnumCode
    kategori_jabatan: RequiredEnumCode
    instansi_id: Guid = None
    golongan_baru_id: GolonganId = None
    tmt: SiasnDate = None
    jenis_kp: Code = None
    dokumen: list[PksDokumen] = Field(min_length=1, max_length=100)


class VerifikasiSetnegBody(_PksBody):
    """`POST siapp/verifikasi-setneg` (F6): Kemensetneg's technical verification result."""

    FLOW: ClassVar[str] = "F6"
    ENDPOINT: ClassVar[str] = "/apisiasn/1.0/siapp/verifikasi-setneg"

    id_usulan_siapp: SiappId
    id_verifikasi_siapp: SiappId
    versi: Versi
    nip: OptionalNip = None
    hasil: enum_type(*HASIL_VERIFIKASI_SETNEG, required=True)  # type: ignore[valid-type]
    catatan: LongText = personal()
    tgl_verifikasi: SiasnDate = None


class KeppresBody(_PksBody):
    """`POST siapp/keppres` (F7): data of an issued Keppres and its copy."""

    FLOW: ClassVar[str] = "F7"
    ENDPOINT: ClassVar[str] = "/apisiasn/1.0/siapp/keppres"

    id_usulan_siapp: SiappId
    id_keppres_siapp: SiappId
    versi: Versi
    nip: Nip
    no_keppres: RequiredStr
    tgl_keppres: Annotated[SiasnDate, NotNull]
    tmt: Annotated[SiasnDate, NotNull]
    dokumen: PksDokumen


class PicBody(_PksBody):
    """`POST siapp/pic` (F8): grant or revoke PIC Instansi access for a NIP."""

    FLOW: ClassVar[str] = "F8"
    ENDPOINT: ClassVar[str] = "/apisiasn/1.0/siapp/pic"

    id_pic_siapp: SiappId
    versi: Versi
    nip: Nip
    instansi_id: RequiredGuid
    aksi: enum_type(*AKSI_PIC, required=True)  # type: ignore[valid-type]


PKS_BODIES: dict[str, type[_PksBody]] = {
    "usulan": UsulanBody,
    "verifikasi-setneg": VerifikasiSetnegBody,
    "keppres": KeppresBody,
    "pic": PicBody,
}
"""Body model per PKS POST endpoint (last path segment)."""
