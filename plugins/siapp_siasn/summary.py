"""The readable summary of the hub's store: rows per table, changes, quarantine, requests, lineage.

`collect_summary` is what `siapp-siasn store stats --json` prints; `render_summary` is the same
as rich tables (the demo's closing screen). Counts and ids only: no personal data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siapp_siasn.store import Store


def _run_line(record: dict[str, Any]) -> dict[str, Any]:
    requests = record.get("requests") or {}
    return {
        "lineage_id": record.get("lineage_id"),
        "flow": record.get("flow"),
        "dag_id": record.get("dag_id"),
        "run_id": record.get("run_id"),
        "task_id": record.get("task_id"),
        "window": record.get("window"),
        "counts": record.get("counts"),
        "requests": requests.get("requests"),
        "retries": requests.get("retries"),
        "throttled_429": requests.get("throttled_429"),
        "duration_s": record.get("duration_s"),
        "upstream": record.get("upstream"),
    }


def collect_summary(store: Store, runs: int = 12) -> dict[str, Any]:
    """Store statistics plus the latest lineage records (oldest first)."""
    stats = store.stats()
    lineage = [_run_line(r) for r in reversed(store.list_lineage(limit=runs))]
    return {**stats, "recent_runs": lineage}


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

    runs = Table(title="task runs (lineage)")
    for col in (
        "flow",
        "task",
        "mode",
        "read",
        "ins",
        "upd",
        "same",
        "quar",
        "dep",
        "requests",
        "s",
        "lineage id",
    ):
        runs.add_column(
            col, justify="right" if col not in ("flow", "task", "mode", "lineage id") else "left"
        )
    for run in summary.get("recent_runs", []):
        c = run.get("counts") or {}
        runs.add_row(
            str(run.get("flow")),
            str(run.get("task_id")),
            str((run.get("window") or {}).get("mode", "")),
            str(c.get("read", "")),
            str(c.get("inserted", "")),
            str(c.get("updated", "")),
            str(c.get("unchanged", "")),
            str(c.get("quarantined", "")),
            str(c.get("departed", "")),
            str(run.get("requests") if run.get("requests") is not None else ""),
            str(run.get("duration_s", "")),
        )
    console.print(runs)
    console.print("lineage ids (siapp-siasn lineage list; XCom and Asset events carry the same):")
    for run in summary.get("recent_runs", []):
        console.print(f"  {run.get('task_id')}: {run.get('lineage_id')}")


def render_stats(summary: dict[str, Any]) -> None:
    render_summary(summary)
