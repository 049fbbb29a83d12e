"""PostgreSQL fast path for ASN batches: COPY into a TEMP staging table, then set-based SQL.

Only ``Store.apply_asn_batch`` calls this; it runs on the SQLAlchemy connection's own psycopg
connection, inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import operator
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from psycopg import sql

from siapp_siasn.store.records import numbered_family
from siapp_siasn.store.tables import ASN_TYPED_COLUMNS, FAMILY_COLUMNS, asn, asn_family
from siapp_siasn.store.types import UTCDateTime, json_dumps

if TYPE_CHECKING:
    from psycopg import Connection as PgConnection
    from sqlalchemy import Connection

    from siapp_siasn.store.records import AsnRow

_STAGED_COLUMNS: tuple[str, ...] = (
    "nip",
    *ASN_TYPED_COLUMNS,
    "payload",
    "record_hash",
    "family_hash",
    "source_updated",
    "run_id",
)
# the name carries a fingerprint of the column list: a pooled connection that still holds a
# staging table of an older schema simply gets a new one
_STAGE = "siapp_stg_asn_" + format(zlib.crc32(",".join(_STAGED_COLUMNS).encode()), "08x")


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


_STAGE_TYPES = [*(_pg_type(asn.c[c]) for c in _STAGED_COLUMNS), "text", "timestamptz"]
_FAMILY_TYPES = [_pg_type(asn_family.c[c]) for c in FAMILY_COLUMNS]


def _ids(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _driver(conn: Connection) -> PgConnection[Any]:
    return conn.connection.driver_connection  # type: ignore[return-value]


def existing_state(conn: Connection, nips: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """``nip -> (record_hash, family_hash, is_active, open valid_from)``, rows locked."""
    cur = _driver(conn).cursor()
    cur.execute(
        # the open version by index probe per NIP (a join could hash every open version)
        "SELECT a.nip, a.record_hash, a.family_hash, a.is_active, "
        "(SELECT h.valid_from FROM asn_history h WHERE h.nip = a.nip AND h.valid_to IS NULL) "
        # locks taken in NIP order: two runs with overlapping batches cannot deadlock
        "FROM asn a WHERE a.nip = ANY(%s) ORDER BY a.nip FOR UPDATE OF a",
        (list(nips),),
    )
    return {r[0]: r[1:] for r in cur.fetchall()}


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
    """Write one classified batch. ``staged`` holds (row, op, valid_from, family_hash) with op
    I (new), C (changed: close + open), R (changed: replace the open version), F (family only).
    """
    pg = _driver(conn)
    cur = pg.cursor()
    if staged:
        cur.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                "SELECT {cols}, ''::text AS _op, now() AS _valid_from FROM asn WITH NO DATA"
            ).format(stage=sql.Identifier(_STAGE), cols=_ids(_STAGED_COLUMNS))
        )
        cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(_STAGE)))
        copy_sql = sql.SQL(
            "COPY {stage} ({cols}, _op, _valid_from) FROM STDIN (FORMAT BINARY)"
        ).format(stage=sql.Identifier(_STAGE), cols=_ids(_STAGED_COLUMNS))
        typed = operator.attrgetter(*ASN_TYPED_COLUMNS)
        with cur.copy(copy_sql) as copy:
            copy.set_types(_STAGE_TYPES)
            for row, op, valid_from, family_hash in staged:
                copy.write_row(
                    (
                        row.nip,
                        *typed(row),
                        json_dumps(row.payload),
                        row.record_hash,
                        family_hash,
                        row.source_updated,
                        run_id,
                        op,
                        valid_from,
                    )
                )
        stage = sql.Identifier(_STAGE)
        # by NIP through the partial unique index of open versions (the staging table has
        # no statistics: a join against it may scan the whole history)
        closing = [row.nip for row, op, _vf, _fh in staged if op == "C"]
        if closing:
            cur.execute(
                "UPDATE asn_history SET valid_to = %s WHERE nip = ANY(%s) AND valid_to IS NULL",
                (as_of, closing),
            )
        replacing = [row.nip for row, op, _vf, _fh in staged if op == "R"]
        if replacing:
            cur.execute(
                "DELETE FROM asn_history WHERE nip = ANY(%s) AND valid_to IS NULL", (replacing,)
            )
        updates = [
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
            for c in (*ASN_TYPED_COLUMNS, "payload", "record_hash", "run_id", "updated_at")
        ]
        cur.execute(
            sql.SQL(
                "INSERT INTO asn ({cols}, is_active, departed_on, departure_reason, "
                "first_seen, last_seen, updated_at) "
                "SELECT {cols}, true, NULL, NULL, %(as_of)s, %(as_of)s, %(now)s FROM {stage} "
                "ON CONFLICT (nip) DO UPDATE SET {updates}, "
                "family_hash = COALESCE(EXCLUDED.family_hash, asn.family_hash), "
                "source_updated = COALESCE(EXCLUDED.source_updated, asn.source_updated), "
                "is_active = true, departed_on = NULL, departure_reason = NULL, "
                "last_seen = GREATEST(asn.last_seen, EXCLUDED.last_seen)"
            ).format(cols=_ids(_STAGED_COLUMNS), stage=stage, updates=sql.SQL(", ").join(updates)),
            {"as_of": as_of, "now": now},
        )
        history_cols = ("nip", *ASN_TYPED_COLUMNS, "payload", "record_hash", "run_id")
        cur.execute(
            sql.SQL(
                "INSERT INTO asn_history ({cols}, valid_from, valid_to, is_active) "
                "SELECT {cols}, _valid_from, NULL, true FROM {stage} "
                "WHERE _op IN ('I', 'C', 'R')"
            ).format(cols=_ids(history_cols), stage=stage)
        )
    if family_rows:
        cur.execute("DELETE FROM asn_family WHERE nip = ANY(%s)", ([r.nip for r in family_rows],))
        copy_sql = sql.SQL("COPY asn_family ({cols}) FROM STDIN (FORMAT BINARY)").format(
            cols=_ids(FAMILY_COLUMNS)
        )
        with cur.copy(copy_sql) as copy:
            copy.set_types(_FAMILY_TYPES)
            for row in family_rows:
                for relation, ordinal, m in numbered_family(row):
                    copy.write_row(
                        (
                            row.nip,
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
                            json_dumps(m.payload),
                            run_id,
                            now,
                        )
                    )
    if unchanged:
        # only rows whose last_seen or source_updated actually moves forward are written
        cur.execute(
            "UPDATE asn AS a SET last_seen = GREATEST(a.last_seen, %(as_of)s), "
            "source_updated = GREATEST(a.source_updated, v.su) "
            "FROM unnest(%(nips)s::text[], %(su)s::date[]) AS v(nip, su) "
            "WHERE a.nip = v.nip AND (a.last_seen < %(as_of)s OR v.su > a.source_updated "
            "OR (a.source_updated IS NULL AND v.su IS NOT NULL))",
            {
                "as_of": as_of,
                "nips": [r.nip for r in unchanged],
                "su": [r.source_updated for r in unchanged],
            },
        )
