"""Every SIASN quirk is parsed by one annotated type; hostile values fail with a kind."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from siapp_siasn.models import describe_validation_error, format_siasn_date, parse_date
from siapp_siasn.models.types import (
    Code,
    Gender,
    GolonganId,
    Guid,
    LongText,
    NullableStr,
    Sha256Hex,
    SiasnBool,
    SiasnDate,
    SiasnInt,
    SiasnPath,
    SiasnPathAny,
    clean_text,
    is_null_like,
    parse_int,
)

NULL_FORMS = [None, "", "   ", "undefined", "UNDEFINED", "null", "Null", " null "]


class Box(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)

    d: SiasnDate = None
    i: SiasnInt = None
    b: SiasnBool = None
    g: Guid = None
    s: NullableStr = None
    t: LongText = None
    c: Code = None
    p: SiasnPath = None
    pa: SiasnPathAny = None
    sex: Gender = None
    gol: GolonganId = None
    sha: Sha256Hex = None


def kind_of(field: str, value: object) -> str:
    with pytest.raises(ValidationError) as ei:
        Box.model_validate({field: value})
    errors = ei.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    return errors[0]["type"]


# --- null forms --------------------------------------------------------------------------
@pytest.mark.parametrize("value", NULL_FORMS)
@pytest.mark.parametrize("field", ["d", "i", "b", "g", "s", "t", "c", "p", "sex", "gol", "sha"])
def test_every_null_form_becomes_none_in_every_type(field: str, value: object) -> None:
    assert getattr(Box.model_validate({field: value}), field) is None


def test_is_null_like_only_for_the_documented_forms() -> None:
    assert all(is_null_like(v) for v in NULL_FORMS)
    assert not any(is_null_like(v) for v in ["0", "-", "none", 0, False, [], "01-01-0001"])


# --- dates ---------------------------------------------------------------------------------
def test_siasn_date_parses_dd_mm_yyyy_and_iso() -> None:
    assert Box.model_validate({"d": "15-03-1972"}).d == date(1972, 3, 15)
    assert Box.model_validate({"d": " 1972-03-15 "}).d == date(1972, 3, 15)
    assert Box.model_validate({"d": date(2020, 1, 2)}).d == date(2020, 1, 2)


@pytest.mark.parametrize("value", ["01-01-0001", "0001-01-01", date(1, 1, 1)])
def test_siasn_date_year_one_means_null(value: object) -> None:
    assert Box.model_validate({"d": value}).d is None


@pytest.mark.parametrize("value", ["31-02-1999", "29-02-2023", "00-01-2000", "15-13-2000"])
def test_impossible_dates_are_date_invalid(value: str) -> None:
    assert kind_of("d", value) == "date_invalid"


@pytest.mark.parametrize(
    "value", ["15/03/1972", "1972-3-15", "15-03-72", "15-03-1972T00:00", "١٥-٠٣-١٩٧٢", "x" * 5000]
)
def test_malformed_dates_are_date_format(value: str) -> None:
    assert kind_of("d", value) == "date_format"


@pytest.mark.parametrize("value", [19720315, 1.5, True, ["15-03-1972"], {"d": 1}])
def test_non_string_dates_are_date_type(value: object) -> None:
    assert kind_of("d", value) == "date_type"


def test_datetime_is_not_silently_truncated_to_a_date() -> None:
    from datetime import datetime

    assert kind_of("d", datetime(2020, 1, 1, 12, 0)) == "date_type"


def test_siasn_date_serialises_back_as_dd_mm_yyyy() -> None:
    box = Box.model_validate({"d": "05-01-2026"})
    assert box.model_dump(mode="json")["d"] == "05-01-2026"
    assert box.model_dump()["d"] == date(2026, 1, 5)


@given(st.dates(min_value=date(1, 1, 2)))
def test_format_then_parse_is_identity_for_every_date(d: date) -> None:
    assert parse_date(format_siasn_date(d)) == d
    assert parse_date(d.isoformat()) == d


@given(st.text(max_size=30))
def test_date_parser_never_fails_with_a_foreign_exception(s: str) -> None:
    try:
        Box.model_validate({"d": s})
    except ValidationError as exc:
        assert {e["type"] for e in exc.errors()} <= {"date_format", "date_invalid"}


@given(st.integers(1, 31), st.integers(1, 12), st.integers(1900, 2100))
def test_day_month_year_triples_parse_exactly_when_the_calendar_has_them(
    d: int, m: int, y: int
) -> None:
    try:
        expected: date | None = date(y, m, d)
    except ValueError:
        expected = None
    text = f"{d:02d}-{m:02d}-{y:04d}"
    if expected is None:
        assert kind_of("d", text) == "date_invalid"
    else:
        assert Box.model_validate({"d": text}).d == expected


# --- integers and booleans ----------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [("21", 21), (" 07 ", 7), ("-3", -3), (42, 42)])
def test_string_numbers_become_int(raw: object, expected: int) -> None:
    assert Box.model_validate({"i": raw}).i == expected


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("2a", "int_parsing"),
        ("1.0", "int_parsing"),
        ("1e3", "int_parsing"),
        ("٣", "int_parsing"),
        (1.0, "int_type"),
        (True, "int_type"),
        ([1], "int_type"),
        ({"n": 1}, "int_type"),
    ],
)
def test_non_integers_are_rejected_with_a_kind(raw: object, kind: str) -> None:
    assert kind_of("i", raw) == kind


@given(st.integers(-(10**17), 10**17))
def test_parse_int_roundtrips_decimal_strings(n: int) -> None:
    assert parse_int(str(n)) == n
    assert parse_int(f"  {n} ") == n


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("False", False),
        ("1", True),
        ("0", False),
        (True, True),
        (0, False),
    ],
)
def test_bool_strings_become_bool(raw: object, expected: bool) -> None:
    assert Box.model_validate({"b": raw}).b is expected


@pytest.mark.parametrize("raw", ["yes", "2", 2, "t"])
def test_other_bool_forms_are_rejected(raw: object) -> None:
    assert kind_of("b", raw) == "bool_parsing"


def test_golongan_ids_are_ints_from_the_known_set() -> None:
    assert Box.model_validate({"gol": "42"}).gol == 42
    assert Box.model_validate({"gol": 11}).gol == 11
    for bad in ("15", "40", "46", "0", 99):
        assert kind_of("gol", bad) == "golongan_invalid"


# --- identifiers --------------------------------------------------------------------------
def test_guid_32_hex_is_lower_cased() -> None:
    box = Box.model_validate({"g": "A5EB03E23BFBF6A0E040640A040252AD"})
    assert box.g == "a5eb03e23bfbf6a0e040640a040252ad"


def test_uuid_keeps_its_hyphens_and_is_lower_cased() -> None:
    box = Box.model_validate({"g": " 0D9C1F8E-2B7A-4C3D-9E8F-1A2B3C4D5E6F "})
    assert box.g == "0d9c1f8e-2b7a-4c3d-9e8f-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    "raw",
    [
        "xyz",
        "g" * 32,
        "a5eb03e2-3bfb-f6a0-e040-640a040252ad-ff",
        "{0d9c1f8e-2b7a-4c3d-9e8f-1a2b3c4d5e6f}",
        "a5eb03e23bfbf6a0e040640a040252a",
        "'; DROP TABLE asn; --",
    ],
)
def test_malformed_guids_are_guid_invalid(raw: str) -> None:
    assert kind_of("g", raw) == "guid_invalid"


def test_sha256_is_validated_and_lower_cased() -> None:
    assert Box.model_validate({"sha": "AB" * 32}).sha == "ab" * 32
    assert kind_of("sha", "ab" * 31) == "sha256_invalid"
    assert kind_of("sha", "zz" * 32) == "sha256_invalid"


@pytest.mark.parametrize(
    ("raw", "expected"), [("M", "M"), ("f", "F"), (" m ", "M"), ("L", "M"), ("P", "F")]
)
def test_gender_any_case(raw: str, expected: str) -> None:
    assert Box.model_validate({"sex": raw}).sex == expected


def test_unknown_gender_is_rejected() -> None:
    assert kind_of("sex", "X") == "gender_invalid"


# --- paths ----------------------------------------------------------------------------------
def test_path_object_with_empty_key_becomes_a_string() -> None:
    assert Box.model_validate({"p": {"": "peremajaan/usulan/a.pdf"}}).p == "peremajaan/usulan/a.pdf"
    assert Box.model_validate({"p": {"": ""}}).p is None
    assert Box.model_validate({"p": "peremajaan/a.pdf"}).p == "peremajaan/a.pdf"


@pytest.mark.parametrize("raw", [{"x": "a"}, {"": "a", "x": "b"}, ["a"], {"": {"nested": 1}}])
def test_other_path_objects_are_path_invalid(raw: object) -> None:
    assert kind_of("p", raw) in {"path_invalid", "string_type"}


@pytest.mark.parametrize("raw", ["../../etc/passwd", "a/../b", {"": "x/../../y"}])
def test_path_traversal_is_rejected(raw: object) -> None:
    assert kind_of("p", raw) == "path_traversal"


def test_loose_path_keeps_a_document_map_and_collapses_the_empty_key() -> None:
    docs = {"872": {"dok_id": "1", "dok_uri": "a.pdf"}}
    assert Box.model_validate({"pa": docs}).pa == docs
    assert Box.model_validate({"pa": {"": "a.pdf"}}).pa == "a.pdf"
    assert Box.model_validate({"pa": {"": ""}}).pa is None


# --- text -----------------------------------------------------------------------------------
def test_text_is_stripped() -> None:
    assert Box.model_validate({"s": "  BUDI  "}).s == "BUDI"


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad"])
def test_zero_width_characters_are_removed(invisible: str) -> None:
    assert Box.model_validate({"s": f"BU{invisible}DI"}).s == "BUDI"
    assert Box.model_validate({"s": invisible * 3}).s is None


@pytest.mark.parametrize(
    "bidi", ["\u202e", "\u202d", "\u2066", "\u2067", "\u2069", "\u200f", "\u061c"]
)
def test_bidi_controls_are_removed(bidi: str) -> None:
    assert Box.model_validate({"s": f"{bidi}IDUB{bidi}"}).s == "IDUB"


def test_unicode_letters_are_kept_and_nfc_normalised() -> None:
    assert Box.model_validate({"s": "Jose\u0301 Ñúñez"}).s == "José Ñúñez"
    assert Box.model_validate({"s": "محمد عبد الله"}).s == "محمد عبد الله"
    assert Box.model_validate({"s": "李小龙"}).s == "李小龙"


@pytest.mark.parametrize("raw", ["a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "a\ud800b", "a\uffffb"])
def test_control_characters_and_lone_surrogates_are_rejected(raw: str) -> None:
    assert kind_of("s", raw) == "string_forbidden_characters"


def test_newlines_only_in_multiline_text() -> None:
    assert kind_of("s", "line1\nline2") == "string_forbidden_characters"
    assert Box.model_validate({"t": "line1\r\nline2\tend"}).t == "line1\r\nline2\tend"


@pytest.mark.parametrize("field,limit", [("s", 255), ("t", 4000), ("c", 64), ("p", 1024)])
def test_oversize_strings_are_string_too_long(field: str, limit: int) -> None:
    assert getattr(Box.model_validate({field: "a" * limit}), field) == "a" * limit
    assert kind_of(field, "a" * (limit + 1)) == "string_too_long"


def test_a_megabyte_string_fails_fast_without_echo() -> None:
    huge = "RAHASIA" * 150_000
    with pytest.raises(ValidationError) as ei:
        Box.model_validate({"s": huge})
    text = describe_validation_error(ei.value) + str(ei.value)
    assert "RAHASIA" not in text
    assert len(text) < 500


@pytest.mark.parametrize(
    "raw",
    [
        "'; DROP TABLE asn; --",
        "<script>alert(1)</script>",
        "${jndi:ldap://x}",
        "{{7*7}}",
        "Robert'); DELETE FROM asn;--",
    ],
)
def test_injection_looking_text_is_plain_data_not_special(raw: str) -> None:
    # free text stays verbatim (the store binds parameters; renderers escape)
    assert Box.model_validate({"s": raw}).s == raw


@pytest.mark.parametrize("raw", ["'; DROP TABLE asn; --", "<script>", "a b", "é1", "-01"])
def test_codes_refuse_anything_but_plain_ascii_codes(raw: str) -> None:
    assert kind_of("c", raw) == "string_pattern_mismatch"


@pytest.mark.parametrize("raw", [1, 1.5, True, ["a"], {"a": 1}])
def test_text_refuses_non_strings(raw: object) -> None:
    assert kind_of("s", raw) == "string_type"


@given(st.text(max_size=300))
def test_clean_text_is_idempotent_and_never_raises_foreign_errors(s: str) -> None:
    try:
        once = clean_text(s, max_length=1000, multiline=True)
    except Exception as exc:  # only pydantic's own error kinds may come out
        assert type(exc).__name__ in {"PydanticCustomError", "PydanticKnownError"}
        return
    assert clean_text(once, max_length=1000, multiline=True) == once
