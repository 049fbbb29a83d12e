"""Lineage repository: the record each task run publishes (what it read, wrote, rejected and
from which upstream runs), kept in the store next to the data it describes."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.base import Repository, where_given
from siapp_siasn.store.tables import lineage
from siapp_siasn.store.types import utcnow
from siapp_siasn.utils import canonical_json

__all__ = ["LineageRepository"]

_INDEXED = ("flow", "dag_id", "run_id", "task_id", "try_number")


class LineageRepository(Repository):
    """``store.lineage``: write, get and list lineage records."""

    def write(self, record: Mapping[str, Any], *, conn: Connection | None = None) -> str:
        """Store a lineage record (a JSON-able dict); returns its lineage id.

        Indexed fields are read from the top level (``lineage_id``, ``flow``, ``dag_id``,
        ``run_id``, ``task_id``, ``try_number``) or from a nested ``airflow`` mapping. Without
        a ``lineage_id`` a deterministic one is derived from the content. Writing the same id
        again replaces the record (a retried task overwrites, never duplicates).
        """
        ctx = record.get("airflow") if isinstance(record.get("airflow"), Mapping) else {}

        def pick(key: str) -> Any:
            value = record.get(key)
            return value if value is not None else ctx.get(key)

        lineage_id = pick("lineage_id") or str(
            uuid.uuid5(uuid.NAMESPACE_URL, canonical_json(record))
        )
        try_number = pick("try_number")
        values = {
            "lineage_id": str(lineage_id),
            "flow": str(pick("flow") or "unknown"),
            "dag_id": pick("dag_id"),
            "run_id": pick("run_id"),
            "task_id": pick("task_id"),
            "try_number": int(try_number) if try_number is not None else None,
            "record": dict(record),
            "created_at": utcnow(),
        }
        ins = self._insert(lineage)
        stmt = ins.values(**values).on_conflict_do_update(
            index_elements=[lineage.c.lineage_id],
            set_={k: ins.excluded[k] for k in (*_INDEXED, "record")},
        )
        with self._tx(conn, "lineage.write") as c:
            c.execute(stmt)
        return values["lineage_id"]

    def get(self, lineage_id: str) -> dict[str, Any] | None:
        """The stored lineage record, or None."""
        with self._tx(None, "lineage.get") as c:
            return c.scalar(sa.select(lineage.c.record).where(lineage.c.lineage_id == lineage_id))

    def list(
        self,
        *,
        flow: str | None = None,
        dag_id: str | None = None,
        run_id: str | None = None,
        limit: int = 1000,
    ) -> builtins.list[dict[str, Any]]:
        """Lineage records, newest first, optionally filtered."""
        q = where_given(
            sa.select(lineage.c.record).order_by(lineage.c.created_at.desc()).limit(limit),
            ((lineage.c.flow, flow), (lineage.c.dag_id, dag_id), (lineage.c.run_id, run_id)),
        )
        with self._tx(None, "lineage.list") as c:
            return list(c.scalars(q))

    def latest(
        self, *, flow: str | None = None, dag_id: str | None = None, task_id: str | None = None
    ) -> dict[str, Any] | None:
        """The newest stored record of ``flow`` (and/or DAG, task), or None: e.g. the ASN load
        an usulan collect checked its scope against."""
        q = where_given(
            sa.select(lineage.c.record).order_by(lineage.c.created_at.desc()).limit(1),
            ((lineage.c.flow, flow), (lineage.c.dag_id, dag_id), (lineage.c.task_id, task_id)),
        )
        with self._tx(None, "lineage.latest") as c:
            return c.scalar(q)
