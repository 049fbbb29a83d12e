"""Hand-written real-shaped reference answers (synthetic values; shapes from BKN's swagger
`referensi.UnorResponse` and kanekescom/laravel-siasn-referensi's stored columns) bind every
field they carry, typed, with nothing left unknown."""

from __future__ import annotations

from typing import Any

from siapp_siasn.models.contract import field_paths, load_siasn_contract
from siapp_siasn.models.referensi import REF_PAGE_MODELS
from siapp_siasn.models.siasn import UnorResponse

REF_UNOR = {
    "code": 1,
    "count": 2,
    "message": "success",
    "data": [
        {
            "id": "8ae483a76b9c5e6f016bc0d8e4a12f31",
            "cepatKode": "4011000000",
            "diatasanId": "",
            "eselonId": "11",
            "indukUnorId": "8ae483a76b9c5e6f016bc0d8e4a12f31",
            "instansiId": "A5EB03E23BFBF6A0E040640A040252AD",
            "jenisUnorId": "1",
            "namaJabatan": "Sekretaris Kementerian",
            "namaUnor": "Sekretariat Kementerian",
            "pemimpinPnsId": None,
        },
        {
            "id": "8ae483a76b9c5e6f016bc0d8e4a12f32",
            "cepatKode": "4011010000",
            "diatasanId": "8ae483a76b9c5e6f016bc0d8e4a12f31",
            "eselonId": "21",
            "indukUnorId": "8ae483a76b9c5e6f016bc0d8e4a12f31",
            "instansiId": "A5EB03E23BFBF6A0E040640A040252AD",
            "jenisUnorId": "2",
            "namaJabatan": "Kepala Biro Umum",
            "namaUnor": "Biro Umum",
            "pemimpinPnsId": "8ae483a76b9c5e6f016bc0d8e4a1aaaa",
        },
    ],
}

PAGES: dict[str, dict[str, Any]] = {
    "golongan": {
        "id": "42",
        "nama": "IV/b",
        "namaPangkat": "Pembina Tingkat I",
        "fungKredututama": "550",
        "fungKreditTambahan": "0",
        "fungKreditTotal": "550",
    },
    "ref-dokumen": {
        "id": "887",
        "layananId": "1",
        "layananNama": "Peremajaan",
        "subLayananId": "3",
        "subLayananNama": "Data Utama",
        "detailLayananId": "12",
        "detailLayananNama": "PNS",
        "document": "Dok SK PNS",
        "jenisDokumen": "PDF",
        "fileType": "pdf",
        "linkProses": "peremajaan",
        "mandatory": "true",
    },
    "kedudukan-hukum": {"id": "01", "nama": "Aktif", "aturan": "UU 20/2023", "kode": "AKT"},
}


def test_ref_unor_binds_every_published_field() -> None:
    contract = load_siasn_contract()["endpoints"]["ref-unor"]["fields"]
    assert set(field_paths(REF_UNOR["data"])) == set(contract)
    parsed = UnorResponse.model_validate(REF_UNOR)
    assert len(parsed.data) == 2
    head, biro = parsed.data
    assert head.unknown_fields() == [] and biro.unknown_fields() == []
    assert head.diatasan_id is None  # "" is a null form: the top unit has no parent
    assert biro.diatasan_id == head.id == REF_UNOR["data"][0]["id"]
    assert (biro.nama_unor, biro.eselon_id, biro.cepat_kode) == ("Biro Umum", "21", "4011010000")
    assert biro.pemimpin_pns_id == "8ae483a76b9c5e6f016bc0d8e4a1aaaa"


def test_referensi_siasn_rows_bind_every_served_field() -> None:
    for ref, row in PAGES.items():
        page = REF_PAGE_MODELS[ref].model_validate({"results": [row]})
        (parsed,) = page.results
        assert parsed.unknown_fields() == [], ref
        # every field the row carries has a typed value (the model may declare more)
        unfilled = [
            k for k, v in parsed.model_dump(by_alias=True).items() if v is None and k in row
        ]
        assert unfilled == [], (ref, unfilled)
    dok = REF_PAGE_MODELS["ref-dokumen"].model_validate({"results": [PAGES["ref-dokumen"]]})
    assert dok.results[0].display_name() == "Dok SK PNS" and dok.results[0].mandatory is True
