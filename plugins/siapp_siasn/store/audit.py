"""Audit repository: the read-only queries of the "Hub audit" page (``siapp_siasn.ui``).

Every query runs on a separate read-only engine (SQLite: ``PRAGMA query_only`` and a deferred
``BEGIN``, so a page view never takes the write lock the store's own engine takes; PostgreSQL:
``default_transaction_read_only``), without a pool, so nothing is left open between page views.
What it returns holds ids, counts, reason codes, keyed hashes and redacted payloads only: the
columns that could carry personal data (a NIP, a decree's NIP hash) are never selected.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from siapp_siasn.store.base import IN_CHUNK, Repository
from siapp_siasn.store.errors import guard
from siapp_siasn.store.tables import (
    keppres_check,
    lineage,
    quarantine,
    reconciliation_item,
    reconciliation_run,
)
from siapp_siasn.store.types import UTCDateTime, json_dumps, json_loads

__all__ = ["MONITOR_TABLE_NAMES", "AuditRepository"]

#: The dead-letter view of migration 0003 (no payload: it may hold personal data).
v_outbox_dead = sa.table(
    "v_outbox_dead",
    sa.column("id", sa.BigInteger()),
    sa.column("flow", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("last_error", sa.Text()),
    sa.column("updated_at", UTCDateTime()),
)

#: The quarantine columns the page shows: the key only as its keyed hash, the payload redacted
#: (``detail`` is free text from the flows and is left out).
_QUARANTINE_COLUMNS = ("id", "flow", "entity_kind", "reason", "key_hash", "payload", "created_at")
#: Reconciliation item columns (keys, categories and repair bookkeeping, no personal value).
_ITEM_COLUMNS = (
    "usulan_id",
    "direction",
    "ref",
    "jenis",
    "category",
    "first_seen_run",
    "last_seen_run",
    "repair_attempts",
    "last_attempt_run",
    "unrepairable_reason",
    "resolved_run",
    "resolved_at",
)
#: Decree cross-check columns (``nip_hash`` left out).
_KEPPRES_COLUMNS = ("usulan_id", "kind", "status", "age_days", "delivered_at", "checked_at")

#: Tables the monitor results live in: ``finding`` (issue 13's API monitor, one row per
#: observation, tied to a run by ``lineage_id``) or any ``monitor*`` table; the page shows the
#: section only when one exists.
MONITOR_TABLE_NAMES = re.compile(r"^(finding|monitor\w*)$")
#: Columns of a monitor table never shown, whatever the table (names that suggest a person).
_PERSONAL_COLUMN = re.compile(
    r"nip|nik|nama|name|email|phone|telp|telepon|hp\b|alamat|address|lahir|birth|payload|raw",
    re.IGNORECASE,
)


def _read_only_engine(engine: Engine) -> Engine:
    """An engine on the same database that refuses writes and keeps no connection open."""
    url = engine.url
    if engine.dialect.name == "sqlite":
        ro = sa.create_engine(
            url,
            poolclass=NullPool,
            hide_parameters=True,
            json_serializer=json_dumps,
            json_deserializer=json_loads,
            connect_args={"timeout": 30},
        )

        @sa.event.listens_for(ro, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA query_only = ON")
            finally:
                cursor.close()

        @sa.event.listens_for(ro, "begin")
        def _on_begin(connection: Connection) -> None:
            # deferred: a reader takes no lock until it reads (WAL: writers go on meanwhile)
            connection.exec_driver_sql("BEGIN")

        return ro
    return sa.create_engine(
        url,
        poolclass=NullPool,
        hide_parameters=True,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
        connect_args={
            "application_name": "siapp-siasn-audit",
            "options": "-c default_transaction_read_only=on",
        },
    )


class AuditRepository(Repository):
    """``store.audit``: what the audit page reads, on a read-only engine."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._ro: Engine | None = None

    @contextmanager
    def read(self, operation: str) -> Iterator[Connection]:
        """One read-only transaction (rolled back at the end: there is nothing to commit)."""
        if self._ro is None:
            self._ro = _read_only_engine(self.engine)
        with guard(f"audit.{operation}"), self._ro.connect() as c:
            try:
                yield c
            finally:
                c.rollback()

    # ------------------------------------------------------------------ lineage

    def recent_runs(self, *, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """DAG runs that stored lineage, newest first: ``dag_id``, ``run_id``, ``records``,
        ``first_at``, ``last_at`` and ``flows`` (sorted)."""
        t = lineage
        last = sa.func.max(t.c.created_at)
        q = (
            sa.select(
                t.c.dag_id,
                t.c.run_id,
                sa.func.count().label("records"),
                sa.func.min(t.c.created_at).label("first_at"),
                last.label("last_at"),
            )
            .where(t.c.dag_id.is_not(None), t.c.run_id.is_not(None))
            .group_by(t.c.dag_id, t.c.run_id)
            .order_by(last.desc())
            .limit(limit)
        )
        with self.read("recent_runs") as c:
            runs = [dict(r) for r in c.execute(q).mappings()]
            if runs:
                pairs = sa.tuple_(t.c.dag_id, t.c.run_id).in_(
                    [(r["dag_id"], r["run_id"]) for r in runs]
                )
                flows: dict[tuple[str, str], set[str]] = {}
                for dag_id, run_id, flow in c.execute(
                    sa.select(t.c.dag_id, t.c.run_id, t.c.flow).where(pairs).distinct()
                ):
                    flows.setdefault((dag_id, run_id), set()).add(flow)
                for r in runs:
                    r["flows"] = sorted(flows.get((r["dag_id"], r["run_id"]), ()))
        return runs

    def run_records(self, dag_id: str, run_id: str) -> builtins.list[dict[str, Any]]:
        """The lineage records of one DAG run in the order they were stored, each as
        ``{lineage_id, flow, dag_id, run_id, task_id, try_number, created_at, record}``."""
        q = (
            sa.select(lineage)
            .where(lineage.c.dag_id == dag_id, lineage.c.run_id == run_id)
            .order_by(lineage.c.created_at, lineage.c.task_id)
        )
        with self.read("run_records") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def records_by_id(self, lineage_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored lineage records by id (ids not stored are absent), same shape as
        :meth:`run_records`."""
        ids = sorted({str(i) for i in lineage_ids if i})
        out: dict[str, dict[str, Any]] = {}
        with self.read("records_by_id") as c:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                q = sa.select(lineage).where(lineage.c.lineage_id.in_(chunk))
                out.update({r["lineage_id"]: dict(r) for r in c.execute(q).mappings()})
        return out

    def referencing(
        self, lineage_ids: Sequence[str], *, limit: int = 50
    ) -> builtins.list[dict[str, Any]]:
        """Index rows (no record) of lineage records whose JSON mentions one of ``lineage_ids``
        (as an upstream id or reference), newest first: who consumed these records."""
        ids = [str(i) for i in lineage_ids if i][:IN_CHUNK]
        if not ids:
            return []
        text = sa.cast(lineage.c.record, sa.Text)
        q = (
            sa.select(
                lineage.c.lineage_id,
                lineage.c.flow,
                lineage.c.dag_id,
                lineage.c.run_id,
                lineage.c.task_id,
                lineage.c.created_at,
            )
            .where(sa.or_(*(text.contains(i, autoescape=True) for i in ids)))
            .where(lineage.c.lineage_id.not_in(ids))
            .order_by(lineage.c.created_at.desc())
            .limit(limit)
        )
        with self.read("referencing") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    # ------------------------------------------------------------------ problems

    def quarantine(
        self, run_id: str, *, flows: Sequence[str] | None = None, limit: int = 500
    ) -> builtins.list[dict[str, Any]]:
        """Quarantine rows of ``run_id`` (an Airflow run id; only ``flows`` when given),
        oldest first: id, flow, entity kind, reason, keyed hash, redacted payload, time."""
        t = quarantine
        q = (
            sa.select(*(t.c[name] for name in _QUARANTINE_COLUMNS))
            .where(t.c.run_id == run_id)
            .order_by(t.c.id)
            .limit(limit)
        )
        if flows:
            q = q.where(t.c.flow.in_(builtins.list(flows)))
        with self.read("quarantine") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def dead_letters(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 500,
    ) -> builtins.list[dict[str, Any]]:
        """Rows of ``v_outbox_dead`` (id, flow, entity id, attempts, last error, updated at),
        optionally only those that went dead between ``since`` and ``until``; oldest first."""
        v = v_outbox_dead
        q = sa.select(v).order_by(v.c.id).limit(limit)
        if since is not None:
            q = q.where(v.c.updated_at >= since)
        if until is not None:
            q = q.where(v.c.updated_at <= until)
        with self.read("dead_letters") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def dead_letter_counts(self) -> dict[str, int]:
        """Dead letters per outbox flow (all of ``v_outbox_dead``)."""
        v = v_outbox_dead
        q = sa.select(v.c.flow, sa.func.count()).group_by(v.c.flow).order_by(v.c.flow)
        with self.read("dead_letter_counts") as c:
            return {flow: int(n) for flow, n in c.execute(q)}

    # ------------------------------------------------------------------ reconciliation

    def reconciliation_runs(self, run_keys: Sequence[str]) -> builtins.list[dict[str, Any]]:
        """Reconciliation runs whose id is one of ``run_keys`` (``dag/run/task``)."""
        if not run_keys:
            return []
        t = reconciliation_run
        q = sa.select(t).where(t.c.run_id.in_(builtins.list(run_keys))).order_by(t.c.started_at)
        with self.read("reconciliation_runs") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def reconciliation_items(
        self, run_keys: Sequence[str], *, limit: int = 500
    ) -> builtins.list[dict[str, Any]]:
        """Items a run of ``run_keys`` saw, attempted or resolved (keys, category, repair
        bookkeeping)."""
        if not run_keys:
            return []
        t = reconciliation_item
        keys = builtins.list(run_keys)
        q = (
            sa.select(*(t.c[name] for name in _ITEM_COLUMNS))
            .where(
                sa.or_(
                    t.c.last_seen_run.in_(keys),
                    t.c.first_seen_run.in_(keys),
                    t.c.last_attempt_run.in_(keys),
                    t.c.resolved_run.in_(keys),
                )
            )
            .order_by(t.c.category, t.c.usulan_id, t.c.direction, t.c.ref)
            .limit(limit)
        )
        with self.read("reconciliation_items") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def keppres_checks(self, run_id: str, *, limit: int = 500) -> builtins.list[dict[str, Any]]:
        """Decree cross-checks stored by run ``run_id`` (no NIP hash)."""
        t = keppres_check
        q = (
            sa.select(*(t.c[name] for name in _KEPPRES_COLUMNS))
            .where(t.c.run_id == run_id)
            .order_by(t.c.status, t.c.usulan_id, t.c.kind)
            .limit(limit)
        )
        with self.read("keppres_checks") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    # ------------------------------------------------------------------ monitor

    def monitor_tables(self) -> builtins.list[str]:
        """Names of the monitor's result tables that exist (``finding``, ``monitor*``)."""
        with self.read("monitor_tables") as c:
            names = sa.inspect(c).get_table_names()
        return sorted(n for n in names if MONITOR_TABLE_NAMES.match(n))

    def monitor_rows(
        self,
        table: str,
        *,
        lineage_ids: Sequence[str] = (),
        run_id: str | None = None,
        limit: int = 200,
    ) -> tuple[builtins.list[str], builtins.list[dict[str, Any]]]:
        """``(columns, rows)`` of a monitor table, without any column whose name suggests a
        person: the rows of this run's records (``lineage_id`` in ``lineage_ids``) when the
        table has that column, else of ``run_id`` when it has a ``run_id``; newest first."""
        if not MONITOR_TABLE_NAMES.match(table):
            raise ValueError(f"not a monitor table: {table!r}")
        with self.read("monitor_rows") as c:
            t = sa.Table(table, sa.MetaData(), autoload_with=c)
            shown = [col for col in t.columns if not _PERSONAL_COLUMN.search(col.name)]
            q = sa.select(*shown).limit(limit)
            if "lineage_id" in t.c:
                q = q.where(t.c.lineage_id.in_(builtins.list(lineage_ids)[:IN_CHUNK]))
            elif "run_id" in t.c:
                q = q.where(t.c.run_id == run_id)
            order = next((t.c[n] for n in ("observed_at", "created_at", "id") if n in t.c), None)
            if order is not None:
                q = q.order_by(order.desc())
            rows = [dict(r) for r in c.execute(q).mappings()]
        return [col.name for col in shown], rows

    def incidents(self, ids: Iterable[int]) -> builtins.list[dict[str, Any]]:
        """Rows of the monitor's ``incident`` table with these ids (none when it does not
        exist), every column but a notice's path."""
        wanted = sorted({int(i) for i in ids if i is not None})
        if not wanted:
            return []
        with self.read("incidents") as c:
            if not sa.inspect(c).has_table("incident"):
                return []
            t = sa.Table("incident", sa.MetaData(), autoload_with=c)
            shown = [col for col in t.columns if not _PERSONAL_COLUMN.search(col.name)]
            q = sa.select(*shown).where(t.c.id.in_(wanted[:IN_CHUNK])).order_by(t.c.id)
            return [dict(r) for r in c.execute(q).mappings()]
