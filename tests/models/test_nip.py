"""NIP rules: 18 digits = birth yyyymmdd + TMT CPNS yyyymm + gender 1/2 + sequence 001-999."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from siapp_siasn.models import (
    HubModel,
    Nip,
    NipError,
    describe_validation_error,
    is_valid_nip,
    parse_nip,
)
from siapp_siasn.models.nip import MIN_AGE_YEARS, MIN_BIRTH_YEAR


class Holder(HubModel):
    nip: Nip


def test_valid_nip_parts() -> None:
    parts = parse_nip("197203151998031002")
    assert parts.nip == "197203151998031002"
    assert parts.birth_date == date(1972, 3, 15)
    assert (parts.tmt_cpns_year, parts.tmt_cpns_month) == (1998, 3)
    assert parts.tmt_cpns == date(1998, 3, 1)
    assert parts.gender == "M"
    assert parts.sequence == 2


def test_female_digit_and_max_sequence() -> None:
    parts = parse_nip("198512312010122999")
    assert parts.gender == "F"
    assert parts.sequence == 999


def test_accepted_input_forms_normalise_to_18_digits() -> None:
    assert parse_nip("  197203151998031002\n").nip == "197203151998031002"
    assert parse_nip("19720315 199803 1 002").nip == "197203151998031002"
    assert parse_nip(197203151998031002).nip == "197203151998031002"


@pytest.mark.parametrize(
    ("nip", "kind"),
    [
        ("19720315199803100", "nip_format"),  # 17 digits
        ("1972031519980310021", "nip_format"),  # 19 digits
        ("19720315199803100a", "nip_format"),
        ("١٩٧٢٠٣١٥١٩٩٨٠٣١٠٠٢", "nip_format"),  # Arabic-Indic digits are not ASCII digits
        ("１９７２０３１５１９９８０３１００２", "nip_format"),  # full-width digits
        ("1972-03-15-1998-03-1-002", "nip_format"),
        ("1972031 51998031002", "nip_format"),  # spaces only in the printed grouping
        ("197202301998031002", "nip_birth_date"),  # 30 February
        ("197213011998031002", "nip_birth_date"),  # month 13
        ("197203001998031002", "nip_birth_date"),  # day 0
        ("185003151998031002", "nip_birth_date"),  # implausibly old
        (f"{date.today().year - 5}0101{date.today().year}011002", "nip_birth_date"),  # too young
        ("197203151998001002", "nip_tmt_cpns"),  # month 00
        ("197203151998131002", "nip_tmt_cpns"),  # month 13
        ("197203151972021002", "nip_tmt_cpns"),  # before birth
        ("197203151972031002", "nip_tmt_cpns"),  # birth month itself
        (f"19720315{date.today().year + 2}011002", "nip_tmt_cpns"),  # far future
        ("197203151998033002", "nip_gender"),
        ("197203151998030002", "nip_gender"),
        ("197203151998031000", "nip_sequence"),
    ],
)
def test_each_invalid_part_has_its_own_kind(nip: str, kind: str) -> None:
    with pytest.raises(NipError) as ei:
        parse_nip(nip)
    assert ei.value.kind == kind
    assert nip not in str(ei.value)
    assert not is_valid_nip(nip)
    with pytest.raises(ValidationError) as ve:
        Holder(nip=nip)
    assert [(e["loc"], e["type"]) for e in ve.value.errors()] == [(("nip",), kind)]
    rendered = describe_validation_error(ve.value) + str(ve.value) + repr(ve.value)
    assert nip not in rendered


@pytest.mark.parametrize("value", [None, True, 1.5, ["197203151998031002"], b"197203151998031002"])
def test_non_string_nips_are_refused(value: object) -> None:
    if value is None:
        with pytest.raises(ValidationError) as ve:
            Holder(nip=value)  # type: ignore[arg-type]
        assert ve.value.errors()[0]["type"] == "value_null"
        return
    with pytest.raises(NipError) as ei:
        parse_nip(value)
    assert ei.value.kind == "nip_type"


def test_missing_nip_is_named() -> None:
    with pytest.raises(ValidationError) as ve:
        Holder.model_validate({})
    assert [(e["loc"], e["type"]) for e in ve.value.errors()] == [(("nip",), "missing")]


@st.composite
def valid_nips(draw: st.DrawFn) -> tuple[str, date, int, int, str, int]:
    latest_birth = date(date.today().year - MIN_AGE_YEARS, 12, 31)
    birth = draw(st.dates(min_value=date(MIN_BIRTH_YEAR, 1, 1), max_value=latest_birth))
    first_tmt = birth.replace(day=1) + timedelta(days=32)
    tmt = draw(st.dates(min_value=first_tmt, max_value=date(date.today().year, 12, 31)))
    gender = draw(st.sampled_from("12"))
    seq = draw(st.integers(1, 999))
    nip = f"{birth:%Y%m%d}{tmt.year:04d}{tmt.month:02d}{gender}{seq:03d}"
    return nip, birth, tmt.year, tmt.month, gender, seq


@given(valid_nips())
def test_every_well_formed_nip_parses_to_its_parts(case: tuple) -> None:
    nip, birth, ty, tm, gender, seq = case
    parts = parse_nip(nip)
    assert parts.birth_date == birth
    assert (parts.tmt_cpns_year, parts.tmt_cpns_month) == (ty, tm)
    assert parts.gender == ("M" if gender == "1" else "F")
    assert parts.sequence == seq
    assert Holder(nip=nip).nip == nip


@given(st.text(alphabet="0123456789", min_size=18, max_size=18))
def test_random_18_digit_strings_parse_or_fail_with_a_part_kind(nip: str) -> None:
    try:
        parts = parse_nip(nip)
    except NipError as exc:
        assert exc.kind in {"nip_birth_date", "nip_tmt_cpns", "nip_gender", "nip_sequence"}
        assert nip not in str(exc)
    else:
        assert parts.nip == nip
        assert parts.tmt_cpns > parts.birth_date.replace(day=1)


@given(st.text(max_size=40))
def test_arbitrary_text_never_raises_anything_but_nip_error(value: str) -> None:
    try:
        parts = parse_nip(value)
    except NipError as exc:
        assert exc.kind in {
            "nip_format",
            "nip_birth_date",
            "nip_tmt_cpns",
            "nip_gender",
            "nip_sequence",
        }
    else:
        assert len(parts.nip) == 18 and parts.nip.isascii() and parts.nip.isdigit()
