"""SIASN payloads (BKN): tokens, envelopes, errors, employee data, references, documents.

Shapes follow docs/CONTRACT.md. Values arrive as strings; the annotated types in
`siapp_siasn.models.types` turn them into dates, ints, bools and validated ids.
"""

from typing import ClassVar, Generic, TypeVar

from pydantic import Field, SecretStr

from siapp_siasn.models.base import HubModel, SiasnModel, SiasnSnakeModel, personal, wire
from siapp_siasn.models.referensi import (
    REF_MODELS as REF_MODELS,
)
from siapp_siasn.models.referensi import (
    REF_PAGE_MODELS as REF_PAGE_MODELS,
)
from siapp_siasn.models.referensi import (
    REFERENCE_TABLES as REFERENCE_TABLES,
)
from siapp_siasn.models.referensi import (
    GolonganRef as GolonganRef,
)
from siapp_siasn.models.referensi import (
    InstansiRef as InstansiRef,
)
from siapp_siasn.models.referensi import (
    JabatanFungsionalRef as JabatanFungsionalRef,
)
from siapp_siasn.models.referensi import (
    ReferensiPage as ReferensiPage,
)
from siapp_siasn.models.referensi import (
    RefRow as RefRow,
)
from siapp_siasn.models.referensi import (
    UnorRef,
)
from siapp_siasn.models.referensi import (
    ref_row_model as ref_row_model,
)
from siapp_siasn.models.types import (
    Code,
    Gender,
    GolonganId,
    Guid,
    LongText,
    Nip,
    NullableStr,
    OptionalNip,
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
TEXT = text_type(1000, description="text up to 1000 characters")
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
    """Read envelope `model.Result` `{"code", "count", "data", "message"}` (swagger)."""

    code: SiasnInt
    count: SiasnInt = None
    data: DataT
    message: LongText = None


class SiasnNotFound(SiasnModel):
    """404 envelope `{"code": 0, "data": "Data tidak ditemukan"}` (not found and empty)."""

    code: SiasnInt
    data: LongText = None


# --------------------------------------------------------------------------------------------
# employee payloads: every field of the contract (include/contract/siasn.json), by its real
# name. Python names are the snake_case of the real name; `wire(...)` is used where the real
# name is not the camelCase of the python name, or for a variant seen in a public client.
# Every model also accepts the camelCase / snake_case / PascalCase spelling of each name
# (`StatusHidup` for `statusHidup` is one SIASN serves: kanekescom/laravel-siasn-simpeg
# database/migrations/2024_01_02_000031_create_siasn_simpeg_pasangan_table.php stores
# `StatusHidup` and `JenisKawinId`).
# --------------------------------------------------------------------------------------------
class ContractModel(SiasnModel):
    """A SIASN payload bound to the contract: every declared field is a contract field.

    `missing_fields()` names the contract fields absent from the input (absent is not null:
    a null form is a present value), nested objects and list items included.
    """

    def missing_fields(self) -> list[str]:
        """Dotted wire paths of declared fields absent from the input, sorted (names only)."""
        out: set[str] = set()
        _collect_missing(self, "", out)
        return sorted(out)


def _collect_missing(model: HubModel, prefix: str, out: set[str]) -> None:
    present = model.model_fields_set
    for name, finfo in type(model).model_fields.items():
        wire_name = finfo.serialization_alias or name
        if name not in present:
            if isinstance(model, ContractModel):
                out.add(prefix + wire_name)
            continue
        value = model.__dict__.get(name)
        if isinstance(value, HubModel):
            _collect_missing(value, f"{prefix}{wire_name}.", out)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, HubModel):
                    _collect_missing(item, f"{prefix}{wire_name}[].", out)


