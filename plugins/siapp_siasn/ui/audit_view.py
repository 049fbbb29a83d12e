"""What the "Hub audit" page shows, as plain data: pure functions over ``store.audit``.

The lineage record's shape is read generically (it grows): ``flow``, ``window``, ``counts``
(whatever its keys, nested per flow or flat), ``upstream`` (lineage ids, or objects
``{lineage_id, dag_id, task_id, flow}``), ``failures``, the digest, any ``quarantine`` /
``dead_letters`` references and report paths found in the record. HTTP telemetry is left out.
Any value that looks like a NIP or NIK (16-18 digits) is masked before it reaches a page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siapp_siasn.store.audit import AuditRepository

__all__ = [
    "ChainLink",
    "RecordView",
    "RunView",
    "build_run_view",
    "mask",
    "report_paths",
    "upstream_refs",
]

#: A NIP (18 digits) or NIK (16 digits) anywhere in a text: masked on the page whatever its source.
_LONG_NUMBER = re.compile(r"(?<!\d)\d{16,18}(?!\d)")
#: Keys of a record shown in their own place (or deliberately not at all: telemetry).
_SHOWN_APART = {
    "lineage_id",
    "flow",
    "dag_id",
    "run_id",
    "task_id",
    "try_number",
    "window",
    "counts",
    "upstream",
    "failures",
    "content_digest",
    "digest",
    "started_at",
    "ended_at",
    "duration_s",
    "rate_per_s",
    "requests",
    "http",
    "title",
    "references",
    "telemetry",
    "source",
    "target",
    "extra",
}
#: Keys naming problem references a record may carry (top level or in ``extra``).
_REFERENCE_KEYS = ("quarantine", "dead_letters", "dead_letter", "dead")
#: Report files are found under keys like these, or as strings ending in a report suffix.
_REPORT_SUFFIXES = (".html", ".csv", ".json", ".pdf")
#: How far the page follows upstream references across DAGs.
MAX_CHAIN_DEPTH = 6

#: ``may_read(dag_id)``: whether the viewer may see that DAG's runs.
MayRead = Callable[[str | None], bool]


def mask(value: Any) -> Any:
    """``value`` with every 16-18 digit number in its strings replaced by ``[masked]``."""
    if isinstance(value, str):
        return _LONG_NUMBER.sub("[masked]", value)
    if isinstance(value, Mapping):
        return {str(mask(k)): mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value


def flatten_counts(counts: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``counts`` as ``(name, value)`` pairs in stored order; nested mappings (per flow) as
    ``flow.name``."""
    if not isinstance(counts, Mapping):
        return [(prefix or "value", counts)] if counts is not None else []
    out: list[tuple[str, Any]] = []
    for key, value in counts.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out += flatten_counts(value, name)
        else:
            out.append((name, value))
    return out


@dataclass(frozen=True)
class Ref:
    """One upstream reference as a record states it (the store fills in the rest)."""

    lineage_id: str
    dag_id: str | None = None
    task_id: str | None = None
    flow: str | None = None


def upstream_refs(upstream: Any) -> list[Ref]:
    """The ``upstream`` field (ids, or objects with ``lineage_id``) as references."""
    if upstream is None:
        return []
    if isinstance(upstream, str | Mapping):
        upstream = [upstream]
    refs: dict[str, Ref] = {}  # one per id: a record may name its upstream twice
    for item in upstream:
        if isinstance(item, str) and item:
            refs.setdefault(item, Ref(item))
        elif isinstance(item, Mapping) and item.get("lineage_id"):
            ref = Ref(
                str(item["lineage_id"]), item.get("dag_id"), item.get("task_id"), item.get("flow")
            )
            if refs.get(ref.lineage_id, Ref("")).dag_id is None:
                refs[ref.lineage_id] = ref
    return list(refs.values())


def report_paths(record: Any) -> list[str]:
    """Report file paths in a record (any key containing ``report``, or a string ending in
    a report suffix under ``extra``), in order, without duplicates."""
    found: list[str] = []

    def walk(value: Any, under_report: bool) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(inner, under_report or "report" in str(key).lower())
        elif isinstance(value, list | tuple):
            for inner in value:
                walk(inner, under_report)
        elif isinstance(value, str) and value not in found:
            looks_like_path = "/" in value or "\\" in value
            if (under_report and looks_like_path) or value.lower().endswith(_REPORT_SUFFIXES):
                found.append(value)

    if isinstance(record, Mapping):
        walk({k: v for k, v in record.items() if k not in ("requests", "http", "upstream")}, False)
    return found


