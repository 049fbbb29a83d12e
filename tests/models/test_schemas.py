"""include/schemas/*.json are generated from the models, current, valid, and describe the wire."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from siapp_siasn import models as m
from siapp_siasn.models import schemas
from tests.models import samples

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "include" / "schemas"


def load(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load(name))


def test_checked_in_schemas_are_current() -> None:
    assert schemas.default_dir() == SCHEMA_DIR
    assert schemas.stale_files(SCHEMA_DIR) == [], "run: python -m siapp_siasn.models.schemas"


def test_check_command_exit_code_in_the_repo() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "siapp_siasn.models.schemas", "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout


def test_check_lists_missing_stale_and_orphan_files(tmp_path: Path, capsys) -> None:
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1
    assert f"missing: {schemas.SCHEMAS[0].name}.json" in capsys.readouterr().err

    assert schemas.main(["--dir", str(tmp_path)]) == 0
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 0

    target = tmp_path / "siasn_data_utama.json"
    target.write_text(target.read_text().replace("nipBaru", "nipBaruX"))
    orphan = tmp_path / "siasn_old_endpoint.json"
    orphan.write_text(json.dumps({"$comment": schemas.GENERATED_NOTE}))
    foreign = tmp_path / "handwritten.json"
    foreign.write_text("{}")
    assert schemas.stale_files(tmp_path) == [
        "stale: siasn_data_utama.json",
        "extra: siasn_old_endpoint.json",
    ]
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1

    assert schemas.main(["--dir", str(tmp_path)]) == 0
    assert schemas.stale_files(tmp_path) == []
    assert not orphan.exists() and foreign.exists()


def test_every_spec_has_a_file_and_unique_name() -> None:
    names = [s.name for s in schemas.SCHEMAS]
    assert len(names) == len(set(names))
    on_disk = {p.stem for p in SCHEMA_DIR.glob("*.json")}
    assert set(names) <= on_disk


@pytest.mark.parametrize("spec", schemas.SCHEMAS, ids=lambda s: s.name)
def test_every_file_is_a_valid_draft_2020_12_schema(spec: schemas.SchemaSpec) -> None:
    doc = load(spec.name)
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc["x-direction"] == spec.direction
    assert doc["$comment"] == schemas.GENERATED_NOTE


# --- the schemas describe the wire: contract samples validate, drift does not ---------------------
INBOUND_SAMPLES = {
    "siasn_data_utama": lambda: samples.envelope(samples.data_utama()),
    "siasn_data_pasangan": lambda: samples.envelope(samples.pasangan()),
    "siasn_data_anak": lambda: samples.envelope(samples.anak()),
    "siasn_data_ortu": lambda: samples.envelope(samples.ortu()),
    "siasn_not_found": lambda: {"code": 0, "data": "Data tidak ditemukan"},
    "siasn_error": lambda: {"Error": "Unauthorized", "Message": "expired"},
    "pks_status_usulan_page": lambda: samples.envelope(
        {"total": "1", "list": [samples.status_usulan_row()]}
    ),
    "pks_asn_page": lambda: samples.envelope(
        {
            "total": "1",
            "list": [
                {
                    "nipBaru": samples.NIP,
                    "golRuangAkhirId": "42",
                    "kedudukanPnsId": "01",
                    "updated": "05-01-2026",
                }
            ],
        }
    ),
    "siapp_usulan_page": lambda: {"data": [samples.siapp_usulan()], "next_cursor": None},
    "siasn_ref_golongan": lambda: {
        "results": [{"id": "42", "nama": "IV/b", "nama_pangkat": "Pembina Tingkat I"}]
    },
}


@pytest.mark.parametrize("name", sorted(INBOUND_SAMPLES))
def test_contract_samples_validate_against_their_schema(name: str) -> None:
    validator(name).validate(INBOUND_SAMPLES[name]())


@pytest.mark.parametrize(
    ("field", "value"),
    [("mkTahun", ["21"]), ("tglLahir", "1972/03/15"), ("nipBaru", 1972), ("golRuangAkhirId", True)],
)
def test_retyped_wire_fields_fail_the_schema(field: str, value: object) -> None:
    payload = samples.envelope(samples.data_utama(**{field: value}))
    errors = list(validator("siasn_data_utama").iter_errors(payload))
    assert errors and all(list(e.absolute_path)[:2] == ["data", field] for e in errors)


def test_schema_and_model_agree_on_required_wire_fields() -> None:
    required = load("siasn_data_utama")["$defs"]["DataUtama"]["required"]
    assert required == ["id", "nipBaru", "nama"]


def test_outbound_dumps_validate_against_their_schema() -> None:
    dok = {
        "id_ref_dokumen": "872",
        "dok_id": samples.CHILD_ID,
        "dok_uri": "a/b.pdf",
        "sha256": samples.SHA,
        "size": 1,
    }
    bodies = {
        "pks_usulan_body": m.UsulanBody(
            id_usulan_siapp="U1",
            versi=1,
            nip=samples.NIP,
            jenis_usulan="KP",
            kategori_jabatan="JPT_UTAMA",
            tmt=date(2026, 4, 1),
            dokumen=[dok],
        ),
        "pks_keppres_body": m.KeppresBody(
            id_usulan_siapp="U1",
            id_keppres_siapp="K1",
            versi=1,
            nip=samples.NIP,
            no_keppres="1/TPA/2026",
            tgl_keppres=date(2026, 2, 1),
            tmt=date(2026, 3, 1),
            dokumen=dok,
        ),
        "pks_verifikasi_setneg_body": m.VerifikasiSetnegBody(
            id_usulan_siapp="U1",
            id_verifikasi_siapp="V1",
            versi=1,
            nip=samples.NIP,
            hasil="DITOLAK",
        ),
        "pks_pic_body": m.PicBody(
            id_pic_siapp="P1", versi=1, nip=samples.NIP, instansi_id=samples.INSTANSI, aksi="GRANT"
        ),
        "siapp_inbound_status_usulan": m.InboundStatusUsulan(
            usulan_id="U1", nip=samples.NIP, status_bkn="13", tgl_pertek=date(2026, 1, 9)
        ),
        "siapp_inbound_penolakan": m.InboundPenolakan(
            usulan_id="U1", alasan_kode="JENIS_OUT_OF_SCOPE"
        ),
    }
    for name, body in bodies.items():
        for exclude_none in (True, False):
            validator(name).validate(
                body.model_dump(mode="json", by_alias=True, exclude_none=exclude_none)
            )


def test_outbound_schema_rejects_null_in_required_fields() -> None:
    v = validator("pks_pic_body")
    good = {
        "id_pic_siapp": "P1",
        "versi": 1,
        "nip": samples.NIP,
        "instansi_id": samples.INSTANSI,
        "aksi": "GRANT",
    }
    v.validate(good)
    assert not v.is_valid({**good, "versi": None})
    assert not v.is_valid({**good, "extra": 1})


def test_stored_record_schema_uses_python_names() -> None:
    doc = load("hub_asn_record")
    assert {"nip_baru", "tgl_lahir", "family"} <= set(doc["properties"])
    rec = m.AsnRecord.from_siasn(samples.data_utama(), samples.pasangan())
    jsonschema.Draft202012Validator(doc).validate(rec.model_dump(mode="json"))


def test_every_siapp_page_model_has_a_schema() -> None:
    """Each SIAPP NV list page (the reconciliation's ``/api/v1/dokumen`` too) is on the wire
    contract, and a page the model accepts validates against its schema."""
    from siapp_siasn.models import siapp

    pages = {
        name: obj
        for name, obj in vars(siapp).items()
        if isinstance(obj, type)
        and issubclass(obj, siapp.SiappPage)
        and name.isidentifier()
        and obj is not siapp.SiappPage
    }
    covered = {id(spec.model) for spec in schemas.SCHEMAS}
    assert "SiappDokumenInventoryPage" in pages
    assert sorted(n for n, page in pages.items() if id(page) not in covered) == []
    page = {
        "data": [
            {
                "usulan_id": "U-1",
                "id": "D-1",
                "jenis": "SK_KP",
                "sha256": "a" * 64,
                "size": 10,
                "updated_at": "2026-11-30T00:00:00Z",
            }
        ],
        "next_cursor": None,
    }
    m.SiappDokumenInventoryPage.model_validate(page)
    validator("siapp_dokumen_inventory_page").validate(page)