class DataUtama(ContractModel):
    """`GET /apisiasn/1.0/pns/data-utama/{nipBaru}` → `data` (`pns.DataUtamaResponse` + the
    three fields public clients show: `validNik`, `path`, `tglSpmt`)."""

    HASH_EXCLUDE: ClassVar[frozenset[str]] = frozenset({"path"})

    id: RequiredGuid
    nip_baru: Nip
    nip_lama: NIP_LAMA = personal()
    nama: RequiredStr = personal(...)
    gelar_depan: TITLE = None
    gelar_belakang: TITLE = wire(
        "gelarBelakang",
        # the spelling of pns.OrangResp, served in data-utama by the sandbox as a documented
        # quirk (docs/CONTRACT.md); kanekescom/laravel-siasn-simpeg stores it for spouses
        "gelarBlk",
        default=None,
    )
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
    valid_nik: SiasnBool = None

    path: SiasnPathAny = personal()
    # the other fields of the contract, alphabetical
    agama: NullableStr = None
    akte_kelahiran: NullableStr = personal()
    akte_meninggal: NullableStr = personal()
    bahasa: NullableStr = None
    bpjs: NullableStr = personal()
    eselon: NullableStr = None
    eselon_level: Code = None
    gaji_pokok: NullableStr = None
    gol_ruang_awal: Code = None
    instansi_kerja_kode_cepat: Code = None
    instansi_kerja_nama: TEXT = None
    jabatan_asn: NullableStr = None
    jabatan_fungsional_umum_id: Code = None
    jabatan_fungsional_umum_nama: TEXT = None
    jabatan_struktural_id: Code = None
    jabatan_struktural_nama: TEXT = None
    jenis_id_dokumen_id: Code = None
    jenis_id_dokumen_nama: NullableStr = None
    jenis_jabatan: NullableStr = None
    jenis_pegawai_nama: TEXT = None
    jenjang: NullableStr = None
    jumlah_istri_suami: YEARS = None
    kanreg_id: Code = None
    kanreg_nama: TEXT = None
    kartu_asn: NullableStr = personal()
    kedudukan_pns_nama: TEXT = None
    kode_pos: NullableStr = personal()
    kpkn_nama: TEXT = None
    kppn_id: Code = None
    kppn_nama: TEXT = None
    ktua_id: Code = None
    ktua_nama: TEXT = None
    lokasi_kerja: TEXT = None
    masa_kerja: NullableStr = None
    no_askes: NullableStr = personal()
    no_npwp: NullableStr = personal()
    no_seri_karpeg: NullableStr = personal()
    no_spmt: NullableStr = personal()
    no_surat_keterangan_bebas_narkoba: NullableStr = personal()
    no_surat_keterangan_dokter: NullableStr = personal()
    no_taspen: NullableStr = personal()
    no_telp: PHONE = personal()
    nomor_id_document: NullableStr = personal()
    nomor_sk_cpns: TEXT = personal()
    nomor_sk_pns: TEXT = personal()
    nomor_sttpl: TEXT = personal()
    pendidikan_terakhir_nama: TEXT = None
    satuan_kerja_induk_id: Guid = None
    satuan_kerja_induk_nama: TEXT = None
    satuan_kerja_kerja_nama: TEXT = None
    skck: NullableStr = personal()
    status_hidup: Code = None
    status_perkawinan: NullableStr = None
    tahun_lulus: NullableStr = None
    taspen_id: Code = None
    taspen_nama: TEXT = None
    tempat_lahir_id: Code = personal()
    tgl_meninggal: SiasnDate = personal()
    tgl_npwp: SiasnDate = personal()
    tgl_sk_cpns: SiasnDate = None
    tgl_sk_pns: SiasnDate = None
    tgl_skck: SiasnDate = personal()
    tgl_spmt: SiasnDate = None
    tgl_sttpl: SiasnDate = None
    tgl_surat_keterangan_bebas_narkoba: SiasnDate = personal()
    tgl_surat_keterangan_dokter: SiasnDate = personal()
    tk_pendidikan_terakhir: NullableStr = None
    unor_induk_id: Guid = None
    unor_induk_nama: TEXT = None

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
class Orang(ContractModel):
    """`listPasangan[].orang` (`pns.OrangResp`): the spouse as a person."""

    akta_meninggal: NullableStr = personal()
    ayah_id: Guid = None
    created_at: NullableStr = wire("created_at", default=None)
    gelar_blk: TITLE = None
    gelar_depan: TITLE = None
    ibu_id: Guid = None
    id: Guid = None
    jenis_anak: Code = None
    jenis_kawin_id: Code = None  # `JenisKawinId` in kanekescom/laravel-siasn-simpeg (pasangan)
    jenis_kelamin: Gender = None
    karis_karsu: NullableStr = personal()
    nama: NullableStr = personal()
    nama_ktp: NullableStr = personal()
    status_hidup: Code = None  # `StatusHidup` in kanekescom/laravel-siasn-simpeg (pasangan)
    tempat_lahir: NullableStr = personal()
    tgl_lahir: SiasnDate = personal()
    tgl_meninggal: SiasnDate = None


class DataPernikahan(ContractModel):
    """`listPasangan[].dataPernikahan` (`pns.PnsOrangIstriResponse`); `posisi` is an integer
    and `isPns` a boolean (both also accepted as strings, as public clients store them)."""

    akta_cerai: NullableStr = personal()
    akta_menikah: NullableStr = personal()
    id: Guid = None
    is_pns: SiasnBool = None
    no_sk_pensiun: NullableStr = personal()
    orang_id: Guid = None
    pns_orang_id: Guid = None
    posisi: SiasnInt = None
    status: Code = None
    tgl_cerai: SiasnDate = wire("tgglCerai", default=None)
    tgl_menikah: SiasnDate = wire("tgglMenikah", default=None)


