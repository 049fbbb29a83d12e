"""SIASN payloads (BKN): tokens, envelopes, errors, employee data, references, documents.

Shapes follow docs/CONTRACT.md. Values arrive as strings; the annotated types in
`siapp_siasn.models.types` turn them into dates, ints, bools and validated ids.
"""

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field, SecretStr

from siapp_siasn.models.base import SiasnModel, SiasnSnakeModel, personal, wire
from siapp_siasn.models.types import (
    Code,
    Gender,
    GolonganId,
    Guid,
    LongText,
    Nip,
    NullableStr,
    OptionalNip,
    RequiredCode,
    RequiredGuid,
    RequiredStr,
    SiasnBool,
    SiasnDate,
    SiasnInt,
    SiasnPath,
    SiasnPathAny,
    siasn_int,
    text_type,
)

DataT = TypeVar("DataT")

NIP_LAMA = text_type(32, description="old 9-digit NIP (personal)")
NIK = text_type(32, description="national identity number (personal)")
EMAIL = text_type(254, description="e-mail address (personal)")
PHONE = text_type(64, description="phone number (personal)")
TITLE = text_type(64, description="academic title")
ADDRESS = text_type(1000, multiline=True, description="address (personal)")
MONTHS = siasn_int(ge=0, le=11, description="months 0-11 sent as a string")
YEARS = siasn_int(ge=0, le=99, description="years sent as a string")


# --------------------------------------------------------------------------------------------
# tokens and errors
# --------------------------------------------------------------------------------------------
class GatewayTokenResponse(SiasnSnakeModel):
    """WSO2 APIM `POST /oauth2/token` (client_credentials) answer."""

    access_token: SecretStr = Field(max_length=8192)
    token_type: NullableStr = None
    scope: NullableStr = None
    expires_in: SiasnInt = None


class SsoTokenResponse(SiasnSnakeModel):
    """Keycloak `POST /auth/realms/public-siasn/protocol/openid-connect/token` answer."""

    access_token: SecretStr = Field(max_length=8192)
    expires_in: SiasnInt = None
    refresh_expires_in: SiasnInt = None
    refresh_token: SecretStr | None = Field(None, max_length=8192)
    token_type: NullableStr = None
    not_before_policy: SiasnInt = wire("not-before-policy", "notBeforePolicy", default=None)
    session_state: NullableStr = None
    scope: NullableStr = None


class SiasnErrorBody(SiasnModel):
    """4xx/5xx body `{"Error": "<short>", "Message": "<text>"}` (any casing accepted)."""

    error: NullableStr = wire("Error", default=None)
    message: LongText = wire("Message", default=None)


class SiasnEnvelope(SiasnModel, Generic[DataT]):
    """Success envelope `{"code": 1, "data": ...}`."""

    code: SiasnInt
    data: DataT


class SiasnNotFound(SiasnModel):
    """404 envelope `{"code": 0, "data": "Data tidak ditemukan"}` (not found and empty)."""

    code: SiasnInt
    data: LongText = None


