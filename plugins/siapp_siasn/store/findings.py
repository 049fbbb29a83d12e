"""Findings, incidents and probes: what the checks observed, what is open, how the APIs answered.

``finding`` holds one row per observation of a check (API monitor: contract drift, outages;
later quality gates and reconciliation), named by system, endpoint TEMPLATE and subject (a field
path or a check name) with a JSON ``detail`` of types, status codes and latencies — never a
personal value. ``incident`` groups the findings of one problem on one endpoint from the run
that first saw it until the run that saw it gone (``closed_at``), with the path of the notice
written for the other party. ``probe`` holds every API call the monitor made (status, latency,
ok): the monitoring report takes latency percentiles per system and endpoint from it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.base import Repository, where_given
from siapp_siasn.store.tables import asn, finding, incident, probe
from siapp_siasn.store.types import utcnow

__all__ = [
    "FindingsRepository",
    "Incident",
    "ProbeRow",
    "finding",
    "incident",
    "percentile",
    "probe",
]


@dataclass(frozen=True, slots=True)
class Incident:
    """A row of ``incident``."""

    id: int
    kind: str
    system: str
    endpoint: str
    severity: str
    opened_at: datetime
    closed_at: datetime | None
    finding_count: int
    notice_path: str | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.system, self.endpoint)


@dataclass(frozen=True, slots=True)
class ProbeRow:
    """One API call of the monitor: ``status`` None when no response arrived."""

    system: str
    endpoint: str
    status: int | None
    latency_ms: float
    ok: bool


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..1) percentile of ``values``, linear between ranks (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _incident(row: Any) -> Incident:
    return Incident(**{k: row._mapping[k] for k in Incident.__slots__})


class FindingsRepository(Repository):
    """``store.findings``: findings, incidents and probes."""

    # -- probes ---------------------------------------------------------------------------

    def add_probes(
        self,
        rows: Iterable[ProbeRow],
        *,
        observed_at: datetime | None = None,
        lineage_id: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Store the monitor's calls of one run; returns how many."""
        at = observed_at or utcnow()
        values = [
            {
                "observed_at": at,
                "system": r.system,
                "endpoint": r.endpoint,
                "status": r.status,
                "latency_ms": float(r.latency_ms),
                "ok": bool(r.ok),
                "lineage_id": lineage_id,
            }
            for r in rows
        ]
        if values:
            with self._tx(conn, "findings.add_probes") as c:
                c.execute(probe.insert(), values)
        return len(values)

    def probes(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Probe rows in ``[since, until)``, oldest first."""
        q = sa.select(probe).order_by(probe.c.observed_at, probe.c.id)
        if since is not None:
            q = q.where(probe.c.observed_at >= since)
        if until is not None:
            q = q.where(probe.c.observed_at < until)
        with self._tx(None, "findings.probes") as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def latency(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Per (system, endpoint) over ``[since, until)``: probes, failed, p50_ms, p95_ms (of
        the calls that got an answer)."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        samples: dict[tuple[str, str], list[float]] = {}
        for row in self.probes(since=since, until=until):
            key = (row["system"], row["endpoint"])
            agg = out.setdefault(key, {"probes": 0, "failed": 0})
            agg["probes"] += 1
            agg["failed"] += 0 if row["ok"] else 1
            if row["status"] is not None:
                samples.setdefault(key, []).append(row["latency_ms"])
        for key, agg in out.items():
            values = samples.get(key, [])
            agg["p50_ms"] = percentile(values, 0.5)
            agg["p95_ms"] = percentile(values, 0.95)
        return out

    # -- incidents ------------------------------------------------------------------------

    def open_incidents(self, *, kind: str | None = None) -> builtins.list[Incident]:
        """Incidents not closed yet (optionally of one kind), oldest first."""
        q = where_given(
            sa.select(incident).where(incident.c.closed_at.is_(None)), ((incident.c.kind, kind),)
        ).order_by(incident.c.opened_at, incident.c.id)
        with self._tx(None, "findings.open_incidents") as c:
            return [_incident(r) for r in c.execute(q)]

    def incidents(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: str | None = None,
    ) -> builtins.list[Incident]:
        """Incidents open at some time in ``[since, until)`` (opened before ``until``, not
        closed before ``since``), oldest first."""
        q = where_given(sa.select(incident), ((incident.c.kind, kind),))
        if until is not None:
            q = q.where(incident.c.opened_at < until)
        if since is not None:
            q = q.where(sa.or_(incident.c.closed_at.is_(None), incident.c.closed_at >= since))
        with self._tx(None, "findings.incidents") as c:
            return [
                _incident(r) for r in c.execute(q.order_by(incident.c.opened_at, incident.c.id))
            ]

    def get_incident(self, incident_id: int) -> Incident | None:
        with self._tx(None, "findings.get_incident") as c:
            row = c.execute(sa.select(incident).where(incident.c.id == incident_id)).first()
        return _incident(row) if row is not None else None

    def open_incident(
        self,
        kind: str,
        system: str,
        endpoint: str,
        severity: str,
        *,
        opened_at: datetime | None = None,
        conn: Connection | None = None,
    ) -> int:
        """A new open incident; returns its id."""
        values = {
            "kind": kind,
            "system": system,
            "endpoint": endpoint,
            "severity": severity,
            "opened_at": opened_at or utcnow(),
            "finding_count": 0,
        }
        with self._tx(conn, "findings.open_incident") as c:
            return int(c.execute(incident.insert().values(**values)).inserted_primary_key[0])

    def update_incident(
        self,
        incident_id: int,
        *,
        severity: str | None = None,
        notice_path: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Raise the severity or record the notice's path."""
        values: dict[str, Any] = {}
        if severity is not None:
            values["severity"] = severity
        if notice_path is not None:
            values["notice_path"] = notice_path
        if values:
            with self._tx(conn, "findings.update_incident") as c:
                c.execute(incident.update().where(incident.c.id == incident_id).values(**values))

    def close_incident(
        self, incident_id: int, *, closed_at: datetime | None = None, conn: Connection | None = None
    ) -> None:
        """Close an open incident (a closed one stays as it was)."""
        with self._tx(conn, "findings.close_incident") as c:
            c.execute(
                incident.update()
                .where(incident.c.id == incident_id, incident.c.closed_at.is_(None))
                .values(closed_at=closed_at or utcnow())
            )

    # -- findings -------------------------------------------------------------------------

    def add_findings(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        observed_at: datetime | None = None,
        lineage_id: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Store findings (``kind, severity, system, endpoint, code, subject, detail`` and an
        optional ``incident_id``, as :meth:`siapp_siasn.checks.Finding.as_dict` gives them);
        each incident's ``finding_count`` grows by its new findings. Returns how many."""
        at = observed_at or utcnow()
        values = [
            {
                "kind": r["kind"],
                "severity": r["severity"],
                "system": r["system"],
                "endpoint": r["endpoint"],
                "code": r["code"],
                "subject": r.get("subject") or "",
                "detail": dict(r.get("detail") or {}),
                "observed_at": at,
                "lineage_id": lineage_id,
                "incident_id": r.get("incident_id"),
            }
            for r in rows
        ]
        if not values:
            return 0
        per_incident: dict[int, int] = {}
        for v in values:
            if v["incident_id"] is not None:
                per_incident[v["incident_id"]] = per_incident.get(v["incident_id"], 0) + 1
        with self._tx(conn, "findings.add_findings") as c:
            c.execute(finding.insert(), values)
            for incident_id, n in per_incident.items():
                c.execute(
                    incident.update()
                    .where(incident.c.id == incident_id)
                    .values(finding_count=incident.c.finding_count + n)
                )
        return len(values)

    def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: str | None = None,
        lineage_id: str | None = None,
        incident_id: int | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Findings observed in ``[since, until)``, oldest first, optionally filtered."""
        q = where_given(
            sa.select(finding),
            (
                (finding.c.kind, kind),
                (finding.c.lineage_id, lineage_id),
                (finding.c.incident_id, incident_id),
            ),
        )
        if since is not None:
            q = q.where(finding.c.observed_at >= since)
        if until is not None:
            q = q.where(finding.c.observed_at < until)
        with self._tx(None, "findings.list") as c:
            return [dict(r._mapping) for r in c.execute(q.order_by(finding.c.id))]

    # -- what the monitor samples ---------------------------------------------------------

    def sample_nip(self) -> str | None:
        """One NIP of an active employee the store already holds (the lowest), or None: the
        monitor reads that one record rather than reaching for someone new."""
        q = sa.select(sa.func.min(asn.c.nip)).where(asn.c.is_active.is_(True))
        with self._tx(None, "findings.sample_nip") as c:
            return c.scalar(q)
