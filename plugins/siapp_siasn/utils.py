"""Small helpers every layer shares (no Airflow, no database): one of each."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import orjson

T = TypeVar("T")

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "model_dump"):  # pydantic models
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_dumps(value: Any) -> str:
    """JSON text (dates as ISO 8601, Decimal as string)."""
    return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS).decode()


def json_loads(value: str | bytes) -> Any:
    """Parse JSON text."""
    return orjson.loads(value)


def canonical_json(value: Any) -> str:
    """Deterministic JSON for hashing: sorted keys, no whitespace, UTF-8 (not ASCII-escaped)."""
    return orjson.dumps(
        value, default=_json_default, option=_JSON_OPTIONS | orjson.OPT_SORT_KEYS
    ).decode()


def sha256_json(value: Any) -> str:
    """sha256 hex of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    if size < 1:
        raise ValueError("size must be >= 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]