# --------------------------------------------------------------------------------------------
# data utama
# --------------------------------------------------------------------------------------------
class DataUtama(SiasnModel):
    """`GET /apisiasn/1.0/pns/data-utama/{nipBaru}` → `data`: the typed subset, extras kept."""

    HASH_EXCLUDE: ClassVar[frozenset[str]] = frozenset({"path"})

    id: RequiredGuid
    nip_baru: Nip
    nip_lama: NIP_LAMA = personal()
    nama: RequiredStr = personal(...)
    gelar_depan: TITLE = None
    gelar_belakang: TITLE = wire("gelarBelakang", "gelarBlk", default=None)
    tempat_lahir: NullableStr = personal()
    tgl_lahir: SiasnDate = personal()
    jenis_kelamin: Gender = None
    agama_id: Code = None
    nik: NIK = personal()
    email: EMAIL = personal()
    email_gov: EMAIL = personal()
    no_hp: PHONE = personal()
    alamat: ADDRESS = personal()
    jenis_pegawai_id: Code = None
    kedudukan_pns_id: Code = None
    status_pegawai: NullableStr = None
    instansi_induk_id: Guid = None
    instansi_induk_nama: NullableStr = None
    instansi_kerja_id: Guid = None
    satuan_kerja_kerja_id: Guid = None
    unor_id: Guid = None
    unor_nama: NullableStr = None
    jenis_jabatan_id: Code = None
    jabatan_nama: NullableStr = None
    jabatan_fungsional_id: Guid = None
    jabatan_fungsional_nama: NullableStr = None
    eselon_id: Code = None
    tmt_eselon: SiasnDate = None
    tmt_jabatan: SiasnDate = None
    gol_ruang_awal_id: GolonganId = None
    gol_ruang_akhir_id: GolonganId = None
    gol_ruang_akhir: Code = None
    pangkat_akhir: NullableStr = None
    tmt_gol_akhir: SiasnDate = None
    tmt_cpns: SiasnDate = None
    tmt_pns: SiasnDate = None
    tmt_pensiun: SiasnDate = None
    bup_pensiun: YEARS = None
    mk_tahun: YEARS = None
    mk_bulan: MONTHS = None
    pendidikan_terakhir_id: Guid = None
    tk_pendidikan_terakhir_id: Code = None
    jenis_kawin_id: Code = None
    jumlah_anak: YEARS = None
    kpkn_id: Guid = None
    lokasi_kerja_id: Guid = None
    is_valid_nik: SiasnBool = None
    path: SiasnPathAny = None

    def consistency_issues(self) -> list[str]:
        """Kinds of disagreement between the NIP and the record (never values).

        `nip_birth_date_mismatch`, `nip_gender_mismatch`, `nip_tmt_cpns_mismatch`: data-quality
        signals for reports; they do not fail validation (SIASN holds such records).
        """
        from siapp_siasn.models.nip import parse_nip

        parts = parse_nip(self.nip_baru)
        issues: list[str] = []
        if self.tgl_lahir is not None and self.tgl_lahir != parts.birth_date:
            issues.append("nip_birth_date_mismatch")
        if self.jenis_kelamin is not None and self.jenis_kelamin != parts.gender:
            issues.append("nip_gender_mismatch")
        if self.tmt_cpns is not None and (self.tmt_cpns.year, self.tmt_cpns.month) != (
            parts.tmt_cpns_year,
            parts.tmt_cpns_month,
        ):
            issues.append("nip_tmt_cpns_mismatch")
        return issues


# --------------------------------------------------------------------------------------------
# family
# --------------------------------------------------------------------------------------------
class Orang(SiasnModel):
    """A person record inside family payloads (`orang`, `ayah`, `ibu`)."""

    id: Guid = None
    nama: NullableStr = personal()
    tgl_lahir: SiasnDate = personal()
    jenis_kelamin: Gender = None
    nik: NIK = personal()
    status_hidup: Code = wire("statusHidup", "StatusHidup", default=None)


class DataPernikahan(SiasnModel):
    """`dataPernikahan` of one spouse (`tgglMenikah` / `tgglCerai` spelling quirks)."""

    tgl_menikah: SiasnDate = wire("tgglMenikah", "tglMenikah", default=None)
    akta_menikah: NullableStr = personal()
    tgl_cerai: SiasnDate = wire("tgglCerai", "tglCerai", default=None)
    akta_cerai: NullableStr = personal()
    is_pns: SiasnBool = None
    posisi: Code = None


class Pasangan(SiasnModel):
    """One entry of `listPasangan`."""

    orang: Orang
    status_nikah: Code = None
    data_pernikahan: DataPernikahan | None = None


class DataPasangan(SiasnModel):
    """`GET /apisiasn/1.0/pns/data-pasangan/{nip}` → `data`."""

    list_pasangan: list[Pasangan] = Field(default_factory=list, max_length=50)


class Anak(SiasnModel):
    """One entry of `listAnak`."""

    id: Guid = None
    nama: NullableStr = personal()
    tgl_lahir: SiasnDate = personal()
    jenis_kelamin: Gender = None
    status_hidup: Code = wire("statusHidup", "StatusHidup", default=None)
    status_anak: Code = None
    orang_tua_id: Guid = None
    nik: NIK = personal()


class DataAnak(SiasnModel):
    """`GET /apisiasn/1.0/pns/data-anak/{nip}` → `data`."""

    list_anak: list[Anak] = Field(default_factory=list, max_length=100)


class DataOrtu(SiasnModel):
    """`GET /apisiasn/1.0/pns/data-ortu/{nip}` → `data` (a missing parent is null)."""

    ayah: Orang | None = None
    ibu: Orang | None = None


