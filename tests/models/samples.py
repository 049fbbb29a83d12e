"""Sample payloads with every field of the contract (include/contract/siasn.json), shaped as
docs/CONTRACT.md shows them (fresh copies on every call)."""

import copy
from typing import Any

NIP = "197203151998031002"
GUID = "8ae4828b6f3a4c1e8f0b2c3d4e5f6a7b"
INSTANSI = "A5EB03E23BFBF6A0E040640A040252AD"
SPOUSE_ID = "8ae4828b6f3a4c1e8f0b2c3d4e5f6a7c"
CHILD_ID = "0d9c1f8e-2b7a-4c3d-9e8f-1a2b3c4d5e6f"
SHA = "ab" * 32

_DATA_UTAMA: dict[str, Any] = {
    "id": GUID,
    "nipBaru": NIP,
    "nipLama": "010234567",
    "nama": "BUDI SANTOSO",
    "gelarDepan": "Dr.",
    "gelarBelakang": "M.Si",
    "tempatLahir": "Bandung",
    "tglLahir": "15-03-1972",
    "jenisKelamin": "M",
    "agamaId": "1",
    "nik": "3273011503720004",
    "email": "budi@example.org",
    "emailGov": "budi@kemen.go.id",
    "noHp": "081234567890",
    "alamat": "Jl. Merdeka 1",
    "jenisPegawaiId": "1",
    "kedudukanPnsId": "01",
    "statusPegawai": "PNS",
    "instansiIndukId": INSTANSI,
    "instansiIndukNama": "Kementerian Sekretariat Negara",
    "instansiKerjaId": INSTANSI,
    "satuanKerjaKerjaId": "B5EB03E23BFBF6A0E040640A040252AD",
    "unorId": "C5EB03E23BFBF6A0E040640A040252AD",
    "unorNama": "Direktorat Jenderal",
    "jenisJabatanId": "1",
    "jabatanNama": "Direktur",
    "jabatanFungsionalId": "",
    "jabatanFungsionalNama": "",
    "eselonId": "21",
    "tmtJabatan": "02-01-2020",
    "golRuangAwalId": "31",
    "golRuangAkhirId": "42",
    "golRuangAkhir": "IV/b",
    "pangkatAkhir": "Pembina Tingkat I",
    "tmtGolAkhir": "01-04-2019",
    "tmtCpns": "01-03-1998",
    "tmtPns": "01-03-1999",
    "tmtPensiun": "01-04-2032",
    "bupPensiun": "60",
    "mkTahun": "21",
    "mkBulan": "3",
    "pendidikanTerakhirId": "D5EB03E23BFBF6A0E040640A040252AD",
    "tkPendidikanTerakhirId": "45",
    "jenisKawinId": "2",
    "jumlahAnak": "2",
    "kpknId": "E5EB03E23BFBF6A0E040640A040252AD",
    "lokasiKerjaId": "F5EB03E23BFBF6A0E040640A040252AD",
    "tmtEselon": "01-01-0001",
    "validNik": "true",
    "path": {"": ""},
    # the rest of pns.DataUtamaResponse (+ tglSpmt), in the null forms and values SIASN uses
    "agama": "Islam",
    "akteKelahiran": "",
    "akteMeninggal": "",
    "bahasa": "",
    "bpjs": "",
    "eselon": "II.a",
    "eselonLevel": "2",
    "gajiPokok": "",
    "golRuangAwal": "III/a",
    "instansiKerjaKodeCepat": "0110",
    "instansiKerjaNama": "Kementerian Sekretariat Negara",
    "jabatanAsn": "",
    "jabatanFungsionalUmumId": "",
    "jabatanFungsionalUmumNama": "",
    "jabatanStrukturalId": "",
    "jabatanStrukturalNama": "Direktur",
    "jenisIdDokumenId": "1",
    "jenisIdDokumenNama": "KTP",
    "jenisJabatan": "Struktural",
    "jenisPegawaiNama": "PNS Pusat",
    "jenjang": "",
    "jumlahIstriSuami": "1",
    "kanregId": "00",
    "kanregNama": "Kantor Pusat",
    "kartuAsn": "",
    "kedudukanPnsNama": "Aktif",
    "kodePos": "",
    "kpknNama": "",
    "kppnId": "",
    "kppnNama": "",
    "ktuaId": "",
    "ktuaNama": "",
    "lokasiKerja": "",
    "masaKerja": "",
    "noAskes": "",
    "noNpwp": "",
    "noSeriKarpeg": "",
    "noSpmt": "",
    "noSuratKeteranganBebasNarkoba": "",
    "noSuratKeteranganDokter": "",
    "noTaspen": "",
    "noTelp": "",
    "nomorIdDocument": "",
    "nomorSkCpns": "",
    "nomorSkPns": "",
    "nomorSttpl": "",
    "pendidikanTerakhirNama": "",
    "satuanKerjaIndukId": "",
    "satuanKerjaIndukNama": "",
    "satuanKerjaKerjaNama": "",
    "skck": "",
    "statusHidup": "1",
    "statusPerkawinan": "Menikah",
    "tahunLulus": "",
    "taspenId": "",
    "taspenNama": "",
    "tempatLahirId": "",
    "tglMeninggal": "",
    "tglNpwp": "",
    "tglSkCpns": "",
    "tglSkPns": "",
    "tglSkck": "",
    "tglSpmt": "01-01-0001",
    "tglSttpl": "",
    "tglSuratKeteranganBebasNarkoba": "",
    "tglSuratKeteranganDokter": "",
    "tkPendidikanTerakhir": "S-2",
    "unorIndukId": "",
    "unorIndukNama": "",
}

