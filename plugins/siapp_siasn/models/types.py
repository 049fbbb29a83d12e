"""Reusable annotated types: every SIASN quirk is parsed here, once.

Each type is `Annotated[<python type>, BeforeValidator(<one parse function>), WithJsonSchema(...)]`.
The parse functions raise `PydanticCustomError` / `PydanticKnownError` whose kind names the
problem and whose message never contains the input value. The JSON Schema attached to each type
describes the *wire* form (what SIASN / SIAPP NV actually send), which is what the contract
monitor validates live responses against.

Null forms (any field): JSON null, `""`, `"undefined"`, `"null"` (any case, surrounding
whitespace ignored); for dates also `"01-01-0001"` / `"0001-01-01"`.
"""

import re
import unicodedata
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    JsonValue,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError, PydanticKnownError

from siapp_siasn.models.nip import NipError, normalize_nip

# --------------------------------------------------------------------------------------------
# limits
# --------------------------------------------------------------------------------------------
CODE_MAX = 64
SHORT_MAX = 255
LONG_MAX = 4000
PATH_MAX = 1024
MAX_DOCUMENT_SIZE = 2**40  # 1 TiB: anything larger is a corrupt size field

NULL_STRINGS = frozenset({"", "undefined", "null"})
NULL_DATES = frozenset({"01-01-0001", "0001-01-01"})


def is_null_like(value: object) -> bool:
    """True for the null forms SIASN uses: None, "", "undefined", "null" (any case)."""
    return value is None or (isinstance(value, str) and value.strip().lower() in NULL_STRINGS)


def _err(kind: str, message: str, ctx: dict[str, Any] | None = None) -> PydanticCustomError:
    return PydanticCustomError(kind, message, ctx)


# --------------------------------------------------------------------------------------------
# strings
# --------------------------------------------------------------------------------------------
# Invisible format characters are removed: zero-width space/joiners, bidi marks, embeddings,
# overrides and isolates, word joiner and invisible operators, BOM, soft hyphen, Arabic letter
# mark, Mongolian vowel separator, interlinear annotation marks.
_INVISIBLE_RE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
# Control characters (C0 except tab/newline/CR, DEL, C1), lone surrogates, non-characters.
_BAD_UNICODE = "\ud800-\udfff\ufffe\uffff"
_FORBIDDEN_MULTILINE_RE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BAD_UNICODE}]")
_FORBIDDEN_SINGLE_LINE_RE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BAD_UNICODE}]")


def clean_text(
    value: object,
    *,
    max_length: int = SHORT_MAX,
    multiline: bool = False,
    pattern: re.Pattern[str] | None = None,
    required: bool = False,
) -> str | None:
    """Normalise one text value: the single implementation behind every string type.

    Strips surrounding whitespace, maps null forms to None, NFC-normalises, removes invisible
    format characters (zero-width, bidi controls), rejects control characters, lone surrogates
    and values longer than `max_length` (counted after normalisation) or not matching `pattern`.
    """
    if value is None:
        if required:
            raise _err("value_null", "Field should not be null or empty")
        return None
    if not isinstance(value, str):
        raise PydanticKnownError("string_type")
    if len(value) > 4 * max_length + 64:  # hopelessly long: refuse before scanning it
        raise PydanticKnownError("string_too_long", {"max_length": max_length})
    s = value
    if _INVISIBLE_RE.search(s):
        s = _INVISIBLE_RE.sub("", s)
    s = s.strip()
    if s.lower() in NULL_STRINGS:
        if required:
            raise _err("value_null", "Field should not be null or empty")
        return None
    forbidden = _FORBIDDEN_MULTILINE_RE if multiline else _FORBIDDEN_SINGLE_LINE_RE
    if forbidden.search(s):
        raise _err("string_forbidden_characters", "String contains control or invalid characters")
    if not s.isascii() and not unicodedata.is_normalized("NFC", s):
        s = unicodedata.normalize("NFC", s)
    if len(s) > max_length:
        raise PydanticKnownError("string_too_long", {"max_length": max_length})
    if pattern is not None and not pattern.fullmatch(s):
        raise _err("string_pattern_mismatch", "String does not match the expected format")
    return s