# --------------------------------------------------------------------------------------------
# riwayat golongan
# --------------------------------------------------------------------------------------------
class RwGolongan(SiasnModel):
    """One row of `GET /apisiasn/1.0/pns/rw-golongan/{nip}` → `data[]` (oldest first)."""

    id: Guid = None
    id_pns: Guid = None
    nip_baru: OptionalNip = None
    golongan_id: GolonganId = None
    golongan: Code = None
    sk_nomor: NullableStr = None
    sk_tanggal: SiasnDate = None
    tmt_golongan: SiasnDate = None
    no_pertek_bkn: NullableStr = None
    tgl_pertek_bkn: SiasnDate = None
    jenis_kp_id: Code = wire("jenisKPId", "jenisKpId", default=None)
    mk_golongan_tahun: YEARS = None
    mk_golongan_bulan: MONTHS = None


# --------------------------------------------------------------------------------------------
# referensi (gateway token only, `{"results": [...]}` without envelope)
# --------------------------------------------------------------------------------------------
class RefRow(SiasnSnakeModel):
    """A reference row `{id, nama}`; ids are strings."""

    id: RequiredCode
    nama: NullableStr = None


class GolonganRef(RefRow):
    """`golongan` `{id, nama, nama_pangkat}`; id is the golongan id (11..45)."""

    nama_pangkat: NullableStr = None


class InstansiRef(RefRow):
    """`instansi` `{id, nama, kode_cepat, jenis}`; id is a GUID."""

    id: RequiredGuid  # type: ignore[assignment]
    kode_cepat: Code = None
    jenis: NullableStr = None


class UnorRef(RefRow):
    """`unor` `{id, nama, instansi_id, diatasan_id}`; ids are GUIDs."""

    id: RequiredGuid  # type: ignore[assignment]
    instansi_id: Guid = None
    diatasan_id: Guid = None


class JabatanFungsionalRef(RefRow):
    """`jabatan-fungsional` `{id, nama, jenjang}`; id is a GUID."""

    id: RequiredGuid  # type: ignore[assignment]
    jenjang: NullableStr = None


REF_MODELS: dict[str, type[RefRow]] = {
    "golongan": GolonganRef,
    "agama": RefRow,
    "instansi": InstansiRef,
    "unor": UnorRef,
    "eselon": RefRow,
    "jenis-jabatan": RefRow,
    "kedudukan-hukum": RefRow,
    "jabatan-fungsional": JabatanFungsionalRef,
    "tingkat-pendidikan": RefRow,
    "jenis-kp": RefRow,
    "ref-dokumen": RefRow,
}
"""Row model per reference name of `GET /referensi_siasn/1/{ref}/search`."""

#: The reference tables the hub pulls (F2) and the sandbox serves: one list for both.
REFERENCE_TABLES: tuple[str, ...] = tuple(REF_MODELS)


class ReferensiPage(SiasnSnakeModel, Generic[DataT]):
    """`{"results": [...]}`: a page shorter than `limit` is the last."""

    results: list[DataT] = Field(default_factory=list)


REF_PAGE_MODELS: dict[str, type[ReferensiPage[Any]]] = {
    name: ReferensiPage[model]  # type: ignore[valid-type]
    for name, model in REF_MODELS.items()
}
"""Page model per reference name (parametrised once, at import)."""


def ref_row_model(ref: str) -> type[RefRow]:
    """The row model of reference `ref`; unknown refs get the generic `RefRow`."""
    return REF_MODELS.get(ref, RefRow)


# --------------------------------------------------------------------------------------------
# documents
# --------------------------------------------------------------------------------------------
class UploadDokResult(SiasnSnakeModel):
    """`data` of `POST upload-dok` / `upload-dok-sk-kp`."""

    dok_id: RequiredGuid
    dok_nama: NullableStr = None
    dok_uri: SiasnPath = None
    object: LongText = None
    slug: Code = None


DataUtamaResponse = SiasnEnvelope[DataUtama]
DataPasanganResponse = SiasnEnvelope[DataPasangan]
DataAnakResponse = SiasnEnvelope[DataAnak]
DataOrtuResponse = SiasnEnvelope[DataOrtu]
RwGolonganResponse = SiasnEnvelope[list[RwGolongan]]
UploadDokResponse = SiasnEnvelope[UploadDokResult]
