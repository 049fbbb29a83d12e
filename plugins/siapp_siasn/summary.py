"""The readable summary of the hub's store: rows per table, changes, quarantine, requests, lineage.

`collect_summary` is what `siapp-siasn store stats --json` prints; `render_summary` is the same
as rich tables (the demo's closing screen). Counts and ids only: no personal data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siapp_siasn.store import Store


def _run_line(record: dict[str, Any]) -> dict[str, Any]:
    # HTTP telemetry left the record (XCom http_metrics): only rows stored before carry it
    requests = dict(record.get("requests") or {})
    if "requests" not in requests:  # a task with several clients: {"siasn": {...}, "siapp": {...}}
        parts = [v for v in requests.values() if isinstance(v, dict)]
        requests = {
            k: sum(int(p.get(k) or 0) for p in parts)
            for k in ("requests", "retries", "throttled_429")
        }
    return {
        "lineage_id": record.get("lineage_id"),
        "flow": record.get("flow"),
        "title": record.get("title") or record.get("flow"),
        "dag_id": record.get("dag_id"),
        "run_id": record.get("run_id"),
        "task_id": record.get("task_id"),
        "window": record.get("window"),
        "counts": record.get("counts"),
        "requests": requests.get("requests"),
        "retries": requests.get("retries"),
        "throttled_429": requests.get("throttled_429"),
        "duration_s": record.get("duration_s"),
        "failures": record.get("failures") or [],
        "upstream": [
            u.get("lineage_id") if isinstance(u, dict) else u for u in record.get("upstream") or []
        ],
    }


def counts_text(counts: dict[str, Any] | None) -> str:
    """``sent 40, dead 2`` — a record's counts under its own names, zeros left out."""
    shown = [f"{name} {n:,}" for name, n in (counts or {}).items() if isinstance(n, int) and n]
    return ", ".join(shown) or "—"


def collect_summary(store: Store, runs: int = 6) -> dict[str, Any]:
    """Store statistics plus the latest lineage records of each DAG (oldest first)."""
    stats = store.stats()
    records = [
        r
        for dag, n in (("siasn_asn_daily", runs), ("usulan_sync", 4))  # two nightly, one 15-min run
        for r in store.lineage.list(dag_id=dag, limit=n)
    ]
    records += [
        r
        for r in store.lineage.list(limit=runs)
        if r.get("dag_id") not in ("siasn_asn_daily", "usulan_sync")
    ]
    records.sort(key=lambda r: str(r.get("started_at")))
    lineage = [_run_line(r) for r in records]
    return {
        **stats,
        "usulan_stages": store.usulan.stats(),
        "outbox_by_flow": store.outbox.stats(),
        "documents": store.documents.stats(),
        "recent_runs": lineage,
        "reconciliation_runs": store.reconciliation.runs(limit=2)[::-1],  # oldest first
        "keppres_not_applied": len(
            store.reconciliation.keppres_checks(status="keppres_not_applied")
        ),
    }


