"""Validation errors name the field and the kind and never carry the personal value."""

import json

import pytest
from pydantic import ValidationError

from siapp_siasn import models as m
from tests.models import samples

PERSONAL = {
    "nama": "BUDI SANTOSO RAHASIA",
    "nik": "3273011503720004",
    "tglLahir": "31-02-1972",
    "tempatLahir": "Bandung Selatan",
    "alamat": "Jl. Merdeka No. 1 RT 02",
    "noHp": "081234567890",
    "email": "budi.rahasia@example.org",
    "emailGov": "budi.rahasia@kemen.go.id",
    "nipLama": "010234567",
    "nipBaru": "197202301998031002",
}

# each way of making a personal field invalid, and the kind it must produce
HOSTILE: list[tuple[str, object, str, str]] = [
    ("nama", PERSONAL["nama"] * 40, "string_too_long", PERSONAL["nama"]),
    ("nama", {"v": PERSONAL["nama"]}, "string_type", PERSONAL["nama"]),
    ("nik", [PERSONAL["nik"]], "string_type", PERSONAL["nik"]),
    ("nik", PERSONAL["nik"] * 3, "string_too_long", PERSONAL["nik"]),
    ("tglLahir", PERSONAL["tglLahir"], "date_invalid", PERSONAL["tglLahir"]),
    ("tglLahir", "15.03.1972", "date_format", "15.03.1972"),
    (
        "tempatLahir",
        PERSONAL["tempatLahir"] + "\x00",
        "string_forbidden_characters",
        PERSONAL["tempatLahir"],
    ),
    ("alamat", PERSONAL["alamat"] + "\x1b[31m", "string_forbidden_characters", PERSONAL["alamat"]),
    ("noHp", 81234567890, "string_type", "81234567890"),
    ("email", {"addr": PERSONAL["email"]}, "string_type", PERSONAL["email"]),
    ("emailGov", PERSONAL["emailGov"] * 20, "string_too_long", PERSONAL["emailGov"]),
    ("nipLama", [PERSONAL["nipLama"]], "string_type", PERSONAL["nipLama"]),
    ("nipBaru", PERSONAL["nipBaru"], "nip_birth_date", PERSONAL["nipBaru"]),
    ("nipBaru", "19720315199803100X", "nip_format", "19720315199803100X"),
    ("nama", "<script>alert('BUDI')</script>" * 20, "string_too_long", "<script>"),
]


def rendered(exc: ValidationError) -> str:
    """Everything of an error that might reach a log, an exception message or the store."""
    return "\n".join(
        [
            m.describe_validation_error(exc),
            json.dumps(m.safe_errors(exc)),
            str(exc),
            repr(exc),
        ]
    )


@pytest.mark.parametrize(("field", "value", "kind", "secret"), HOSTILE)
def test_hostile_personal_values_fail_naming_field_and_kind_without_the_value(
    field: str, value: object, kind: str, secret: str
) -> None:
    with pytest.raises(ValidationError) as ei:
        m.DataUtama.model_validate(samples.data_utama(**{field: value}))
    assert m.safe_errors(ei.value) == [{"loc": field, "type": kind}]
    assert m.describe_validation_error(ei.value) == f"DataUtama: {field}: {kind}"
    assert secret not in rendered(ei.value)


def test_injection_text_in_a_personal_field_is_data_and_round_trips_verbatim() -> None:
    du = m.DataUtama.model_validate(samples.data_utama(nik="'; DROP TABLE asn; --"))
    assert du.nik == "'; DROP TABLE asn; --"


def test_many_personal_errors_at_once_render_without_any_value() -> None:
    raw = samples.data_utama(
        nama=123,
        nik=["x"],
        tglLahir=PERSONAL["tglLahir"],
        nipBaru=PERSONAL["nipBaru"],
        email=PERSONAL["email"] * 20,
        alamat=PERSONAL["alamat"] + "\x00",
    )
    ok, reason = m.validate_payload(m.DataUtamaResponse, samples.envelope(raw))
    assert ok is None and reason is not None
    assert reason == (
        "SiasnEnvelope[DataUtama]: data.nipBaru: nip_birth_date; data.nama: string_type; "
        "data.tglLahir: date_invalid; data.nik: string_type; data.email: string_too_long; "
        "data.alamat: string_forbidden_characters"
    )
    for secret in PERSONAL.values():
        assert secret not in reason


