"""SIASN reference tables as served: field names, sources and the source of each table.

Where a table comes from (:data:`REF_SOURCES`):

- ``referensi_siasn``: ``GET /referensi_siasn/1/{ref}/search`` (gateway token only), answer
  ``{"results": [...]}`` without envelope. Field names as the public clients store them
  unchanged (kanekescom/laravel-siasn-referensi, ``database/migrations/*`` — its transformers
  pass rows through): golongan ``namaPangkat``, instansi ``cepatKode``, ref-dokumen
  ``layananNama``/``document``/``jenisDokumen``/…; eselon, jabatan-fungsional and
  tingkat-pendidikan are served in snake_case.
- ``ref-unor``: ``GET /apisiasn/1.0/referensi/ref-unor`` (both tokens), ``model.Result``
  envelope with ``data`` = list of ``referensi.UnorResponse`` (BKN swagger,
  ropegkemenag/apimwsbkn). UNOR is not a ``referensi_siasn`` table.
- ``static``: jenis kenaikan pangkat. SIASN serves no jenis-KP table; its ids (101 Reguler,
  201..211 Pilihan, ...) are BKN's published code table, shipped by public clients as data
  (kanekescom/siasn-referensi-dataset ``dataset/jenis_kp.csv``, black-coffee04/ws-siasn-php
  ``src/Data/Referensi/kenaikanPangkat.json.gz``). The hub ships the same table
  (:data:`JENIS_KP_TABLE`); rw-golongan rows carry ``jenisKPId``/``jenisKPNama`` from it.

Every row model keeps unknown fields (SIASN adds columns), the store keeps the row as sent.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import Field

from siapp_siasn.models.base import SiasnModel
from siapp_siasn.models.types import (
    Code,
    Guid,
    NullableStr,
    RequiredCode,
    RequiredGuid,
    SiasnBool,
    SiasnInt,
)

__all__ = [
    "JENIS_KP_TABLE",
    "REFERENCE_TABLES",
    "REFERENSI_SIASN_TABLES",
    "REF_MODELS",
    "REF_PAGE_MODELS",
    "REF_SOURCES",
    "EselonRef",
    "GolonganRef",
    "InstansiRef",
    "JabatanFungsionalRef",
    "KedudukanHukumRef",
    "RefDokumenRef",
    "RefRow",
    "RefSource",
    "ReferensiPage",
    "TingkatPendidikanRef",
    "UnorRef",
    "ref_display_name",
    "ref_row_model",
]

DataT = TypeVar("DataT")

RefSource = Literal["referensi_siasn", "ref-unor", "static"]


class RefRow(SiasnModel):
    """A reference row ``{id, nama}``; ids are strings."""

    #: the served field holding the row's display name (stored as ``referensi.nama``)
    NAME_FIELD: ClassVar[str] = "nama"

    id: RequiredCode
    nama: NullableStr = None

    def display_name(self) -> str | None:
        """The row's name as the store's ``nama`` column holds it."""
        return getattr(self, self.NAME_FIELD, None)


class GolonganRef(RefRow):
    """``golongan``: ``{id, nama, namaPangkat, fungKredututama, fungKreditTambahan,
    fungKreditTotal}`` (``fungKredututama`` is SIASN's spelling)."""

    nama_pangkat: NullableStr = None
    fung_kredututama: SiasnInt = None
    fung_kredit_tambahan: SiasnInt = None
    fung_kredit_total: SiasnInt = None


class InstansiRef(RefRow):
    """``instansi``: GUID id, ``cepatKode`` and the agency's other codes."""

    id: RequiredGuid  # type: ignore[assignment]
    lokasi_id: Guid = None
    jenis: NullableStr = None
    cepat_kode: Code = None
    proses_berkas_dipusat: NullableStr = None
    mgr_cepat_kode: Code = None
    status: Code = None
    cepat_kode5: Code = None
    cepat_kode5_lama: Code = None
    nama_baru: NullableStr = None
    nama_jabatan: NullableStr = None
    jenis_instansi_id: Code = None


class EselonRef(RefRow):
    """``eselon`` (snake_case on the wire): ``{id, nama, terendah_id, tertinggi_id,
    eselon_level_id, asn_jenjang_jabatan_id, jabatan_asn, level_kompetensi_jabatan}``."""

    terendah_id: Code = None
    tertinggi_id: Code = None
    eselon_level_id: Code = None
    asn_jenjang_jabatan_id: Code = None
    jabatan_asn: NullableStr = None
    level_kompetensi_jabatan: NullableStr = None


class KedudukanHukumRef(RefRow):
    """``kedudukan-hukum``: ``{id, nama, aturan, kode}``."""

    aturan: NullableStr = None
    kode: Code = None


class JabatanFungsionalRef(RefRow):
    """``jabatan-fungsional`` (snake_case on the wire); id is a GUID."""

    id: RequiredGuid  # type: ignore[assignment]
    min_gol_id: Code = None
    max_gol_id: Code = None
    bup_usia: SiasnInt = None
    tun_jabatan: SiasnInt = None
    bobot: SiasnInt = None
    kel_jabatan_id: Guid = None
    cepat_kode: Code = None
    mgr_cepat_kode: Code = None
    jenis: Code = None
    cepat_kode_new: Code = None
    status: Code = None
    jml_formasi: SiasnInt = None
    nama_asli: NullableStr = None
    jenjang: Code = None
    jf_ex_medis: Code = None
    is_syarat_jabatan: Code = None
    jenis_jabatan_id: Code = None
    jenis_jabatan_nama: NullableStr = None
    kode_jenjang_jabatan: Code = None
    asn_jenjang_jabatan: NullableStr = None
    level: NullableStr = None
    rumpun_jabatan_id: Code = None
    rumpun_jabatan_nama: NullableStr = None


class TingkatPendidikanRef(RefRow):
    """``tingkat-pendidikan`` (snake_case on the wire)."""

    golongan_id: Code = None
    golongan_awal_id: Code = None
    id_lama: Code = None
    group_tk_pend_id: Code = None
    group_tk_pend_nm: NullableStr = None


class RefDokumenRef(RefRow):
    """``ref-dokumen``: a document kind of a SIASN service; no ``nama``, the name is
    ``document``. Ids are read from this table, never hard-coded (they are SIASN's)."""

    NAME_FIELD: ClassVar[str] = "document"

    layanan_id: Code = None
    layanan_nama: NullableStr = None
    sub_layanan_id: Code = None
    sub_layanan_nama: NullableStr = None
    detail_layanan_id: Code = None
    detail_layanan_nama: NullableStr = None
    document: NullableStr = None
    jenis_dokumen: Code = None
    file_type: Code = None
    link_proses: NullableStr = None
    mandatory: SiasnBool = None


class UnorRef(RefRow):
    """``referensi.UnorResponse`` of ``GET /apisiasn/1.0/referensi/ref-unor``."""

    NAME_FIELD: ClassVar[str] = "nama_unor"

    id: RequiredGuid  # type: ignore[assignment]
    nama_unor: NullableStr = None
    cepat_kode: Code = None
    diatasan_id: Guid = None
    eselon_id: Code = None
    induk_unor_id: Guid = None
    instansi_id: Guid = None
    jenis_unor_id: Code = None
    nama_jabatan: NullableStr = None
    pemimpin_pns_id: Guid = None


REF_MODELS: dict[str, type[RefRow]] = {
    "golongan": GolonganRef,
    "agama": RefRow,
    "instansi": InstansiRef,
    "unor": UnorRef,
    "eselon": EselonRef,
    "jenis-jabatan": RefRow,
    "kedudukan-hukum": KedudukanHukumRef,
    "jabatan-fungsional": JabatanFungsionalRef,
    "tingkat-pendidikan": TingkatPendidikanRef,
    "jenis-kp": RefRow,
    "ref-dokumen": RefDokumenRef,
}
"""Row model per reference table the hub holds."""

#: The reference tables the hub pulls (F2): one list for the hub and the sandbox.
REFERENCE_TABLES: tuple[str, ...] = tuple(REF_MODELS)

#: Where each table comes from (see the module docstring).
REF_SOURCES: dict[str, RefSource] = {
    name: ("ref-unor" if name == "unor" else "static" if name == "jenis-kp" else "referensi_siasn")
    for name in REFERENCE_TABLES
}

#: The tables ``/referensi_siasn/1/{ref}/search`` serves (of those the hub pulls).
REFERENSI_SIASN_TABLES: tuple[str, ...] = tuple(
    name for name in REFERENCE_TABLES if REF_SOURCES[name] == "referensi_siasn"
)

#: jenis kenaikan pangkat, BKN's code table as published by public clients (ids as strings;
#: the double space of "Pilihan  (" is in the source).
JENIS_KP_TABLE: tuple[dict[str, str], ...] = (
    {"id": "101", "nama": "Reguler"},
    {"id": "201", "nama": "Pilihan  (Jabatan Struktural)"},
    {"id": "202", "nama": "Pilihan  (Jabatan Fungsional Tertentu)"},
    {"id": "203", "nama": "Pilihan  (Penyesuaian Ijazah)"},
    {"id": "204", "nama": "Pilihan  (Sedang Melaksanakan Tugas Belajar)"},
    {"id": "205", "nama": "Pilihan  (Setelah Selesai Tugas Belajar)"},
    {"id": "206", "nama": "Pilihan  (Diperbantukan/Diperkerjakan Instansi Lain)"},
    {"id": "207", "nama": "Pilihan  (Penemuan Baru)"},
    {"id": "208", "nama": "Pilihan  (Prestasi Luar Biasa)"},
    {"id": "209", "nama": "Pilihan  (Pejabat Negara)"},
    {"id": "210", "nama": "Pilihan  (Selama DPK/DPB)"},
    {"id": "211", "nama": "Gol. dari Pengadaan CPNS/PNS"},
)


class ReferensiPage(SiasnModel, Generic[DataT]):
    """``{"results": [...]}``: a page shorter than ``limit`` is the last."""

    results: list[DataT] = Field(default_factory=list)


REF_PAGE_MODELS: dict[str, type[ReferensiPage[Any]]] = {
    name: ReferensiPage[REF_MODELS[name]]  # type: ignore[misc]
    for name in REFERENSI_SIASN_TABLES
}
"""Page model per ``referensi_siasn`` table (parametrised once, at import)."""


def ref_row_model(ref: str) -> type[RefRow]:
    """The row model of reference ``ref``; unknown refs get the generic :class:`RefRow`."""
    return REF_MODELS.get(ref, RefRow)


def ref_display_name(ref: str, row: Any) -> str | None:
    """The display name of a raw row of ``ref`` (``nama``, ``namaUnor``, ``document``)."""
    if not isinstance(row, dict):
        return None
    field = ref_row_model(ref).NAME_FIELD
    for key in dict.fromkeys((field, _camel(field), "nama")):
        value = row.get(key)
        if value is not None:
            return str(value)
    return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)