def render_summary(summary: dict[str, Any], title: str = "SIAPP NV ⇄ SIASN hub") -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))
    tables = Table(title=f"{title}: rows per table", show_lines=False)
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, count in sorted(summary.get("tables", {}).items()):
        tables.add_row(name, f"{count:,}")
    console.print(tables)

    asn = summary.get("asn", {})
    history = summary.get("asn_history", {})
    quarantine = summary.get("quarantine", {})
    facts = Table(title="mirror", show_header=False)
    facts.add_column("what")
    facts.add_column("value", justify="right")
    facts.add_row("active ASN (IV/b+)", f"{asn.get('active', 0):,}")
    facts.add_row("departed (kept, inactive)", f"{asn.get('inactive', 0):,}")
    facts.add_row(
        "SCD2 versions / open", f"{history.get('rows', 0):,} / {history.get('open', 0):,}"
    )
    facts.add_row("quarantined", f"{quarantine.get('total', 0):,}")
    for reason, n in sorted(quarantine.get("by_reason", {}).items()):
        facts.add_row(f"  {reason}", f"{n:,}")
    console.print(facts)

    lifecycle = summary.get("usulan_stages") or {}
    outbox = summary.get("outbox_by_flow") or {}
    ledger = summary.get("documents") or {}
    if lifecycle.get("total") or outbox:
        stages = Table(title="usulan per stage (first time seen)", show_header=False)
        stages.add_column("stage")
        stages.add_column("usulan", justify="right")
        for key, value in lifecycle.items():
            if isinstance(value, int) and not str(key).startswith("status:"):
                stages.add_row(str(key), f"{value:,}")
        console.print(stages)
        box = Table(title="outbox (both directions) and documents moved")
        box.add_column("flow")
        for status in ("pending", "retry", "sent", "dead", "rejected"):
            box.add_column(status, justify="right")
        for flow, counts in sorted(outbox.items()):
            if isinstance(counts, dict):
                box.add_row(
                    flow,
                    *(
                        f"{counts.get(s, 0):,}"
                        for s in ("pending", "retry", "sent", "dead", "rejected")
                    ),
                )
        console.print(box)
        docs = ", ".join(f"{k} {v:,}" for k, v in ledger.items() if isinstance(v, int))
        console.print(f"document ledger: {docs or 'empty'}")

    runs = Table(title="task runs (lineage; counts under each flow's own names)")
    for col in ("flow", "task", "mode", "counts", "requests", "s"):
        runs.add_column(col, justify="right" if col in ("requests", "s") else "left")
    for run in summary.get("recent_runs", []):
        failures = run.get("failures") or []
        runs.add_row(
            str(run.get("title") or run.get("flow")),
            str(run.get("task_id")) + (" [red](failed)[/red]" if failures else ""),
            str((run.get("window") or {}).get("mode", "")),
            counts_text(run.get("counts")),
            str(run.get("requests") if run.get("requests") is not None else ""),
            str(run.get("duration_s", "")),
        )
    console.print(runs)
    for run in summary.get("recent_runs", []):
        for failure in run.get("failures") or []:
            console.print(f"[red]{run.get('task_id')}: {failure}[/red]")
    console.print("lineage ids (siapp-siasn lineage list; XCom and Asset events carry the same):")
    for run in summary.get("recent_runs", []):
        console.print(f"  {run.get('task_id')}: {run.get('lineage_id')}")


def render_stats(summary: dict[str, Any]) -> None:
    render_summary(summary)


def render_reconciliation(summary: dict[str, Any], demo: dict[str, Any] | None = None) -> None:
    """Documents per category in the last two reconciliation runs (before and after repair)."""
    from rich.console import Console
    from rich.table import Table

    runs = summary.get("reconciliation_runs") or []
    if not runs:
        return
    console = Console(width=max(Console().width, 120))
    table = Table(title="dokumen_reconciliation: documents per category")
    table.add_column("category")
    labels = ["before repair", "after repair"] if len(runs) == 2 else ["last run"]
    for label in labels:
        table.add_column(label, justify="right")
    categories = sorted({c for r in runs for c in (r.get("counts") or {})})
    for category in categories:
        table.add_row(category, *(f"{(r.get('counts') or {}).get(category, 0):,}" for r in runs))
    console.print(table)
    for run in runs[-1:]:
        if run.get("report_html"):
            console.print(f"report: {run['report_html']}")
    console.print(
        f"Keppres not applied in SIASN (flagged): {summary.get('keppres_not_applied', 0)}"
    )
    if demo:
        injected = demo.get("injected") or {}
        by_category = sorted((injected.get("expected") or {}).items())
        expected = ", ".join(f"{k} {v}" for k, v in by_category)
        console.print(
            f"ground truth: the sandbox injected {injected.get('count', 0)} document faults"
            f" ({expected}) and withheld {demo.get('withheld', 0)} decrees"
        )
