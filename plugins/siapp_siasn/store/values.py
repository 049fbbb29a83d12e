"""Checking caller-given column values before they reach the database (document ledger and
usulan lifecycle take free ``**fields``).

Errors name the table and column, never the value; strings are checked against the column
length here because SQLite would not; ``last_error`` texts are cut to :data:`ERROR_LIMIT`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from siapp_siasn.store.records import _coerce_date, _coerce_int
from siapp_siasn.store.types import UTCDateTime

__all__ = ["ERROR_LIMIT", "coerce", "short_error", "values_for"]

#: Longest ``last_error`` kept (longer texts are cut).
ERROR_LIMIT = 500


def short_error(text: str) -> str:
    """``text`` as stored in ``last_error``: stripped, cut to :data:`ERROR_LIMIT` characters."""
    text = str(text).strip()
    if len(text) <= ERROR_LIMIT:
        return text
    return text[: ERROR_LIMIT - 1] + "…"


def coerce(table: sa.Table, name: str, value: Any) -> Any:
    """``value`` in the Python type of column ``name`` (errors name the column, not the value).

    Strings: ints are turned into text, lengths are checked; dates: ISO strings are parsed;
    timestamps must be datetimes; integers: integer strings are parsed.
    """
    if value is None:
        return None
    if name == "last_error":
        return short_error(value)
    where = f"{table.name}.{name}"
    type_ = table.c[name].type
    if isinstance(type_, UTCDateTime):
        if not isinstance(value, dt.datetime):
            raise TypeError(f"{where}: expected a datetime, got {type(value).__name__}")
        return value
    if isinstance(type_, sa.Date):
        return _coerce_date(where, value)
    if isinstance(type_, sa.Integer):
        return _coerce_int(where, value)
    if isinstance(type_, sa.String):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise TypeError(f"{where}: expected a string, got {type(value).__name__}")
        if type_.length is not None and len(value) > type_.length:
            raise ValueError(f"{where}: longer than {type_.length} characters")
        return value
    return value


def values_for(table: sa.Table, given: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    """``given`` checked against the ``allowed`` columns of ``table`` and coerced."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{table.name}: unknown fields: {', '.join(unknown)}")
    return {name: coerce(table, name, value) for name, value in given.items()}