def references(record: Mapping[str, Any]) -> dict[str, Any]:
    """Quarantine and dead-letter references a record carries (top level or in ``extra``)."""
    extra = record.get("extra") if isinstance(record.get("extra"), Mapping) else {}
    refs = record.get("references") if isinstance(record.get("references"), Mapping) else {}
    out: dict[str, Any] = {
        str(key): mask(value) for key, value in refs.items() if value not in (None, [], {})
    }
    for key in _REFERENCE_KEYS:
        for source in (record, extra):
            if key in source and source[key] not in (None, [], {}):
                out[key] = mask(source[key])
    return out


def _scalar_items(mapping: Any) -> list[tuple[str, Any]]:
    """Key/value pairs of a mapping whose values are short enough to show inline (None as
    an em dash)."""
    if not isinstance(mapping, Mapping):
        return []
    out = []
    for key, value in mapping.items():
        if key in _REFERENCE_KEYS or "report" in str(key).lower():
            continue
        if value is None:
            out.append((str(key), "—"))
        elif isinstance(value, str | int | float | bool):
            out.append((str(key), mask(value)))
        elif isinstance(value, list | tuple) and len(value) <= 12:
            out.append((str(key), mask(", ".join(map(str, value)))))
    return out


@dataclass
class ChainLink:
    """An upstream (or downstream) record, resolved against the lineage table when stored."""

    lineage_id: str
    dag_id: str | None
    run_id: str | None
    task_id: str | None
    flow: str | None
    stored: bool
    readable: bool
    depth: int = 1
    via: str | None = None  # the lineage id that referred to this one
    created_at: dt.datetime | None = None


@dataclass
class RecordView:
    """One task's lineage record as the page shows it."""

    lineage_id: str
    task_id: str | None
    flow: str
    title: str | None
    http: list[tuple[str, Any]]
    try_number: int | None
    created_at: dt.datetime | None
    window: list[tuple[str, Any]]
    counts: list[tuple[str, Any]]
    failures: list[str]
    digest: str | None
    duration_s: Any
    source: str | None
    target: str | None
    references: dict[str, Any]
    #: (index in :attr:`RunView.reports`, path)
    reports: list[tuple[int, str]]
    extra: list[tuple[str, Any]]
    #: the record's ``upstream`` field as stored (ids or objects)
    raw_upstream: Any = None
    upstream: list[ChainLink] = field(default_factory=list)

    @property
    def problems(self) -> list[tuple[str, Any]]:
        """Referenced problem rows with a count (dead letters, quarantine, ...), by name."""
        out = []
        for name, ref in self.references.items():
            count = ref.get("count") if isinstance(ref, Mapping) else ref
            if isinstance(count, int) and count:
                out.append((name, count))
            elif isinstance(count, list) and count:
                out.append((name, len(count)))
        return out


@dataclass
class RunView:
    """Everything the run page shows."""

    dag_id: str
    run_id: str
    records: list[RecordView]
    chain: list[ChainLink]
    consumers: list[ChainLink]
    quarantine: list[dict[str, Any]]
    quarantine_by_reason: dict[str, int]
    dead_letters: list[dict[str, Any]]
    dead_letter_counts: dict[str, int]
    dead_window: tuple[dt.datetime | None, dt.datetime | None]
    reconciliation_runs: list[dict[str, Any]]
    reconciliation_items: list[dict[str, Any]]
    keppres_checks: list[dict[str, Any]]
    monitor: list[tuple[str, list[str], list[dict[str, Any]]]]
    #: every report path of the run (records, then reconciliation runs); served by index
    reports: list[str] = field(default_factory=list)

    def label(self, lineage_id: str | None) -> str:
        """The task (this run) or ``dag · task`` (the chain) of a lineage id, else its start."""
        for view in self.records:
            if view.lineage_id == lineage_id:
                return view.task_id or view.flow
        for link in self.chain:
            if link.lineage_id == lineage_id and link.readable and link.task_id:
                return f"{link.dag_id} · {link.task_id}"
        return (lineage_id or "")[:8]

    def index_reports(self) -> RunView:
        """Number every report path once and point the records and runs at the numbers."""
        for view in self.records:
            view.reports = [(self._index(path), path) for _, path in view.reports]
        for run in self.reconciliation_runs:
            run["reports"] = [(self._index(path), path) for path in run["reports"]]
        for _, _, rows in self.monitor:  # an incident's notice to the other party
            for row in rows:
                for key, value in row.items():
                    if key.endswith("_path") and isinstance(value, str) and value:
                        row[key] = (self._index(value), value)
        return self

    def _index(self, path: str) -> int:
        if path not in self.reports:
            self.reports.append(path)
        return self.reports.index(path)


