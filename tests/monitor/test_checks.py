"""The drift classifier on hand-made answers: every class of change gets its code and
severity, and nothing in a finding is a value of the record."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from siapp_siasn.checks import (
    Finding,
    compare,
    describe,
    expectation_from_contract,
    expectation_from_model,
    unwrap_envelope,
    worst,
)


def _contract_sample() -> dict:
    from siapp_siasn.models.contract import load_siasn_contract

    fields = load_siasn_contract()["endpoints"]["data-utama"]["fields"]
    samples = {"string": "x", "integer": 1, "boolean": True, "number": 1.5, "object": {}}
    return {k: samples[t] for k, t in fields.items() if "." not in k}


def test_a_faithful_answer_has_no_finding() -> None:
    exp = expectation_from_contract("siasn", "/pns/data-utama/{nip}", "data-utama")
    assert compare(exp, _contract_sample()) == []


def test_each_change_has_its_code_and_severity() -> None:
    exp = expectation_from_contract(
        "siasn", "/pns/data-utama/{nip}", "data-utama", {"golRuangAkhirId": "golongan"}
    )
    data = _contract_sample()
    data["tanggalLahir"] = data.pop("tglLahir")
    data["jumlahAnak"] = 2
    data["flagIkd"] = "1"
    data["golRuangAkhirId"] = "99"
    got = {(f.code, f.subject, f.severity) for f in compare(exp, data, {"golongan": {"42"}})}
    assert got == {
        ("missing_field", "tglLahir", "breaking"),
        ("retyped_field", "jumlahAnak", "breaking"),
        ("new_field", "flagIkd", "info"),
        ("new_field", "tanggalLahir", "info"),
        ("unseen_value", "golRuangAkhirId", "warning"),
    }


def test_readable_lines() -> None:
    exp = expectation_from_contract("siasn", "/pns/data-utama/{nip}", "data-utama")
    data = _contract_sample()
    data["golRuangAkhirId"] = 42
    data["tanggalLahir"] = data.pop("tglLahir")
    lines = sorted(describe(f) for f in compare(exp, data) if f.severity == "breaking")
    assert lines == [
        "missing field tglLahir (string), possibly renamed to tanggalLahir",
        "retyped golRuangAkhirId: string → integer",
    ]


def test_fields_of_an_absent_container_are_not_missing() -> None:
    """A null parent (data-ortu without ayah) or an empty list expects none of its fields."""
    exp = expectation_from_contract("siasn", "/pns/data-ortu/{nip}", "data-ortu")
    fields = {k: v for k, v in exp.fields.items()}
    ibu = {k.split(".", 1)[1]: "x" for k in fields if k.startswith("ibu.")}
    data = {k: "x" for k in fields if "." not in k and k not in ("ayah", "ibu")}
    data.update(ayah=None, ibu=ibu)
    assert compare(exp, data) == []


class Row(BaseModel):
    id: str
    size: int | str | None = None


def test_model_expectation_accepts_what_the_model_accepts() -> None:
    exp = expectation_from_model("siapp", "/api/v1/dokumen", Row, array=True)
    assert compare(exp, [{"id": "a", "size": 3}]) == []
    assert compare(exp, [{"id": "a"}]) == []  # optional
    got = {(f.code, f.subject) for f in compare(exp, [{"size": [1]}])}
    assert got == {("missing_field", "[].id"), ("retyped_field", "[].size")}


@pytest.mark.parametrize(
    ("envelope", "body", "problem"),
    [
        ("result", {"data": {}}, "no `code` in the envelope"),
        ("result", {"code": 7, "data": {}}, "`code` is neither 1 nor 0"),
        ("result", ["x"], "the body is not a JSON object"),
        ("pks_list", {"code": 1, "data": {"rows": []}}, "`data.list` is not a list"),
        ("siapp_page", {"items": []}, "`data` is not a list"),
        ("referensi", {"results": {}}, "`results` is not a list"),
    ],
)
def test_broken_envelopes_are_breaking(envelope: str, body: object, problem: str) -> None:
    data, finding = unwrap_envelope(envelope, body, "siasn", "/x")
    assert data is None and finding is not None
    assert (finding.code, finding.severity, finding.detail["problem"]) == (
        "broken_envelope",
        "breaking",
        problem,
    )


def test_envelopes_unwrap() -> None:
    assert unwrap_envelope("result", {"code": 0, "data": None}, "siasn", "/x") == (None, None)
    assert unwrap_envelope("pks_list", {"code": 1, "data": {"list": [1]}}, "siasn", "/x") == (
        [1],
        None,
    )
    page = {"data": [1], "next_cursor": None}
    assert unwrap_envelope("siapp_page", page, "siapp", "/x") == ([1], None)


def test_findings_hold_names_and_types_not_values() -> None:
    exp = expectation_from_contract("siasn", "/pns/data-utama/{nip}", "data-utama")
    data = _contract_sample()
    data["nama"] = 123456  # a retyped personal field: its value must not show
    data["email"] = None
    data.pop("nik")
    text = json.dumps([f.as_dict() for f in compare(exp, data)])
    assert "123456" not in text and "nama" in text and "nik" in text


def test_finding_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="severity"):
        Finding("drift", "fatal", "siasn", "/x", "new_field", "a")
    assert worst([]) is None
    assert worst([Finding("drift", "info", "siasn", "/x", "new_field", "a")]) == "info"


def test_spellings_siasn_serves_are_not_drift() -> None:
    """`gelarBlk` (pns.OrangResp) and casing variants (`StatusHidup`) read as their contract
    names, as the models read them."""
    exp = expectation_from_contract("siasn", "/pns/data-utama/{nip}", "data-utama")
    data = _contract_sample()
    data["gelarBlk"] = data.pop("gelarBelakang")
    assert compare(exp, data) == []
    exp = expectation_from_contract("siasn", "/pns/data-pasangan/{nip}", "data-pasangan")
    data = _build(exp.fields, "")
    data["listPasangan"][0]["orang"]["StatusHidup"] = data["listPasangan"][0]["orang"].pop(
        "statusHidup"
    )
    assert compare(exp, data) == []


def _build(fields: dict, prefix: str) -> dict:
    """A record with every contract field under ``prefix`` (one item per list)."""
    scalars = {"string": "x", "integer": 1, "boolean": True, "number": 1.5}
    out: dict = {}
    for path, types in fields.items():
        if not path.startswith(prefix):
            continue
        name = path[len(prefix) :]
        if "." in name:
            continue
        (kind,) = types
        if kind == "array":
            out[name] = [_build(fields, f"{prefix}{name}[].")]
        elif kind == "object":
            out[name] = _build(fields, f"{prefix}{name}.")
        else:
            out[name] = scalars[kind]
    return out
