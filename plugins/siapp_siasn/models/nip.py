"""NIP (Nomor Induk Pegawai) parsing: one implementation, used by the `Nip` type and `parse_nip`.

An 18-digit NIP is `yyyymmdd` (birth date) + `yyyymm` (TMT CPNS) + gender digit (`1` male,
`2` female) + a 3-digit sequence `001`-`999`. Errors carry a kind, never the NIP itself.
"""

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

MIN_BIRTH_YEAR = 1900
"""Earliest plausible birth year of a civil servant whose record is still kept."""
MIN_AGE_YEARS = 14
"""A birth year later than `today.year - MIN_AGE_YEARS` is implausible for an ASN."""
MAX_TMT_AHEAD_YEARS = 1
"""TMT CPNS may be set a little ahead of today (formations), never further."""

_NIP_RE = re.compile(r"[0-9]{18}")
_NIP_DISPLAY_RE = re.compile(r"[0-9]{8} [0-9]{6} [0-9] [0-9]{3}")

NipErrorKind = Literal[
    "nip_type", "nip_format", "nip_birth_date", "nip_tmt_cpns", "nip_gender", "nip_sequence"
]

_MESSAGES: dict[str, str] = {
    "nip_type": "NIP should be a string of 18 digits",
    "nip_format": "NIP should be exactly 18 ASCII digits",
    "nip_birth_date": "NIP birth date part (digits 1-8, yyyymmdd) is not a plausible date",
    "nip_tmt_cpns": "NIP TMT CPNS part (digits 9-14, yyyymm) is not a valid month after birth",
    "nip_gender": "NIP gender digit (digit 15) should be 1 or 2",
    "nip_sequence": "NIP sequence (digits 16-18) should be 001-999",
}


class NipError(ValueError):
    """A NIP failed validation. `kind` says which part; the message never contains the NIP."""

    def __init__(self, kind: NipErrorKind) -> None:
        self.kind: NipErrorKind = kind
        self.message = _MESSAGES[kind]
        super().__init__(f"{kind}: {self.message}")


@dataclass(frozen=True, slots=True)
class NipParts:
    """The parts of a valid NIP."""

    nip: str
    birth_date: date
    tmt_cpns_year: int
    tmt_cpns_month: int
    gender: Literal["M", "F"]
    sequence: int

    @property
    def tmt_cpns(self) -> date:
        """TMT CPNS as the first day of its month."""
        return date(self.tmt_cpns_year, self.tmt_cpns_month, 1)


def normalize_nip(value: object) -> str:
    """Return the validated 18-digit string form of `value` or raise `NipError`."""
    s = _digits(value)
    _check_parts(s)
    return s


def _digits(value: object) -> str:
    """Return the 18-digit string form of `value` (format only) or raise `NipError`.

    Accepts a str (surrounding whitespace ignored, or the printed form `yyyymmdd yyyymm g nnn`)
    or an int of 18 digits. Only ASCII digits count (no Arabic-Indic or full-width digits).
    """
    if isinstance(value, bool):
        raise NipError("nip_type")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise NipError("nip_type")
    s = value.strip()
    if len(s) == 21 and _NIP_DISPLAY_RE.fullmatch(s):
        s = s.replace(" ", "")
    if len(s) != 18 or not _NIP_RE.fullmatch(s):
        raise NipError("nip_format")
    return s


def _check_parts(s: str, today: date | None = None) -> tuple[date, int, int, str, int]:
    """Validate the parts of an 18-digit string; return them or raise `NipError`."""
    today = today or date.today()
    by, bm, bd = int(s[0:4]), int(s[4:6]), int(s[6:8])
    if not MIN_BIRTH_YEAR <= by <= today.year - MIN_AGE_YEARS:
        raise NipError("nip_birth_date")
    try:
        birth = date(by, bm, bd)
    except ValueError:
        raise NipError("nip_birth_date") from None
    ty, tm = int(s[8:12]), int(s[12:14])
    if not 1 <= tm <= 12 or ty > today.year + MAX_TMT_AHEAD_YEARS or (ty, tm) <= (by, bm):
        raise NipError("nip_tmt_cpns")
    g = s[14]
    if g not in ("1", "2"):
        raise NipError("nip_gender")
    seq = int(s[15:18])
    if seq == 0:
        raise NipError("nip_sequence")
    return birth, ty, tm, ("M" if g == "1" else "F"), seq


def parse_nip(nip: object) -> NipParts:
    """Parse and validate a NIP; raise `NipError` (with `.kind`) when any part is invalid."""
    s = _digits(nip)
    birth, ty, tm, gender, seq = _check_parts(s)
    return NipParts(
        nip=s,
        birth_date=birth,
        tmt_cpns_year=ty,
        tmt_cpns_month=tm,
        gender=gender,  # type: ignore[arg-type]
        sequence=seq,
    )


def is_valid_nip(nip: object) -> bool:
    """True when `nip` is a valid NIP."""
    try:
        normalize_nip(nip)
    except NipError:
        return False
    return True