def _endpoint(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return " ".join(str(v) for v in (value.get("system"), value.get("endpoint")) if v)
    return str(value) if value else None


def _failures(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str | Mapping):
        value = [value]
    return [
        str(mask(v if isinstance(v, str) else ", ".join(f"{k}={x}" for k, x in v.items())))
        if isinstance(v, str | Mapping)
        else str(mask(v))
        for v in value
    ]


def _record_view(row: Mapping[str, Any]) -> RecordView:
    record = row["record"] if isinstance(row.get("record"), Mapping) else {}
    return RecordView(
        lineage_id=row["lineage_id"],
        task_id=row.get("task_id"),
        flow=str(record.get("flow") or row.get("flow")),
        title=mask(record.get("title")) if isinstance(record.get("title"), str) else None,
        http=_scalar_items(record.get("http")),
        try_number=row.get("try_number"),
        created_at=row.get("created_at"),
        window=_scalar_items(record.get("window")),
        counts=[(str(mask(k)), mask(v)) for k, v in flatten_counts(record.get("counts"))],
        failures=_failures(record.get("failures")),
        digest=record.get("content_digest") or record.get("digest"),
        duration_s=record.get("duration_s"),
        source=_endpoint(record.get("source")),
        target=_endpoint(record.get("target")),
        references=references(record),
        reports=[(-1, path) for path in report_paths(record)],
        extra=_scalar_items(record.get("extra"))
        + _scalar_items({k: v for k, v in record.items() if k not in _SHOWN_APART}),
        raw_upstream=record.get("upstream"),
    )


def resolve_chain(
    audit: AuditRepository, start: Iterable[RecordView], may_read: MayRead
) -> list[ChainLink]:
    """Follow upstream references from the run's records through the lineage table (across
    DAGs, up to :data:`MAX_CHAIN_DEPTH`); each record's direct upstream is attached to it, and
    the whole chain (records outside this run) is returned once each, nearest first."""
    views = list(start)
    own = {v.lineage_id for v in views}
    seen: dict[str, ChainLink] = {}
    frontier: list[tuple[str, Ref]] = []
    rows_by_view: dict[str, list[Ref]] = {}
    for view in views:
        refs = upstream_refs(view.raw_upstream)
        rows_by_view[view.lineage_id] = refs
        frontier += [(view.lineage_id, r) for r in refs]
    depth = 1
    while frontier and depth <= MAX_CHAIN_DEPTH:
        stored = audit.records_by_id(r.lineage_id for _, r in frontier)
        nxt: list[tuple[str, Ref]] = []
        for via, ref in frontier:
            if ref.lineage_id in seen or ref.lineage_id in own:
                continue
            row = stored.get(ref.lineage_id)
            dag_id = (row or {}).get("dag_id") or ref.dag_id
            readable = may_read(dag_id)
            link = ChainLink(
                lineage_id=ref.lineage_id,
                dag_id=dag_id,
                run_id=(row or {}).get("run_id") if readable else None,
                task_id=((row or {}).get("task_id") or ref.task_id) if readable else None,
                flow=((row or {}).get("flow") or ref.flow) if readable else None,
                stored=row is not None,
                readable=readable,
                depth=depth,
                via=via,
                created_at=(row or {}).get("created_at") if readable else None,
            )
            seen[ref.lineage_id] = link
            if row is not None and readable:
                record = row.get("record") if isinstance(row.get("record"), Mapping) else {}
                nxt += [(ref.lineage_id, r) for r in upstream_refs(record.get("upstream"))]
        frontier = nxt
        depth += 1
    for view in views:
        view.upstream = [
            seen[r.lineage_id] if r.lineage_id in seen else _own_link(r, views)
            for r in rows_by_view[view.lineage_id]
        ]
    return sorted(
        seen.values(), key=lambda link: (link.depth, link.dag_id or "", link.task_id or "")
    )


def _own_link(ref: Ref, views: list[RecordView]) -> ChainLink:
    """A reference to a record of the same run (shown as an in-page link)."""
    view = next(v for v in views if v.lineage_id == ref.lineage_id)
    return ChainLink(
        lineage_id=ref.lineage_id,
        dag_id=None,
        run_id=None,
        task_id=view.task_id,
        flow=view.flow,
        stored=True,
        readable=True,
        depth=0,
    )


def build_run_view(audit: AuditRepository, dag_id: str, run_id: str, may_read: MayRead) -> RunView:
    """The run page of ``dag_id``/``run_id``: its records and their chain, the problems and
    the reconciliation and monitor results stored for it."""
    rows = audit.run_records(dag_id, run_id)
    views = [_record_view(row) for row in rows]
    chain = resolve_chain(audit, views, may_read)
    consumers = [
        _consumer_link(row, may_read)
        for row in (audit.referencing([v.lineage_id for v in views]) if views else [])
        if (row["dag_id"], row["run_id"]) != (dag_id, run_id)
    ]
    quarantine = audit.quarantine(run_id) if views else []
    by_reason: dict[str, int] = {}
    for row in quarantine:
        row["payload"] = mask(row["payload"])
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    window = _run_span(rows)
    dead = audit.dead_letters(since=window[0], until=window[1]) if views else []
    for row in dead:
        row["last_error"] = mask(row.get("last_error"))
    run_keys = [f"{dag_id}/{run_id}/{v.task_id}" for v in views if v.task_id]
    monitor = []
    for table in audit.monitor_tables():
        columns, mrows = audit.monitor_rows(
            table, lineage_ids=[v.lineage_id for v in views], run_id=run_id
        )
        monitor.append((table, columns, [mask(r) for r in mrows]))
        incident_ids = [r["incident_id"] for r in mrows if r.get("incident_id") is not None]
        incidents = audit.incidents(incident_ids)
        if incidents:
            monitor.append(("incident", list(incidents[0]), [mask(r) for r in incidents]))
    return RunView(
        dag_id=dag_id,
        run_id=run_id,
        records=views,
        chain=chain,
        consumers=consumers,
        quarantine=quarantine,
        quarantine_by_reason=by_reason,
        dead_letters=dead,
        dead_letter_counts=audit.dead_letter_counts(),
        dead_window=window,
        reconciliation_runs=[_recon_run(r) for r in audit.reconciliation_runs(run_keys)],
        reconciliation_items=audit.reconciliation_items(run_keys),
        keppres_checks=audit.keppres_checks(run_id) if views else [],
        monitor=monitor,
    ).index_reports()


def _consumer_link(row: Mapping[str, Any], may_read: MayRead) -> ChainLink:
    """A record of another run that refers to one of this run's records."""
    readable = may_read(row["dag_id"])
    return ChainLink(
        lineage_id=row["lineage_id"],
        dag_id=row["dag_id"],
        run_id=row["run_id"] if readable else None,
        task_id=row["task_id"] if readable else None,
        flow=row["flow"] if readable else None,
        stored=True,
        readable=readable,
        created_at=row["created_at"] if readable else None,
    )


def _run_span(rows: list[dict[str, Any]]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """From the earliest start to the last stored record of the run (dead letters of the run
    went dead in between)."""
    starts: list[dt.datetime] = []
    for row in rows:
        record = row.get("record") if isinstance(row.get("record"), Mapping) else {}
        started = record.get("started_at")
        if isinstance(started, str):
            with contextlib.suppress(ValueError):
                starts.append(dt.datetime.fromisoformat(started.replace("Z", "+00:00")))
        if row.get("created_at") is not None:
            starts.append(row["created_at"])
    ends = [row["created_at"] for row in rows if row.get("created_at") is not None]
    if not starts or not ends:
        return None, None
    return min(starts), max(ends)


def _recon_run(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["counts"] = flatten_counts(row.get("counts") or {})
    out["params"] = _scalar_items(row.get("params") or {})
    out["reports"] = [p for p in (row.get("report_csv"), row.get("report_html")) if p]
    return out


def report_file(path: str) -> Path | None:
    """The report at ``path`` when it is a readable file with a report suffix."""
    p = Path(path)
    if p.suffix.lower() not in _REPORT_SUFFIXES or not p.is_file():
        return None
    return p
