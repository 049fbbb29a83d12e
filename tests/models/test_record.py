"""The stored ASN record: family flattening, deterministic hashes.

Redaction and the keyed hash are tested in `test_redact.py`."""

import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from siapp_siasn import models as m
from tests.models import samples


def build(**du_overrides: object) -> m.AsnRecord:
    return m.AsnRecord.from_siasn(
        samples.data_utama(**du_overrides), samples.pasangan(), samples.anak(), samples.ortu()
    )


def test_family_is_flattened_with_relation_types() -> None:
    rec = build()
    assert [f.relation for f in rec.family] == ["ayah", "pasangan", "anak", "anak"]
    spouse = rec.family_by_relation("pasangan")[0]
    assert spouse.tgl_menikah == date(1999, 12, 12) and spouse.is_pns is False
    assert spouse.status_nikah == "1" and spouse.status_hidup == "1"
    kids = rec.family_by_relation("anak")
    assert [k.ibu_id for k in kids] == [samples.SPOUSE_ID, samples.SPOUSE_ID]
    assert [k.jenis_anak for k in kids] == ["1", "1"]
    # each member keeps its object as SIASN sent it
    assert kids[0].raw() == samples.anak()["listAnak"][0]
    assert spouse.raw() == samples.pasangan()["listPasangan"][0]
    assert rec.family_by_relation("ibu") == []
    assert {r for r in m.record.RELATIONS} == {"pasangan", "anak", "ayah", "ibu"}


def test_record_keeps_typed_fields_with_snake_case_names() -> None:
    rec = build()
    dumped = rec.model_dump()
    assert dumped["nip_baru"] == samples.NIP
    assert dumped["tgl_lahir"] == date(1972, 3, 15)
    assert dumped["gol_ruang_akhir_id"] == 42
    assert dumped["family"][0]["relation"] == "ayah"


def test_404_family_parts_are_none() -> None:
    rec = m.AsnRecord.from_siasn(samples.data_utama())
    assert rec.family == []
    assert (
        rec.family_hash() == m.AsnRecord.from_siasn(samples.data_utama(), None, None).family_hash()
    )


def test_already_parsed_parts_are_accepted() -> None:
    du = m.DataUtama.model_validate(samples.data_utama(extraX=1))
    anak = m.DataAnak.model_validate(samples.anak())
    rec = m.AsnRecord.from_siasn(du, None, anak, None)
    assert rec.record_hash() == build(extraX=1).record_hash()
    assert len(rec.family) == 2
    assert rec.unknown_fields() == ["extraX"]


def test_unknown_fields_of_every_part_are_counted_with_a_prefix() -> None:
    anak = samples.anak()
    anak["listAnak"][0]["hobi"] = "x"
    ortu = samples.ortu()
    ortu["kakek"] = {}
    rec = m.AsnRecord.from_siasn(samples.data_utama(newField=1), samples.pasangan(), anak, ortu)
    assert rec.unknown_fields() == ["anak.listAnak[].hobi", "newField", "ortu.kakek"]


def test_invalid_family_part_raises_naming_the_part_and_field() -> None:
    anak = samples.anak()
    anak["listAnak"][0]["tglLahir"] = "31-02-2001"
    with pytest.raises(ValidationError) as ei:
        m.AsnRecord.from_siasn(samples.data_utama(), None, anak, None)
    assert m.describe_validation_error(ei.value) == "DataAnak: listAnak.0.tglLahir: date_invalid"


def test_validate_asn_record_returns_a_reason_instead_of_raising() -> None:
    rec, reason = m.validate_asn_record(samples.data_utama(), samples.pasangan())
    assert reason is None and rec is not None
    rec, reason = m.validate_asn_record(samples.data_utama(nama=""), samples.pasangan())
    assert rec is None and reason == "AsnRecord: nama: value_null"
    rec, reason = m.validate_asn_record("not a dict")
    assert rec is None and reason is not None and reason.startswith("AsnRecord: <root>")


# --- hashes -------------------------------------------------------------------------------------
def test_record_hash_is_a_sha256_hex() -> None:
    h = build().record_hash()
    assert len(h) == 64 and int(h, 16) >= 0


def test_record_hash_is_stable_across_key_order() -> None:
    raw = samples.data_utama()
    keys = list(raw)
    rng = random.Random(7)
    hashes = set()
    for _ in range(5):
        rng.shuffle(keys)
        shuffled = {k: raw[k] for k in keys}
        hashes.add(m.AsnRecord.from_siasn(shuffled).record_hash())
    assert hashes == {build().record_hash()}


def test_record_hash_is_stable_across_spellings_and_null_forms() -> None:
    raw = samples.data_utama()
    raw["gelarBlk"] = raw.pop("gelarBelakang")
    raw["NipBaru"] = raw.pop("nipBaru")
    raw["instansiIndukId"] = raw["instansiIndukId"].lower()
    raw["jabatanFungsionalId"] = "undefined"  # was ""
    raw["tmtEselon"] = None  # was "01-01-0001"
    raw["mkTahun"] = 21  # was "21"
    assert m.AsnRecord.from_siasn(raw).record_hash() == build().record_hash()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("golRuangAkhirId", "43"),
        ("nama", "BUDI SANTOSA"),
        ("tmtGolAkhir", "01-10-2023"),
        ("kedudukanPnsId", "99"),
        ("mkBulan", "4"),
        ("alamat", None),
        ("validNik", "false"),
    ],
)
def test_record_hash_changes_when_a_typed_field_changes(field: str, value: object) -> None:
    assert build(**{field: value}).record_hash() != build().record_hash()


def test_record_hash_ignores_unknown_and_volatile_fields_and_family() -> None:
    base = build().record_hash()
    assert build(someNewField="x").record_hash() == base
    assert build(path={"": "dok/x.pdf"}).record_hash() == base
    no_family = m.AsnRecord.from_siasn(samples.data_utama())
    assert no_family.record_hash() == base


def test_family_hash_is_independent_of_member_order() -> None:
    anak = samples.anak()
    anak["listAnak"].reverse()
    rec = m.AsnRecord.from_siasn(samples.data_utama(), samples.pasangan(), anak, samples.ortu())
    assert rec.family_hash() == build().family_hash()


def test_family_hash_changes_when_a_member_changes() -> None:
    base = build().family_hash()
    anak = samples.anak()
    anak["listAnak"][0]["jenisAnak"] = "2"
    changed = m.AsnRecord.from_siasn(samples.data_utama(), samples.pasangan(), anak, samples.ortu())
    assert changed.family_hash() != base
    fewer = m.AsnRecord.from_siasn(samples.data_utama(), samples.pasangan(), None, samples.ortu())
    assert fewer.family_hash() != base
    assert changed.record_hash() == build().record_hash()


def test_records_hash_is_order_independent() -> None:
    a, b = build(), build(golRuangAkhirId="43")
    assert m.records_hash([a, b]) == m.records_hash([b, a])
    assert m.records_hash([a]) != m.records_hash([a, b])


@given(st.permutations(list(samples.data_utama())))
def test_record_hash_for_every_key_permutation(keys: list[str]) -> None:
    raw = samples.data_utama()
    assert m.AsnRecord.from_siasn({k: raw[k] for k in keys}).record_hash() == build().record_hash()
