"""The report of a document reconciliation: a CSV of the differences and an HTML page.

The HTML page is self-contained (the chart is an inline base64 PNG drawn with matplotlib's Agg
canvas, no display, no pyplot state). Only :data:`DIFF_COLUMNS` are ever written: ids, jenis,
direction, hashes, sizes, ledger status, category; any other column given is dropped, so a
caller's extra column cannot carry a personal value into a report.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from siapp_siasn.reports._files import staged

__all__ = ["DIFF_COLUMNS", "ReportPaths", "category_chart_png", "write_report"]

#: The columns of a difference row, the only ones a report writes.
DIFF_COLUMNS: tuple[str, ...] = (
    "category",
    "usulan_id",
    "direction",
    "jenis",
    "ref",
    "siapp_sha256",
    "siapp_size",
    "siasn_sha256",
    "siasn_size",
    "ledger_sha256",
    "ledger_size",
    "ledger_status",
)


@dataclass(frozen=True)
class ReportPaths:
    """Where :func:`write_report` wrote the report."""

    csv: Path
    html: Path


def category_chart_png(counts: Mapping[str, int]) -> bytes:
    """A small horizontal bar chart of ``counts`` (category → number) as PNG bytes."""
    # imported here: matplotlib takes seconds to import and only the report needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(counts)
    values = [int(counts[n]) for n in names]
    fig = Figure(figsize=(6.4, 0.35 * max(len(names), 1) + 1.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bars = ax.barh(names, values, color=["#4c9a2a" if n == "ok" else "#c0392b" for n in names])
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=8)
    ax.set_xlabel("documents")
    ax.set_title("Documents per category")
    ax.margins(x=0.15)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _frames(differences: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterable[pd.DataFrame]:
    return [differences] if isinstance(differences, pd.DataFrame) else differences


def write_report(
    differences: pd.DataFrame | Iterable[pd.DataFrame],
    counts: Mapping[str, int],
    out_dir: Path,
    *,
    name: str = "reconciliation",
    title: str = "Document reconciliation",
    max_rows: int = 200,
) -> ReportPaths:
    """Write ``<name>.csv`` (every difference) and ``<name>.html`` (counts, chart and the first
    ``max_rows`` differences) into ``out_dir`` and return their paths.

    ``differences`` is one DataFrame or chunks of them (written as they come, so a large result
    needs no more memory than one chunk). Columns outside :data:`DIFF_COLUMNS` are not written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out_dir / f"{name}.csv", out_dir / f"{name}.html"
    with staged() as files:
        _write_files(
            differences,
            counts,
            files.part(csv_path),
            files.part(html_path),
            csv_path,
            title=title,
            max_rows=max_rows,
        )
    return ReportPaths(csv=csv_path, html=html_path)


def _write_files(
    differences: pd.DataFrame | Iterable[pd.DataFrame],
    counts: Mapping[str, int],
    csv_part: Path,
    html_part: Path,
    csv_path: Path,
    *,
    title: str,
    max_rows: int,
) -> None:
    cols = list(DIFF_COLUMNS)
    head: list[pd.DataFrame] = []
    kept = written = 0
    with csv_part.open("w", encoding="utf-8", newline="") as fh:
        for frame in _frames(differences):
            part = frame.reindex(columns=cols)
            part.to_csv(fh, index=False, header=written == 0)
            written += 1
            if kept < max_rows and len(part):
                head.append(part.head(max_rows - kept))
                kept += len(head[-1])
        if written == 0:
            pd.DataFrame(columns=cols).to_csv(fh, index=False)
    total = sum(int(v) for v in counts.values())
    png = base64.b64encode(category_chart_png(counts)).decode("ascii")
    count_rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td class=n>{int(v):,}</td></tr>"
        for k, v in counts.items()
    )
    sample = (
        pd.concat(head, ignore_index=True).to_html(index=False, na_rep="", border=0)
        if head
        else "<p>No differences.</p>"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:12px}}td.n{{text-align:right}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{total:,} documents compared; every difference is in
<code>{html.escape(csv_path.name)}</code>.</p>
<table><tr><th>category</th><th>documents</th></tr>{count_rows}</table>
<p><img alt="documents per category" src="data:image/png;base64,{png}"></p>
<h2>First differences</h2>
{sample}
</body></html>
"""
    html_part.write_text(page, encoding="utf-8")
