"""Redaction of personal data (pure functions, no database)."""

from __future__ import annotations

from siapp_siasn.store import keyed_hash, redact


def test_redacts_by_field_name_in_any_casing() -> None:
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
    out = redact(payload)
    assert out["nama"] == "<redacted str len=4>"
    assert out["NamaLengkap"].startswith("<redacted")
    assert out["tgl_lahir"].startswith("<redacted") and out["TglLahir"].startswith("<redacted")
    assert out["noHp"].startswith("<redacted")
    assert out["gelarBlk"].startswith("<redacted")
    assert out["path"] == {"": "<redacted str len=33>"}
    assert out["instansiIndukNama"] == "Kementerian Sekretariat Negara"
    assert out["golRuangAkhirId"] == "42"
    assert out["listAnak"] == [{"nama": "<redacted str len=4>", "statusAnak": "1"}]
    assert out["jumlahAnak"] == 2
    assert out["isValidNik"] is None


def test_redacts_identifying_values_anywhere() -> None:
    out = redact({"catatan": ["NIP 197203151998031002", "mail x@y.go.id", "+6281234567890", "ok"]})
    assert out["catatan"][:3] == [
        "<redacted str len=22>",
        "<redacted str len=14>",
        "<redacted str len=14>",
    ]
    assert out["catatan"][3] == "ok"


def test_keyed_hash_depends_on_the_key() -> None:
    assert keyed_hash(b"a", "197203151998031002") != keyed_hash(b"b", "197203151998031002")
    assert len(keyed_hash(b"a", "x")) == 64
