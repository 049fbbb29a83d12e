"""The SIASN contract is derived from BKN's published definition and says what it says."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

from siapp_siasn.models.contract import field_paths, load_siasn_contract

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_DIR = ROOT / "include" / "contract"


def test_contract_file_is_what_the_builder_derives_from_the_swagger_export() -> None:
    build = runpy.run_path(str(CONTRACT_DIR / "build_siasn.py"))
    assert (CONTRACT_DIR / "siasn.json").read_text(encoding="utf-8") == build["render"](), (
        "include/contract/siasn.json is stale: run include/contract/build_siasn.py"
    )


def test_source_names_bkns_export_and_its_commit() -> None:
    source = load_siasn_contract()["source"]
    assert source["repo"] == "ropegkemenag/apimwsbkn"
    assert source["host"] == "apimws.bkn.go.id:8243"
    assert source["basePath"] == "/apisiasn/1.0"
    assert len(source["commit"]) == 40


def test_published_names_and_types_of_the_employee_endpoints() -> None:
    endpoints = load_siasn_contract()["endpoints"]
    utama = endpoints["data-utama"]["fields"]
    assert len([k for k, v in endpoints["data-utama"]["field_sources"].items() if v]) == 3
    assert utama["validNik"] == "boolean" and "isValidNik" not in utama
    assert utama["bupPensiun"] == utama["mkTahun"] == utama["mkBulan"] == "integer"
    assert utama["path"] == "object" and utama["tglLahir"] == "string"
    pasangan = endpoints["data-pasangan"]["fields"]
    assert pasangan["listPasangan[].dataPernikahan.posisi"] == "integer"
    assert pasangan["listPasangan[].dataPernikahan.isPns"] == "boolean"
    anak = endpoints["data-anak"]["fields"]
    assert {"listAnak[].jenisAnak", "listAnak[].ayahId", "listAnak[].ibuId"} <= set(anak)
    assert not {"listAnak[].statusAnak", "listAnak[].orangTuaId", "listAnak[].nik"} & set(anak)
    ortu = endpoints["data-ortu"]["fields"]
    assert {"ayah.tglMeninggal", "ayah.aktaMeninggal", "ayah.ayahId", "ibu.ibuId"} <= set(ortu)
    golongan = endpoints["rw-golongan"]["fields"]
    assert golongan["[].masaKerjaGolonganTahun"] == "string"
    assert golongan["[].path"] == "object" and "[].mkGolonganTahun" not in golongan
    assert endpoints["rw-golongan"]["data"] == "array"
    assert endpoints["ref-unor"]["path"] == "/apisiasn/1.0/referensi/ref-unor"
    assert endpoints["data-utama"]["envelope_fields"] == {
        "code": "integer",
        "count": "integer",
        "data": "any",
        "message": "string",
    }
    assert endpoints["upload-dok"]["params"]["id_ref_dokumen"] == {
        "in": "formData",
        "type": "integer",
    }


def test_field_paths_flattens_a_payload_like_the_contract() -> None:
    data = {
        "idPns": "x",
        "listPasangan": [
            {"orang": {"nama": "A"}, "dataPernikahan": {"posisi": 1, "isPns": False}},
            {"orang": {"nama": None}, "statusNikah": "1"},
        ],
    }
    assert field_paths(data) == {
        "idPns": {"string"},
        "listPasangan": {"array"},
        "listPasangan[].orang": {"object"},
        "listPasangan[].orang.nama": {"string", "null"},
        "listPasangan[].dataPernikahan": {"object"},
        "listPasangan[].dataPernikahan.posisi": {"integer"},
        "listPasangan[].dataPernikahan.isPns": {"boolean"},
        "listPasangan[].statusNikah": {"string"},
    }
    rows = [{"golonganId": "42", "path": {"858": {"dok_id": "1"}}}]
    assert field_paths(rows, opaque={"[].path"}) == {
        "[].golonganId": {"string"},
        "[].path": {"object"},
    }


def test_contract_is_valid_json_with_every_endpoint_typed() -> None:
    contract = json.loads((CONTRACT_DIR / "siasn.json").read_text(encoding="utf-8"))
    kinds = {"string", "integer", "boolean", "number", "object", "array"}
    for name, endpoint in contract["endpoints"].items():
        assert set(endpoint["fields"].values()) <= kinds, name


def test_public_status_endpoints_carry_the_fields_public_clients_store() -> None:
    endpoints = load_siasn_contract()["endpoints"]
    kp = endpoints["list-kp-instansi"]
    assert kp["data"] == "array" and len(kp["fields"]) == 22
    # swagger's pns.DataKp (identity fields such as nik, alamat) is replaced, not merged
    assert "[].nik" not in kp["fields"] and "nik" not in kp["fields"]
    assert {"[].no_pertek", "[].path_ttd_pertek", "[].statusUsulan"} <= set(kp["fields"])
    by_id = endpoints["kp-instansi-byId"]
    assert by_id["path"] == "/apisiasn/1.0/pns/kp-instansi-byId"
    assert set(by_id["params"]) == {"IdUsulan"}
    assert {f"[].{name}" for name in by_id["fields"]} == set(kp["fields"])
    pensiun = endpoints["list-pensiun-instansi"]
    assert {"[].pertekNomor", "[].pathPertek", "[].skNomor"} <= set(pensiun["fields"])
    assert set(pensiun["params"]) == {"tglAwal", "tglAkhir"}