def _str_schema(max_length: int, pattern: str | None, description: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"], "maxLength": max_length}
    if pattern:
        # The string null forms are valid wire values too (the model reads them as null).
        schema["pattern"] = f"{pattern}|^(undefined|null)?$"
    schema["description"] = description
    return schema


def text_type(
    max_length: int = SHORT_MAX,
    *,
    multiline: bool = False,
    pattern: str | None = None,
    required: bool = False,
    description: str = "text; null forms map to null",
) -> Any:
    """Build an Annotated string type with the given limits (see `clean_text`)."""
    rx = re.compile(pattern) if pattern else None

    def _validate(value: object) -> str | None:
        return clean_text(
            value, max_length=max_length, multiline=multiline, pattern=rx, required=required
        )

    schema = _str_schema(max_length, pattern, description)
    if required:
        schema["type"] = "string"
        schema["minLength"] = 1
        if pattern:
            schema["pattern"] = pattern
        return Annotated[str, BeforeValidator(_validate), WithJsonSchema(schema)]
    return Annotated[str | None, BeforeValidator(_validate), WithJsonSchema(schema)]


NullableStr = text_type(SHORT_MAX)
"""Single-line text up to 255 characters; null forms → None."""
RequiredStr = text_type(SHORT_MAX, required=True, description="non-empty text")
"""Single-line non-empty text up to 255 characters."""
LongText = text_type(LONG_MAX, multiline=True, description="free text (multi-line)")
"""Multi-line free text up to 4000 characters; null forms → None."""
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_./:-]*$"
Code = text_type(CODE_MAX, pattern=CODE_PATTERN, description="code or reference id (ASCII)")
"""A short ASCII code such as kedudukan `01`, eselon `21`, a ref id; null forms → None."""
RequiredCode = text_type(
    CODE_MAX, pattern=CODE_PATTERN, required=True, description="code or reference id (ASCII)"
)
ENUM_PATTERN = r"^[A-Z][A-Z0-9_]*$"
EnumCode = text_type(CODE_MAX, pattern=ENUM_PATTERN, description="UPPER_SNAKE enumeration value")
"""An open enumeration value in UPPER_SNAKE (SIAPP NV jenis/kategori): unknown values allowed."""
RequiredEnumCode = text_type(
    CODE_MAX, pattern=ENUM_PATTERN, required=True, description="UPPER_SNAKE enumeration value"
)
SIAPP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_SIAPP_ID_RE = re.compile(SIAPP_ID_PATTERN)


def _siapp_id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return clean_text(value, max_length=128, pattern=_SIAPP_ID_RE, required=True)


SiappId = Annotated[
    str,
    BeforeValidator(_siapp_id),
    WithJsonSchema(
        {
            "type": ["string", "integer"],
            "maxLength": 128,
            "pattern": SIAPP_ID_PATTERN,
            "description": "SIAPP NV identifier (opaque; integers are read as strings)",
        }
    ),
]
"""An opaque SIAPP NV identifier (ASCII, max 128); ints are accepted and turned into str."""


# --------------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------------
_DMY_RE = re.compile(r"([0-9]{2})-([0-9]{2})-([0-9]{4})")
_YMD_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def parse_date(value: object, *, allow_dmy: bool = True) -> date | None:
    """Parse a SIASN date: `dd-mm-yyyy` (and ISO `yyyy-mm-dd`); null forms → None.

    The single implementation behind `SiasnDate` and `IsoDate` (`allow_dmy=False`).
    Impossible dates (31-02-1999) raise kind `date_invalid`; other shapes `date_format`.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        raise _err("date_type", "Input should be a date, not a datetime")
    if isinstance(value, date):
        return None if value == date.min else value
    if not isinstance(value, str):
        raise _err("date_type", "Input should be a date string")
    s = value.strip()
    if s.lower() in NULL_STRINGS or s in NULL_DATES:
        return None
    m = _DMY_RE.fullmatch(s) if allow_dmy else None
    if m:
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    else:
        m = _YMD_RE.fullmatch(s)
        if not m:
            expected = "dd-mm-yyyy or yyyy-mm-dd" if allow_dmy else "yyyy-mm-dd"
            raise _err("date_format", "Date should be formatted {expected}", {"expected": expected})
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    try:
        return date(y, mo, d)
    except ValueError:
        raise _err("date_invalid", "Date does not exist in the calendar") from None


def format_siasn_date(value: date | None) -> str | None:
    """Render a date the SIASN way (`dd-mm-yyyy`)."""
    return None if value is None else f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


_SIASN_DATE_PATTERN = r"^([0-9]{2}-[0-9]{2}-[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}|undefined|null|)$"

SiasnDate = Annotated[
    date | None,
    BeforeValidator(parse_date),
    PlainSerializer(format_siasn_date, return_type=str | None, when_used="json"),
    WithJsonSchema(
        {
            "type": ["string", "null"],
            "pattern": _SIASN_DATE_PATTERN,
            "description": "date dd-mm-yyyy; 01-01-0001, '', 'undefined', 'null' mean null",
        },
        mode="validation",
    ),
    WithJsonSchema(
        {"type": ["string", "null"], "pattern": r"^[0-9]{2}-[0-9]{2}-[0-9]{4}$"},
        mode="serialization",
    ),
]
"""A SIASN date: `dd-mm-yyyy` → `date`; null forms → None; serialises back as `dd-mm-yyyy`."""


def _parse_iso_date(value: object) -> date | None:
    return parse_date(value, allow_dmy=False)


IsoDate = Annotated[
    date | None,
    BeforeValidator(_parse_iso_date),
    WithJsonSchema({"type": ["string", "null"], "format": "date"}),
]
"""An ISO 8601 date (`yyyy-mm-dd`, SIAPP NV); null forms → None."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An ISO 8601 timestamp with a time zone, normalised to UTC (naive input is rejected)."""


