"""Document ledger repository: one row per document the proposal flows move between SIAPP NV
and SIASN (hash, size, where it came from and went, transfer and check state).

An upsert that changes nothing writes nothing, so replaying a flow leaves the ledger as it was.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.base import IN_CHUNK, Repository, binds, where_given
from siapp_siasn.store.errors import StoreError
from siapp_siasn.store.tables import document_ledger
from siapp_siasn.store.types import utcnow
from siapp_siasn.store.values import coerce, short_error, values_for
from siapp_siasn.utils import chunks

__all__ = ["LEDGER_FIELDS", "LEDGER_REQUIRED", "DocumentRepository"]

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
