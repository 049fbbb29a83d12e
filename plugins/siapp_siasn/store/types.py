"""Column types shared by the tables and the migrations (dialect differences live here)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from siapp_siasn.utils import json_dumps, json_loads

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


__all__ = [
    "UTC",
    "BigId",
    "JSONType",
    "RawJSON",
    "UTCDateTime",
    "json_dumps",
    "json_loads",
    "to_utc",
    "utcnow",
]