# --------------------------------------------------------------------------------------------
# integers and booleans
# --------------------------------------------------------------------------------------------
_INT_RE = re.compile(r"[+-]?[0-9]{1,18}")


def parse_int(value: object) -> int | None:
    """Parse a SIASN integer: int or a decimal string (`"21"`, `" 07 "`); null forms → None.

    The single implementation behind `SiasnInt` and `siasn_int(...)`. Floats and bools are
    rejected (`int_type`); other strings raise `int_parsing`.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise PydanticKnownError("int_type")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        s = value.strip()
        if s.lower() in NULL_STRINGS:
            return None
        if _INT_RE.fullmatch(s):
            return int(s)
        raise PydanticKnownError("int_parsing")
    raise PydanticKnownError("int_type")


_INT_WIRE = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*[+-]?[0-9]{1,18}\s*$"},
        {"type": "string", "enum": ["", "undefined", "null"]},
        {"type": "integer"},
        {"type": "null"},
    ]
}


def siasn_int(
    ge: int | None = None,
    le: int | None = None,
    *,
    allowed: frozenset[int] | None = None,
    kind: str = "int_not_allowed",
    description: str = "integer sent as a decimal string",
) -> Any:
    """Build an Annotated optional int parsed by `parse_int`, with bounds or an allowed set."""

    def _validate(value: object) -> int | None:
        n = parse_int(value)
        if n is None:
            return None
        if ge is not None and n < ge:
            raise PydanticKnownError("greater_than_equal", {"ge": ge})
        if le is not None and n > le:
            raise PydanticKnownError("less_than_equal", {"le": le})
        if allowed is not None and n not in allowed:
            raise _err(kind, "Value is not one of the known codes")
        return n

    schema = dict(_INT_WIRE, description=description)
    return Annotated[
        int | None, BeforeValidator(_validate), WithJsonSchema(schema, mode="validation")
    ]


SiasnInt = siasn_int()
"""An integer that SIASN sends as a string; null forms → None."""
NonNegativeInt = siasn_int(ge=0)
SizeBytes = siasn_int(ge=0, le=MAX_DOCUMENT_SIZE, description="size in bytes")
"""A document size in bytes (0 … 1 TiB)."""

GOLONGAN_IDS = frozenset({11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34, 41, 42, 43, 44, 45})
GOLONGAN_IV_B = 42
GolonganId = siasn_int(
    allowed=GOLONGAN_IDS,
    kind="golongan_invalid",
    description="golongan/ruang id: 11-14 I/a-d, 21-24 II, 31-34 III, 41-45 IV/a-e",
)
"""A golongan/ruang id (11–14, 21–24, 31–34, 41–45; IV/b = 42); other numbers are errors."""

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def parse_bool(value: object) -> bool | None:
    """Parse `"true"`/`"false"` (any case), `"1"`/`"0"`, 1/0 and bools; null forms → None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value in (0, 1):
            return bool(value)
        raise PydanticKnownError("bool_parsing")
    if isinstance(value, str):
        s = value.strip().lower()
        if s in NULL_STRINGS:
            return None
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise PydanticKnownError("bool_parsing")
    raise PydanticKnownError("bool_type")