_PASANGAN: dict[str, Any] = {
    "idPns": GUID,
    "nipBaru": NIP,
    "nipLama": "010234567",
    "listPasangan": [
        {
            "orang": {
                "id": SPOUSE_ID,
                "nama": "SITI AMINAH",
                "namaKtp": "SITI AMINAH",
                "gelarDepan": "",
                "gelarBlk": "",
                "tempatLahir": "Bandung",
                "tglLahir": "20-07-1975",
                "aktaMeninggal": "",
                "tglMeninggal": "",
                "jenisKelamin": "F",
                "jenisAnak": "",
                "ayahId": "",
                "ibuId": "",
                "StatusHidup": "1",
                "jenisKawinId": "2",
                "karisKarsu": "",
                "created_at": "",
            },
            "statusNikah": "1",
            "dataPernikahan": {
                "id": "9ae4828b6f3a4c1e8f0b2c3d4e5f6a7c",
                "orangId": SPOUSE_ID,
                "pnsOrangId": GUID,
                "tgglMenikah": "12-12-1999",
                "aktaMenikah": "AKTA-123/1999",
                "tgglCerai": "01-01-0001",
                "aktaCerai": "",
                "isPns": "false",
                "posisi": "1",
                "status": "1",
                "noSkPensiun": "",
            },
        }
    ],
}

_ANAK: dict[str, Any] = {
    "idPns": GUID,
    "nipBaru": NIP,
    "nipLama": "010234567",
    "listAnak": [
        {
            "id": CHILD_ID,
            "nama": "ANAK PERTAMA",
            "tempatLahir": "Bandung",
            "tglLahir": "05-05-2001",
            "jenisKelamin": "m",
            "jenisAnak": "1",
            "ayahId": GUID,
            "ibuId": SPOUSE_ID,
            "kabupatenId": "",
        },
        {
            "id": "1d9c1f8e-2b7a-4c3d-9e8f-1a2b3c4d5e6f",
            "nama": "ANAK KEDUA",
            "tempatLahir": "Bandung",
            "tglLahir": "09-09-2004",
            "jenisKelamin": "F",
            "jenisAnak": "1",
            "ayahId": GUID,
            "ibuId": SPOUSE_ID,
            "kabupatenId": "undefined",
        },
    ],
}

_ORTU: dict[str, Any] = {
    "idPns": GUID,
    "nipBaru": NIP,
    "nipLama": "010234567",
    "ayah": {
        "id": "2d9c1f8e2b7a4c3d9e8f1a2b3c4d5e6f",
        "ayahId": "2d9c1f8e2b7a4c3d9e8f1a2b3c4d5e6f",
        "nama": "AYAH SANTOSO",
        "tempatLahir": "Bandung",
        "tglLahir": "01-01-1940",
        "jenisKelamin": "M",
        "jenisAnak": "1",
        "aktaMeninggal": "",
        "tglMeninggal": "02-02-2010",
    },
    "ibu": None,
}

_STATUS_USULAN_ROW: dict[str, Any] = {
    "id": "3d9c1f8e2b7a4c3d9e8f1a2b3c4d5e6f",
    "id_usulan_siapp": "USL-2026-000123",
    "nipBaru": NIP,
    "jenis_usulan": "KP",
    "statusUsulan": "22",
    "statusUsulanNama": "Pertek ditandatangani",
    "hasil_verifikasi": "MS",
    "alasan": "",
    "no_pertek": "PERTEK-001/2026",
    "tgl_pertek": "10-01-2026",
    "path_ttd_pertek": {"": "peremajaan/usulan/pertek-001.pdf"},
    "no_ralat_pertek": "",
    "tgl_ralat_pertek": "01-01-0001",
    "path_ralat_pertek": "",
    "updated": "10-01-2026",
}

_SIAPP_USULAN: dict[str, Any] = {
    "id": "USL-2026-000123",
    "version": 3,
    "updated_at": "2026-01-05T08:30:00+07:00",
    "jenis": "KP",
    "kategori_jabatan": "JPT_MADYA",
    "nip": NIP,
    "instansi_id": INSTANSI,
    "golongan_baru_id": 43,
    "tmt": "2026-04-01",
    "jenis_kp": "101",
    "status": "SUBMITTED",
    "dokumen": [
        {"id": "DOK-1", "jenis": "SK_PANGKAT", "id_ref_dokumen": "872", "sha256": SHA, "size": 1024}
    ],
}


def data_utama(**overrides: Any) -> dict[str, Any]:
    """The CONTRACT.md data-utama example (with ids filled in), plus overrides."""
    d = copy.deepcopy(_DATA_UTAMA)
    d.update(overrides)
    return d


def pasangan() -> dict[str, Any]:
    return copy.deepcopy(_PASANGAN)


def anak() -> dict[str, Any]:
    return copy.deepcopy(_ANAK)


def ortu() -> dict[str, Any]:
    return copy.deepcopy(_ORTU)


def status_usulan_row(**overrides: Any) -> dict[str, Any]:
    d = copy.deepcopy(_STATUS_USULAN_ROW)
    d.update(overrides)
    return d


def siapp_usulan(**overrides: Any) -> dict[str, Any]:
    d = copy.deepcopy(_SIAPP_USULAN)
    d.update(overrides)
    return d


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 1, "data": data}
