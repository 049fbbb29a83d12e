"""Fixed reference tables of the sandbox (SIASN ``/referensi_siasn`` shapes) and name pools.

Everything here is constant: independent of the world seed and size, so the same ids appear in
every sandbox run. Ids are strings (as SIASN serves them). The public entry point is
:func:`referensi` (``ref name -> list of rows``); :data:`REF_NAMES` lists the served refs, which
are the hub's ``siapp_siasn.models.siasn.REFERENCE_TABLES``.

Personal-looking strings (first names, cities) are generic pools for synthetic people, not data
about anyone.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from siapp_siasn.models.siasn import REFERENCE_TABLES

__all__ = [
    "AGAMA",
    "ESELON",
    "GOLONGAN",
    "GOLONGAN_IDS",
    "JENIS_JABATAN",
    "JENIS_KP",
    "KEDUDUKAN_HUKUM",
    "REF_DOKUMEN",
    "REF_NAMES",
    "TINGKAT_PENDIDIKAN",
    "guid",
    "instansi_rows",
    "jabatan_fungsional_rows",
    "referensi",
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

JENIS_KP: dict[str, str] = {
    "101": "Reguler",
    "201": "Pilihan (Jabatan Struktural)",
    "202": "Pilihan (Jabatan Fungsional Tertentu)",
    "203": "Pilihan (Penyesuaian Ijazah)",
    "204": "Pilihan (Sedang Melaksanakan Tugas Belajar)",
    "205": "Pilihan (Prestasi Luar Biasa)",
    "206": "Pilihan (Penemuan Baru)",
    "207": "Pilihan (Diperbantukan/Dipekerjakan)",
    "208": "Pilihan (Pejabat Negara)",
    "209": "Pilihan (Menjelang Pensiun)",
    "210": "Anumerta",
}

# ref-dokumen id -> nama (usulan documents exchanged under the PKS)
REF_DOKUMEN: dict[str, str] = {
    "872": "SK CPNS",
    "873": "SK PNS",
    "874": "SK Kenaikan Pangkat Terakhir",
    "875": "SK Jabatan Terakhir",
    "876": "Surat Pengantar Usulan",
    "877": "Daftar Riwayat Hidup",
    "878": "Penilaian Kinerja 2 Tahun Terakhir",
    "879": "Ijazah Terakhir",
    "880": "Surat Pernyataan Tidak Sedang Menjalani Hukuman Disiplin",
    "881": "Akta Nikah / Kartu Keluarga",
    "882": "Keputusan Presiden (Salinan)",
    "883": "Pertimbangan Teknis BKN",
    "884": "Ralat Pertimbangan Teknis BKN",
    "885": "Surat Keterangan Kematian",
    "886": "Berita Acara Pelantikan",
}

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
    """``instansi`` rows ``{id, nama, kode_cepat, jenis}`` (fixed order)."""
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


@cache
def unor_rows() -> list[dict[str, str]]:
    """``unor`` rows ``{id, nama, instansi_id, diatasan_id}``."""
    rows: list[dict[str, str]] = []
    for inst, units in zip(instansi_rows(), unor_tree(), strict=True):
        for _level, uid, nama, parent in units:
            rows.append({"id": uid, "nama": nama, "instansi_id": inst["id"], "diatasan_id": parent})
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


@cache
def jabatan_fungsional_rows() -> list[dict[str, str]]:
    """``jabatan-fungsional`` rows ``{id, nama, jenjang}``."""
    rows: list[dict[str, str]] = []
    for i, name in enumerate(JF_NAMES):
        for jenjang in JF_JENJANG_TERAMPIL + JF_JENJANG_AHLI:
            rows.append({"id": jf_id(i, jenjang), "nama": f"{name} {jenjang}", "jenjang": jenjang})
    return rows


@cache
def _tables() -> dict[str, list[dict[str, str]]]:
    return {
        "golongan": [
            {"id": str(k), "nama": v[0], "nama_pangkat": v[1]} for k, v in GOLONGAN.items()
        ],
        "agama": [{"id": str(k), "nama": v} for k, v in AGAMA.items()],
        "instansi": instansi_rows(),
        "unor": unor_rows(),
        "eselon": [{"id": k, "nama": v} for k, v in ESELON.items()],
        "jenis-jabatan": [{"id": str(k), "nama": v} for k, v in JENIS_JABATAN.items()],
        "kedudukan-hukum": [{"id": k, "nama": v} for k, v in KEDUDUKAN_HUKUM.items()],
        "jabatan-fungsional": jabatan_fungsional_rows(),
        "tingkat-pendidikan": [
            {"id": f"{k:02d}", "nama": v[0]} for k, v in TINGKAT_PENDIDIKAN.items()
        ],
        "jenis-kp": [{"id": k, "nama": v} for k, v in JENIS_KP.items()],
        "ref-dokumen": [{"id": k, "nama": v} for k, v in REF_DOKUMEN.items()],
    }


#: The refs served: the hub's one list (the pull fetches exactly these), so the two cannot drift.
REF_NAMES: tuple[str, ...] = REFERENCE_TABLES


def referensi(ref: str) -> list[dict[str, Any]] | None:
    """Rows of reference table ``ref`` (as served, ids are strings), or None if unknown."""
    return _tables().get(ref)


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
