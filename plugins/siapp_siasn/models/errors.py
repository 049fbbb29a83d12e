"""Redaction-safe rendering of validation errors: `field: kind`, never the value.

pydantic's `str(ValidationError)` and `.errors()` carry the input value (and our models set
`hide_input_in_errors=True` so that `str()` does not); everything the hub logs, stores in
quarantine, sends in a penolakan or puts in lineage goes through these functions instead.
Location parts that are not known field names (for instance keys of a JSON object, which are
input too) are masked.
"""

from functools import lru_cache
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_RENDERED_ERRORS = 20
MASKED_LOC = "<key>"


def _model_names(model: type[BaseModel], seen: set[type[BaseModel]], out: set[str]) -> None:
    if model in seen:
        return
    seen.add(model)
    out.add(model.__name__)
    for name, finfo in model.model_fields.items():
        out.add(name)
        if finfo.alias:
            out.add(finfo.alias)
        if finfo.serialization_alias:
            out.add(finfo.serialization_alias)
        va = finfo.validation_alias
        if isinstance(va, str):
            out.add(va)
        elif isinstance(va, AliasChoices):
            out.update(c for c in va.choices if isinstance(c, str))
        _annotation_models(finfo.annotation, seen, out)
    for sub in model.__subclasses__():
        _model_names(sub, seen, out)


def _annotation_models(annotation: Any, seen: set[type[BaseModel]], out: set[str]) -> None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _model_names(annotation, seen, out)
        return
    for arg in getattr(annotation, "__args__", ()) or ():
        _annotation_models(arg, seen, out)


@lru_cache(maxsize=1)
def _known_names_cached(_generation: int) -> frozenset[str]:
    from siapp_siasn.models.base import HubModel

    out: set[str] = set()
    _model_names(HubModel, set(), out)
    return frozenset(out)


def known_names() -> frozenset[str]:
    """Every field name, alias and model name of the hub's models (safe to show in errors)."""
    from siapp_siasn.models.base import HubModel

    return _known_names_cached(_count_subclasses(HubModel))


def _count_subclasses(cls: type) -> int:
    n, stack = 0, [cls]
    while stack:
        c = stack.pop()
        subs = c.__subclasses__()
        n += len(subs)
        stack.extend(subs)
    return n


def _render_loc(loc: tuple[int | str, ...], names: frozenset[str]) -> str:
    if not loc:
        return "<root>"
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(str(item))
        elif item in names:
            parts.append(item)
        else:
            parts.append(MASKED_LOC)
    return ".".join(parts)


def safe_errors(exc: ValidationError) -> list[dict[str, str]]:
    """`[{"loc": "listPasangan.0.orang.tglLahir", "type": "date_invalid"}, ...]`.

    Only the location (wire names, list indexes) and the error kind: no input, no message,
    no context. Location parts that are not known field names are shown as `<key>`.
    """
    names = known_names()
    return [
        {"loc": _render_loc(tuple(e["loc"]), names), "type": str(e["type"])}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def describe_validation_error(exc: ValidationError, limit: int = MAX_RENDERED_ERRORS) -> str:
    """`"DataUtama: nipBaru: nip_birth_date; tglLahir: date_invalid"`: safe for logs and storage."""
    errors = safe_errors(exc)
    shown = "; ".join(f"{e['loc']}: {e['type']}" for e in errors[:limit])
    more = f"; (+{len(errors) - limit} more)" if len(errors) > limit else ""
    title = exc.title if exc.title in known_names() else "payload"
    return f"{title}: {shown}{more}"


def validate_payload(model_cls: type[ModelT], raw: object) -> tuple[ModelT | None, str | None]:
    """Validate `raw` (a decoded JSON value); `(model, None)` or `(None, redaction-safe reason)`.

    Never raises on bad input: wrong shapes, wrong types, missing fields and too-deep nesting
    all come back as a reason for the quarantine.
    """
    try:
        return model_cls.model_validate(raw), None
    except ValidationError as exc:
        return None, describe_validation_error(exc)
    except (TypeError, ValueError, RecursionError) as exc:
        return None, f"{model_cls.__name__}: <root>: {type(exc).__name__}"


def validate_json(model_cls: type[ModelT], body: str | bytes) -> tuple[ModelT | None, str | None]:
    """Like `validate_payload` for a raw JSON body (truncated/malformed JSON → `json_invalid`)."""
    try:
        return model_cls.model_validate_json(body), None
    except ValidationError as exc:
        return None, describe_validation_error(exc)
    except (TypeError, ValueError, RecursionError) as exc:
        return None, f"{model_cls.__name__}: <root>: {type(exc).__name__}"
