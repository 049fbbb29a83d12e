"""`siapp-siasn bench`: the hub against its peers (dlt, a naive HttpHook loop, itself under
Airflow), side by side on one sandbox, in one run; plus DAG parse time and PostgreSQL upsert.

A development tool, not part of the runtime package: it needs the repository checkout (bench/,
tests/fixtures/, dags/), whose root a development install (`uv sync`) puts on sys.path, and the
`bench` dependency group (`uv sync --group bench`, or `make bench`). `siapp-siasn bench` loads it
on invocation; also runnable as `python -m bench.cli`.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import typer

bench_app = typer.Typer(
    help="Benchmarks against peers (dlt, naive HttpHook, Airflow), side by side in one run.",
    invoke_without_command=True,
    add_completion=False,
)

_PEERS = "ours,airflow,dlt,naive"


def _import_suite() -> ModuleType:
    # Imported on invocation, not at import time: `siapp-siasn bench --help` needs typer only.
    try:
        from bench import suite
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise typer.BadParameter(
            f"{exc}; install the bench group first: `uv sync --group bench` (or `make bench`)"
        ) from exc
    return suite


@bench_app.callback()
def bench(
    ctx: typer.Context,
    employees: int = typer.Option(5000, help="IV/b+ employees (records) pulled by each peer"),
    ivb_share: float = typer.Option(0.8, help="share of IV/b+ in the sandbox world"),
    seed: int = typer.Option(7, help="sandbox world seed"),
    latency_ms: int = typer.Option(20, help="sandbox latency per request (ms)"),
    rate_limit: float = typer.Option(500, help="server rate limit (req/s); our client's too"),
    concurrency: int = typer.Option(64, help="requests in flight (ours; dlt workers default)"),
    batch_size: int = typer.Option(500, help="employees per committed batch (ours)"),
    peers: str = typer.Option(_PEERS, help=f"comma-separated subset of {_PEERS}"),
    naive_n: int = typer.Option(200, help="employees for the sequential HttpHook loop"),
    dlt_workers: int | None = typer.Option(None, help="dlt extract workers (default: concurrency)"),
    dlt_destination: str = typer.Option("duckdb", help="duckdb or postgres"),
    dlt_formats: str = typer.Option(
        "jsonl,default",
        help="dlt loader file formats to run (jsonl, insert_values, default); "
        "the first is the one the targets compare with",
    ),
    unlimited: bool = typer.Option(
        True, help="also run ours and dlt with the server's rate limit off (latency only)"
    ),
    page_size: int = typer.Option(1000, help="enumeration page size (dlt; ours uses 1000)"),
    store: str = typer.Option(
        "postgresql", help="store of our pull and the DAG: postgresql|sqlite"
    ),
    parse: bool = typer.Option(True, help="measure DAG parse time of every file in dags/"),
    store_bench: bool = typer.Option(True, help="measure PostgreSQL upsert rows/s"),
    store_rows: int = typer.Option(20_000, help="rows for the upsert benchmark"),
    ceiling: bool = typer.Option(True, help="measure the sandbox's own ceiling first"),
    ceiling_seconds: float = typer.Option(8.0, help="seconds per ceiling measurement"),
    profile: bool = typer.Option(False, help="extra pyinstrument-profiled runs of ours and dlt"),
    out: Path = typer.Option(Path("bench/results"), help="where the JSON and markdown go"),
) -> None:
    """Run the peer benchmark and write bench/results/peers_<time>.{json,md}."""
    if ctx.invoked_subcommand is not None:
        return
    suite = _import_suite()
    chosen = tuple(p.strip() for p in peers.split(",") if p.strip())
    unknown = set(chosen) - set(suite.PEERS)
    if unknown:
        raise typer.BadParameter(f"unknown peers {sorted(unknown)}; choose from {_PEERS}")
    if dlt_destination not in ("duckdb", "postgres"):
        raise typer.BadParameter("--dlt-destination: duckdb or postgres")
    formats = tuple(f.strip() for f in dlt_formats.split(",") if f.strip())
    if not formats or set(formats) - {"jsonl", "insert_values", "default"}:
        raise typer.BadParameter("--dlt-formats: jsonl, insert_values or default")
    if store not in ("postgresql", "sqlite"):
        raise typer.BadParameter("--store: postgresql or sqlite")
    opts = suite.Options(
        employees=employees,
        ivb_share=ivb_share,
        seed=seed,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        concurrency=concurrency,
        batch_size=batch_size,
        page_size=page_size,
        peers=chosen,
        naive_n=naive_n,
        dlt_workers=dlt_workers,
        dlt_destination=dlt_destination,
        dlt_formats=formats,
        unlimited=unlimited,
        store=store,
        parse=parse,
        store_bench=store_bench,
        store_rows=store_rows,
        ceiling=ceiling,
        ceiling_seconds=ceiling_seconds,
        profile=profile,
        out=out if out.is_absolute() else suite.ROOT / out,
        command=suite.command_line(),
    )
    report = suite.run(opts)
    typer.echo(suite.markdown(report))
    typer.echo("written: " + ", ".join(report.options.get("written", [])))


if __name__ == "__main__":
    bench_app()
