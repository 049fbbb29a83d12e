"""PostgreSQL bulk statements of the SCD2 writer (:mod:`~siapp_siasn.store.scd2`).

Binary COPY on the SQLAlchemy connection's own psycopg connection, inside the caller's
transaction. A first load is copied straight into ``asn`` and ``asn_family`` (its versions
copied from ``asn`` on the server); any other batch is copied into a TEMP staging table and
merged with one ``INSERT … ON CONFLICT``, its new versions inserted from the same staging rows.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from psycopg import sql

from siapp_siasn.store.scd2 import (
    ASN_COLUMNS,
    FAMILY_COLUMNS,
    UPSERT_ASN_ON_CONFLICT,
    BulkWriter,
    Change,
    Existing,
    Plan,
    versions_insert,
)
from siapp_siasn.store.tables import asn, asn_family
from siapp_siasn.store.types import UTCDateTime
from siapp_siasn.utils import json_dumps

if TYPE_CHECKING:
    from psycopg import Cursor

    from siapp_siasn.store.records import AsnRow

__all__ = ["PgBulkWriter"]

# the name carries a fingerprint of the column list: a pooled connection that still holds a
# staging table of an older schema simply gets a new one
_STAGE = "siapp_stg_asn_" + format(zlib.crc32(",".join(ASN_COLUMNS).encode()), "08x")


def _pg_type(column: sa.Column[Any]) -> str:
    """The type binary COPY sends a column as (varchar and json travel as text)."""
    t = column.type
    if isinstance(t, UTCDateTime | sa.DateTime):
        return "timestamptz"
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.Integer):
        return "int4"
    if isinstance(t, sa.Boolean):
        return "bool"
    if isinstance(t, sa.JSON | sa.String):
        # JSON goes as its text (serialised here): json's binary input is the text itself
        return "text"
    raise TypeError(f"no COPY type for column {column.name}")


def _types(table: sa.Table, columns: Sequence[str]) -> list[str]:
    return [_pg_type(table.c[c]) for c in columns]


_ASN_TYPES = _types(asn, ASN_COLUMNS)
_STAGE_TYPES = [*_ASN_TYPES, "text", "timestamptz"]
_FAMILY_TYPES = _types(asn_family, FAMILY_COLUMNS)
_ASN_PAYLOAD = ASN_COLUMNS.index("payload")
_FAMILY_PAYLOAD = FAMILY_COLUMNS.index("payload")


def _ids(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _copy_sql(table: str, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), _ids(columns)
    )


_COPY_ASN = _copy_sql("asn", ASN_COLUMNS)
_COPY_FAMILY = _copy_sql("asn_family", FAMILY_COLUMNS)
_COPY_STAGE = _copy_sql(_STAGE, (*ASN_COLUMNS, "_op", "_valid_from"))
_CREATE_STAGE = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
    "SELECT {cols}, ''::text AS _op, now() AS _valid_from FROM asn WITH NO DATA"
).format(stage=sql.Identifier(_STAGE), cols=_ids(ASN_COLUMNS))
_MERGE_ASN = sql.SQL(
    "INSERT INTO asn ({cols}) SELECT {cols} FROM {stage} " + UPSERT_ASN_ON_CONFLICT
).format(cols=_ids(ASN_COLUMNS), stage=sql.Identifier(_STAGE))


# merge: the versions of I, C and R rows (valid_from per row: R keeps the open one's)
_VERSIONS_FROM_STAGE = sql.SQL(versions_insert(_STAGE, "_valid_from", "_op <> 'F'"))
# first load: every row just inserted, its version starting at first_seen (= as_of)
_VERSIONS_FROM_ASN = sql.SQL(versions_insert("asn", "first_seen", "nip = ANY(%s)"))


class PgBulkWriter(BulkWriter):
    """Binary COPY and set-based statements over psycopg 3."""

    @property
    def _cursor(self) -> Cursor[Any]:
        return self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def existing_state(self, nips: Sequence[str]) -> Existing:
        cur = self._cursor
        cur.execute(
            # the open version by index probe per NIP (a join could hash every open version)
            "SELECT a.nip, a.record_hash, a.family_hash, a.is_active, "
            "(SELECT h.valid_from FROM asn_history h WHERE h.nip = a.nip AND h.valid_to IS NULL) "
            # locks taken in NIP order: two runs with overlapping batches cannot deadlock
            "FROM asn a WHERE a.nip = ANY(%s) ORDER BY a.nip FOR UPDATE OF a",
            (list(nips),),
        )
        return {r[0]: r[1:] for r in cur.fetchall()}

    def insert_new(self, changes: Sequence[Change], family: Sequence[AsnRow]) -> None:
        cur = self._cursor
        with cur.copy(_COPY_ASN) as copy:
            copy.set_types(_ASN_TYPES)
            for c in changes:
                values = self.asn_values(c, self.as_of, self.now)
                values[_ASN_PAYLOAD] = json_dumps(values[_ASN_PAYLOAD])
                copy.write_row(values)
        cur.execute(_VERSIONS_FROM_ASN, ([c.row.nip for c in changes],))
        self._copy_family(cur, family)

    def merge(self, plan: Plan) -> None:
        cur = self._cursor
        cur.execute(_CREATE_STAGE)
        # emptied at commit; several batches in one transaction (conn=) would see each other's
        cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(_STAGE)))
        with cur.copy(_COPY_STAGE) as copy:
            copy.set_types(_STAGE_TYPES)
            for c in plan.changes:
                values = self.asn_values(c, self.as_of, self.now)
                values[_ASN_PAYLOAD] = json_dumps(values[_ASN_PAYLOAD])
                values.append(c.op)
                values.append(c.valid_from)
                copy.write_row(values)
        # by NIP through the partial unique index of open versions (the staging table has
        # no statistics: a join against it may scan the whole history)
        closing = plan.nips("C")
        if closing:
            cur.execute(
                "UPDATE asn_history SET valid_to = %s WHERE nip = ANY(%s) AND valid_to IS NULL",
                (self.as_of, closing),
            )
        replacing = plan.nips("R")
        if replacing:
            cur.execute(
                "DELETE FROM asn_history WHERE nip = ANY(%s) AND valid_to IS NULL", (replacing,)
            )
        cur.execute(_MERGE_ASN)
        cur.execute(_VERSIONS_FROM_STAGE)

    def replace_family(self, rows: Sequence[AsnRow]) -> None:
        cur = self._cursor
        cur.execute("DELETE FROM asn_family WHERE nip = ANY(%s)", ([r.nip for r in rows],))
        self._copy_family(cur, rows)

    def _copy_family(self, cur: Cursor[Any], rows: Sequence[AsnRow]) -> None:
        if not rows:
            return
        with cur.copy(_COPY_FAMILY) as copy:
            copy.set_types(_FAMILY_TYPES)
            for values in self.family_values(rows, self.now):
                values[_FAMILY_PAYLOAD] = json_dumps(values[_FAMILY_PAYLOAD])
                copy.write_row(values)

    def touch(self, rows: Sequence[AsnRow]) -> None:
        # only rows whose last_seen or source_updated actually moves forward are written
        self._cursor.execute(
            "UPDATE asn AS a SET last_seen = GREATEST(a.last_seen, %(as_of)s), "
            "source_updated = GREATEST(a.source_updated, v.su) "
            "FROM unnest(%(nips)s::text[], %(su)s::date[]) AS v(nip, su) "
            "WHERE a.nip = v.nip AND (a.last_seen < %(as_of)s OR v.su > a.source_updated "
            "OR (a.source_updated IS NULL AND v.su IS NOT NULL))",
            {
                "as_of": self.as_of,
                "nips": [r.nip for r in rows],
                "su": [r.source_updated for r in rows],
            },
        )
