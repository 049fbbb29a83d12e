"""The stored ASN record: family flattening, deterministic hashes, redaction, keyed hash."""

import hashlib
import hmac
import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from siapp_siasn import models as m
from siapp_siasn.models.redact import MAX_DEPTH, TOO_DEEP

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
    assert [k.orang_tua_id for k in kids] == [samples.SPOUSE_ID, samples.SPOUSE_ID]
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
        ("isValidNik", "false"),
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
    anak["listAnak"][0]["StatusHidup"] = "2"
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


# --- redaction ------------------------------------------------------------------------------------
def test_redact_replaces_personal_fields_everywhere() -> None:
    raw = samples.envelope(samples.data_utama())
    out = m.redact(raw)
    data = out["data"]
    for key in (
        "nama",
        "nik",
        "tglLahir",
        "tempatLahir",
        "alamat",
        "noHp",
        "email",
        "emailGov",
        "nipLama",
    ):
        assert data[key] == m.REDACTED, key
    assert data["nipBaru"] == samples.NIP  # the key stays; quarantine adds a keyed hash
    assert data["unorNama"] == "Direktorat Jenderal"  # organisational names are kept
    assert data["golRuangAkhirId"] == "42"
    assert raw["data"]["nama"] == "BUDI SANTOSO"  # the input is not modified


def test_redact_covers_family_members() -> None:
    p = m.redact(samples.pasangan())
    orang = p["listPasangan"][0]["orang"]
    assert orang["nama"] == orang["nik"] == orang["tglLahir"] == m.REDACTED
    assert p["listPasangan"][0]["dataPernikahan"]["aktaMenikah"] == m.REDACTED
    assert p["listPasangan"][0]["dataPernikahan"]["tgglMenikah"] == "12-12-1999"
    assert p["listPasangan"][0]["statusNikah"] == "1"
    a = m.redact(samples.anak())
    assert {x["nama"] for x in a["listAnak"]} == {m.REDACTED}
    assert a["listAnak"][1]["nik"] == m.REDACTED  # "undefined" is a value like any other here
    o = m.redact(samples.ortu())
    assert o["ayah"]["nama"] == m.REDACTED and o["ibu"] is None


def test_redact_matches_other_spellings_and_drifted_names() -> None:
    out = m.redact(
        {
            "NAMA": "x",
            "tgl_lahir": "x",
            "Tempat-Lahir": "x",
            "namaLengkap": "x",
            "alamatDomisili": "x",
            "nomorTelepon": "x",
            "emailPribadi": "x",
            "nikIbu": "x",
            "noNik": "x",
            "statusNikah": "1",
            "golongan": "IV/b",
            "nama": "",
            "nik": None,
        }
    )
    assert out == {
        "NAMA": m.REDACTED,
        "tgl_lahir": m.REDACTED,
        "Tempat-Lahir": m.REDACTED,
        "namaLengkap": m.REDACTED,
        "alamatDomisili": m.REDACTED,
        "nomorTelepon": m.REDACTED,
        "emailPribadi": m.REDACTED,
        "nikIbu": m.REDACTED,
        "noNik": m.REDACTED,
        "statusNikah": "1",
        "golongan": "IV/b",
        "nama": "",
        "nik": None,
    }


def test_redact_replaces_nested_values_under_a_personal_key_whole() -> None:
    assert m.redact({"nama": {"depan": "BUDI"}}) == {"nama": m.REDACTED}


def test_redact_survives_hostile_nesting_and_odd_shapes() -> None:
    deep: object = {"nama": "BUDI"}
    for _ in range(5000):
        deep = {"a": deep}
    out = m.redact(deep)
    node = out
    for _ in range(MAX_DEPTH):
        node = node["a"]
    assert node == TOO_DEEP
    assert m.redact("truncated body with BUDI") == m.REDACTED
    assert m.redact(None) is None and m.redact(5) == 5
    assert m.redact([{"nik": "1"}]) == [{"nik": m.REDACTED}]


def test_redacted_payload_has_no_personal_value_left() -> None:
    import json

    raw = {
        "du": samples.data_utama(),
        "p": samples.pasangan(),
        "a": samples.anak(),
        "o": samples.ortu(),
    }
    text = json.dumps(m.redact(raw))
    for secret in (
        "BUDI SANTOSO",
        "3273011503720004",
        "15-03-1972",
        "Bandung",
        "Jl. Merdeka",
        "081234567890",
        "budi@example.org",
        "budi@kemen.go.id",
        "010234567",
        "SITI AMINAH",
        "3273016007750002",
        "20-07-1975",
        "ANAK PERTAMA",
        "AYAH SANTOSO",
        "AKTA-123/1999",
    ):
        assert secret not in text, secret


def test_keyed_hash_is_hmac_sha256() -> None:
    expected = hmac.new(b"k3y", samples.NIP.encode(), hashlib.sha256).hexdigest()
    assert m.keyed_hash(samples.NIP, "k3y") == expected
    assert m.keyed_hash(samples.NIP.encode(), b"k3y") == expected
    assert m.keyed_hash(samples.NIP, "other") != expected
    with pytest.raises(ValueError, match="non-empty key"):
        m.keyed_hash(samples.NIP, "")
