"""Document ledger repository: one row per document the proposal flows move between SIAPP NV
and SIASN (hash, size, where it came from and went, transfer and check state).

An upsert that changes nothing writes nothing, so replaying a flow leaves the ledger as it was.
:meth:`DocumentRepository.iter_inventory` reads the whole ledger as the reconciliation's
inventory, in pandas chunks of bounded size.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.base import IN_CHUNK, Repository, binds, where_given
from siapp_siasn.store.errors import StoreError
from siapp_siasn.store.tables import document_ledger
from siapp_siasn.store.types import utcnow
from siapp_siasn.store.values import coerce, short_error, values_for
from siapp_siasn.utils import chunks

__all__ = [
    "INVENTORY_COLUMNS",
    "INVENTORY_DTYPES",
    "LEDGER_DIRECTIONS",
    "LEDGER_FIELDS",
    "LEDGER_REQUIRED",
    "DocumentRepository",
]

#: Columns of ``document_ledger`` that ``documents.upsert`` takes.
LEDGER_FIELDS: tuple[str, ...] = (
    "usulan_id",
    "jenis",
    "direction",
    "sha256",
    "size",
    "source_system",
    "source_ref",
    "target_system",
    "target_dok_id",
    "target_dok_uri",
    "status",
    "attempts",
    "last_error",
    "transferred_at",
    "verified_at",
)

#: Columns a new ledger row needs.
LEDGER_REQUIRED: tuple[str, ...] = ("direction", "source_system", "target_system")

#: ``document_ledger.direction`` values (as ``flows.usulan_push`` writes them).
LEDGER_DIRECTIONS: tuple[str, ...] = ("siapp_to_siasn", "siasn_to_siapp")

#: The one column set of every inventory chunk the reconciliation compares (SIAPP NV, SIASN,
#: ledger). Defined here, with the store, because the ledger's reader yields it; the flow
#: imports it. In the ledger's chunks ``ref`` is the ledger's ``doc_id``.
INVENTORY_COLUMNS: tuple[str, ...] = (
    "usulan_id",
    "jenis",
    "direction",
    "ref",
    "sha256",
    "size",
    "status",
)

#: Their dtypes: pandas' ``str`` (pyarrow-backed when pyarrow is installed: one contiguous
#: buffer, no object per value), categoricals for the few-valued columns, nullable Int64 sizes.
INVENTORY_DTYPES: dict[str, Any] = {
    "usulan_id": "str",
    "jenis": "category",
    "direction": pd.CategoricalDtype(LEDGER_DIRECTIONS),
    "ref": "str",
    "sha256": "str",
    "size": "Int64",
    "status": "category",
}


_REF = INVENTORY_COLUMNS.index("ref")


def _fetch_tuples(c: Connection, stmt: sa.Select[Any], params: dict[str, Any]) -> list[Any]:
    """Every row of ``stmt`` as the driver's plain tuples, through the driver's cursor on the
    connection (and in the transaction) of ``c``."""
    compiled = stmt.compile(dialect=c.dialect)
    values = compiled.construct_params(params)
    args: Any = [values[k] for k in compiled.positiontup or ()] if compiled.positional else values
    cursor = c.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(compiled.string, args)
        return cursor.fetchall()
    finally:
        cursor.close()


class DocumentRepository(Repository):
    """``store.documents``: the document ledger."""

    def get(self, doc_id: str, *, conn: Connection | None = None) -> dict[str, Any] | None:
        """The ledger row of document ``doc_id`` (every column), or None."""
        t = document_ledger
        stmt = self._statement("get", lambda: sa.select(t).where(t.c.doc_id == sa.bindparam("id")))
        with self._tx(conn, "documents.get") as c:
            r = c.execute(stmt, {"id": doc_id}).mappings().first()
        return dict(r) if r is not None else None

    def get_many(
        self, doc_ids: Iterable[str], *, conn: Connection | None = None
    ) -> dict[str, dict[str, Any]]:
        """The ledger rows of ``doc_ids`` by ``doc_id`` (every column); unknown ids are left out."""
        t = document_ledger
        stmt = self._statement(
            "get_many",
            lambda: sa.select(t).where(t.c.doc_id.in_(sa.bindparam("ids", expanding=True))),
        )
        wanted = builtins.list(dict.fromkeys(doc_ids))
        out: dict[str, dict[str, Any]] = {}
        with self._tx(conn, "documents.get_many") as c:
            for part in chunks(wanted, IN_CHUNK):
                out.update(
                    (r["doc_id"], dict(r)) for r in c.execute(stmt, {"ids": part}).mappings()
                )
        return out

    def for_usulan(
        self, usulan_ids: Iterable[str], *, conn: Connection | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The ledger rows of the usulan ``usulan_ids`` (every column; ``usulan_id`` is
        indexed), ordered by ``doc_id``."""
        t = document_ledger
        stmt = self._statement(
            "for_usulan",
            lambda: (
                sa.select(t)
                .where(t.c.usulan_id.in_(sa.bindparam("ids", expanding=True)))
                .order_by(t.c.doc_id)
            ),
        )
        wanted = sorted({u for u in usulan_ids if u})
        out: builtins.list[dict[str, Any]] = []
        with self._tx(conn, "documents.for_usulan") as c:
            for part in chunks(wanted, IN_CHUNK):
                out += [dict(r) for r in c.execute(stmt, {"ids": part}).mappings()]
        return out

    def by_target(
        self,
        target_system: str,
        *,
        dok_ids: Iterable[str] = (),
        dok_uris: Iterable[str] = (),
        conn: Connection | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """The ledger rows whose copy at ``target_system`` has one of ``dok_ids`` or one of
        ``dok_uris`` (every column; each row once, ordered by ``doc_id``). The reconciliation
        maps what a destination lists back to the document the hub sent by this; both look-ups
        are indexed (migration 0004)."""
        out: dict[str, dict[str, Any]] = {}
        with self._tx(conn, "documents.by_target") as c:
            for column, values in (("target_dok_id", dok_ids), ("target_dok_uri", dok_uris)):
                stmt = self._statement(f"by_{column}", partial(self._by_target, column))
                wanted = sorted({str(v) for v in values if v})
                for part in chunks(wanted, IN_CHUNK):
                    params = {"system": target_system, "ids": part}
                    out.update((r["doc_id"], dict(r)) for r in c.execute(stmt, params).mappings())
        return [out[k] for k in sorted(out)]

    @staticmethod
    def _by_target(column: str) -> sa.Select[Any]:
        t = document_ledger
        return sa.select(t).where(
            t.c.target_system == sa.bindparam("system", type_=t.c.target_system.type),
            t.c[column].in_(sa.bindparam("ids", expanding=True)),
        )

    def upsert(self, doc_id: str, *, conn: Connection | None = None, **fields: Any) -> None:
        """Create or update the ledger row of ``doc_id`` with the given columns.

        Columns are those of :data:`LEDGER_FIELDS`; a new row needs ``direction``,
        ``source_system`` and ``target_system``. Given columns overwrite, others are kept;
        ``created_at``/``updated_at`` are the store's (an upsert that changes nothing writes
        nothing). ``last_error`` is cut to 500 characters.
        """
        t = document_ledger
        values = values_for(t, fields, LEDGER_FIELDS)
        params = {"id": coerce(t, "doc_id", doc_id), "now": utcnow(), **values}
        names = tuple(sorted(values))
        with self._tx(conn, "documents.upsert") as c:
            if all(values.get(k) is not None for k in LEDGER_REQUIRED):
                # enough for a new row: one statement inserts it, or updates what changed, or
                # does nothing (also when a concurrent writer has created it meanwhile)
                c.execute(self._statement(("upsert", names), partial(self._upsert, names)), params)
                return
            # not enough for a new row: an update of a row that must be there
            if values:
                update = self._statement(("update", names), partial(self._update, names))
                if c.execute(update, params).rowcount:
                    return
            exists = self._statement(
                "exists", lambda: sa.select(sa.literal(1)).where(t.c.doc_id == sa.bindparam("id"))
            )
            if c.scalar(exists, params) is None:
                missing = [k for k in LEDGER_REQUIRED if values.get(k) is None]
                raise ValueError(f"document_ledger: a new row needs {', '.join(missing)}")

    def _update(self, names: tuple[str, ...]) -> sa.Update:
        """``UPDATE`` of the columns ``names`` where one of them differs (parameters: ``id``,
        ``now`` and one per name)."""
        t = document_ledger
        given = binds(t, names)
        changed = sa.or_(*(t.c[k].is_distinct_from(given[k]) for k in names))
        return (
            sa.update(t)
            .where(t.c.doc_id == sa.bindparam("id"), changed)
            .values({**given, "updated_at": sa.bindparam("now")})
        )

    def _upsert(self, names: tuple[str, ...]) -> Any:
        """``INSERT`` of a row with the columns ``names``; on conflict, ``UPDATE`` of those
        columns where one of them differs (parameters as :meth:`_update`)."""
        t, now = document_ledger, sa.bindparam("now")
        ins = self._insert(t).values(
            {**binds(t, names), "doc_id": sa.bindparam("id"), "created_at": now, "updated_at": now}
        )
        return ins.on_conflict_do_update(
            index_elements=[t.c.doc_id],
            set_={k: ins.excluded[k] for k in (*names, "updated_at")},
            where=sa.or_(*(t.c[k].is_distinct_from(ins.excluded[k]) for k in names)),
        )

    def mark_failed(
        self,
        doc_id: str,
        *,
        error: str,
        status: str = "failed",
        conn: Connection | None = None,
    ) -> int:
        """A failed transfer or check of ``doc_id``: ``attempts + 1``, ``last_error`` (cut to
        500 characters), ``status``. Returns the new number of attempts (unknown id: error)."""
        t = document_ledger
        stmt = (
            sa.update(t)
            .where(t.c.doc_id == doc_id)
            .values(
                attempts=t.c.attempts + 1,
                last_error=short_error(error),
                status=coerce(t, "status", status),
                updated_at=utcnow(),
            )
            .returning(t.c.attempts)
        )
        with self._tx(conn, "documents.mark_failed") as c:
            attempts = c.execute(stmt).scalar_one_or_none()
        if attempts is None:
            raise StoreError("store documents.mark_failed failed: no such document_ledger row")
        return int(attempts)

    def list(
        self,
        *,
        usulan_id: str | None = None,
        status: str | None = None,
        direction: str | None = None,
        conn: Connection | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Ledger rows ordered by ``doc_id``, optionally filtered."""
        t = document_ledger
        q = where_given(
            sa.select(t).order_by(t.c.doc_id),
            ((t.c.usulan_id, usulan_id), (t.c.status, status), (t.c.direction, direction)),
        )
        with self._tx(conn, "documents.list") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def iter_inventory(
        self,
        chunk_size: int = 50_000,
        *,
        direction: str | None = None,
        conn: Connection | None = None,
    ) -> Iterator[pd.DataFrame]:
        """The ledger (or its rows of one ``direction``) as DataFrames of at most
        ``chunk_size`` rows with :data:`INVENTORY_COLUMNS` and :data:`INVENTORY_DTYPES`, in
        ``doc_id`` order; no chunk is empty.

        Keyset pagination on the primary key (``doc_id > last ORDER BY doc_id LIMIT n``, never
        ``OFFSET``): each page is an index range scan however deep into the ledger, and only
        one page is held in memory. Without ``conn`` each page is read in a short transaction
        of its own (no connection is held between chunks); rows are never deleted, so every
        row present throughout is yielded exactly once. Pages are fetched as plain tuples from
        the driver's cursor: SQLAlchemy's row objects would double the read time of a large
        ledger.
        """
        if chunk_size < 1:
            raise ValueError("iter_inventory: chunk_size must be at least 1")
        t = document_ledger
        columns = [t.c[name] for name in INVENTORY_COLUMNS if name != "ref"]
        columns.insert(_REF, t.c.doc_id.label("ref"))
        base = where_given(sa.select(*columns), ((t.c.direction, direction),))
        first = base.order_by(t.c.doc_id).limit(chunk_size)
        after = (
            base.where(t.c.doc_id > sa.bindparam("after")).order_by(t.c.doc_id).limit(chunk_size)
        )
        last: str | None = None
        while True:
            with self._tx(conn, "documents.iter_inventory") as c:
                if last is None:
                    rows = _fetch_tuples(c, first, {})
                else:
                    rows = _fetch_tuples(c, after, {"after": last})
            if not rows:
                return
            full = len(rows) == chunk_size
            last = rows[-1][_REF]
            chunk = pd.DataFrame.from_records(rows, columns=INVENTORY_COLUMNS).astype(
                INVENTORY_DTYPES
            )
            del rows  # only the DataFrame is held while the caller works on it
            yield chunk
            if not full:
                return

    def stats(self, *, conn: Connection | None = None) -> dict[str, int]:
        """Document counts: ``total``, one key per status (``{status: n}``) and one per
        direction and status (``"{direction}:{status}": n``)."""
        t = document_ledger
        q = sa.select(t.c.direction, t.c.status, sa.func.count()).group_by(
            t.c.direction, t.c.status
        )
        out: dict[str, int] = {"total": 0}
        with self._tx(conn, "documents.stats") as c:
            for direction, status, n in c.execute(q):
                out["total"] += n
                out[status] = out.get(status, 0) + n
                out[f"{direction}:{status}"] = n
        return out
