"""Redaction of personal data and the keyed hash (pure functions, no database).

The store re-exports both (`siapp_siasn.store`); its quarantine round trip is in
`tests/store/test_audit.py`.
"""

import hashlib
import hmac
import json

import pytest

from siapp_siasn import models as m
from siapp_siasn.models.redact import MAX_DEPTH, TOO_DEEP, redact_raw
from tests.models import samples


def marker(value: str) -> str:
    return f"<redacted str len={len(value)}>"


# --- by field name --------------------------------------------------------------------------------
def test_redact_replaces_personal_fields_everywhere() -> None:
    raw = samples.envelope(samples.data_utama())
    out = m.redact(raw)
    data = out["data"]
    for key in (
        "id",
        "nipBaru",  # the quarantine finds a record by its keyed hash, never by the NIP
        "nama",
        "nik",
        "tglLahir",
        "tempatLahir",
        "alamat",
        "noHp",
        "email",
        "emailGov",
        "nipLama",
        "gelarDepan",
        "gelarBelakang",
    ):
        assert data[key] == marker(raw["data"][key]), key
    assert data["unorNama"] == "Direktorat Jenderal"  # organisational names are kept
    assert data["instansiIndukNama"] == "Kementerian Sekretariat Negara"
    assert data["golRuangAkhirId"] == "42"
    assert data["path"] == {"": ""}  # empty values carry nothing and stay
    assert raw["data"]["nama"] == "BUDI SANTOSO"  # the input is not modified


def test_redact_covers_family_members() -> None:
    p = m.redact(samples.pasangan())
    orang = p["listPasangan"][0]["orang"]
    assert orang["nama"] == marker("SITI AMINAH")
    assert orang["namaKtp"] == marker("SITI AMINAH")
    assert orang["tglLahir"] == marker("20-07-1975")
    assert orang["StatusHidup"] == "1"
    nikah = p["listPasangan"][0]["dataPernikahan"]
    assert nikah["aktaMenikah"] == marker("AKTA-123/1999")
    assert nikah["tgglMenikah"] == nikah["tgglCerai"] == marker("12-12-1999")
    assert nikah["aktaCerai"] == "" and nikah["posisi"] == "1"
    assert p["listPasangan"][0]["statusNikah"] == "1"
    a = m.redact(samples.anak())
    assert [x["nama"] for x in a["listAnak"]] == [marker("ANAK PERTAMA"), marker("ANAK KEDUA")]
    assert a["listAnak"][1]["kabupatenId"] == marker("undefined")  # a value like any other
    assert a["listAnak"][0]["ibuId"] == marker(samples.SPOUSE_ID)
    assert a["listAnak"][0]["jenisAnak"] == "1"
    o = m.redact(samples.ortu())
    assert o["ayah"]["nama"] == marker("AYAH SANTOSO") and o["ibu"] is None


def test_redact_matches_other_spellings_and_drifted_names() -> None:
    out = m.redact(
        {
            "NAMA": "x",
            "tgl_lahir": "x",
            "TglLahir": "x",
            "Tempat-Lahir": "x",
            "namaLengkap": "x",
            "NamaLengkap": "x",
            "alamatDomisili": "x",
            "nomorTelepon": "x",
            "noHp": "x",
            "emailPribadi": "x",
            "nikIbu": "x",
            "noNik": "x",
            "nipAtasan": "x",
            "atasanNip": "x",
            "gelarBlk": "x",
            "file_path": "x",
            "catatan": "x",
            "statusNikah": "1",
            "golongan": "IV/b",
            "isValidNik": "true",
            "nama": "",
            "nik": None,
        }
    )
    assert out == {
        "NAMA": marker("x"),
        "tgl_lahir": marker("x"),
        "TglLahir": marker("x"),
        "Tempat-Lahir": marker("x"),
        "namaLengkap": marker("x"),
        "NamaLengkap": marker("x"),
        "alamatDomisili": marker("x"),
        "nomorTelepon": marker("x"),
        "noHp": marker("x"),
        "emailPribadi": marker("x"),
        "nikIbu": marker("x"),
        "noNik": marker("x"),
        "nipAtasan": marker("x"),
        "atasanNip": marker("x"),
        "gelarBlk": marker("x"),
        "file_path": marker("x"),
        "catatan": marker("x"),
        "statusNikah": "1",
        "golongan": "IV/b",
        "isValidNik": "true",
        "nama": "",
        "nik": None,
    }


def test_redact_keeps_the_shape_of_a_payload() -> None:
    payload = {
        "nama": "BUDI",
        "NamaLengkap": "BUDI SANTOSO",  # drifted name
        "tgl_lahir": "15-03-1972",
        "TglLahir": "15-03-1972",
        "noHp": "081234567890",
        "gelarBlk": "M.Si",
        "path": {"": "peremajaan/197203151998031002.pdf"},
        "instansiIndukNama": "Kementerian Sekretariat Negara",
        "golRuangAkhirId": "42",
        "listAnak": [{"nama": "ANAK", "statusAnak": "1"}],
        "jumlahAnak": 2,
        "isValidNik": None,
    }
    assert m.redact(payload) == {
        "nama": "<redacted str len=4>",
        "NamaLengkap": "<redacted str len=12>",
        "tgl_lahir": "<redacted str len=10>",
        "TglLahir": "<redacted str len=10>",
        "noHp": "<redacted str len=12>",
        "gelarBlk": "<redacted str len=4>",
        "path": {"": "<redacted str len=33>"},
        "instansiIndukNama": "Kementerian Sekretariat Negara",
        "golRuangAkhirId": "42",
        "listAnak": [{"nama": "<redacted str len=4>", "statusAnak": "1"}],
        "jumlahAnak": 2,
        "isValidNik": None,
    }


