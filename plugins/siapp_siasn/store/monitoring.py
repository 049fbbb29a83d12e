"""Monitoring repository: the read-only period queries of the monitoring & evaluation report
(agreement art. 4(e), 5(2)g, 13).

Every method takes a half-open period ``[start, end)`` of aware datetimes (the report turns
Jakarta dates into them) and reads what the store holds: lineage records, the outbox, the
quarantine, the usulan lifecycle, the reconciliation tables and the API monitor's ``finding``,
``incident`` and ``probe`` tables. The monitor's tables come with its own migration; until a
store has them, :meth:`MonitoringRepository.monitor_tables` says which exist and their readers
return nothing.

What is returned holds flow names, statuses, counts, stage durations, category and reason
codes, endpoint templates: never a key, a NIP, a payload or any other value of a record.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from siapp_siasn.store.base import Repository
from siapp_siasn.store.tables import (
    finding,
    incident,
    keppres_check,
    lineage,
    outbox,
    probe,
    quarantine,
    reconciliation_item,
    reconciliation_run,
    usulan_lifecycle,
)
from siapp_siasn.store.types import to_utc

__all__ = ["MONITOR_TABLES", "MonitoringRepository"]

MONITOR_TABLES: tuple[str, ...] = ("finding", "incident", "probe")


def _aware(value: Any) -> dt.datetime:
    """An aggregate of a timestamp column as an aware UTC datetime (SQLite may hand back the
    stored text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return to_utc(value)


def _in(column: Any, start: dt.datetime, end: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(column >= start, column < end)


class MonitoringRepository(Repository):
    """``store.monitoring``: what happened in a period, read-only."""

    # ------------------------------------------------------------------ lineage

    def lineage_records(
        self, start: dt.datetime, end: dt.datetime
    ) -> builtins.list[dict[str, Any]]:
        """The lineage records stored in the period (``flow``, ``counts``, ``failures``,
        ``requests`` when an older record kept its HTTP telemetry), oldest first."""
        q = (
            sa.select(lineage.c.flow, lineage.c.record)
            .where(_in(lineage.c.created_at, start, end))
            .order_by(lineage.c.created_at, lineage.c.lineage_id)
        )
        out = []
        with self._tx(None, "monitoring.lineage_records") as c:
            for flow, record in c.execute(q):
                record = record if isinstance(record, dict) else {}
                counts = record.get("counts")
                out.append(
                    {
                        "flow": flow,
                        "title": record.get("title"),
                        "counts": counts if isinstance(counts, dict) else {},
                        "failures": list(record.get("failures") or []),
                        "requests": record.get("requests") or {},
                    }
                )
        return out

    # ------------------------------------------------------------------ outbox

    def outbox_activity(self, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, int]]:
        """Per outbox flow: ``created`` (enqueued in the period), ``sent`` (delivered in the
        period), ``failed`` (enqueued in the period and failed at least one delivery attempt),
        ``dead`` (dead letters last touched in the period), ``rejected`` (enqueued in the
        period and refused: out of scope)."""
        o = outbox
        created = _in(o.c.created_at, start, end)
        one = sa.literal(1)

        def count(cond: sa.ColumnElement[bool]) -> Any:
            return sa.func.coalesce(sa.func.sum(sa.case((cond, one), else_=0)), 0)

        q = sa.select(
            o.c.flow,
            count(created).label("created"),
            count(_in(o.c.sent_at, start, end)).label("sent"),
            count(sa.and_(created, o.c.attempts > 0)).label("failed"),
            count(sa.and_(o.c.status == "dead", _in(o.c.updated_at, start, end))).label("dead"),
            count(sa.and_(created, o.c.status == "rejected")).label("rejected"),
        ).group_by(o.c.flow)
        with self._tx(None, "monitoring.outbox_activity") as c:
            return {
                r.flow: {
                    k: int(getattr(r, k)) for k in ("created", "sent", "failed", "dead", "rejected")
                }
                for r in c.execute(q)
            }

    def backlog(self, as_of: dt.datetime) -> dict[str, dict[str, Any]]:
        """Per outbox flow, the items still owed at ``as_of``: enqueued before it, not sent
        before it, and not given up (dead) or refused before it. ``{flow: {"count", "oldest"}}``
        (``oldest``: the earliest ``created_at``), only flows with a backlog."""
        o = outbox
        closed_before = sa.and_(o.c.status.in_(("dead", "rejected")), o.c.updated_at < as_of)
        q = (
            sa.select(o.c.flow, sa.func.count(), sa.func.min(o.c.created_at))
            .where(
                o.c.created_at < as_of,
                sa.or_(o.c.sent_at.is_(None), o.c.sent_at >= as_of),
                ~closed_before,
            )
            .group_by(o.c.flow)
        )
        with self._tx(None, "monitoring.backlog") as c:
            rows = c.execute(q).all()
        return {flow: {"count": int(n), "oldest": _aware(oldest)} for flow, n, oldest in rows}

    def held(self) -> dict[str, int]:
        """Per outbox flow, the due items held back by a reason now (public-API mode, an
        employee's record still quarantined): the current state, not the period's."""
        o = outbox
        q = (
            sa.select(o.c.flow, sa.func.count())
            .where(o.c.status.in_(("pending", "retry")), o.c.reason.is_not(None))
            .group_by(o.c.flow)
        )
        with self._tx(None, "monitoring.held") as c:
            return {flow: int(n) for flow, n in c.execute(q)}

    # ------------------------------------------------------------------ quarantine

    def quarantined(self, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
        """Quarantine rows stored in the period, per flow."""
        q = (
            sa.select(quarantine.c.flow, sa.func.count())
            .where(_in(quarantine.c.created_at, start, end))
            .group_by(quarantine.c.flow)
        )
        with self._tx(None, "monitoring.quarantined") as c:
            return {flow: int(n) for flow, n in c.execute(q)}

    # ------------------------------------------------------------------ usulan lifecycle

    def stage_days(
        self, start: dt.datetime, end: dt.datetime, stages: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], builtins.list[float]]:
        """Per stage ``(from_stamp, to_stamp)`` of ``usulan_lifecycle``: the days between the
        two stamps of every usulan that reached ``to_stamp`` in the period (both stamps set,
        not negative), in no particular order."""
        t = usulan_lifecycle
        out: dict[tuple[str, str], builtins.list[float]] = {}
        with self._tx(None, "monitoring.stage_days") as c:
            for first, then in stages:
                q = sa.select(t.c[first], t.c[then]).where(
                    t.c[first].is_not(None), _in(t.c[then], start, end)
                )
                out[(first, then)] = [
                    (b - a).total_seconds() / 86400.0 for a, b in c.execute(q) if b >= a
                ]
        return out

    # ------------------------------------------------------------------ reconciliation

    def reconciliation(self, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        """The document reconciliation in the period: ``runs`` (started in it), per category
        of ``reconciliation_item`` the items ``new`` (first seen in it), ``resolved`` (in it)
        and ``open`` at ``end``, and the decree cross-checks made in it per status."""
        i, r, k = reconciliation_item, reconciliation_run, keppres_check
        one = sa.literal(1)

        def count(cond: sa.ColumnElement[bool]) -> Any:
            return sa.func.coalesce(sa.func.sum(sa.case((cond, one), else_=0)), 0)

        items = sa.select(
            i.c.category,
            count(_in(i.c.first_seen_at, start, end)).label("new"),
            count(_in(i.c.resolved_at, start, end)).label("resolved"),
            count(
                sa.and_(
                    i.c.first_seen_at < end,
                    sa.or_(i.c.resolved_at.is_(None), i.c.resolved_at >= end),
                )
            ).label("open"),
        ).group_by(i.c.category)
        runs = sa.select(sa.func.count()).select_from(r).where(_in(r.c.started_at, start, end))
        checks = (
            sa.select(k.c.status, sa.func.count())
            .where(_in(k.c.checked_at, start, end))
            .group_by(k.c.status)
        )
        with self._tx(None, "monitoring.reconciliation") as c:
            return {
                "runs": int(c.scalar(runs) or 0),
                "categories": {
                    row.category: {
                        "new": int(row.new),
                        "resolved": int(row.resolved),
                        "open": int(row.open),
                    }
                    for row in c.execute(items)
                },
                "keppres": {status: int(n) for status, n in c.execute(checks)},
            }

    # ------------------------------------------------------------------ the API monitor

    def monitor_tables(self) -> builtins.list[str]:
        """Which of the monitor's tables (:data:`MONITOR_TABLES`) this store has."""
        with self._tx(None, "monitoring.monitor_tables") as c:
            names = set(sa.inspect(c).get_table_names())
        return [t for t in MONITOR_TABLES if t in names]

    def probes(self, start: dt.datetime, end: dt.datetime) -> builtins.list[dict[str, Any]]:
        """Probes observed in the period: ``system``, ``endpoint`` (template), ``status`` (None:
        no answer), ``ok``, ``latency_ms``. Empty without a ``probe`` table."""
        if "probe" not in self.monitor_tables():
            return []
        p = probe
        q = sa.select(p.c.system, p.c.endpoint, p.c.status, p.c.ok, p.c.latency_ms).where(
            _in(p.c.observed_at, start, end)
        )
        with self._tx(None, "monitoring.probes") as c:
            return [
                {
                    "system": row.system,
                    "endpoint": row.endpoint,
                    "status": row.status,
                    "ok": bool(row.ok),
                    "latency_ms": None if row.latency_ms is None else float(row.latency_ms),
                }
                for row in c.execute(q)
            ]

    def incidents(self, start: dt.datetime, end: dt.datetime) -> builtins.list[dict[str, Any]]:
        """Incidents open at any time in the period (opened before its end, not closed before
        its start), oldest first. Empty without an ``incident`` table."""
        if "incident" not in self.monitor_tables():
            return []
        t = incident
        q = (
            sa.select(
                t.c.id,
                t.c.kind,
                t.c.severity,
                t.c.system,
                t.c.endpoint,
                t.c.opened_at,
                t.c.closed_at,
                t.c.finding_count,
                t.c.notice_path,
            )
            .where(t.c.opened_at < end, sa.or_(t.c.closed_at.is_(None), t.c.closed_at >= start))
            .order_by(t.c.opened_at, t.c.id)
        )
        with self._tx(None, "monitoring.incidents") as c:
            return [dict(row) for row in c.execute(q).mappings()]

    def findings(self, start: dt.datetime, end: dt.datetime) -> builtins.list[dict[str, Any]]:
        """Findings observed in the period counted per ``kind``, ``severity``, ``code``,
        ``system``, ``endpoint``. Empty without a ``finding`` table."""
        if "finding" not in self.monitor_tables():
            return []
        f = finding
        keys = (f.c.kind, f.c.severity, f.c.code, f.c.system, f.c.endpoint)
        q = (
            sa.select(*keys, sa.func.count().label("findings"))
            .where(_in(f.c.observed_at, start, end))
            .group_by(*keys)
            .order_by(*keys)
        )
        with self._tx(None, "monitoring.findings") as c:
            return [dict(row) for row in c.execute(q).mappings()]