def test_family_member_errors_are_located_and_redacted() -> None:
    raw = samples.pasangan()
    raw["listPasangan"][0]["orang"]["tglLahir"] = "30-02-1975"
    raw["listPasangan"][0]["orang"]["nama"] = ["SITI AMINAH"]
    with pytest.raises(ValidationError) as ei:
        m.DataPasangan.model_validate(raw)
    assert m.safe_errors(ei.value) == [
        {"loc": "listPasangan.0.orang.nama", "type": "string_type"},
        {"loc": "listPasangan.0.orang.tglLahir", "type": "date_invalid"},
    ]
    text = rendered(ei.value)
    assert "SITI AMINAH" not in text and "30-02-1975" not in text


def test_object_keys_in_error_locations_are_masked() -> None:
    model = m.SiasnEnvelope[dict[str, int]]
    with pytest.raises(ValidationError) as ei:
        model.model_validate({"code": 1, "data": {"BUDI SANTOSO": "x", "3273011503720004": "y"}})
    assert m.safe_errors(ei.value) == [
        {"loc": "data.<key>", "type": "int_parsing"},
        {"loc": "data.<key>", "type": "int_parsing"},
    ]
    assert "BUDI" not in m.describe_validation_error(ei.value)


def test_safe_errors_carry_only_location_and_kind() -> None:
    with pytest.raises(ValidationError) as ei:
        m.SiappUsulan.model_validate(samples.siapp_usulan(nip="123", version="x"))
    errors = m.safe_errors(ei.value)
    assert errors == [
        {"loc": "version", "type": "int_parsing"},
        {"loc": "nip", "type": "nip_format"},
    ]
    assert all(set(e) == {"loc", "type"} for e in errors)


def test_describe_caps_the_number_of_errors() -> None:
    rows = [{"nipBaru": "x"} for _ in range(30)]
    with pytest.raises(ValidationError) as ei:
        m.PksAsnPage.model_validate(samples.envelope({"list": rows}))
    text = m.describe_validation_error(ei.value, limit=5)
    assert text.endswith("; (+25 more)")
    assert text.count("nip_format") == 5


@pytest.mark.parametrize(
    "raw", [None, [], "Data tidak ditemukan", 5, 1.5, True, [samples.data_utama()], {"code": 1}]
)
def test_validate_payload_never_raises_on_wrong_shapes(raw: object) -> None:
    model, reason = m.validate_payload(m.DataUtamaResponse, raw)
    assert model is None
    assert reason is not None and reason.startswith("SiasnEnvelope[DataUtama]: ")


def test_validate_payload_returns_the_model_when_valid() -> None:
    model, reason = m.validate_payload(m.DataUtamaResponse, samples.envelope(samples.data_utama()))
    assert reason is None and model is not None and model.data.nip_baru == samples.NIP


def test_validate_json_handles_truncated_and_malformed_bodies() -> None:
    body = json.dumps(samples.envelope(samples.data_utama()))
    model, reason = m.validate_json(m.DataUtamaResponse, body[: len(body) // 2])
    assert model is None and reason == "SiasnEnvelope[DataUtama]: <root>: json_invalid"
    assert "BUDI" not in reason
    model, reason = m.validate_json(m.DataUtamaResponse, body.encode())
    assert reason is None and model is not None


def test_deeply_nested_garbage_is_quarantined_not_a_crash() -> None:
    text = '{"code": 1, "data": ' + "[" * 5000 + '"x"' + "]" * 5000 + "}"
    model, reason = m.validate_json(m.DataUtamaResponse, text)
    assert model is None and reason is not None
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    model, reason = m.validate_payload(m.DataUtamaResponse, {"code": 1, "data": deep})
    assert model is None and reason == "SiasnEnvelope[DataUtama]: data: model_type"


def test_missing_fields_in_outbound_bodies_are_named() -> None:
    _, reason = m.validate_payload(m.KeppresBody, {"nip": samples.NIP})
    assert reason == (
        "KeppresBody: id_usulan_siapp: missing; id_keppres_siapp: missing; versi: missing; "
        "no_keppres: missing; tgl_keppres: missing; tmt: missing; dokumen: missing"
    )


def test_models_hide_input_in_str_of_errors() -> None:
    for model in (m.DataUtama, m.SiappUsulan, m.UsulanBody, m.AsnRecord, m.StatusUsulanRow):
        assert model.model_config.get("hide_input_in_errors") is True
