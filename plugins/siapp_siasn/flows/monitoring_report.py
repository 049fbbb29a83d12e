"""The monitoring & evaluation report of a period (agreement art. 4(e), 5(2)g, 13): for each flow
F1-F8 the volumes, successes, failures, quarantined and dead-lettered items; API latency;
the outbox backlog at the period's end; SLA per usulan lifecycle stage (median and p90 days);
drift and outage incidents of the API monitor; reconciliation categories.

:func:`build_monitoring_report` is the one call of the DAG ``pks_monitoring_report``, of
``siapp-siasn report`` and of ``make demo``. It reads the store only (``store.monitoring``) and
writes one folder per period: ``monitoring_report.html`` (self-contained, charts embedded) and
one CSV per table. Periods are Jakarta dates, both ends included.

What the report shows is counted from the store's tables, each with its own clock: lineage,
outbox and quarantine rows carry the time the hub wrote them; the lifecycle stamps carry the
time of the event the hub observed (SIAPP NV's submission, the status run that saw it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siapp_siasn.flows.context import LOCAL_TZ, FlowConfigError, RunContext
from siapp_siasn.flows.usulan_rules import PKS_FLOW
from siapp_siasn.lineage import FLOW_COUNTS, Counts, Endpoint, LineageRecord
from siapp_siasn.reports.monitoring import Chart, Table, write_monitoring_report

__all__ = [
    "FLOW",
    "PKS_FLOWS",
    "STAGES",
    "ReportResult",
    "build_monitoring_report",
    "parse_period",
    "period_bounds",
    "pks_flows_of",
    "previous_month",
]

#: lineage flow label of the report's own record
FLOW = "monitoring_report"
TITLE = "Monitoring & evaluation report (PKS art. 4(e), 5(2)g, 13)"

#: The agreement's flows (AGREEMENT.md), in its order.
PKS_FLOWS: dict[str, str] = {
    "F1": "ASN IV/b+ ← SIASN (data utama, keluarga)",
    "F2": "referensi ← SIASN",
    "F3": "BKN verification results → SIAPP NV",
    "F4": "pertek, ralat pertek → SIAPP NV",
    "F5": "usulan → SIASN (refusals → SIAPP NV)",
    "F6": "Setneg verification → SIASN",
    "F7": "Keppres copies → SIASN",
    "F8": "PIC Instansi → SIASN",
}
#: flows that pull from SIASN: counted from their lineage records (read, stored, failed)
PULL_FLOWS = ("F1", "F2")
#: lineage labels that name no F number but serve one
_LABEL_FLOWS: dict[str, tuple[str, ...]] = {"keppres_check": ("F7",)}

#: Stages of the usulan lifecycle: (from stamp, to stamp, name), in lifecycle order; the last
#: is the whole way from SIAPP NV's submission to the decree applied in SIASN.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("submitted_at", "sent_at", "submitted → sent to SIASN"),
    ("sent_at", "bkn_verified_at", "sent → BKN verified"),
    ("bkn_verified_at", "pertek_at", "BKN verified → pertek"),
    ("pertek_at", "ralat_at", "pertek → ralat pertek"),
    ("pertek_at", "setneg_verified_at", "pertek → Setneg verified"),
    ("setneg_verified_at", "keppres_at", "Setneg verified → Keppres"),
    ("keppres_at", "keppres_sent_at", "Keppres → sent to SIASN"),
    ("keppres_sent_at", "keppres_applied_at", "Keppres sent → applied in SIASN"),
    ("submitted_at", "keppres_applied_at", "submitted → Keppres applied (end to end)"),
)

NO_MONITOR = "No monitor data in this period."


@dataclass
class ReportResult:
    """What :func:`build_monitoring_report` wrote and counted."""

    period_from: dt.date
    period_to: dt.date
    html: Path
    csv: dict[str, Path]
    #: names of the charts embedded in the page
    charts: tuple[str, ...]
    tables: dict[str, Table]
    #: nothing at all happened in the period (the page says so)
    empty: bool
    #: the lineage record of the report (its path in ``extra.report``)
    record: LineageRecord
    monitor_tables: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ the period


def previous_month(day: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the calendar month before ``day``'s."""
    last = day.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


