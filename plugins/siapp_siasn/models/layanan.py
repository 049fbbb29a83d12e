"""Layanan (KP, pemberhentian) rows of the endpoints BKN publishes, read in public-API mode.

Field sets as public clients store them (swagger's ``pns.DataKp`` is partial: it lists
identity fields only):

* ``GET pns/list-kp-instansi`` and ``GET pns/kp-instansi-byId`` (:class:`KpInstansiRow`):
  kanekescom/laravel-siasn-simpeg ``database/migrations/2024_01_02_000007_create_siasn_simpeg_
  pns_list_kp_instansi_table.php`` (``id, pnsId, statusUsulan, statusUsulanNama, nipBaru, nama,
  no_pertek, no_sk, path_ttd_sk, path_ttd_pertek, tgl_pertek, tgl_sk, golonganBaruId, tmtKp,
  path_preview_sk, gaji_pokok_baru, gaji_pokok_lama``) and its 2024_07_19 additions
  ``masa_kerja_tahun``, ``masa_kerja_bulan``, ``jenis_kp``, ``jenis_prosedur``;
  ``alasan_tolak_tambahan`` as read by taufiqurrohmansuwarto/rumahASN (and in swagger's
  ``layanan.UsulanKp``). Mixed casing, as served.
* ``GET pns/list-pensiun-instansi`` (:class:`PensiunInstansiRow`): the same repository's
  ``…000008_create_siasn_simpeg_pns_list_pensiun_instansi_table.php`` (``id, nama,
  statusUsulan, statusUsulanNama, pnsId, nipBaru, pertekNomor, skNomor, pathSk, pathPertek,
  pertekTgl, skTgl, instansiId, instansiNama, detailLayananNama, tglLahir, golonganId,
  golonganKppId, tmtPensiun, pathSkPreview``), camelCase throughout.

Unknown fields are kept (``extra="allow"``) and reported like every inbound model's.
"""

from __future__ import annotations

from siapp_siasn.models.base import SiasnModel, personal, wire
from siapp_siasn.models.types import (
    Code,
    GolonganId,
    Guid,
    LongText,
    NullableStr,
    OptionalNip,
    RequiredCode,
    RequiredGuid,
    SiasnDate,
    SiasnInt,
    SiasnPath,
)

__all__ = ["KpInstansiRow", "PensiunInstansiRow"]


class KpInstansiRow(SiasnModel):
    """A KP usulan as ``list-kp-instansi`` / ``kp-instansi-byId`` serve it."""

    id: RequiredGuid
    pns_id: Guid = None
    status_usulan: RequiredCode
    status_usulan_nama: NullableStr = None
    nip_baru: OptionalNip = None
    nama: NullableStr = personal()
    no_pertek: NullableStr = wire("no_pertek", default=None)
    no_sk: NullableStr = wire("no_sk", default=None)
    path_ttd_sk: SiasnPath = wire("path_ttd_sk", default=None)
    path_ttd_pertek: SiasnPath = wire("path_ttd_pertek", default=None)
    tgl_pertek: SiasnDate = wire("tgl_pertek", default=None)
    tgl_sk: SiasnDate = wire("tgl_sk", default=None)
    golongan_baru_id: GolonganId = None
    tmt_kp: SiasnDate = None
    path_preview_sk: SiasnPath = wire("path_preview_sk", default=None)
    gaji_pokok_baru: SiasnInt = wire("gaji_pokok_baru", default=None)
    gaji_pokok_lama: SiasnInt = wire("gaji_pokok_lama", default=None)
    masa_kerja_tahun: SiasnInt = wire("masa_kerja_tahun", default=None)
    masa_kerja_bulan: SiasnInt = wire("masa_kerja_bulan", default=None)
    jenis_kp: NullableStr = wire("jenis_kp", default=None)
    jenis_prosedur: Code = wire("jenis_prosedur", default=None)
    alasan_tolak_tambahan: LongText = personal(
        validation_alias="alasan_tolak_tambahan", serialization_alias="alasan_tolak_tambahan"
    )


class PensiunInstansiRow(SiasnModel):
    """A pemberhentian usulan as ``list-pensiun-instansi`` serves it."""

    id: RequiredGuid
    nama: NullableStr = personal()
    status_usulan: RequiredCode
    status_usulan_nama: NullableStr = None
    pns_id: Guid = None
    nip_baru: OptionalNip = None
    pertek_nomor: NullableStr = None
    sk_nomor: NullableStr = None
    path_sk: SiasnPath = None
    path_pertek: SiasnPath = None
    pertek_tgl: SiasnDate = None
    sk_tgl: SiasnDate = None
    instansi_id: Guid = None
    instansi_nama: NullableStr = None
    detail_layanan_nama: NullableStr = None
    tgl_lahir: SiasnDate = personal()
    golongan_id: GolonganId = None
    golongan_kpp_id: GolonganId = None
    tmt_pensiun: SiasnDate = None
    path_sk_preview: SiasnPath = None
