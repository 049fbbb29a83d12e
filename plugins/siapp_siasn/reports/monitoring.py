"""The files of the monitoring & evaluation report: one CSV per table and one self-contained HTML
page (tables, notes on how each figure is counted, and matplotlib charts embedded as base64 PNG
data URIs, drawn on the Agg canvas: no display, no pyplot state).

The writer renders what it is given and nothing else; the caller
(:mod:`siapp_siasn.flows.monitoring_report`) gives flow names, counts, durations, endpoint
templates and category codes only.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siapp_siasn.reports._files import staged

__all__ = ["Chart", "ReportFiles", "Table", "bar_chart_png", "write_monitoring_report"]


@dataclass(frozen=True)
class Table:
    """One table of the report: ``<name>.csv`` and a section of the page."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    #: how the figures are counted (shown under the title)
    note: str = ""
    #: said instead of an empty table
    empty_text: str = "Nothing recorded in this period."


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart of one table: one bar per label and series."""

    name: str
    title: str
    table: str
    labels: list[str]
    series: dict[str, list[float]]
    unit: str
    #: a symmetric log scale, for counts of very different sizes (4,000 records and 1 dead letter)
    log: bool = False


@dataclass(frozen=True)
class ReportFiles:
    """Where :func:`write_monitoring_report` wrote the report."""

    html: Path
    csv: dict[str, Path] = field(default_factory=dict)
    #: names of the charts embedded in the page, in page order
    charts: tuple[str, ...] = ()


_COLORS = ("#2e86c1", "#c0392b", "#7d3c98", "#4c9a2a", "#d68910", "#566573")


def bar_chart_png(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    unit: str,
    log: bool = False,
) -> bytes:
    """Grouped horizontal bars (one group per label, one bar per series) as PNG bytes."""
    # imported here: matplotlib takes seconds to import and only the report needs it
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(series)
    k = max(len(names), 1)
    height = 0.8 / k
    fig = Figure(figsize=(7.2, 0.3 * k * max(len(labels), 1) + 1.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for j, name in enumerate(names):
        positions = [i + j * height for i in range(len(labels))]
        values = [float(v) for v in series[name]]
        bars = ax.barh(positions, values, height=height, label=name, color=_COLORS[j % 6])
        ax.bar_label(bars, labels=[f"{v:,.4g}" for v in values], padding=2, fontsize=7)
    ax.set_yticks([i + height * (k - 1) / 2 for i in range(len(labels))], labels=list(labels))
    ax.invert_yaxis()
    if log:
        ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel(f"{unit} (log scale)" if log else unit)
    ax.set_title(title)
    ax.margins(x=0.15)
    if k > 1:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _write_csv(path: Path, table: Table) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([_cell(row.get(c)) for c in table.columns])


def _html_table(table: Table) -> str:
    if not table.rows:
        return f"<p class=empty>{html.escape(table.empty_text)}</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if isinstance(row.get(c), int | float) else ''}>"
            f"{html.escape(_cell(row.get(c)))}</td>"
            for c in table.columns
        )
        + "</tr>"
        for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_monitoring_report(
    tables: Sequence[Table],
    charts: Sequence[Chart],
    out_dir: Path,
    *,
    title: str,
    period_text: str,
    summary: Sequence[str],
    generated_at: str,
) -> ReportFiles:
    """Write ``<table>.csv`` for every table and ``monitoring_report.html`` into ``out_dir``.

    Each chart is drawn under the section of its table as a figure (``id="chart-<name>"``)
    that the section's text links to; ``summary`` lines open the page.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with staged() as files:
        csv_paths: dict[str, Path] = {}
        for table in tables:
            csv_paths[table.name] = out_dir / f"{table.name}.csv"
            _write_csv(files.part(csv_paths[table.name]), table)
        html_path = out_dir / "monitoring_report.html"
        drawn = _write_page(
            tables,
            charts,
            csv_paths,
            files.part(html_path),
            title,
            period_text,
            summary,
            generated_at,
        )
    return ReportFiles(html=html_path, csv=csv_paths, charts=tuple(drawn))


def _write_page(
    tables: Sequence[Table],
    charts: Sequence[Chart],
    csv_paths: Mapping[str, Path],
    html_part: Path,
    title: str,
    period_text: str,
    summary: Sequence[str],
    generated_at: str,
) -> list[str]:
    by_table: dict[str, list[Chart]] = {}
    for chart in charts:
        by_table.setdefault(chart.table, []).append(chart)

    toc, sections, drawn = [], [], []
    for table in tables:
        anchor = f"table-{table.name}"
        toc.append(f'<li><a href="#{anchor}">{html.escape(table.title)}</a></li>')
        figures, refs = [], []
        for chart in by_table.get(table.name, []):
            drawn.append(chart.name)
            number = len(drawn)
            png = bar_chart_png(
                chart.labels, chart.series, title=chart.title, unit=chart.unit, log=chart.log
            )
            data = base64.b64encode(png).decode("ascii")
            refs.append(f'<a href="#chart-{chart.name}">figure {number}</a>')
            figures.append(
                f'<figure id="chart-{chart.name}"><img alt="{html.escape(chart.title)}" '
                f'src="data:image/png;base64,{data}"><figcaption>Figure {number}: '
                f"{html.escape(chart.title)}</figcaption></figure>"
            )
        see = f" Shown in {', '.join(refs)}." if refs else ""
        note = f"<p class=note>{html.escape(table.note)}{see}</p>" if table.note or see else ""
        sections.append(
            f'<section id="{anchor}"><h2>{html.escape(table.title)}</h2>{note}'
            f"{_html_table(table)}{''.join(figures)}"
            f'<p class=csv>CSV: <a href="{html.escape(csv_paths[table.name].name)}">'
            f"{html.escape(csv_paths[table.name].name)}</a></p></section>"
        )
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:72em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:12px}}td.n{{text-align:right}}
p.note{{color:#444;font-size:13px}}p.empty{{font-style:italic}}figure{{margin:1em 0}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>Period: {html.escape(period_text)}. Generated {html.escape(generated_at)}.</p>
<ul class=summary>{lines}</ul>
<nav><ol>{"".join(toc)}</ol></nav>
{"".join(sections)}
</body></html>
"""
    html_part.write_text(page, encoding="utf-8")
    return drawn
