"""The `siapp-siasn` command: demo, sandbox, store, lineage.

Sub-commands import their machinery lazily so `--help` stays fast.
"""

from __future__ import annotations

import json

import typer

app = typer.Typer(no_args_is_help=True, help="SIAPP NV <-> SIASN integration hub")
store_app = typer.Typer(no_args_is_help=True, help="The hub's own database.")
lineage_app = typer.Typer(no_args_is_help=True, help="Lineage records (no personal data).")
app.add_typer(store_app, name="store")
app.add_typer(lineage_app, name="lineage")


def _mount_sandbox() -> None:
    try:
        from siapp_sandbox.cli import sandbox_app
    except ImportError:  # the sandbox is a development tool; production images may omit it
        return
    app.add_typer(sandbox_app, name="sandbox", help="Local emulators of SIASN and SIAPP NV.")


_mount_sandbox()


def _mount_bench() -> None:
    from siapp_siasn.bench_cli import bench_app  # typer only at import time: --help stays fast

    app.add_typer(bench_app, name="bench", help="Benchmarks against peers (dlt, naive HttpHook).")


_mount_bench()


@app.command()
def version() -> None:
    """Print the hub version."""
    from siapp_siasn import __version__

    typer.echo(__version__)


def _store(url: str | None):
    from siapp_siasn.store import Store, store_url_from_airflow

    return Store(url or store_url_from_airflow())


@store_app.command("migrate")
def store_migrate(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
) -> None:
    """Create or upgrade the hub's tables (Alembic)."""
    store = _store(url)
    store.migrate()
    typer.echo(f"migrated {store.dialect} store")


@store_app.command("stats")
def store_stats(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rows per table, changes, quarantine and lineage counts."""
    from siapp_siasn.summary import collect_summary, render_summary

    summary = collect_summary(_store(url))
    if as_json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True, default=str))
        return
    render_summary(summary)


@lineage_app.command("list")
def lineage_list(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
    limit: int = typer.Option(20, help="How many, newest first."),
) -> None:
    """Recent lineage records."""
    for record in _store(url).lineage.list(limit=limit):
        typer.echo(json.dumps(record, sort_keys=True, default=str))


@app.command()
def demo(
    employees: int = typer.Option(10000, help="Employees in the synthetic world."),
    seed: int = typer.Option(7, help="Seed of the synthetic world."),
    workdir: str = typer.Option(".demo", help="Where the demo keeps Airflow and the store."),
) -> None:
    """Run the main job end to end on the embedded default and print a summary."""
    from siapp_siasn.demo import run_demo

    run_demo(employees=employees, seed=seed, workdir=workdir)
