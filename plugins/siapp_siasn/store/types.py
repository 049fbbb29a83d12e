"""Column types shared by the tables and the migrations (dialect differences live here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

UTC = dt.UTC

#: JSON everywhere, JSONB on PostgreSQL.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

#: Raw payloads as received (plain JSON, also on PostgreSQL): kept as sent, key order and all,
#: and about a quarter cheaper to bulk insert than JSONB; these columns are stored, not queried.
RawJSON = sa.JSON()

#: 64-bit surrogate keys; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every dialect.

    PostgreSQL stores ``timestamptz``; SQLite has no time zone support, so values are stored
    as naive UTC and handed back as aware UTC. Naive input is taken to be UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        value = to_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return to_utc(value)


def to_utc(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "model_dump"):  # pydantic models
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_dumps(value: Any) -> str:
    """Serialise to JSON text (dates as ISO 8601, Decimal as string)."""
    return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS).decode()


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys) for hashing."""
    return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS | orjson.OPT_SORT_KEYS)


def json_loads(value: str | bytes) -> Any:
    """Parse JSON text."""
    return orjson.loads(value)
