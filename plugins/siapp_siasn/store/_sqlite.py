"""SQLite fast path for ASN batches: ``executemany`` of ``INSERT … ON CONFLICT`` on the raw
sqlite3 connection, inside the caller's transaction.

Values go through the very bind processors SQLAlchemy would use for each column (so dates,
timestamps, booleans and JSON are stored in the same format the Core path reads back); only the
per-row statement machinery of SQLAlchemy is skipped, which is most of its cost.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from siapp_siasn.store.records import numbered_family
from siapp_siasn.store.tables import (
    ASN_TYPED_COLUMNS,
    FAMILY_COLUMNS,
    asn,
    asn_family,
    asn_history,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Dialect

    from siapp_siasn.store.records import AsnRow

_ASN_COLUMNS = (
    "nip",
    *ASN_TYPED_COLUMNS,
    "payload",
    "record_hash",
    "family_hash",
    "is_active",
    "departed_on",
    "departure_reason",
    "source_updated",
    "run_id",
    "first_seen",
    "last_seen",
    "updated_at",
)
_HISTORY_COLUMNS = (
    "nip",
    "valid_from",
    "valid_to",
    "record_hash",
    "is_active",
    "departed_on",
    "departure_reason",
    "run_id",
    *ASN_TYPED_COLUMNS,
    "payload",
)

_UPSERT_ASN = (
    f"INSERT INTO asn ({', '.join(_ASN_COLUMNS)}) VALUES ({', '.join('?' * len(_ASN_COLUMNS))}) "
    "ON CONFLICT (nip) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in (*ASN_TYPED_COLUMNS, "payload", "record_hash", "run_id", "updated_at")
    )
    + ", family_hash = COALESCE(excluded.family_hash, asn.family_hash), "
    "source_updated = COALESCE(excluded.source_updated, asn.source_updated), is_active = 1, "
    "departed_on = NULL, departure_reason = NULL, "
    "last_seen = MAX(asn.last_seen, excluded.last_seen)"
)
_INSERT_HISTORY = (
    f"INSERT INTO asn_history ({', '.join(_HISTORY_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_HISTORY_COLUMNS))})"
)
_INSERT_FAMILY = (
    f"INSERT INTO asn_family ({', '.join(FAMILY_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(FAMILY_COLUMNS))})"
)

Processor = Callable[[Any], Any]


class _Binder:
    """Applies SQLAlchemy's bind processors of the given columns to positional rows, touching
    only the columns that have one (strings have none)."""

    def __init__(
        self,
        table: sa.Table,
        columns: Sequence[str],
        dialect: Dialect,
        prebound: Sequence[str] = (),
    ) -> None:
        """``prebound``: columns whose values the caller passes already processed (the
        batch-wide timestamps, processed once per batch with :meth:`one`)."""
        self.table = table
        self.dialect = dialect
        self.active: list[tuple[int, Processor]] = []
        for i, c in enumerate(columns):
            proc = table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None and c not in prebound:
                self.active.append((i, proc))

    def one(self, column: str, value: Any) -> Any:
        proc = self.table.c[column].type.dialect_impl(self.dialect).bind_processor(self.dialect)
        return value if proc is None or value is None else proc(value)

    def __call__(self, values: list[Any]) -> list[Any]:
        for i, proc in self.active:
            v = values[i]
            if v is not None:
                values[i] = proc(v)
        return values


def apply(
    conn: Connection,
    staged: Sequence[tuple[AsnRow, str, dt.datetime, str | None]],
    unchanged: Sequence[AsnRow],
    family_rows: Sequence[AsnRow],
    *,
    run_id: str | None,
    as_of: dt.datetime,
    now: dt.datetime,
) -> None:
    """Write one classified batch (see ``_pg.apply`` for the meaning of ``staged``)."""
    dialect = conn.dialect
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    as_of_b = _Binder(asn, ["updated_at"], dialect)([as_of])[0]
    typed = operator.attrgetter(*ASN_TYPED_COLUMNS)
    try:
        closing = [(as_of_b, r.nip) for r, op, _vf, _fh in staged if op == "C"]
        if closing:
            cur.executemany(
                "UPDATE asn_history SET valid_to = ? WHERE nip = ? AND valid_to IS NULL", closing
            )
        replacing = [(r.nip,) for r, op, _vf, _fh in staged if op == "R"]
        if replacing:
            cur.executemany("DELETE FROM asn_history WHERE nip = ? AND valid_to IS NULL", replacing)
        if staged:
            bind = _Binder(
                asn, _ASN_COLUMNS, dialect, prebound=("first_seen", "last_seen", "updated_at")
            )
            now_b = bind.one("updated_at", now)
            cur.executemany(
                _UPSERT_ASN,
                [
                    bind(
                        [
                            r.nip,
                            *typed(r),
                            r.payload,
                            r.record_hash,
                            fam_hash,
                            True,
                            None,
                            None,
                            r.source_updated,
                            run_id,
                            as_of_b,
                            as_of_b,
                            now_b,
                        ]
                    )
                    for r, _op, _vf, fam_hash in staged
                ],
            )
            hbind = _Binder(asn_history, _HISTORY_COLUMNS, dialect)
            history = [
                hbind(
                    [
                        r.nip,
                        vf,
                        None,
                        r.record_hash,
                        True,
                        None,
                        None,
                        run_id,
                        *typed(r),
                        r.payload,
                    ]
                )
                for r, op, vf, _fh in staged
                if op in ("I", "C", "R")
            ]
            if history:
                cur.executemany(_INSERT_HISTORY, history)
        if family_rows:
            cur.executemany("DELETE FROM asn_family WHERE nip = ?", [(r.nip,) for r in family_rows])
            fbind = _Binder(asn_family, FAMILY_COLUMNS, dialect, prebound=("updated_at",))
            fam_now = fbind.one("updated_at", now)
            members = [
                fbind(
                    [
                        r.nip,
                        relation,
                        ordinal,
                        m.member_id,
                        m.nama,
                        m.tgl_lahir,
                        m.jenis_kelamin,
                        m.status_hidup,
                        m.status_hubungan,
                        m.tgl_menikah,
                        m.tgl_cerai,
                        m.orang_tua_id,
                        m.payload,
                        run_id,
                        fam_now,
                    ]
                )
                for r in family_rows
                for relation, ordinal, m in numbered_family(r)
            ]
            if members:
                cur.executemany(_INSERT_FAMILY, members)
        if unchanged:
            (date_b,) = (_Binder(asn, ["source_updated"], dialect).active[0][1],)
            cur.executemany(
                "UPDATE asn SET last_seen = MAX(last_seen, ?1), "
                "source_updated = CASE WHEN ?2 IS NOT NULL AND "
                "(source_updated IS NULL OR ?2 > source_updated) THEN ?2 ELSE source_updated END "
                "WHERE nip = ?3 AND (last_seen < ?1 OR (?2 IS NOT NULL AND "
                "(source_updated IS NULL OR ?2 > source_updated)))",
                [
                    (
                        as_of_b,
                        None if r.source_updated is None else date_b(r.source_updated),
                        r.nip,
                    )
                    for r in unchanged
                ],
            )
    finally:
        cur.close()
