"""The `siapp-siasn` command: demo, sandbox, store, lineage, bench.

Sub-commands import their machinery lazily so `--help` stays fast. `sandbox` and `bench` are
development tools outside the runtime package (the `siapp-sandbox` distribution and the
checkout's `bench/`): they are resolved when invoked, and a production install that lacks them
says what to install instead of failing at import.
"""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from siapp_siasn.store import Store

_SANDBOX_HINT = (
    "needs the sandbox, a development tool that is not part of the runtime package: "
    "in a checkout of the repository run `uv sync` (or `make sync`), which installs the "
    "`siapp-sandbox` workspace member"
)
_BENCH_HINT = (
    "needs a development checkout of the repository (bench/ is not part of the runtime "
    "package): run `uv sync` there, then `make bench` (or `uv sync --group bench`)"
)


def import_dev_tool(module: str, command: str, hint: str) -> ModuleType:
    """Import a development-only module for `command`, or exit 1 saying what to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        typer.echo(f"Error: `siapp-siasn {command}` {hint} (missing module {exc.name!r})", err=True)
        raise typer.Exit(1) from exc


class _DevToolCommand(TyperCommand):
    """A sub-command listed in `--help` whose real command is imported only when invoked."""

    def __init__(self, name: str, target: str, help_text: str, hint: str) -> None:
        super().__init__(
            name,
            help=help_text,
            add_help_option=False,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        )
        self._target = target
        self._hint = hint

    def _load(self) -> TyperGroup:
        module, attr = self._target.split(":")
        tool = import_dev_tool(module, str(self.name), self._hint)
        return typer.main.get_group(getattr(tool, attr))

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: typer.Context | None = None,
        **extra: Any,
    ) -> typer.Context:
        # The group invokes `ctx.command`, so the real command handles the arguments and --help.
        return self._load().make_context(info_name, args, parent=parent, **extra)


_DEV_TOOLS: dict[str, TyperCommand] = {
    "sandbox": _DevToolCommand(
        "sandbox",
        "siapp_sandbox.cli:sandbox_app",
        "Local emulators of SIASN and SIAPP NV (development tool).",
        _SANDBOX_HINT,
    ),
    "bench": _DevToolCommand(
        "bench",
        "bench.cli:bench_app",
        "Benchmarks against peers (dlt, naive HttpHook; development tool).",
        _BENCH_HINT,
    ),
}


class _HubGroup(TyperGroup):
    """The top-level group: its own commands plus the development tools, loaded lazily."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *_DEV_TOOLS]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        return super().get_command(ctx, cmd_name) or _DEV_TOOLS.get(cmd_name)


app = typer.Typer(cls=_HubGroup, no_args_is_help=True, help="SIAPP NV <-> SIASN integration hub")
store_app = typer.Typer(no_args_is_help=True, help="The hub's own database.")
lineage_app = typer.Typer(no_args_is_help=True, help="Lineage records (no personal data).")
app.add_typer(store_app, name="store")
app.add_typer(lineage_app, name="lineage")


@app.command()
def version() -> None:
    """Print the hub version."""
    from siapp_siasn import __version__

    typer.echo(__version__)


def _store(url: str | None) -> Store:
    if url:
        from siapp_siasn.store import Store

        return Store(url)
    from siapp_siasn.hooks.store import StoreHook  # the connection, as the DAGs read it

    return StoreHook().get_store()


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
    import_dev_tool("siapp_sandbox.testing", "demo", _SANDBOX_HINT)
    from siapp_siasn.demo import run_demo

    run_demo(employees=employees, seed=seed, workdir=workdir)


@app.command()
def reconcile(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL of the store; default: connection siapp_siasn_store"
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Compare and report only: store nothing, repair nothing."
    ),
    repair_limit: int = typer.Option(50, help="Documents re-transferred at most."),
    report_dir: str | None = typer.Option(None, help="Folder of the CSV and HTML reports."),
) -> None:
    """Document reconciliation of SIAPP NV, SIASN and the ledger (the DAG's `reconcile` task).

    The APIs come from the connections `siasn_api` and `siapp_api` (AIRFLOW_CONN_* variables).
    """
    import asyncio
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.flows.reconciliation_run import ReconcileParams
    from siapp_siasn.flows.reconciliation_run import reconcile as run_reconcile
    from siapp_siasn.hooks import SiappHook, SiasnHook

    store = _store(url)
    params = ReconcileParams(
        repair_limit=repair_limit,
        dry_run=dry_run,
        report_dir=Path(report_dir) if report_dir else None,
    )
    console = Console()
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("reconciling documents", total=None)
            run = RunContext(
                task_id="reconcile",
                progress=lambda done, total: bar.update(task, completed=done, total=total or None),
            )
            record = asyncio.run(
                run_reconcile(
                    run, SiasnHook().get_client(), SiappHook().get_client(), store, params
                )
            )
    finally:
        store.close()
    payload = record.to_xcom()
    extra = payload.get("extra") or {}
    categories = extra.get("categories") or {}
    table = Table(title="documents per category" + (" (dry run)" if dry_run else ""))
    table.add_column("category")
    table.add_column("documents", justify="right")
    for name, count in sorted(categories.items()):
        table.add_row(name, str(count))
    console.print(table)
    for kind, path in (extra.get("report") or {}).items():
        console.print(f"report {kind}: {path}")
    if record.failures:
        console.print("[red]" + "; ".join(record.failures))
        raise typer.Exit(1)
