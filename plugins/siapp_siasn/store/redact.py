"""Redaction of personal data and keyed hashing of record keys (quarantine, lineage).

The redacted form keeps a payload's shape (keys, nesting, value types and lengths) so a
quarantined record can still be diagnosed, but no value that identifies a person survives:
fields are matched by name (case, ``_`` and ``-`` ignored, so drifted casings match too) and,
as a safety net, values that look like a NIP, a NIK, an e-mail address or a phone number are
redacted wherever they appear.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

#: Normalised field names (lower case, no ``_``/``-``) that always hold personal data.
PERSONAL_FIELDS = frozenset(
    {
        "id",
        "pnsid",
        "idpns",
        "orangid",
        "orangtuaid",
        "nama",
        "namalengkap",
        "gelardepan",
        "gelarbelakang",
        "gelarblk",
        "gelardpn",
        "nik",
        "nip",
        "nipbaru",
        "niplama",
        "nippns",
        "tgllahir",
        "tanggallahir",
        "tempatlahir",
        "alamat",
        "email",
        "emailgov",
        "nohp",
        "hp",
        "notelp",
        "telepon",
        "npwp",
        "nonpwp",
        "bpjs",
        "nobpjs",
        "nokk",
        "aktamenikah",
        "aktacerai",
        "tgglmenikah",
        "tgglcerai",
        "tglmenikah",
        "tglcerai",
        "path",
        "filepath",
    }
)
#: Name fragments that mark a personal field even under a drifted name.
_PERSONAL_PREFIXES = ("nama", "nik", "nip", "alamat", "email", "telp", "tgllahir", "akta")
_PERSONAL_FRAGMENTS = ("lahir", "alamat", "email", "telepon", "nohp")

_VALUE_PATTERNS = (
    re.compile(r"\b\d{15,18}\b"),  # NIP (18), NIK (16), NIP-like
    re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"),  # e-mail
    re.compile(r"(?:\+62|\b0)8\d{7,12}\b"),  # Indonesian mobile number
)


def _normalise(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "").replace(" ", "")


def is_personal_field(key: str) -> bool:
    """Whether a field of that name holds personal data."""
    k = _normalise(key)
    if k in PERSONAL_FIELDS:
        return True
    return k.startswith(_PERSONAL_PREFIXES) or any(f in k for f in _PERSONAL_FRAGMENTS)


def _marker(value: Any) -> str:
    if isinstance(value, str):
        return f"<redacted str len={len(value)}>"
    return f"<redacted {type(value).__name__}>"


def _redact_all(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _redact_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_all(v) for v in value]
    if value is None or value == "":
        return value
    return _marker(value)


def redact(value: Any, *, _key: str | None = None) -> Any:
    """Return a copy of ``value`` with personal data replaced by type/length markers."""
    if _key is not None and is_personal_field(_key) and value not in (None, ""):
        return _redact_all(value)
    if isinstance(value, Mapping):
        return {str(k): redact(v, _key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str) and any(p.search(value) for p in _VALUE_PATTERNS):
        return _marker(value)
    if isinstance(value, bytes | bytearray):
        return f"<bytes len={len(value)}>"
    return value


def redact_raw(value: Any) -> str:
    """Redact an unparsed body entirely (a truncated or malformed payload can hide anything)."""
    if isinstance(value, bytes | bytearray):
        return f"<redacted bytes len={len(value)}>"
    return _marker(value)


def keyed_hash(secret: bytes, key: str) -> str:
    """HMAC-SHA256 of ``key`` under ``secret``, hex (64 characters)."""
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()