def _as_date(value: dt.date | str, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(LOCAL_TZ).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise FlowConfigError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_period(period_from: dt.date | str, period_to: dt.date | str) -> tuple[dt.date, dt.date]:
    """The period's first and last day (dates or ISO strings); a bad one raises
    :class:`FlowConfigError`."""
    first, last = _as_date(period_from, "period_from"), _as_date(period_to, "period_to")
    if last < first:
        raise FlowConfigError(f"period_to {last} is before period_from {first}")
    return first, last


def period_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` in UTC of the Jakarta days ``first`` to ``last`` (both included)."""
    start = dt.datetime.combine(first, dt.time(0), tzinfo=LOCAL_TZ)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=LOCAL_TZ)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def pks_flows_of(label: str) -> tuple[str, ...]:
    """The agreement's flows a lineage label serves: ``F1-quality`` → F1, ``F3-F4`` → F3, F4,
    ``F4/F7`` → F4, F7, ``keppres_check`` → F7; none for the hub's own tasks."""
    if label in _LABEL_FLOWS:
        return _LABEL_FLOWS[label]
    numbers: set[int] = set()
    for low, high in re.findall(r"F(\d)(?:-F(\d))?", label):
        numbers.update(range(int(low), int(high or low) + 1))
    return tuple(f"F{n}" for n in sorted(numbers) if f"F{n}" in PKS_FLOWS)


# ------------------------------------------------------------------------------ the figures


def _percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation between closest ranks), rounded."""
    return round(float(np.percentile(values, q)), 2) if values else None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _flow_rows(
    records: list[dict[str, Any]],
    outbox: Mapping[str, Mapping[str, int]],
    quarantined: Mapping[str, int],
) -> list[dict[str, Any]]:
    rows = {
        code: {
            "flow": code,
            "title": title,
            "runs": 0,
            "runs_with_failures": 0,
            "items": 0,
            "succeeded": 0,
            "failed": 0,
            "quarantined": _int(quarantined.get(code)),
            "dead_lettered": 0,
            "refused": 0,
        }
        for code, title in PKS_FLOWS.items()
    }
    for record in records:
        for code in pks_flows_of(str(record["flow"])):
            rows[code]["runs"] += 1
            rows[code]["runs_with_failures"] += bool(record["failures"])
        if record["flow"] in PULL_FLOWS:
            counts, row = record["counts"], rows[record["flow"]]
            row["items"] += _int(counts.get("read"))
            row["succeeded"] += sum(
                _int(counts.get(k)) for k in ("inserted", "updated", "unchanged")
            )
            row["failed"] += _int(counts.get("failed"))
    for outbox_flow, n in outbox.items():
        code = PKS_FLOW.get(outbox_flow)
        if code is None:
            continue
        row = rows[code]
        row["items"] += n["created"]
        row["succeeded"] += n["sent"]
        row["failed"] += n["failed"]
        row["dead_lettered"] += n["dead"]
        row["refused"] += n["rejected"]
    return list(rows.values())


def _run_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        label = str(record["flow"])
        row = rows.setdefault(
            label,
            {
                "flow": label,
                "title": record.get("title") or label,
                "pks_flows": " ".join(pks_flows_of(label)),
                "runs": 0,
                "runs_with_failures": 0,
                "_counts": {},
            },
        )
        row["runs"] += 1
        row["runs_with_failures"] += bool(record["failures"])
        for name, value in record["counts"].items():
            row["_counts"][name] = row["_counts"].get(name, 0) + _int(value)
    out = []
    for label in sorted(rows):
        row = rows[label]
        counts = row.pop("_counts")
        # the flow's own order where the lineage module names it, else by name (PostgreSQL's
        # JSONB keeps no key order)
        known = [k for k in FLOW_COUNTS.get(label, ()) if k in counts]
        names = known + sorted(k for k in counts if k not in known)
        row["counts"] = "; ".join(f"{k} {counts[k]}" for k in names)
        out.append(row)
    return out


def _endpoint_metrics(requests: Mapping[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(system, endpoint, entry) of an older lineage record's HTTP telemetry (one client's
    metrics, or several under their names)."""
    if "endpoints" in requests:
        clients = {str(requests.get("client") or "api"): requests}
    else:
        clients = {k: v for k, v in requests.items() if isinstance(v, Mapping)}
    for name, metrics in clients.items():
        for endpoint, entry in (metrics.get("endpoints") or {}).items():
            if isinstance(entry, Mapping):
                yield str(metrics.get("client") or name), str(endpoint), dict(entry)


def _latency_rows(
    probes: list[dict[str, Any]], records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str]:
    """Latency per system and endpoint: from the monitor's probes, else from the HTTP telemetry
    older lineage records kept (per-run p50 and p99 only)."""
    if probes:
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for p in probes:
            grouped.setdefault((p["system"], p["endpoint"]), []).append(p)
        rows = []
        for (system, endpoint), ps in sorted(grouped.items()):
            # the latency of the calls that got an answer (a timeout measures the client)
            ms = [p["latency_ms"] for p in ps if p["status"] is not None]
            ok = sum(p["ok"] for p in ps)
            rows.append(
                {
                    "system": system,
                    "endpoint": endpoint,
                    "source": "probe",
                    "probes": len(ps),
                    "ok": ok,
                    "failed": len(ps) - ok,
                    "p50_ms": _percentile(ms, 50),
                    "p95_ms": _percentile(ms, 95),
                    "max_ms": round(max(ms), 2) if ms else None,
                }
            )
        return rows, "probe"
    per: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        for system, endpoint, entry in _endpoint_metrics(record.get("requests") or {}):
            acc = per.setdefault((system, endpoint), {"requests": 0, "p50": [], "p99": []})
            acc["requests"] += _int(entry.get("requests"))
            if entry.get("p50_ms") is not None:
                acc["p50"].append(float(entry["p50_ms"]))
            if entry.get("p99_ms") is not None:
                acc["p99"].append(float(entry["p99_ms"]))
    rows = [
        {
            "system": system,
            "endpoint": endpoint,
            "source": "lineage",
            "probes": acc["requests"],
            "ok": None,
            "failed": None,
            "p50_ms": _percentile(acc["p50"], 50),
            "p95_ms": None,
            "max_ms": round(max(acc["p99"]), 2) if acc["p99"] else None,
        }
        for (system, endpoint), acc in sorted(per.items())
    ]
    return rows, "lineage" if rows else ""


def _incident_rows(
    incidents: list[dict[str, Any]], start: dt.datetime, end: dt.datetime, as_of: dt.datetime
) -> list[dict[str, Any]]:
    rows = []
    for i in incidents:
        opened, closed = i["opened_at"], i["closed_at"]
        until = min(closed or as_of, end)
        hours = max((until - max(opened, start)).total_seconds() / 3600.0, 0.0)
        rows.append(
            {
                "id": i["id"],
                "kind": i["kind"],
                "severity": i["severity"],
                "system": i["system"],
                "endpoint": i["endpoint"],
                "opened_at": opened.isoformat(timespec="seconds"),
                "closed_at": closed.isoformat(timespec="seconds") if closed else None,
                "open_at_period_end": closed is None or closed >= end,
                "hours_in_period": round(hours, 2),
                "finding_count": i["finding_count"],
                "notice": Path(i["notice_path"]).name if i.get("notice_path") else None,
            }
        )
    return rows


def _chart(
    name: str,
    title: str,
    table: str,
    unit: str,
    labels: list[str],
    *,
    log: bool = False,
    **series: list[float],
) -> Chart | None:
    """A chart when something in it is not zero."""
    if not labels or not any(v for values in series.values() for v in values if v):
        return None
    return Chart(
        name=name, title=title, table=table, labels=labels, series=series, unit=unit, log=log
    )


# ------------------------------------------------------------------------------ the report


def build_monitoring_report(
    store: Any,
    period_from: dt.date | str,
    period_to: dt.date | str,
    out_dir: Path | str,
    *,
    run: RunContext | None = None,
) -> ReportResult:
    """Write the monitoring & evaluation report of the Jakarta days ``period_from`` to
    ``period_to`` (both included) under ``out_dir/monitoring_<from>_<to>/`` and return where,
    with the report's lineage record (the caller publishes it: the operator stores it and puts
    it on the Asset event). Reads the store only."""
    first, last = parse_period(period_from, period_to)
    run = run or RunContext(task_id="monitoring_report")
    start, end = period_bounds(first, last)
    as_of = min(end, run.now)
    folder = Path(out_dir) / f"monitoring_{first.isoformat()}_{last.isoformat()}"
    repo = store.monitoring
    with run.lineage_scope(
        FLOW,
        title=TITLE,
        counts=Counts.named(
            "runs",
            "items",
            "succeeded",
            "failed",
            "quarantined",
            "dead_lettered",
            "backlog",
            "incidents",
            "charts",
        ),
        source=Endpoint(
            system="hub-store",
            endpoint="lineage, outbox, quarantine, usulan_lifecycle, reconciliation_item, "
            "reconciliation_run, keppres_check, finding, incident, probe",
        ),
        target=Endpoint(system="files", endpoint="monitoring_report.html, <table>.csv"),
        window={
            "period_from": first.isoformat(),
            "period_to": last.isoformat(),
            "timezone": str(LOCAL_TZ),
            "start_utc": start.isoformat(),
            "end_utc": end.isoformat(),
        },
    ) as record:
        records = repo.lineage_records(start, end)
        outbox = repo.outbox_activity(start, end)
        quarantined = repo.quarantined(start, end)
        backlog = repo.backlog(as_of)
        held = repo.held()
        stage_days = repo.stage_days(start, end, [(a, b) for a, b, _ in STAGES])
        recon = repo.reconciliation(start, end)
        monitor_tables = repo.monitor_tables()
        probes = repo.probes(start, end)
        incidents = repo.incidents(start, end)
        findings = repo.findings(start, end)

        flow_rows = _flow_rows(records, outbox, quarantined)
        run_rows = _run_rows(records)
        latency_rows, latency_source = _latency_rows(probes, records)
        backlog_rows = [
            {
                "outbox_flow": flow,
                "pks_flow": PKS_FLOW.get(flow, ""),
                "owed_at_period_end": b["count"],
                "oldest_age_days": round((as_of - b["oldest"]).total_seconds() / 86400.0, 2),
                "held_now": held.get(flow, 0),
            }
            for flow, b in sorted(backlog.items())
        ]
        sla_rows = []
        for a, b, name in STAGES:
            days = stage_days[(a, b)]
            if days:
                sla_rows.append(
                    {
                        "stage": name,
                        "from_stamp": a,
                        "to_stamp": b,
                        "usulan": len(days),
                        "median_days": _percentile(days, 50),
                        "p90_days": _percentile(days, 90),
                    }
                )
        incident_rows = _incident_rows(incidents, start, end, as_of)
        recon_rows = [
            {
                "check": "documents",
                "category": category,
                "new_in_period": n["new"],
                "resolved_in_period": n["resolved"],
                "open_at_period_end": n["open"],
            }
            for category, n in sorted(recon["categories"].items())
            if n["new"] or n["resolved"] or n["open"]
        ] + [
            {
                "check": "keppres",
                "category": status,
                "new_in_period": n,
                "resolved_in_period": None,
                "open_at_period_end": None,
            }
            for status, n in sorted(recon["keppres"].items())
        ]
        monitor_empty = NO_MONITOR + (
            ""
            if len(monitor_tables) == 3
            else " (this store has no API monitor tables yet: run `siapp-siasn store migrate`)"
        )

        tables = [
            Table(
                "flows",
                "Flows F1–F8",
                (
                    "flow",
                    "title",
                    "runs",
                    "runs_with_failures",
                    "items",
                    "succeeded",
                    "failed",
                    "quarantined",
                    "dead_lettered",
                    "refused",
                ),
                flow_rows,
                note="F1, F2: records read (items), stored as inserted, updated or unchanged "
                "(succeeded) and failed, summed over the period's lineage records of the pull. "
                "F3–F8: outbox items enqueued in the period (items), delivered in it "
                "(succeeded), enqueued in it and failing at least one delivery attempt "
                "(failed), given up in it and still dead (dead_lettered; view v_outbox_dead), "
                "refused as out of the agreement's scope (refused). quarantined: quarantine "
                "rows stored in the period under the flow. runs: task runs (lineage records) of "
                "the period that served the flow; runs_with_failures: those that named a problem.",
            ),
            Table(
                "runs",
                "Task runs per lineage flow",
                ("flow", "title", "pks_flows", "runs", "runs_with_failures", "counts"),
                run_rows,
                note="Every lineage record stored in the period, by its flow label; counts are "
                "summed under each record's own names.",
                empty_text="No task ran in this period.",
            ),
            Table(
                "latency",
                "API latency",
                (
                    "system",
                    "endpoint",
                    "source",
                    "probes",
                    "ok",
                    "failed",
                    "p50_ms",
                    "p95_ms",
                    "max_ms",
                ),
                latency_rows,
                note=(
                    "From the API monitor's probes in the period: p50 and p95 of the latency "
                    "of the calls that got an answer; failed: probes not ok."
                    if latency_source == "probe"
                    else "No probe in the period: from the HTTP telemetry older lineage records "
                    "kept (p50: median of the runs' p50; max_ms: the largest run p99)."
                    if latency_source == "lineage"
                    else "From the API monitor's probes (p50, p95 per endpoint)."
                ),
                empty_text=NO_MONITOR,
            ),
            Table(
                "backlog",
                "Outbox backlog at the period's end",
                ("outbox_flow", "pks_flow", "owed_at_period_end", "oldest_age_days", "held_now"),
                backlog_rows,
                note=f"Items owed at {as_of.astimezone(LOCAL_TZ).isoformat(timespec='minutes')}: "
                "enqueued before, not yet delivered, not given up nor refused; the age of the "
                "oldest. held_now: items held back by a reason today (public-API mode, an "
                "employee's record still quarantined).",
                empty_text="Nothing was owed at the period's end.",
            ),
            Table(
                "sla",
                "SLA per usulan lifecycle stage",
                ("stage", "from_stamp", "to_stamp", "usulan", "median_days", "p90_days"),
                sla_rows,
                note="Days between two stamps of usulan_lifecycle, for the usulan that reached "
                "the later stage in the period: median and 90th percentile.",
                empty_text="No usulan reached a lifecycle stage in this period.",
            ),
            Table(
                "incidents",
                "Drift and outage incidents",
                (
                    "id",
                    "kind",
                    "severity",
                    "system",
                    "endpoint",
                    "opened_at",
                    "closed_at",
                    "open_at_period_end",
                    "hours_in_period",
                    "finding_count",
                    "notice",
                ),
                incident_rows,
                note="Incidents of the API monitor open at any time in the period; notice: the "
                "file of the notice written for the other party.",
                empty_text=monitor_empty,
            ),
            Table(
                "findings",
                "API monitor findings",
                ("kind", "severity", "code", "system", "endpoint", "findings"),
                findings,
                note="Findings observed in the period per kind, severity and code.",
                empty_text=monitor_empty,
            ),
            Table(
                "reconciliation",
                "Reconciliation categories",
                ("check", "category", "new_in_period", "resolved_in_period", "open_at_period_end"),
                recon_rows,
                note=f"{recon['runs']} document reconciliation runs in the period. documents: "
                "reconciliation items per category, first seen (new) or resolved in the "
                "period, and open at its end. keppres: decree cross-checks made in the "
                "period per outcome.",
                empty_text="No reconciliation item or decree check in this period.",
            ),
        ]
        by_code = {r["flow"]: r for r in flow_rows}
        active = [
            c
            for c, r in by_code.items()
            if any(r[k] for k in ("runs", "items", "quarantined", "dead_lettered"))
        ]
        incident_kinds: dict[str, int] = {}
        for i in incident_rows:
            key = f"{i['kind']} / {i['severity']}"
            incident_kinds[key] = incident_kinds.get(key, 0) + 1
        charts = [
            c
            for c in (
                _chart(
                    "flows",
                    "Items per flow",
                    "flows",
                    "items",
                    active,
                    log=True,
                    items=[by_code[c]["items"] for c in active],
                    succeeded=[by_code[c]["succeeded"] for c in active],
                    failed=[by_code[c]["failed"] for c in active],
                    quarantined=[by_code[c]["quarantined"] for c in active],
                    dead_lettered=[by_code[c]["dead_lettered"] for c in active],
                ),
                _chart(
                    "latency",
                    "API latency per endpoint",
                    "latency",
                    "ms",
                    [f"{r['system']} {r['endpoint']}" for r in latency_rows],
                    p50=[r["p50_ms"] or 0 for r in latency_rows],
                    p95=[r["p95_ms"] or 0 for r in latency_rows],
                ),
                _chart(
                    "backlog",
                    "Items owed at the period's end",
                    "backlog",
                    "items",
                    [r["outbox_flow"] for r in backlog_rows],
                    owed=[r["owed_at_period_end"] for r in backlog_rows],
                ),
                _chart(
                    "sla",
                    "Days per lifecycle stage",
                    "sla",
                    "days",
                    [r["stage"] for r in sla_rows],
                    median=[r["median_days"] for r in sla_rows],
                    p90=[r["p90_days"] for r in sla_rows],
                ),
                _chart(
                    "incidents",
                    "Incidents by kind and severity",
                    "incidents",
                    "incidents",
                    list(incident_kinds),
                    incidents=list(incident_kinds.values()),
                ),
                _chart(
                    "reconciliation",
                    "Reconciliation categories",
                    "reconciliation",
                    "items",
                    [f"{r['check']}: {r['category']}" for r in recon_rows],
                    new=[r["new_in_period"] or 0 for r in recon_rows],
                    resolved=[r["resolved_in_period"] or 0 for r in recon_rows],
                    open=[r["open_at_period_end"] or 0 for r in recon_rows],
                ),
            )
            if c is not None
        ]
        empty = not (
            records
            or any(active)
            or backlog_rows
            or sla_rows
            or latency_rows
            or incident_rows
            or findings
            or recon_rows
            or recon["runs"]
        )
        totals = {
            k: sum(r[k] for r in flow_rows)
            for k in ("items", "succeeded", "failed", "quarantined", "dead_lettered")
        }
        summary = (
            [
                "No activity recorded in this period: no task ran, nothing was enqueued, "
                "delivered or quarantined, no usulan reached a lifecycle stage, no "
                "reconciliation ran, and nothing was owed at its end."
            ]
            if empty
            else [
                f"{len(records)} task runs, {sum(bool(r['failures']) for r in records)} of "
                "them naming a problem.",
                f"F1–F8: {totals['items']:,} items, {totals['succeeded']:,} succeeded, "
                f"{totals['failed']:,} failed, {totals['quarantined']:,} quarantined, "
                f"{totals['dead_lettered']:,} dead-lettered.",
                f"{sum(r['owed_at_period_end'] for r in backlog_rows):,} outbox items owed at "
                "the period's end.",
                f"{len(incident_rows)} API incidents"
                + ("" if monitor_tables else " (no monitor data)")
                + f"; {recon['runs']} reconciliation runs.",
            ]
        )
        files = write_monitoring_report(
            tables,
            charts,
            folder,
            title=f"PKS SIAPP NV ⇄ SIASN — monitoring & evaluation {first} to {last}",
            period_text=f"{first.isoformat()} to {last.isoformat()} (Asia/Jakarta, both days "
            "included)",
            summary=summary,
            generated_at=run.now.astimezone(LOCAL_TZ).isoformat(timespec="seconds"),
        )
        record.counts.add(
            runs=len(records),
            **totals,
            backlog=sum(r["owed_at_period_end"] for r in backlog_rows),
            incidents=len(incident_rows),
            charts=len(files.charts),
        )
        record.extra = {
            "report": {
                "html": str(files.html),
                "csv": {name: str(path) for name, path in files.csv.items()},
            },
            "charts": list(files.charts),
            "empty": empty,
            "monitor_tables": monitor_tables,
        }
    return ReportResult(
        period_from=first,
        period_to=last,
        html=files.html,
        csv=files.csv,
        charts=files.charts,
        tables={t.name: t for t in tables},
        empty=empty,
        record=record,
        monitor_tables=monitor_tables,
    )
