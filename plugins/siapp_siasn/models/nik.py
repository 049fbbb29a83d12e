"""NIK pseudonymisation: the NIK is stored as a keyed token, never in clear.

SIASN's data-utama carries the NIK twice: as ``nik`` and as ``nomorIdDocument`` (the identity
document number, which for an ASN is the KTP's NIK). Those wire names, in every spelling the
models accept, are :data:`NIK_WIRE_NAMES`; the family payloads carry no NIK.

A token is ``hmac-sha256:<key_id>:<hex>``: HMAC-SHA256 of the NIK (surrounding whitespace
stripped) under the store's hash key, with ``key_id`` the first 8 hex of
HMAC(key, ``"siapp-siasn key id"``) so that every stored token says which key made it. Keyed
and one-way: whoever has the key can compute the token of a NIK and match it; a stolen store
without the key yields no NIK (a plain hash of a 16-digit NIK whose middle digits are a birth
date could be brute-forced).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from siapp_siasn.models.base import spelling_variants

__all__ = [
    "KEY_ID_LABEL",
    "NIK_FIELDS",
    "NIK_WIRE_NAMES",
    "TOKEN_PREFIX",
    "NikKey",
    "is_token",
    "nik_values",
    "pseudonymise",
    "retoken",
    "token_key_id",
]

TOKEN_PREFIX = "hmac-sha256"  # noqa: S105 - a label, not a secret
#: what the key id is the HMAC of: a fixed label, so the id reveals nothing of the key
KEY_ID_LABEL = b"siapp-siasn key id"
#: python names of the DataUtama fields holding the NIK
NIK_FIELDS: tuple[str, ...] = ("nik", "nomor_id_document")
#: their wire names in every accepted spelling (``nik``, ``Nik``, ``nomorIdDocument``, ...)
NIK_WIRE_NAMES: frozenset[str] = frozenset(spelling_variants("nik", "nomorIdDocument"))
_TOKEN_RE = re.compile(rf"{TOKEN_PREFIX}:([0-9a-f]{{8}}):[0-9a-f]{{64}}")


@dataclass(frozen=True)
class NikKey:
    """One hash key as the NIK tokens use it (the secret is hidden from ``repr``)."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("a NIK key needs a non-empty secret")

    @property
    def key_id(self) -> str:
        """8 hex naming this key in tokens (HMAC of a fixed label: not the key itself)."""
        return hmac.new(self.secret, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:8]

    def token(self, nik: str) -> str:
        """``hmac-sha256:<key_id>:<hex>`` of one NIK (whitespace around it stripped)."""
        digest = hmac.new(self.secret, nik.strip().encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{TOKEN_PREFIX}:{self.key_id}:{digest}"


def is_token(value: object) -> bool:
    """Whether ``value`` is a NIK token (of any key)."""
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


def token_key_id(value: object) -> str | None:
    """The key id of a token, else None (a clear NIK, null, empty)."""
    if not isinstance(value, str):
        return None
    m = _TOKEN_RE.fullmatch(value)
    return m.group(1) if m else None


def _clear(value: object) -> str | None:
    """The clear NIK a stored value holds, or None (null, empty, already a token)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or is_token(value):
        return None
    return value


def nik_values(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The NIK fields present in a data-utama payload: wire name -> value as stored."""
    return {k: v for k, v in payload.items() if k in NIK_WIRE_NAMES}


def pseudonymise(payload: Mapping[str, Any], key: NikKey) -> dict[str, Any]:
    """A copy of a data-utama payload whose clear NIKs are tokens under ``key``.

    The fields stay present (absent is not null); null and empty stay as they are; a value
    that already is a token is kept (whatever its key: rotation is :func:`retoken`'s job).
    """
    out = dict(payload)
    for k, v in payload.items():
        if k in NIK_WIRE_NAMES:
            clear = _clear(v)
            if clear is not None:
                out[k] = key.token(clear)
    return out


def retoken(payload: Mapping[str, Any], replace: Mapping[str, str]) -> dict[str, Any] | None:
    """A copy of ``payload`` whose NIK fields holding a key of ``replace`` hold its value
    instead (a previous key's token, or a clear NIK, to the current key's token); None when
    nothing was replaced."""
    out = dict(payload)
    changed = False
    for k, v in payload.items():
        if k in NIK_WIRE_NAMES and isinstance(v, str) and v in replace:
            out[k] = replace[v]
            changed = True
    return out if changed else None