SiasnBool = Annotated[
    bool | None,
    BeforeValidator(parse_bool),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": ["true", "false", "True", "False", "1", "0"]},
                {"type": "string", "enum": ["", "undefined", "null"]},
                {"type": "boolean"},
                {"type": "null"},
            ],
            "description": "boolean sent as 'true'/'false'",
        },
        mode="validation",
    ),
]
"""A boolean that SIASN sends as `"true"`/`"false"`; null forms → None."""


# --------------------------------------------------------------------------------------------
# identifiers
# --------------------------------------------------------------------------------------------
_HEX32 = r"[0-9a-fA-F]{32}"
_UUID36 = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID32_RE = re.compile(_HEX32)
_UUID36_RE = re.compile(_UUID36)
GUID_PATTERN = rf"^({_HEX32}|{_UUID36})$"


def parse_guid(value: object) -> str | None:
    """Validate a GUID: 32 hex digits (Oracle style) or a hyphenated uuid; null forms → None.

    Normalised to lower case; the hyphenation of the input is kept (a 32-hex GUID stays 32 hex,
    a uuid stays in the canonical 8-4-4-4-12 form), so the value still matches the other side.
    """
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise PydanticKnownError("string_type")
    s = value.strip()
    if s.lower() in NULL_STRINGS:
        return None
    if len(s) == 32 and _GUID32_RE.fullmatch(s):
        return s.lower()
    if len(s) == 36 and _UUID36_RE.fullmatch(s):
        return s.lower()
    raise _err("guid_invalid", "Value should be a 32-hex GUID or a uuid")


_GUID_SCHEMA = {
    "type": ["string", "null"],
    "pattern": rf"^({_HEX32}|{_UUID36}|undefined|null|)$",
    "description": "32-hex GUID or uuid (case-insensitive)",
}
Guid = Annotated[str | None, BeforeValidator(parse_guid), WithJsonSchema(_GUID_SCHEMA)]
"""A GUID / uuid, validated and lower-cased; null forms → None."""


def _required_guid(value: object) -> str:
    g = parse_guid(value)
    if g is None:
        raise _err("value_null", "Field should not be null or empty")
    return g


RequiredGuid = Annotated[
    str,
    BeforeValidator(_required_guid),
    WithJsonSchema({**_GUID_SCHEMA, "type": "string", "pattern": GUID_PATTERN}),
]
"""A GUID / uuid that must be present."""


def _nip(value: object) -> str:
    if is_null_like(value):
        raise _err("value_null", "Field should not be null or empty")
    try:
        return normalize_nip(value)
    except NipError as exc:
        raise _err(exc.kind, exc.message) from None


def _optional_nip(value: object) -> str | None:
    return None if is_null_like(value) else _nip(value)


_NIP_SCHEMA = {
    "type": "string",
    "pattern": r"^[0-9]{18}$",
    "description": "NIP: yyyymmdd birth + yyyymm TMT CPNS + gender 1/2 + sequence 001-999",
}
Nip = Annotated[str, BeforeValidator(_nip), WithJsonSchema(_NIP_SCHEMA)]
"""An 18-digit NIP, fully validated (birth date, TMT CPNS, gender digit, sequence)."""
OptionalNip = Annotated[
    str | None,
    BeforeValidator(_optional_nip),
    WithJsonSchema({**_NIP_SCHEMA, "type": ["string", "null"]}),
]
"""A validated NIP or None (null forms)."""

_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")


def _sha256(value: object) -> str | None:
    if is_null_like(value):
        return None
    if not isinstance(value, str):
        raise PydanticKnownError("string_type")
    s = value.strip()
    if len(s) != 64 or not _SHA256_RE.fullmatch(s):
        raise _err("sha256_invalid", "Value should be 64 hexadecimal digits (SHA-256)")
    return s.lower()


Sha256Hex = Annotated[
    str | None,
    BeforeValidator(_sha256),
    WithJsonSchema({"type": ["string", "null"], "pattern": r"^[0-9a-fA-F]{64}$"}),
]
"""A SHA-256 digest in hex, lower-cased."""

_GENDER = {"M": "M", "F": "F", "L": "M", "P": "F"}


def _gender(value: object) -> str | None:
    if is_null_like(value):
        return None
    if not isinstance(value, str):
        raise PydanticKnownError("string_type")
    g = _GENDER.get(value.strip().upper())
    if g is None:
        raise _err("gender_invalid", "Gender should be M or F (L/P accepted)")
    return g


