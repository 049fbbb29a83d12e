"""Base models: alias spelling variants, unknown-field accounting, canonical hashing.

Every inbound model keeps unknown fields (`extra="allow"`) and reports them through
`unknown_fields()`; known fields with a wrong type fail validation naming the field. Input is
never echoed in errors (`hide_input_in_errors=True`).

Field names are snake_case in Python. On the wire, each field is accepted in its canonical
spelling and in the camelCase, snake_case and PascalCase variants of it (and of any quirky
alternate such as `gelarBlk` or `tgglMenikah`); the canonical spelling is the first alias, the
property name in the JSON Schema, and the name used by `model_dump(by_alias=True)`.
"""

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import AliasChoices, AliasGenerator, BaseModel, ConfigDict, Field, SecretStr

from siapp_siasn.utils import sha256_json

_WORD_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def to_snake(name: str) -> str:
    """`tgglMenikah` → `tggl_menikah`, `StatusHidup` → `status_hidup`."""
    return _WORD_RE.sub("_", name).replace("-", "_").lower()


def to_camel(name: str) -> str:
    """`gelar_belakang` → `gelarBelakang`; camelCase input keeps its humps (first letter lower)."""
    if "_" not in name:
        return name[:1].lower() + name[1:]
    head, *rest = name.split("_")
    return head.lower() + "".join(p[:1].upper() + p[1:] for p in rest if p)


def to_pascal(name: str) -> str:
    """`statusHidup` / `status_hidup` → `StatusHidup`."""
    c = to_camel(name)
    return c[:1].upper() + c[1:]


def spelling_variants(*names: str) -> list[str]:
    """Each name as given, then its camelCase, snake_case and PascalCase forms, deduplicated."""
    out: list[str] = []
    for name in names:
        for v in (name, to_camel(name), to_snake(name), to_pascal(name)):
            if v and v not in out:
                out.append(v)
    return out


def wire(canonical: str, *alternates: str, **field_kwargs: Any) -> Any:
    """A `Field` read from `canonical` or any alternate spelling, written as `canonical`."""
    return Field(
        validation_alias=AliasChoices(*spelling_variants(canonical, *alternates)),
        serialization_alias=canonical,
        **field_kwargs,
    )


def personal(default: Any = None, **field_kwargs: Any) -> Any:
    """A `Field` holding personal data: hidden from repr()."""
    return Field(default, repr=False, **field_kwargs)


CAMEL_ALIASES = AliasGenerator(
    validation_alias=lambda n: AliasChoices(*spelling_variants(to_camel(n), n)),
    serialization_alias=to_camel,
)
SNAKE_ALIASES = AliasGenerator(
    validation_alias=lambda n: AliasChoices(*spelling_variants(n)),
    serialization_alias=lambda n: n,
)

_SAFE_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
UNSAFE_KEY = "<invalid-key>"


def safe_key(key: object) -> str:
    """An unknown field name as reported: identifier-like names as-is, anything else masked.

    Keys are input too; a key that is not a plain identifier (digits first, spaces, too long)
    might carry data, so it is reported as `<invalid-key>`.
    """
    return key if isinstance(key, str) and _SAFE_KEY_RE.fullmatch(key) else UNSAFE_KEY


class HubModel(BaseModel):
    """Base of every payload model."""

    model_config = ConfigDict(
        extra="allow",
        hide_input_in_errors=True,
        validate_by_name=True,
        validate_by_alias=True,
        field_title_generator=lambda name, _info: name,
    )

    #: fields left out of `content_hash()` (volatile or derived)
    HASH_EXCLUDE: ClassVar[frozenset[str]] = frozenset()

    def __repr_args__(self) -> Any:
        """Declared fields only (personal ones are `repr=False`); unknown fields are counted,
        not shown, since their values may be personal data under a drifted name."""
        fields = type(self).model_fields
        for name, finfo in fields.items():
            if finfo.repr:
                yield name, self.__dict__.get(name)
        extra = self.__pydantic_extra__
        if extra:
            yield "unknown_field_count", len(extra)

    def unknown_fields(self) -> list[str]:
        """Dotted wire paths of fields the model does not know, sorted (lists shown as `[]`).

        E.g. `["listPasangan[].orang.newField", "newTopLevel"]`. Counted by the pipeline and
        used by the contract monitor to detect drift; values are never included.
        """
        out: set[str] = set()
        _collect_unknown(self, "", out)
        return sorted(out)

    def absent_fields(self) -> list[str]:
        """Wire names of declared fields that were not present in the input (this level only)."""
        present = self.model_fields_set
        return sorted(
            (f.serialization_alias or name)
            for name, f in type(self).model_fields.items()
            if name not in present
        )

    def canonical(self, exclude: Iterable[str] = ()) -> dict[str, Any]:
        """Typed fields as a canonical JSON-able dict (python names, ISO dates, no None)."""
        return canonical_dict(self, frozenset(exclude) | self.HASH_EXCLUDE)

    def content_hash(self, exclude: Iterable[str] = ()) -> str:
        """sha256 (hex) of the canonical JSON of the typed fields; unknown fields excluded."""
        return sha256_json(self.canonical(exclude))


class SiasnModel(HubModel):
    """A SIASN payload in camelCase (all spelling variants accepted)."""

    model_config = ConfigDict(alias_generator=CAMEL_ALIASES)


class SiasnSnakeModel(HubModel):
    """A SIASN payload whose canonical spelling is snake_case (referensi, PKS documents)."""

    model_config = ConfigDict(alias_generator=SNAKE_ALIASES)


class SiappModel(HubModel):
    """A SIAPP NV payload (snake_case, clean JSON)."""

    model_config = ConfigDict(alias_generator=SNAKE_ALIASES)


class OutboundModel(HubModel):
    """A body the hub sends: unknown fields are refused so nothing unplanned leaves the hub."""

    model_config = ConfigDict(alias_generator=SNAKE_ALIASES, extra="forbid")


_NESTED_FIELDS: dict[type[BaseModel], tuple[tuple[str, str], ...]] = {}


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(a) for a in getattr(annotation, "__args__", ()) or ())


def _nested_fields(cls: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """(python name, wire name) of the fields of `cls` that can hold models (cached)."""
    cached = _NESTED_FIELDS.get(cls)
    if cached is None:
        cached = tuple(
            (name, f.serialization_alias or name)
            for name, f in cls.model_fields.items()
            if _holds_model(f.annotation)
        )
        _NESTED_FIELDS[cls] = cached
    return cached


def _collect_unknown(model: BaseModel, prefix: str, out: set[str]) -> None:
    extra = model.__pydantic_extra__
    if extra:
        out.update(prefix + safe_key(k) for k in extra)
    for name, wire_name in _nested_fields(type(model)):
        value = model.__dict__.get(name)
        if value is not None:
            _collect_value(value, prefix + wire_name, out)


def _collect_value(value: object, path: str, out: set[str]) -> None:
    if isinstance(value, BaseModel):
        _collect_unknown(value, path + ".", out)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_value(item, path + "[]", out)


def _canon(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return canonical_dict(value, getattr(value, "HASH_EXCLUDE", frozenset()))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, SecretStr):
        return None
    return value


def canonical_dict(model: BaseModel, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Typed fields of `model` (python names) made JSON-able, None and `exclude` left out."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        if name in exclude:
            continue
        value = model.__dict__.get(name)
        if value is None:
            continue
        out[name] = _canon(value)
    return out
