"""Redaction of personal data and keyed hashing of record keys (quarantine, lineage).

The one implementation of both; `siapp_siasn.store` re-exports `redact` and `keyed_hash`.

`redact(raw)` returns a copy of any decoded JSON value that keeps the payload's shape (keys,
nesting, value types and string lengths) so a quarantined record can still be diagnosed, while
no value that identifies a person survives:

- by field name, at any depth (so family members inside `listPasangan[].orang`, `listAnak[]`,
  `ayah`, `ibu` are covered): keys are compared after normalisation (case, `_`, `-` and spaces
  ignored), so `tglLahir`, `tgl_lahir` and `TglLahir` are one key. Besides the exact list
  (`PERSONAL_KEYS`), keys that *look* personal (containing `nama`, `lahir`, `alamat`, `email`,
  `phone`, `telp`, `akta`, ..., or starting or ending with `nik` / `nip`) are redacted too, so
  a renamed field (schema drift) does not leak; a few organisational names (`unorNama`,
  `jabatanNama`, ...) are kept for debugging. Everything under such a key is replaced leaf by
  leaf with a marker (`<redacted str len=12>`, `<redacted int>`, ...); null and empty values stay
  as they are (they carry nothing).
- by value, as a safety net under any key: strings (and numbers) that contain something like a
  NIP or NIK (15 to 18 digits), an e-mail address or an Indonesian mobile number are replaced
  by their marker.
- bytes are never kept (`<redacted bytes len=N>`); nesting deeper than `MAX_DEPTH` is replaced
  whole by `TOO_DEEP`, so hostile nesting cannot crash the quarantine.

`redact_raw(value)` redacts an unparsed body whole (a truncated or malformed payload can hide
anything). `keyed_hash(value, secret=...)` is an HMAC that lets an operator find a quarantined
record by NIP without the quarantine storing the NIP.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

PERSONAL_KEYS: frozenset[str] = frozenset(
    {
        # identity and identifiers
        "id",
        "pnsId",
        "idPns",
        "orangId",
        "orangTuaId",
        "pnsOrangId",
        "ayahId",
        "ibuId",
        "nama",
        "namaLengkap",
        "gelarDepan",
        "gelarBelakang",
        "gelarDpn",
        "gelarBlk",
        "nik",
        "nip",
        "nipBaru",
        "nipLama",
        "nipPns",
        "npwp",
        "noNpwp",
        "bpjs",
        "noBpjs",
        "noKk",
        "noAskes",
        "noTaspen",
        "kartuAsn",
        "karisKarsu",
        "noSeriKarpeg",
        "nomorIdDocument",
        "noSpmt",
        "skck",
        "noSuratKeteranganDokter",
        "noSuratKeteranganBebasNarkoba",
        "nomorSkCpns",
        "nomorSkPns",
        "nomorSttpl",
        "noSkPensiun",
        "akteKelahiran",
        "akteMeninggal",
        "aktaMeninggal",
        # birth, contact
        "tglLahir",
        "tanggalLahir",
        "tempatLahir",
        "tempatLahirId",
        "kabupatenId",
        "tglMeninggal",
        "kodePos",
        "alamat",
        "email",
        "emailGov",
        "noHp",
        "hp",
        "noTelp",
        "telepon",
        # marriage
        "aktaMenikah",
        "aktaCerai",
        "tgglMenikah",
        "tgglCerai",
        "tglMenikah",
        "tglCerai",
        # document paths (file names carry the NIP) and free text
        "path",
        "filePath",
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
# matched as a prefix or suffix only (`nikIbu`, `noNik`, `nipAtasan`), not inside words
# (`statusNikah`)
_PERSONAL_AFFIXES = ("nik", "nip")
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
        "validNik",
    }
)

_VALUE_PATTERNS = (
    re.compile(r"\b\d{15,18}\b"),  # NIP (18), NIK (16), NIP-like
    re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"),  # e-mail
    re.compile(r"(?:\+62|\b0)8\d{7,12}\b"),  # Indonesian mobile number
)

MAX_DEPTH = 32
#: longer strings are redacted without a pattern scan (no SIASN field comes near it)
MAX_SCANNED_CHARS = 4096
TOO_DEEP = "<redacted: nested too deep>"


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
    return n.startswith(_PERSONAL_AFFIXES) or n.endswith(_PERSONAL_AFFIXES)


def _looks_personal(value: object) -> bool:
    """The value safety net: a string or number that contains a NIP/NIK, e-mail or phone."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_SCANNED_CHARS:
        # the patterns backtrack on long digit runs (minutes on 1 MB): redact unscanned
        return True
    return any(p.search(text) for p in _VALUE_PATTERNS)


def redact_raw(value: Any) -> str:
    """A marker for the whole of `value`: its type and, for text and bytes, its length."""
    if isinstance(value, str):
        return f"<redacted str len={len(value)}>"
    if isinstance(value, bytes | bytearray):
        return f"<redacted bytes len={len(value)}>"
    return f"<redacted {type(value).__name__}>"


def redact(raw: Any) -> Any:
    """A copy of `raw` with every personal value replaced by its marker (see the module doc).

    A bare string or bytes at the top level (e.g. a truncated body) is redacted whole; other
    top-level scalars are returned as they are unless they look like a NIP/NIK.
    """
    if isinstance(raw, str | bytes | bytearray):
        return redact_raw(raw) if raw else raw
    return _walk(raw, 0)


def _walk(value: Any, depth: int) -> Any:
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if is_personal_key(k) and v is not None and v != "":
                out[str(k)] = _redact_all(v, depth + 1)
            else:
                out[str(k)] = _walk(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_walk(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray) or _looks_personal(value):
        return redact_raw(value)
    return value


def _redact_all(value: Any, depth: int) -> Any:
    """Everything below a personal key: shape kept, every non-empty leaf replaced."""
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, Mapping):
        return {str(k): _redact_all(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_all(v, depth + 1) for v in value]
    if value is None or value == "":
        return value
    return redact_raw(value)


def keyed_hash(value: str | bytes, *, secret: str | bytes) -> str:
    """HMAC-SHA256 (hex, 64 characters) of `value` under `secret`.

    Lets an operator find a quarantined record by NIP without the quarantine storing the NIP.
    The secret comes from the store connection (extra `hash_key`) or `$SIAPP_SIASN_HASH_KEY`;
    it is keyword-only so the value and the secret cannot be swapped by accident.
    """
    if not secret:
        raise ValueError("keyed_hash needs a non-empty secret")
    k = secret.encode("utf-8") if isinstance(secret, str) else secret
    v = value.encode("utf-8") if isinstance(value, str) else value
    return hmac.new(k, v, hashlib.sha256).hexdigest()
