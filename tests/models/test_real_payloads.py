"""Hand-written real-shaped payloads (tests/fixtures/siasn_real/, synthetic values, shaped from
BKN's swagger and the public clients' stored columns) parse with every typed field filled, and
none quarantines a valid employee."""

import json
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn import models as m
from siapp_siasn.flows.asn_records import EmployeeRecord, build_employee
from siapp_siasn.models.base import HubModel
from siapp_siasn.models.types import NULL_DATES, is_null_like

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "siasn_real"
NIP = "196811241994032001"

ENDPOINTS: dict[str, type[HubModel]] = {
    "data_utama": m.DataUtamaResponse,
    "data_pasangan": m.DataPasanganResponse,
    "data_anak": m.DataAnakResponse,
    "data_ortu": m.DataOrtuResponse,
    "rw_golongan": m.RwGolonganResponse,
}


def load(name: str) -> dict[str, Any]:
    return json.loads((REAL / f"{name}.json").read_text(encoding="utf-8"))


def _is_null(value: object) -> bool:
    return is_null_like(value) or (isinstance(value, str) and value in NULL_DATES)


def _unfilled(model: HubModel, raw: dict[str, Any], prefix: str = "") -> list[str]:
    """Wire paths where the payload has a value but the typed field stayed None."""
    out: list[str] = []
    for name, finfo in type(model).model_fields.items():
        wire = finfo.serialization_alias or name
        raw_value = next(
            (raw[k] for k in (wire, wire[:1].upper() + wire[1:], name) if k in raw), None
        )
        value = getattr(model, name)
        if _is_null(raw_value) or (isinstance(raw_value, dict) and raw_value == {"": ""}):
            continue
        if value is None:
            out.append(prefix + wire)
        elif isinstance(value, HubModel):
            out.extend(_unfilled(value, raw_value, f"{prefix}{wire}."))
        elif isinstance(value, list):
            for item, raw_item in zip(value, raw_value, strict=True):
                if isinstance(item, HubModel):
                    out.extend(_unfilled(item, raw_item, f"{prefix}{wire}[]."))
    return out


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_real_payload_parses_with_every_typed_field_filled(name: str) -> None:
    raw = load(name)
    env = ENDPOINTS[name].model_validate(raw)
    assert env.code == 1 and env.count is not None and env.message == "success"
    assert env.unknown_fields() == []
    data = env.data  # type: ignore[attr-defined]
    items = data if isinstance(data, list) else [data]
    raw_items = raw["data"] if isinstance(raw["data"], list) else [raw["data"]]
    for item, raw_item in zip(items, raw_items, strict=True):
        assert item.missing_fields() == []
        assert _unfilled(item, raw_item) == []


def test_real_spouse_record_with_integer_posisi_and_boolean_is_pns() -> None:
    data = m.DataPasangan.model_validate(load("data_pasangan")["data"])
    nikah = data.list_pasangan[0].data_pernikahan
    assert nikah is not None and nikah.posisi == 1 and nikah.is_pns is False
    assert data.list_pasangan[0].orang.status_hidup == "1"  # served as `StatusHidup`
    assert data.list_pasangan[0].orang.jenis_kawin_id == "2"  # served as `JenisKawinId`


def test_real_payloads_make_a_valid_employee() -> None:
    result = build_employee(
        NIP,
        None,
        load("data_utama")["data"],
        load("data_pasangan")["data"],
        load("data_anak")["data"],
        load("data_ortu")["data"],
    )
    assert isinstance(result, EmployeeRecord), getattr(result, "detail", result)
    row = result.row
    assert row.payload == load("data_utama")["data"]  # what SIASN sent, not a re-dump
    assert row.gol_ruang_akhir_id == "43" and row.mk_tahun == 26 and row.bup_pensiun == 60
    by_relation = {f.relation: f for f in row.family or []}
    assert set(by_relation) == {"ayah", "ibu", "pasangan", "anak"}
    anak = by_relation["anak"]
    assert anak.status_hubungan == "1"  # jenisAnak
    # the child's other parent: the one of ayahId / ibuId that is not the employee
    assert anak.orang_tua_id == "1f2e3d4c5b6a79881f2e3d4c5b6a7988"
    assert anak.payload == load("data_anak")["data"]["listAnak"][0]
    assert by_relation["pasangan"].payload == load("data_pasangan")["data"]["listPasangan"][0]
    assert result.unknown_fields == [] and result.unknown_field_count == 0


@pytest.mark.parametrize(
    ("part", "path", "field"),
    [
        ("utama", (), "tglLahir"),
        ("anak", ("listAnak", 0), "tglLahir"),
        ("pasangan", ("listPasangan", 0, "dataPernikahan"), "posisi"),
        ("ortu", ("ibu",), "ibuId"),
    ],
)
def test_an_absent_contract_field_quarantines_naming_it(
    part: str, path: tuple[Any, ...], field: str
) -> None:
    parts = {p: load(f"data_{p}")["data"] for p in ("utama", "pasangan", "anak", "ortu")}
    obj: Any = parts[part]
    for step in path:
        obj = obj[step]
    value = obj.pop(field)
    result = build_employee(
        NIP, None, parts["utama"], parts["pasangan"], parts["anak"], parts["ortu"]
    )
    assert not isinstance(result, EmployeeRecord)
    assert result.reason == "missing_fields"
    assert result.detail is not None and field in result.detail
    assert str(value) not in result.detail


def test_a_null_form_is_present_not_absent() -> None:
    raw = load("data_utama")["data"]
    raw["tglLahir"] = "01-01-0001"
    raw["unorNama"] = None
    du = m.DataUtama.model_validate(raw)
    assert du.missing_fields() == [] and du.tgl_lahir is None and du.unor_nama is None
