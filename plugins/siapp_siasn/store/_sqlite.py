"""SQLite bulk statements of the SCD2 writer (:mod:`~siapp_siasn.store.scd2`).

``executemany`` on the raw sqlite3 connection, inside the caller's transaction: plain
``INSERT`` for a first load, ``INSERT … ON CONFLICT`` otherwise. Values go through the very
bind processors SQLAlchemy would use for each column (so dates, timestamps, booleans and JSON
are stored in the format the Core reads back); only SQLAlchemy's per-row statement machinery
is skipped, which is most of its cost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from siapp_siasn.store import scd2
from siapp_siasn.store.base import IN_CHUNK
from siapp_siasn.store.scd2 import ASN_COLUMNS, HISTORY_COLUMNS, BulkWriter
from siapp_siasn.store.tables import FAMILY_COLUMNS, asn, asn_family, asn_history
from siapp_siasn.utils import chunks, json_dumps

if TYPE_CHECKING:
    from sqlite3 import Cursor

    from sqlalchemy.engine import Dialect

    from siapp_siasn.store.records import AsnRow

__all__ = ["SqliteBulkWriter"]


def _insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


_INSERT_ASN = _insert("asn", ASN_COLUMNS)
_UPSERT_ASN = f"{_INSERT_ASN} {scd2.UPSERT_ASN_ON_CONFLICT}"
_INSERT_HISTORY = _insert("asn_history", HISTORY_COLUMNS)
_INSERT_FAMILY = _insert("asn_family", FAMILY_COLUMNS)
_TOUCH = (
    "UPDATE asn SET last_seen = MAX(last_seen, ?1), "
    "source_updated = CASE WHEN ?2 IS NOT NULL AND "
    "(source_updated IS NULL OR ?2 > source_updated) THEN ?2 ELSE source_updated END "
    "WHERE nip = ?3 AND (last_seen < ?1 OR (?2 IS NOT NULL AND "
    "(source_updated IS NULL OR ?2 > source_updated)))"
)

# a first load's open versions start at first_seen (= as_of) of the rows just inserted
_VERSIONS_FROM_ASN = scd2.versions_insert(
    "asn", "first_seen", "nip IN (SELECT value FROM json_each(?))"
)

Processor = Callable[[Any], Any]


_PROBE_DAY = dt.date(2001, 2, 3)


def _processor(table: sa.Table, column: str, dialect: Dialect) -> Processor | None:
    proc = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    if (
        proc is not None
        and isinstance(table.c[column].type, sa.Date)
        and proc(_PROBE_DAY) == _PROBE_DAY.isoformat()
    ):
        # the same text at C speed (SQLAlchemy formats dates field by field, in Python)
        return dt.date.isoformat
    return proc


class _Binder:
    """Applies SQLAlchemy's bind processors of the given columns to positional rows, touching
    only the columns that have one (strings have none)."""

    def __init__(
        self, table: sa.Table, columns: Sequence[str], dialect: Dialect, prebound: Sequence[str]
    ) -> None:
        """``prebound``: columns whose values the caller passes already processed (the
        batch-wide timestamps, processed once per batch with :func:`bind_one`)."""
        self.active: list[tuple[int, Processor]] = []
        for i, c in enumerate(columns):
            proc = _processor(table, c, dialect)
            if proc is not None and c not in prebound:
                self.active.append((i, proc))

    def __call__(self, values: list[Any]) -> list[Any]:
        for i, proc in self.active:
            v = values[i]
            if v is not None:
                values[i] = proc(v)
        return values


def bind_one(table: sa.Table, column: str, dialect: Dialect, value: Any) -> Any:
    """``value`` processed for ``table.column`` as SQLAlchemy would bind it."""
    proc = _processor(table, column, dialect)
    return value if proc is None or value is None else proc(value)


class SqliteBulkWriter(BulkWriter):
    """``executemany`` over the raw sqlite3 connection."""

    def _run(self, statement: str, rows: list[Any]) -> None:
        if not rows:
            return
        cur: Cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.executemany(statement, rows)
        finally:
            cur.close()

    def existing_state(self, nips: Sequence[str]) -> scd2.Existing:
        h = asn_history.alias("h")
        open_from = (
            sa.select(h.c.valid_from)
            .where(h.c.nip == asn.c.nip, h.c.valid_to.is_(None))
            .scalar_subquery()
        )
        out: dict[str, tuple[Any, ...]] = {}
        for part in chunks(nips, IN_CHUNK):
            q = sa.select(
                asn.c.nip, asn.c.record_hash, asn.c.family_hash, asn.c.is_active, open_from
            ).where(asn.c.nip.in_(part))
            for r in self.conn.execute(q):
                out[r[0]] = tuple(r[1:])
        return out

    def _current_rows(self, changes: Sequence[scd2.Change]) -> list[list[Any]]:
        dialect = self.conn.dialect
        stamps = ("first_seen", "last_seen", "updated_at")
        bind = _Binder(asn, ASN_COLUMNS, dialect, prebound=stamps)
        as_of = bind_one(asn, "last_seen", dialect, self.as_of)
        now = bind_one(asn, "updated_at", dialect, self.now)
        return [bind(self.asn_values(c, as_of, now)) for c in changes]

    def _version_rows(self, changes: Sequence[scd2.Change]) -> list[list[Any]]:
        bind = _Binder(asn_history, HISTORY_COLUMNS, self.conn.dialect, prebound=())
        return [bind(self.history_values(c)) for c in changes if c.opens_version]

    def insert_new(self, changes: Sequence[scd2.Change], family: Sequence[AsnRow]) -> None:
        self._run(_INSERT_ASN, self._current_rows(changes))
        self._run(_VERSIONS_FROM_ASN, [(json_dumps([c.row.nip for c in changes]),)])
        self._insert_family(family)

    def merge(self, plan: scd2.Plan) -> None:
        as_of = bind_one(asn_history, "valid_to", self.conn.dialect, self.as_of)
        self._run(
            "UPDATE asn_history SET valid_to = ? WHERE nip = ? AND valid_to IS NULL",
            [(as_of, nip) for nip in plan.nips("C")],
        )
        self._run(
            "DELETE FROM asn_history WHERE nip = ? AND valid_to IS NULL",
            [(nip,) for nip in plan.nips("R")],
        )
        self._run(_UPSERT_ASN, self._current_rows(plan.changes))
        self._run(_INSERT_HISTORY, self._version_rows(plan.changes))

    def replace_family(self, rows: Sequence[AsnRow]) -> None:
        self._run("DELETE FROM asn_family WHERE nip = ?", [(r.nip,) for r in rows])
        self._insert_family(rows)

    def _insert_family(self, rows: Sequence[AsnRow]) -> None:
        dialect = self.conn.dialect
        bind = _Binder(asn_family, FAMILY_COLUMNS, dialect, prebound=("updated_at",))
        now = bind_one(asn_family, "updated_at", dialect, self.now)
        self._run(_INSERT_FAMILY, [bind(v) for v in self.family_values(rows, now)])

    def touch(self, rows: Sequence[AsnRow]) -> None:
        dialect = self.conn.dialect
        as_of = bind_one(asn, "last_seen", dialect, self.as_of)
        day = _processor(asn, "source_updated", dialect) or (lambda v: v)
        self._run(
            _TOUCH,
            [
                (as_of, None if r.source_updated is None else day(r.source_updated), r.nip)
                for r in rows
            ],
        )
