"""Fixed reference tables of the sandbox, in the shapes SIASN serves them, and name pools.

Everything here is constant: independent of the world seed and size, so the same ids appear in
every sandbox run. Ids are strings (as SIASN serves them). :func:`referensi` gives the rows of
every table the hub holds (``ref name -> rows``, the sandbox truth); where each is served
follows ``siapp_siasn.models.referensi.REF_SOURCES``:

- ``/referensi_siasn/1/{ref}/search`` serves :data:`REFERENSI_SIASN_NAMES` (field names as the
  public clients store them unchanged: kanekescom/laravel-siasn-referensi migrations);
- ``/apisiasn/1.0/referensi/ref-unor`` serves ``unor`` (``referensi.UnorResponse`` of BKN's
  swagger);
- ``jenis-kp`` is served nowhere (a static BKN code table the hub ships).

ref-dokumen ids are SIASN's where a public source shows them (black-coffee04/ws-siasn-php
``src/Data/Referensi/dokumen.json.gz``: 872..892, 1179; a public SIASN web client: 2 pertek,
24 DRH); documents the usulan flows need that no public source numbers get synthetic ids of
:data:`SYNTHETIC_REF_DOKUMEN_MIN` and above. The hub resolves ids by ``document`` name
(:data:`USULAN_DOKUMEN`), never by a hard-coded id.

Personal-looking strings (first names, cities) are generic pools for synthetic people, not data
about anyone.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from siapp_siasn.models.referensi import JENIS_KP_TABLE, REF_SOURCES, REFERENCE_TABLES

__all__ = [
    "AGAMA",
    "ESELON",
    "GOLONGAN",
    "GOLONGAN_IDS",
    "JENIS_JABATAN",
    "JENIS_KP",
    "KEDUDUKAN_HUKUM",
    "REFERENSI_SIASN_NAMES",
    "REF_DOKUMEN",
    "REF_NAMES",
    "SYNTHETIC_REF_DOKUMEN_MIN",
    "TINGKAT_PENDIDIKAN",
    "USULAN_DOKUMEN",
    "guid",
    "instansi_rows",
    "jabatan_fungsional_rows",
    "ref_dokumen_id",
    "ref_dokumen_rows",
    "referensi",
    "served_referensi",
    "unor_rows",
]


def guid(*parts: object) -> str:
    """A stable 32-hex upper-case GUID (SIASN style) derived from ``parts``."""
    raw = ":".join(str(p) for p in parts).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest().upper()


# golongan id -> (nama, nama_pangkat)
GOLONGAN: dict[int, tuple[str, str]] = {
    11: ("I/a", "Juru Muda"),
    12: ("I/b", "Juru Muda Tingkat I"),
    13: ("I/c", "Juru"),
    14: ("I/d", "Juru Tingkat I"),
    21: ("II/a", "Pengatur Muda"),
    22: ("II/b", "Pengatur Muda Tingkat I"),
    23: ("II/c", "Pengatur"),
    24: ("II/d", "Pengatur Tingkat I"),
    31: ("III/a", "Penata Muda"),
    32: ("III/b", "Penata Muda Tingkat I"),
    33: ("III/c", "Penata"),
    34: ("III/d", "Penata Tingkat I"),
    41: ("IV/a", "Pembina"),
    42: ("IV/b", "Pembina Tingkat I"),
    43: ("IV/c", "Pembina Utama Muda"),
    44: ("IV/d", "Pembina Utama Madya"),
    45: ("IV/e", "Pembina Utama"),
}
GOLONGAN_IDS: list[int] = sorted(GOLONGAN)

AGAMA: dict[int, str] = {
    1: "Islam",
    2: "Kristen",
    3: "Katholik",
    4: "Hindu",
    5: "Budha",
    6: "Konghucu",
    7: "Lainnya",
}

ESELON: dict[str, str] = {
    "10": "JPT Utama",
    "11": "I.a (JPT Madya)",
    "12": "I.b (JPT Madya)",
    "21": "II.a (JPT Pratama)",
    "22": "II.b (JPT Pratama)",
    "31": "III.a (Administrator)",
    "32": "III.b (Administrator)",
    "41": "IV.a (Pengawas)",
    "42": "IV.b (Pengawas)",
}

JENIS_JABATAN: dict[int, str] = {
    1: "Jabatan Struktural",
    2: "Jabatan Fungsional Tertentu",
    4: "Jabatan Fungsional Umum",
}

KEDUDUKAN_HUKUM: dict[str, str] = {
    "01": "Aktif",
    "02": "CLTN",
    "03": "Tugas Belajar",
    "04": "Pemberhentian Sementara",
    "66": "Diberhentikan",
    "77": "Wafat",
    "99": "Pensiun",
}

# tingkat pendidikan id -> (nama, golongan awal of a CPNS with this education)
TINGKAT_PENDIDIKAN: dict[int, tuple[str, int]] = {
    5: ("SD", 11),
    10: ("SLTP", 12),
    15: ("SLTA", 21),
    30: ("Diploma III", 22),
    40: ("S-1/Sarjana", 31),
    45: ("S-2", 32),
    50: ("S-3/Doktor", 33),
}

#: jenis kenaikan pangkat id -> nama (BKN's static table, see siapp_siasn.models.referensi)
JENIS_KP: dict[str, str] = {r["id"]: r["nama"] for r in JENIS_KP_TABLE}

#: Served ref-dokumen ids from here up are synthetic (no public source numbers them).
SYNTHETIC_REF_DOKUMEN_MIN = 90000

# ref-dokumen rows: (id, layananId, layananNama, detailLayananNama, document, fileType,
# mandatory). Real ids and meanings: black-coffee04/ws-siasn-php dokumen.json.gz (872..892,
# 1179; 890 and 1179 share one name there, as served) and a public SIASN web client (2, 24).
_REF_DOKUMEN: list[tuple[str, str, str, str, str, str | None, bool]] = [
    ("2", "1", "Pengadaan", "Pertimbangan Teknis", "Pertimbangan Teknis BKN", "PDF", True),
    ("24", "1", "Pengadaan", "Daftar Riwayat Hidup", "Daftar Riwayat Hidup", "PDF", True),
    ("872", "8", "Peremajaan", "Riwayat Jabatan", "Dok SK Jabatan", None, True),
    ("873", "8", "Peremajaan", "Riwayat Jabatan", "Dok Surat Pelantikan", "PDF", False),
    ("874", "8", "Peremajaan", "Riwayat Diklat", "Dok Sertifikat Diklat", "PDF", True),
    ("879", "8", "Peremajaan", "Riwayat Angka Kredit", "Dok PAK", "PDF", True),
    ("880", "8", "Peremajaan", "Riwayat Angka Kredit", "SK PAK", "PDF", True),
    ("881", "8", "Peremajaan", "Riwayat Kursus", "Dok Sertifikat Kursus", "PDF", True),
    ("882", "8", "Peremajaan", "Hukuman Disiplin", "Dok SK Hukuman Disiplin", "PDF", True),
    ("887", "8", "Peremajaan", "PNS", "Dok SK PNS", "PDF", True),
    ("888", "8", "Peremajaan", "PNS", "Dok Surat Perintah Melaksanakan Tugas", "PDF", True),
    ("889", "8", "Peremajaan", "PNS", "Dok SK CPNS", "PDF", True),
    ("890", "8", "Peremajaan", "Riwayat Kinerja", "Dokumen Evaluasi Kinerja", "PDF", True),
    ("891", "8", "Peremajaan", "Riwayat SKP", "Dok Realisasi SKP", "PDF", True),
    ("892", "8", "Peremajaan", "Riwayat Penghargaan", "Dok Sertifikat Penghargaan", "PDF", True),
    ("1179", "8", "Peremajaan", "Riwayat Kinerja", "Dokumen Evaluasi Kinerja", "PDF", True),
    # synthetic: documents of the SIAPP usulan that no public source numbers
    ("90001", "90", "SIAPP (sintetis)", "Usulan", "SK Kenaikan Pangkat Terakhir", "PDF", True),
    ("90002", "90", "SIAPP (sintetis)", "Usulan", "Surat Pengantar Usulan", "PDF", True),
    ("90003", "90", "SIAPP (sintetis)", "Usulan", "Ijazah Terakhir", "PDF", True),
    (
        "90004",
        "90",
        "SIAPP (sintetis)",
        "Usulan",
        "Surat Pernyataan Tidak Sedang Menjalani Hukuman Disiplin",
        "PDF",
        True,
    ),
    ("90005", "90", "SIAPP (sintetis)", "Usulan", "Akta Nikah / Kartu Keluarga", "PDF", False),
    ("90006", "90", "SIAPP (sintetis)", "Keppres", "Keputusan Presiden (Salinan)", "PDF", True),
    ("90007", "90", "SIAPP (sintetis)", "Pertek", "Ralat Pertimbangan Teknis BKN", "PDF", True),
    ("90008", "90", "SIAPP (sintetis)", "Usulan", "Surat Keterangan Kematian", "PDF", False),
]

#: ref-dokumen id -> ``document`` (the served name).
REF_DOKUMEN: dict[str, str] = {r[0]: r[4] for r in _REF_DOKUMEN}

#: The usulan documents of the hub: kind -> the ``document`` name the hub resolves its id by
#: (in the live ref-dokumen table; one row per name among these).
USULAN_DOKUMEN: dict[str, str] = {
    "SK_CPNS": "Dok SK CPNS",
    "SK_PNS": "Dok SK PNS",
    "SK_PANGKAT_TERAKHIR": "SK Kenaikan Pangkat Terakhir",
    "SK_JABATAN_TERAKHIR": "Dok SK Jabatan",
    "BERITA_ACARA_PELANTIKAN": "Dok Surat Pelantikan",
    "PENILAIAN_KINERJA": "Dok Realisasi SKP",
    "DAFTAR_RIWAYAT_HIDUP": "Daftar Riwayat Hidup",
    "SURAT_PENGANTAR": "Surat Pengantar Usulan",
    "IJAZAH_TERAKHIR": "Ijazah Terakhir",
    "SURAT_PERNYATAAN_HUKDIS": "Surat Pernyataan Tidak Sedang Menjalani Hukuman Disiplin",
    "AKTA_NIKAH_KK": "Akta Nikah / Kartu Keluarga",
    "SALINAN_KEPPRES": "Keputusan Presiden (Salinan)",
    "PERTEK": "Pertimbangan Teknis BKN",
    "RALAT_PERTEK": "Ralat Pertimbangan Teknis BKN",
    "SURAT_KETERANGAN_KEMATIAN": "Surat Keterangan Kematian",
}


def ref_dokumen_id(kind: str) -> str:
    """The ref-dokumen id of usulan document ``kind`` (a key of :data:`USULAN_DOKUMEN`),
    looked up by name as the hub does."""
    name = USULAN_DOKUMEN[kind]
    ids = [i for i, doc in REF_DOKUMEN.items() if doc == name]
    if len(ids) != 1:
        raise LookupError(f"ref-dokumen: {len(ids)} rows named {name!r}")
    return ids[0]


@cache
def ref_dokumen_rows() -> list[dict[str, Any]]:
    """``ref-dokumen`` rows as served (every value a string, ``mandatory`` "true"/"false")."""
    return [
        {
            "id": i,
            "layananId": lay_id,
            "layananNama": lay,
            "subLayananId": lay_id,
            "subLayananNama": lay,
            "detailLayananId": f"{lay_id}{k:02d}",
            "detailLayananNama": detail,
            "document": doc,
            "jenisDokumen": "1",
            "fileType": ftype,
            "linkProses": None,
            "mandatory": "true" if mandatory else "false",
        }
        for k, (i, lay_id, lay, detail, doc, ftype, mandatory) in enumerate(_REF_DOKUMEN)
    ]


# (kode_cepat, nama, jenis) of the agencies
_INSTANSI: list[tuple[str, str, str]] = [
    ("SETNEG", "Kementerian Sekretariat Negara", "Kementerian"),
    ("KEMENKEU", "Kementerian Keuangan", "Kementerian"),
    ("KEMENDAGRI", "Kementerian Dalam Negeri", "Kementerian"),
    ("KEMENLU", "Kementerian Luar Negeri", "Kementerian"),
    ("KEMENHAN", "Kementerian Pertahanan", "Kementerian"),
    ("KEMENKUM", "Kementerian Hukum", "Kementerian"),
    ("KEMENAG", "Kementerian Agama", "Kementerian"),
    ("KEMDIKDASMEN", "Kementerian Pendidikan Dasar dan Menengah", "Kementerian"),
    ("KEMDIKTISAINTEK", "Kementerian Pendidikan Tinggi, Sains, dan Teknologi", "Kementerian"),
    ("KEMENKES", "Kementerian Kesehatan", "Kementerian"),
    ("KEMENSOS", "Kementerian Sosial", "Kementerian"),
    ("KEMNAKER", "Kementerian Ketenagakerjaan", "Kementerian"),
    ("KEMENPERIN", "Kementerian Perindustrian", "Kementerian"),
    ("KEMENDAG", "Kementerian Perdagangan", "Kementerian"),
    ("KESDM", "Kementerian Energi dan Sumber Daya Mineral", "Kementerian"),
    ("KEMENPU", "Kementerian Pekerjaan Umum", "Kementerian"),
    ("KEMENHUB", "Kementerian Perhubungan", "Kementerian"),
    ("KOMDIGI", "Kementerian Komunikasi dan Digital", "Kementerian"),
    ("KEMENTAN", "Kementerian Pertanian", "Kementerian"),
    ("KLH", "Kementerian Lingkungan Hidup", "Kementerian"),
    ("KKP", "Kementerian Kelautan dan Perikanan", "Kementerian"),
    ("ATRBPN", "Kementerian Agraria dan Tata Ruang", "Kementerian"),
    ("BAPPENAS", "Kementerian PPN/Bappenas", "Kementerian"),
    ("KEMENPANRB", "Kementerian PAN dan RB", "Kementerian"),
    ("BKN", "Badan Kepegawaian Negara", "LPNK"),
    ("BPS", "Badan Pusat Statistik", "LPNK"),
    ("BPKP", "Badan Pengawasan Keuangan dan Pembangunan", "LPNK"),
    ("LAN", "Lembaga Administrasi Negara", "LPNK"),
    ("BRIN", "Badan Riset dan Inovasi Nasional", "LPNK"),
    ("BMKG", "Badan Meteorologi, Klimatologi, dan Geofisika", "LPNK"),
    ("BPOM", "Badan Pengawas Obat dan Makanan", "LPNK"),
    ("PEMPROVJABAR", "Pemerintah Provinsi Jawa Barat", "Pemda"),
    ("PEMPROVJATENG", "Pemerintah Provinsi Jawa Tengah", "Pemda"),
    ("PEMPROVJATIM", "Pemerintah Provinsi Jawa Timur", "Pemda"),
    ("PEMPROVSUMUT", "Pemerintah Provinsi Sumatera Utara", "Pemda"),
    ("PEMPROVSULSEL", "Pemerintah Provinsi Sulawesi Selatan", "Pemda"),
]

_ESELON1 = [
    "Sekretariat Jenderal",
    "Inspektorat Jenderal",
    "Direktorat Jenderal Perencanaan dan Pengembangan",
    "Direktorat Jenderal Pelayanan",
    "Badan Pengembangan Sumber Daya Manusia",
]
_ESELON2 = [
    "Biro Perencanaan",
    "Biro Keuangan",
    "Biro Organisasi dan Sumber Daya Manusia",
    "Direktorat Kebijakan",
    "Pusat Data dan Informasi",
]
_ESELON3 = ["Bagian Umum", "Subdirektorat Program", "Bagian Evaluasi"]

_HEAD_TITLES = [
    ("Sekretariat Jenderal", "Sekretaris Jenderal"),
    ("Inspektorat Jenderal", "Inspektur Jenderal"),
    ("Direktorat Jenderal", "Direktur Jenderal"),
    ("Subdirektorat", "Kepala Subdirektorat"),
    ("Direktorat", "Direktur"),
    ("Badan", "Kepala Badan"),
    ("Biro", "Kepala Biro"),
    ("Pusat", "Kepala Pusat"),
    ("Bagian", "Kepala Bagian"),
]


def head_title(unit_name: str) -> str:
    """The title of the head of a unit ("Direktorat Kebijakan" -> "Direktur Kebijakan")."""
    for prefix, title in _HEAD_TITLES:
        if unit_name.startswith(prefix):
            return title + unit_name[len(prefix) :]
    return "Kepala " + unit_name


@cache
def instansi_rows() -> list[dict[str, str]]:
    """The agencies ``{id, nama, kode_cepat, jenis}`` (fixed order): the world's view; the
    served rows are :func:`instansi_served_rows`."""
    return [
        {"id": guid("instansi", kode), "nama": nama, "kode_cepat": kode, "jenis": jenis}
        for kode, nama, jenis in _INSTANSI
    ]


@cache
def unor_tree() -> list[list[tuple[int, str, str, str]]]:
    """Per instansi index: list of units ``(level, id, nama, parent_id)``; level 0 is the root,
    1 eselon I, 2 eselon II, 3 eselon III. Parent of the root is ``""``."""
    out: list[list[tuple[int, str, str, str]]] = []
    for kode, nama, _jenis in _INSTANSI:
        units: list[tuple[int, str, str, str]] = []
        root = guid("unor", kode)
        units.append((0, root, nama, ""))
        for i1, n1 in enumerate(_ESELON1):
            id1 = guid("unor", kode, i1)
            units.append((1, id1, n1, root))
            for i2, n2 in enumerate(_ESELON2):
                id2 = guid("unor", kode, i1, i2)
                units.append((2, id2, f"{n2} {n1.split(' ', 1)[-1]}", id1))
                for i3, n3 in enumerate(_ESELON3):
                    id3 = guid("unor", kode, i1, i2, i3)
                    units.append((3, id3, n3, id2))
        out.append(units)
    return out


_JENIS_INSTANSI: dict[str, tuple[str, str]] = {  # jenis -> (served jenis, jenisInstansiId)
    "Kementerian": ("P", "KM"),
    "LPNK": ("P", "LN"),
    "Pemda": ("D", "PV"),
}


def instansi_cepat_kode(index: int) -> str:
    """The (synthetic, numeric like SIASN's) ``cepatKode`` of agency ``index``."""
    return f"{1010 + 10 * index}"


@cache
def instansi_served_rows() -> list[dict[str, Any]]:
    """``instansi`` rows as ``referensi_siasn`` serves them."""
    rows: list[dict[str, Any]] = []
    for i, inst in enumerate(instansi_rows()):
        jenis, jenis_id = _JENIS_INSTANSI[inst["jenis"]]
        kode = instansi_cepat_kode(i)
        rows.append(
            {
                "id": inst["id"],
                "lokasiId": guid("lokasi", inst["kode_cepat"]),
                "nama": inst["nama"],
                "jenis": jenis,
                "cepatKode": kode,
                "prosesBerkasDipusat": "1",
                "mgrCepatKode": kode,
                "status": "1",
                "cepatKode5": f"{kode}0",
                "cepatKode5Lama": f"{kode}0",
                "namaBaru": inst["nama"],
                "namaJabatan": head_title(inst["nama"]),
                "jenisInstansiId": jenis_id,
            }
        )
    return rows


_UNOR_ESELON = {0: None, 1: "11", 2: "21", 3: "31"}


@cache
def unor_rows() -> list[dict[str, Any]]:
    """``unor`` rows as ``ref-unor`` serves them (``referensi.UnorResponse``).

    ``pemimpinPnsId`` is null: the tables do not depend on the world, which picks the heads.
    """
    rows: list[dict[str, Any]] = []
    for k, (inst, units) in enumerate(zip(instansi_rows(), unor_tree(), strict=True)):
        root = units[0][1]
        code = instansi_cepat_kode(k)
        for n, (level, uid, nama, parent) in enumerate(units):
            rows.append(
                {
                    "id": uid,
                    "namaUnor": nama,
                    "cepatKode": f"{code}{n:04d}",
                    "diatasanId": parent or None,
                    "eselonId": _UNOR_ESELON[level],
                    "indukUnorId": root,
                    "instansiId": inst["id"],
                    "jenisUnorId": "1",
                    "namaJabatan": head_title(nama),
                    "pemimpinPnsId": None,
                }
            )
    return rows


JF_NAMES: list[str] = [
    "Analis Kebijakan",
    "Auditor",
    "Perencana",
    "Peneliti",
    "Perekayasa",
    "Widyaiswara",
    "Pranata Komputer",
    "Statistisi",
    "Analis Sumber Daya Manusia Aparatur",
    "Arsiparis",
    "Pustakawan",
    "Dokter",
    "Apoteker",
    "Analis Hukum",
    "Diplomat",
    "Pengawas Farmasi dan Makanan",
]
JF_JENJANG_AHLI: list[str] = ["Ahli Pertama", "Ahli Muda", "Ahli Madya", "Ahli Utama"]
JF_JENJANG_TERAMPIL: list[str] = ["Terampil", "Mahir", "Penyelia"]


def jf_id(name_index: int, jenjang: str) -> str:
    """Id of the jabatan fungsional ``JF_NAMES[name_index]`` at ``jenjang``."""
    return guid("jf", name_index, jenjang)


_JENJANG_CODE = {
    "Terampil": "TR",
    "Mahir": "MH",
    "Penyelia": "PY",
    "Ahli Pertama": "PT",
    "Ahli Muda": "MD",
    "Ahli Madya": "MA",
    "Ahli Utama": "UT",
}
_JENJANG_GOL = {  # jenjang -> (min, max golongan id, bup usia)
    "Terampil": ("21", "24", "58"),
    "Mahir": ("31", "32", "58"),
    "Penyelia": ("33", "34", "58"),
    "Ahli Pertama": ("31", "32", "58"),
    "Ahli Muda": ("33", "34", "58"),
    "Ahli Madya": ("41", "43", "60"),
    "Ahli Utama": ("44", "45", "65"),
}


@cache
def jabatan_fungsional_rows() -> list[dict[str, Any]]:
    """``jabatan-fungsional`` rows as served (snake_case, as SIASN serves this table)."""
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(JF_NAMES):
        kel = guid("kel-jabatan", i)
        for k, jenjang in enumerate(JF_JENJANG_TERAMPIL + JF_JENJANG_AHLI):
            lo, hi, bup = _JENJANG_GOL[jenjang]
            code = f"{i + 1:03d}{k}"
            rows.append(
                {
                    "id": jf_id(i, jenjang),
                    "min_gol_id": lo,
                    "max_gol_id": hi,
                    "nama": f"{name} {jenjang}",
                    "bup_usia": bup,
                    "tun_jabatan": "0",
                    "bobot": "0",
                    "kel_jabatan_id": kel,
                    "cepat_kode": code,
                    "mgr_cepat_kode": code,
                    "jenis": "F",
                    "cepat_kode_new": code,
                    "status": "N",
                    "jml_formasi": "0",
                    "nama_asli": f"{name} {jenjang}",
                    "jenjang": _JENJANG_CODE[jenjang],
                    "jf_ex_medis": "0",
                    "is_syarat_jabatan": "0",
                    "jenis_jabatan_id": "2",
                    "jenis_jabatan_nama": JENIS_JABATAN[2],
                    "kode_jenjang_jabatan": _JENJANG_CODE[jenjang],
                    "asn_jenjang_jabatan": jenjang,
                    "level": str(k + 1),
                    "rumpun_jabatan_id": guid("rumpun-jabatan", i),
                    "rumpun_jabatan_nama": name,
                }
            )
    return rows


_ESELON_SERVED: dict[str, tuple[str, str, str, str, str, str]] = {
    # id -> (nama, terendah_id, tertinggi_id, eselon_level_id, asn_jenjang_jabatan_id,
    # jabatan_asn)
    "10": ("I.a", "44", "45", "1", "10", "JPT UTAMA"),
    "11": ("I.a", "44", "45", "1", "11", "JPT MADYA"),
    "12": ("I.b", "43", "45", "1", "11", "JPT MADYA"),
    "21": ("II.a", "42", "43", "2", "21", "JPT PRATAMA"),
    "22": ("II.b", "41", "42", "2", "21", "JPT PRATAMA"),
    "31": ("III.a", "34", "41", "3", "31", "ADMINISTRATOR"),
    "32": ("III.b", "33", "34", "3", "31", "ADMINISTRATOR"),
    "41": ("IV.a", "32", "33", "4", "41", "PENGAWAS"),
    "42": ("IV.b", "31", "32", "4", "41", "PENGAWAS"),
}

_KEDUDUKAN_KODE: dict[str, str] = {"01": "AKT", "02": "CLT", "03": "TB", "04": "PS"}


@cache
def _tables() -> dict[str, list[dict[str, Any]]]:
    return {
        "golongan": [
            {
                "id": str(k),
                "nama": v[0],
                "namaPangkat": v[1],
                "fungKredututama": "0",
                "fungKreditTambahan": "0",
                "fungKreditTotal": "0",
            }
            for k, v in GOLONGAN.items()
        ],
        "agama": [{"id": str(k), "nama": v} for k, v in AGAMA.items()],
        "instansi": instansi_served_rows(),
        "unor": unor_rows(),
        "eselon": [
            {
                "id": k,
                "nama": v[0],
                "terendah_id": v[1],
                "tertinggi_id": v[2],
                "eselon_level_id": v[3],
                "asn_jenjang_jabatan_id": v[4],
                "jabatan_asn": v[5],
                "level_kompetensi_jabatan": v[3],
            }
            for k, v in _ESELON_SERVED.items()
        ],
        "jenis-jabatan": [{"id": str(k), "nama": v} for k, v in JENIS_JABATAN.items()],
        "kedudukan-hukum": [
            {"id": k, "nama": v, "aturan": None, "kode": _KEDUDUKAN_KODE.get(k, k)}
            for k, v in KEDUDUKAN_HUKUM.items()
        ],
        "jabatan-fungsional": jabatan_fungsional_rows(),
        "tingkat-pendidikan": [
            {
                "id": f"{k:02d}",
                "golongan_id": str(v[1]),
                "nama": v[0],
                "golongan_awal_id": str(v[1]),
                "id_lama": f"{k:02d}",
                "group_tk_pend_id": str(k // 10),
                "group_tk_pend_nm": v[0],
            }
            for k, v in TINGKAT_PENDIDIKAN.items()
        ],
        "jenis-kp": [dict(r) for r in JENIS_KP_TABLE],
        "ref-dokumen": ref_dokumen_rows(),
    }


#: Every table the hub holds (the hub's ``REFERENCE_TABLES``: one list for both sides).
REF_NAMES: tuple[str, ...] = REFERENCE_TABLES

#: The tables ``/referensi_siasn/1/{ref}/search`` serves (unor and jenis-kp are not there).
REFERENSI_SIASN_NAMES: tuple[str, ...] = tuple(
    name for name in REF_NAMES if REF_SOURCES[name] == "referensi_siasn"
)


def referensi(ref: str) -> list[dict[str, Any]] | None:
    """Rows of reference table ``ref`` wherever SIASN serves it (the sandbox truth), or None."""
    return _tables().get(ref)


def served_referensi(ref: str) -> list[dict[str, Any]] | None:
    """Rows ``/referensi_siasn/1/{ref}/search`` serves, or None (404) for other names."""
    return _tables()[ref] if ref in REFERENSI_SIASN_NAMES else None


# --- pools for synthetic people -----------------------------------------------------------

FIRST_M: list[str] = [
    "Budi",
    "Agus",
    "Andi",
    "Bambang",
    "Dedi",
    "Eko",
    "Hadi",
    "Joko",
    "Rudi",
    "Slamet",
    "Teguh",
    "Wahyu",
    "Yudi",
    "Arif",
    "Dimas",
    "Fajar",
    "Gilang",
    "Hendra",
    "Indra",
    "Irfan",
    "Rizky",
    "Surya",
    "Taufik",
    "Yusuf",
    "Ahmad",
    "Bayu",
    "Dodi",
    "Hari",
    "Rahmat",
    "Ridwan",
]
FIRST_F: list[str] = [
    "Siti",
    "Sri",
    "Dewi",
    "Ani",
    "Rina",
    "Wati",
    "Yuni",
    "Ratna",
    "Lestari",
    "Indah",
    "Fitri",
    "Putri",
    "Ayu",
    "Nur",
    "Dian",
    "Maya",
    "Nita",
    "Rini",
    "Tuti",
    "Wulan",
    "Sari",
    "Intan",
    "Novi",
    "Kartika",
    "Larasati",
    "Mega",
    "Citra",
    "Eka",
    "Ika",
    "Lina",
]
LAST: list[str] = [
    "Santoso",
    "Wijaya",
    "Saputra",
    "Hidayat",
    "Pratama",
    "Kusuma",
    "Nugroho",
    "Setiawan",
    "Susanto",
    "Gunawan",
    "Purnomo",
    "Siregar",
    "Nasution",
    "Harahap",
    "Lubis",
    "Simanjuntak",
    "Sitompul",
    "Hutapea",
    "Wibowo",
    "Prasetyo",
    "Suryadi",
    "Rahmawati",
    "Kurniawan",
    "Permana",
    "Hakim",
    "Fauzi",
    "Syahputra",
    "Ramadhan",
    "Utami",
    "Handayani",
    "Maulana",
    "Sembiring",
]
CITIES: list[str] = [
    "Jakarta",
    "Bandung",
    "Surabaya",
    "Semarang",
    "Yogyakarta",
    "Medan",
    "Makassar",
    "Palembang",
    "Padang",
    "Malang",
    "Solo",
    "Bogor",
    "Denpasar",
    "Pontianak",
    "Banjarmasin",
    "Manado",
    "Kupang",
    "Ambon",
    "Jayapura",
    "Pekanbaru",
    "Jambi",
    "Bengkulu",
    "Mataram",
    "Kendari",
    "Palu",
    "Serang",
    "Cirebon",
    "Tasikmalaya",
    "Garut",
    "Kediri",
]
STREETS: list[str] = [
    "Merdeka",
    "Sudirman",
    "Thamrin",
    "Diponegoro",
    "Gatot-Subroto",
    "Pahlawan",
    "Veteran",
    "Kartini",
    "Ahmad-Yani",
    "Imam-Bonjol",
    "Cendana",
    "Melati",
    "Mawar",
    "Kenanga",
    "Flamboyan",
]
NIK_PROV: list[str] = ["31", "32", "33", "34", "35", "36", "12", "13", "16", "51", "64", "73"]
PHONE_PREFIX: list[str] = ["0811", "0812", "0813", "0821", "0822", "0852", "0853", "0857", "0878"]
GELAR_S1: list[str] = ["S.E.", "S.H.", "S.T.", "S.Sos.", "S.Kom.", "S.Si.", "S.Ked.", "S.Psi."]
GELAR_S2: list[str] = ["M.Si.", "M.M.", "M.H.", "M.T.", "M.Kom.", "M.P.A.", "M.Ak.", "M.Sc."]
GELAR_S3: list[str] = ["Ph.D.", "Dr.", "D.Phil."]
PELAKSANA_JABATAN: list[str] = [
    "Pengadministrasi Umum",
    "Pengolah Data",
    "Analis Data dan Informasi",
    "Penyusun Rencana Kegiatan",
    "Pengelola Keuangan",
    "Pengelola Kepegawaian",
    "Verifikator Keuangan",
    "Pengelola Barang Milik Negara",
]