Gender = Annotated[
    Literal["M", "F"] | None,
    BeforeValidator(_gender),
    WithJsonSchema(
        {
            "type": ["string", "null"],
            "pattern": r"^([MmFfLlPp]|undefined|null|)$",
            "description": "M or F (any case); L/P (laki-laki/perempuan) accepted",
        },
        mode="validation",
    ),
]
"""Gender `M`/`F` (any case; `L`/`P` accepted and mapped); null forms → None."""


# --------------------------------------------------------------------------------------------
# paths (document references)
# --------------------------------------------------------------------------------------------
def collapse_path_object(value: object) -> object:
    """SIASN sends some paths as `{"": "<path>"}`: return the inner value, else `value`."""
    if isinstance(value, dict) and len(value) == 1 and "" in value:
        return value[""]
    return value


_PATH_RE = re.compile(r"^[^\\]*$")


def parse_path(value: object) -> str | None:
    """A document path: a string or `{"": "<path>"}`; null forms → None.

    Rejects other objects (`path_invalid`), `..` segments (`path_traversal`), backslashes,
    control characters and paths longer than 1024.
    """
    value = collapse_path_object(value)
    if isinstance(value, dict | list):
        raise _err("path_invalid", "Path should be a string or an object with one empty key")
    s = clean_text(value, max_length=PATH_MAX, pattern=_PATH_RE)
    if s is not None and ".." in s.replace("\\", "/").split("/"):
        raise _err("path_traversal", "Path should not contain '..' segments")
    return s


_PATH_WIRE = {
    "anyOf": [
        {"type": "string", "maxLength": PATH_MAX},
        {
            "type": "object",
            "properties": {"": {"type": ["string", "null"], "maxLength": PATH_MAX}},
            "required": [""],
            "additionalProperties": False,
        },
        {"type": "null"},
    ],
    "description": "document path; may come as an object with an empty-string key",
}
SiasnPath = Annotated[
    str | None,
    BeforeValidator(parse_path),
    WithJsonSchema(_PATH_WIRE, mode="validation"),
    WithJsonSchema({"type": ["string", "null"], "maxLength": PATH_MAX}, mode="serialization"),
]
"""A document path; `{"": "p"}` → `"p"`, `{"": ""}` → None."""


def _loose_path(value: object) -> JsonValue:
    value = collapse_path_object(value)
    if isinstance(value, str):
        return parse_path(value)
    return value  # type: ignore[return-value]


SiasnPathAny = Annotated[
    JsonValue,
    BeforeValidator(_loose_path),
    WithJsonSchema({"description": "path: string, {'': path} or a map of documents"}),
]
"""Like `SiasnPath` but a map of documents (data-utama `path`) is kept as JSON, not rejected."""


# --------------------------------------------------------------------------------------------
# closed enumerations and required wrappers
# --------------------------------------------------------------------------------------------
def enum_type(*values: str, required: bool = False, description: str = "") -> Any:
    """A closed enumeration of strings (matched case-insensitively, stored as given here).

    Null forms → None (or `value_null` when `required`); other values → `literal_error`.
    """
    lookup = {v.upper(): v for v in values}
    expected = ", ".join(repr(v) for v in values)

    def _validate(value: object) -> str | None:
        if is_null_like(value):
            if required:
                raise _err("value_null", "Field should not be null or empty")
            return None
        if not isinstance(value, str):
            raise PydanticKnownError("string_type")
        v = lookup.get(value.strip().upper())
        if v is None:
            raise PydanticKnownError("literal_error", {"expected": expected})
        return v

    schema: dict[str, Any] = {"type": "string", "enum": list(values)}
    if not required:
        schema = {
            "anyOf": [
                schema,
                {"type": "string", "enum": ["", "undefined", "null"]},
                {"type": "null"},
            ]
        }
    if description:
        schema["description"] = description
    if required:
        return Annotated[str, BeforeValidator(_validate), WithJsonSchema(schema)]
    return Annotated[str | None, BeforeValidator(_validate), WithJsonSchema(schema)]


def _not_null(value: object) -> object:
    if value is None:
        raise _err("value_null", "Field should not be null or empty")
    return value


NotNull = AfterValidator(_not_null)
"""Add to an optional type to require a value: `Annotated[SiasnDate, NotNull]`."""
