"""Redaction for the quarantine: personal fields replaced, plus a keyed hash to find a record.

`redact(raw)` walks any decoded JSON value and replaces the value of every personal-data key
(at any depth, so family members inside `listPasangan[].orang`, `listAnak[]`, `ayah`, `ibu` are
covered) with `"<redacted>"`. Keys are matched after normalisation (case, `_`, `-` ignored), so
`tglLahir`, `tgl_lahir` and `TglLahir` are one key. Besides the exact list, keys that *look*
personal (containing `nama`, `lahir`, `alamat`, `email`, `phone`, `telp`, `akta`, ..., or
starting or ending with `nik`) are also redacted, so a renamed field (schema drift) does not
leak; a few organisational names (`unorNama`, `jabatanNama`, ...) are kept for debugging.
"""

import hashlib
import hmac
import re
from typing import Any

REDACTED = "<redacted>"

PERSONAL_KEYS: frozenset[str] = frozenset(
    {
        "nama",
        "nik",
        "tglLahir",
        "tempatLahir",
        "alamat",
        "noHp",
        "email",
        "emailGov",
        "nipLama",
        "aktaMenikah",
        "aktaCerai",
        "noTelp",
        "catatan",
        "alasan",
    }
)
"""Exact personal-data keys (SIASN spelling; other spellings match too)."""

_PERSONAL_FRAGMENTS = (
    "nama",
    "name",
    "lahir",
    "alamat",
    "address",
    "email",
    "mail",
    "phone",
    "telp",
    "telepon",
    "nohp",
    "akta",
    "ktp",
)
_KEEP_KEYS: frozenset[str] = frozenset(
    {
        "instansiIndukNama",
        "instansiKerjaNama",
        "unorNama",
        "jabatanNama",
        "jabatanFungsionalNama",
        "jabatanFungsionalUmumNama",
        "statusUsulanNama",
        "dokNama",
        "namaPangkat",
        "pangkatAkhir",
        "isValidNik",
    }
)


def _norm(key: str) -> str:
    return re.sub(r"[_\-\s]", "", key).lower()


_PERSONAL_NORM = frozenset(_norm(k) for k in PERSONAL_KEYS)
_KEEP_NORM = frozenset(_norm(k) for k in _KEEP_KEYS)


def is_personal_key(key: object) -> bool:
    """True when the value under `key` must be redacted."""
    if not isinstance(key, str):
        return False
    n = _norm(key)
    if n in _KEEP_NORM:
        return False
    if n in _PERSONAL_NORM or any(f in n for f in _PERSONAL_FRAGMENTS):
        return True
    # NIK as a prefix or suffix (`nikIbu`, `noNik`), not inside words (`statusNikah`)
    return n.startswith("nik") or n.endswith("nik")


MAX_DEPTH = 32
TOO_DEEP = "<redacted: nested too deep>"


def redact(raw: Any) -> Any:
    """A copy of `raw` with every personal value replaced by `"<redacted>"`.

    Dicts and lists are walked (up to `MAX_DEPTH` levels; anything deeper is replaced whole, so
    hostile nesting cannot crash the quarantine); null and empty values stay as they are (they
    carry nothing). A bare string at the top level (e.g. a truncated body) is redacted whole;
    other scalars are returned as they are.
    """
    if isinstance(raw, str):
        return REDACTED if raw else raw
    return _walk(raw, 0)


def _walk(value: Any, depth: int) -> Any:
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if is_personal_key(k) and v is not None and v != "":
                out[k] = REDACTED
            else:
                out[k] = _walk(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_walk(v, depth + 1) for v in value]
    return value


def keyed_hash(value: str | bytes, key: str | bytes) -> str:
    """HMAC-SHA256 (hex) of `value` under `key`: lets an operator find a quarantined record
    by NIP without the quarantine storing the NIP. The key comes from an Airflow connection."""
    if not key:
        raise ValueError("keyed_hash needs a non-empty key")
    k = key.encode("utf-8") if isinstance(key, str) else key
    v = value.encode("utf-8") if isinstance(value, str) else value
    return hmac.new(k, v, hashlib.sha256).hexdigest()