def test_redact_replaces_every_value_under_a_personal_key() -> None:
    assert m.redact({"nama": {"depan": "BUDI"}}) == {"nama": {"depan": "<redacted str len=4>"}}
    assert m.redact({"nik": [3273011503720004, True, 1.5, None, "", b"ab"]}) == {
        "nik": [
            "<redacted int>",
            "<redacted bool>",
            "<redacted float>",
            None,
            "",
            "<redacted bytes len=2>",
        ]
    }


# --- by value -------------------------------------------------------------------------------------
def test_redact_catches_identifying_values_under_any_key() -> None:
    out = m.redact(
        {"keterangan": ["NIP 197203151998031002", "mail x@y.go.id", "+6281234567890", "ok"]}
    )
    assert out["keterangan"] == [
        "<redacted str len=22>",
        "<redacted str len=14>",
        "<redacted str len=14>",
        "ok",
    ]
    out = m.redact(
        {"a": 3273011503720004, "b": 42, "c": True, "d": b"\x00NIP", "e": "081234567890"}
    )
    assert out == {
        "a": "<redacted int>",  # a NIK sent as a JSON number
        "b": 42,
        "c": True,
        "d": "<redacted bytes len=4>",
        "e": "<redacted str len=12>",
    }


def test_redacted_payload_has_no_personal_value_left() -> None:
    raw = {
        "du": samples.data_utama(),
        "p": samples.pasangan(),
        "a": samples.anak(),
        "o": samples.ortu(),
    }
    text = json.dumps(m.redact(raw))
    for secret in (
        samples.NIP,
        samples.GUID,
        samples.SPOUSE_ID,
        samples.CHILD_ID,
        "BUDI SANTOSO",
        "M.Si",
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
        "12-12-1999",
        "ANAK PERTAMA",
        "ANAK KEDUA",
        "AYAH SANTOSO",
        "AKTA-123/1999",
    ):
        assert secret not in text, secret


# --- odd shapes -----------------------------------------------------------------------------------
def test_redact_survives_hostile_nesting_and_odd_shapes() -> None:
    deep: object = {"nama": "BUDI"}
    for _ in range(5000):
        deep = {"a": deep}
    out = m.redact(deep)
    node = out
    for _ in range(MAX_DEPTH):
        node = node["a"]
    assert node == TOO_DEEP
    # nesting below a personal key is bounded too
    under: object = "BUDI"
    for _ in range(5000):
        under = [under]
    node = m.redact({"nama": under})["nama"]
    for _ in range(MAX_DEPTH - 2):
        node = node[0]
    assert node == [TOO_DEEP]
    assert "BUDI" not in json.dumps(m.redact({"nama": under}))

    assert m.redact("truncated body with BUDI") == "<redacted str len=24>"
    assert m.redact(b'{"nama": "BUD') == "<redacted bytes len=13>"
    assert m.redact("") == ""
    assert m.redact(None) is None and m.redact(5) == 5
    assert m.redact(int(samples.NIP)) == "<redacted int>"
    assert m.redact([{"nik": "1"}]) == [{"nik": "<redacted str len=1>"}]
    assert m.redact(({"nik": "1"}, 2)) == [{"nik": "<redacted str len=1>"}, 2]
    assert m.redact({1: "a"}) == {"1": "a"}  # JSON keys


def test_redact_raw_redacts_an_unparsed_body_whole() -> None:
    assert redact_raw('{"nama": "BUD') == "<redacted str len=13>"
    assert redact_raw(bytearray(b"abc")) == "<redacted bytes len=3>"
    assert redact_raw(5) == "<redacted int>"


# --- keyed hash -----------------------------------------------------------------------------------
def test_keyed_hash_is_hmac_sha256() -> None:
    expected = hmac.new(b"k3y", samples.NIP.encode(), hashlib.sha256).hexdigest()
    assert m.keyed_hash(samples.NIP, secret="k3y") == expected
    assert m.keyed_hash(samples.NIP.encode(), secret=b"k3y") == expected
    assert len(expected) == 64
    assert m.keyed_hash(samples.NIP, secret="other") != expected
    assert m.keyed_hash("197203151998031003", secret="k3y") != expected
    with pytest.raises(ValueError, match="non-empty secret"):
        m.keyed_hash(samples.NIP, secret="")


def test_keyed_hash_takes_the_secret_by_keyword_only() -> None:
    # the value and the secret are both bytes or str: a positional secret could be swapped
    with pytest.raises(TypeError):
        m.keyed_hash(samples.NIP, "k3y")  # type: ignore[misc]