class Pasangan(ContractModel):
    """One entry of `listPasangan` (`pns.Pasangan`)."""

    data_pernikahan: DataPernikahan | None = None
    orang: Orang
    status_nikah: Code = None


class DataPasangan(ContractModel):
    """`GET /apisiasn/1.0/pns/data-pasangan/{nipBaru}` → `data` (`pns.DataPasangan`)."""

    id_pns: Guid = None
    list_pasangan: list[Pasangan] = Field(default_factory=list, max_length=50)
    nip_baru: OptionalNip = None
    nip_lama: NIP_LAMA = personal()


class Anak(ContractModel):
    """One entry of `listAnak` (`pns.ListAnak`): `jenisAnak` kandung/tiri/angkat, the parents'
    ids `ayahId` / `ibuId`."""

    ayah_id: Guid = None
    ibu_id: Guid = None
    id: Guid = None
    jenis_anak: Code = None
    jenis_kelamin: Gender = None
    kabupaten_id: Code = None
    nama: NullableStr = personal()
    tempat_lahir: NullableStr = personal()
    tgl_lahir: SiasnDate = personal()


class DataAnak(ContractModel):
    """`GET /apisiasn/1.0/pns/data-anak/{nipBaru}` → `data` (`pns.DataAnak`)."""

    id_pns: Guid = None
    list_anak: list[Anak] = Field(default_factory=list, max_length=100)
    nip_baru: OptionalNip = None
    nip_lama: NIP_LAMA = personal()


class OrangTua(ContractModel):
    """The fields `pns.DataAyahResponse` and `pns.DataIbuResponse` share."""

    akta_meninggal: NullableStr = personal()
    id: Guid = None
    jenis_anak: Code = None
    jenis_kelamin: Gender = None
    nama: NullableStr = personal()
    tempat_lahir: NullableStr = personal()
    tgl_lahir: SiasnDate = personal()
    tgl_meninggal: SiasnDate = None


class DataAyah(OrangTua):
    """`ayah` of data-ortu (`pns.DataAyahResponse`)."""

    ayah_id: Guid = None


class DataIbu(OrangTua):
    """`ibu` of data-ortu (`pns.DataIbuResponse`)."""

    ibu_id: Guid = None


class DataOrtu(ContractModel):
    """`GET /apisiasn/1.0/pns/data-ortu/{nipBaru}` → `data` (`pns.DataOrtu`; a parent SIASN
    does not hold is null)."""

    ayah: DataAyah | None = None
    ibu: DataIbu | None = None
    id_pns: Guid = None
    nip_baru: OptionalNip = None
    nip_lama: NIP_LAMA = personal()


# --------------------------------------------------------------------------------------------
# riwayat golongan
# --------------------------------------------------------------------------------------------
class RwGolongan(ContractModel):
    """One row of `GET /apisiasn/1.0/pns/rw-golongan/{nipBaru}` → `data[]`
    (`riwayat.RWGolonganResponse`, oldest first); `path` is JSON keyed by ref-dokumen id."""

    HASH_EXCLUDE: ClassVar[frozenset[str]] = frozenset({"path"})

    golongan: Code = None
    golongan_id: GolonganId = None
    id: Guid = None
    id_pns: Guid = None
    jenis_kp_id: Code = wire(
        "jenisKPId",
        # re-cased: a public Go relay of rw-golongan names it `JenisKpId` (protobuf style)
        "jenisKpId",
        default=None,
    )
    jenis_kp_nama: NullableStr = wire("jenisKPNama", default=None)
    jumlah_kredit_tambahan: Code = None
    jumlah_kredit_utama: Code = None
    masa_kerja_golongan_bulan: MONTHS = None
    masa_kerja_golongan_tahun: YEARS = None
    nip_baru: OptionalNip = None
    nip_lama: NIP_LAMA = personal()
    no_pertek_bkn: NullableStr = None
    path: SiasnPathAny = personal()
    sk_nomor: NullableStr = None
    sk_tanggal: SiasnDate = None
    tgl_pertek_bkn: SiasnDate = None
    tmt_golongan: SiasnDate = None


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

# referensi: moved to siapp_siasn.models.referensi (re-exported above for existing imports)
#: `GET /apisiasn/1.0/referensi/ref-unor`: `model.Result` with `data` = `referensi.UnorResponse[]`.
UnorResponse = SiasnEnvelope[list[UnorRef]]
