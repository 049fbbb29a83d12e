"""The `siapp-siasn` command: demo, ui, sandbox, store, lineage, select, reconcile, monitor,
report, nik-token, bench.

Sub-commands import their machinery lazily so `--help` stays fast. `sandbox` and `bench` are
development tools outside the runtime package (the `siapp-sandbox` distribution and the
checkout's `bench/`): they are resolved when invoked, and a production install that lacks them
says what to install instead of failing at import.

Mistakes a user can make (no store, a store not migrated, a database or API that cannot be
reached, a connection that is not valid JSON or misses a field) end in one line on stderr saying
what to do, and exit code 1, never a traceback. The store commands say which store they read.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator
from pathlib import Path
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


class UserError(Exception):
    """A mistake the user can fix: printed as one line with what to do, exit code 1."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(1)


@contextlib.contextmanager
def user_errors(what: str = "") -> Iterator[None]:
    """Turn the errors a user can cause into one line and exit code 1 (no traceback)."""
    from pydantic import ValidationError

    from siapp_siasn.clients.errors import ApiError
    from siapp_siasn.store import StoreError

    prefix = f"{what}: " if what else ""
    try:
        yield
    except UserError as exc:
        raise _fail(f"{prefix}{exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'connection'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise _fail(f"{prefix}invalid connection: {problems}") from None
    except ApiError as exc:
        raise _fail(f"{prefix}{exc} (is the host right and reachable from here?)") from None
    except StoreError as exc:
        raise _fail(f"{prefix}{exc}") from None
    except ValueError as exc:  # connections and URLs that cannot be used
        raise _fail(f"{prefix}{exc}") from None


def _local_store() -> tuple[Path, str] | None:
    """The newest store of `make demo` / `make ui` in this checkout, if any."""
    from siapp_siasn.airflow_env import LOCAL_STORES

    found = [(path.resolve(), name) for name, path in LOCAL_STORES.items() if path.exists()]
    return max(found, key=lambda f: f[0].stat().st_mtime) if found else None


def _resolve_store(url: str | None, conn_id: str | None = None) -> tuple[Any, str, bytes | None]:
    """(SQLAlchemy URL, where it came from, hash key) of the store a command reads.

    --url, else the connection ``siapp_siasn_store`` (as the DAGs read it), else the store of
    `make demo` / `make ui` in this checkout, else the default SQLite file."""
    import os

    from siapp_siasn.hooks.store import StoreHook
    from siapp_siasn.store.config import STORE_PATH_ENV, default_sqlite_path
    from siapp_siasn.store.engine import normalize_url

    if url:
        return normalize_url(url), "--url", None
    hook = StoreHook(conn_id) if conn_id else StoreHook()
    if hook.get_connection_or_none() is not None:
        return hook.sqlalchemy_url, hook.source, hook.get_hash_key()
    if conn_id:  # named on purpose: never fall back to another store
        raise UserError(f"connection {conn_id} is not defined (--conn-id)")
    if os.environ.get(STORE_PATH_ENV):
        return normalize_url(default_sqlite_path()), f"${STORE_PATH_ENV}", hook.get_hash_key()
    local = _local_store()
    if local is not None:
        path, made_by = local
        return normalize_url(path), f"the store of `{made_by}` in this checkout", None
    # the default SQLite file (said here: the hook's own log line would go to stdout)
    return normalize_url(default_sqlite_path()), hook.source, hook.get_hash_key()


def _check_schema(store: Store, shown: str, url_option: str) -> None:
    """A one-line error unless the store's schema is the newest one."""
    from siapp_siasn.store.migrate import head_revision

    revision = store.revision()
    if revision != head_revision():
        state = "has no tables" if revision is None else f"is at revision {revision}"
        raise UserError(
            f"store {shown} {state}, not the newest ({head_revision()}): "
            f"run `siapp-siasn store migrate{url_option}`"
        )


def _open_store(url: str | None, *, migrated: bool = True, conn_id: str | None = None) -> Store:
    """The store a command reads, named on stderr; one-line errors for what a user can fix."""
    import logging

    from siapp_siasn.store import Store, StoreError

    if migrated:
        # Airflow's logging writes to stdout, where --json goes: the schema check's Alembic
        # chatter and the hook's "connection not defined" (said below anyway) stay out of it
        for name in ("alembic", "airflow.task.hooks.siapp_siasn"):
            logging.getLogger(name).setLevel(logging.WARNING)
    with user_errors():
        target, source, hash_key = _resolve_store(url, conn_id)
        shown = target.render_as_string(hide_password=True)
        typer.echo(f"store: {shown} ({source})", err=True)
        url_option = f" --url {shown}" if url else ""
        if target.get_backend_name() == "sqlite" and migrated:
            path = Path(target.database or "")
            if not path.exists():
                raise UserError(
                    f"no store at {path}: run `make demo` (or `make ui`), or create it with "
                    f"`siapp-siasn store migrate{url_option}`; --url chooses another store"
                )
        store = Store(target, hash_key=hash_key)
        try:
            if migrated:
                _check_schema(store, shown, url_option)
            else:
                store.revision()  # reach the database before anything else
        except StoreError as exc:
            store.close()
            if "OperationalError" in str(exc) and target.get_backend_name() != "sqlite":
                where = f"{target.host or 'localhost'}:{target.port or 5432}"
                raise UserError(
                    f"cannot reach the store database at {where} ({exc}): is it running, and "
                    "are host, port, login and password of the connection right?"
                ) from None
            raise
        except UserError:
            store.close()
            raise
    return store


def _store(url: str | None) -> Store:
    return _open_store(url)


@store_app.command("migrate")
def store_migrate(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
    conn_id: str | None = typer.Option(
        None, help="Airflow connection of the store's owner (instead of siapp_siasn_store)."
    ),
) -> None:
    """Create or upgrade the hub's tables (Alembic), as the store's owner."""
    store = _open_store(url, migrated=False, conn_id=conn_id)
    with user_errors():
        store.migrate()
    typer.echo(f"migrated {store.dialect} store")


@store_app.command("grant")
def store_grant(
    runtime_role: str = typer.Option(..., help="The DAGs' login role: DML only, no DDL."),
    readonly_role: str | None = typer.Option(
        None, help="SIAPP NV's role (e.g. siapp_nv_reader): SELECT on the consumer views only."
    ),
    create_roles: bool = typer.Option(
        False,
        help="Create missing roles (needs CREATEROLE); LOGIN with the password in "
        "$SIAPP_SIASN_RUNTIME_PASSWORD / $SIAPP_SIASN_READONLY_PASSWORD, else NOLOGIN.",
    ),
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL of the store AS ITS OWNER; default: connection siapp_siasn_store"
    ),
    conn_id: str | None = typer.Option(
        None, help="Airflow connection of the store's owner (instead of siapp_siasn_store)."
    ),
) -> None:
    """PostgreSQL least privilege: run as the owner after every `store migrate` (idempotent)."""
    import os

    from siapp_siasn.store.roles import grant_roles

    store = _open_store(url, conn_id=conn_id)
    passwords = {
        role: os.environ[env]
        for role, env in (
            (runtime_role, "SIAPP_SIASN_RUNTIME_PASSWORD"),
            (readonly_role, "SIAPP_SIASN_READONLY_PASSWORD"),
        )
        if role and os.environ.get(env)
    }
    try:
        with user_errors():
            report = grant_roles(
                store.engine,
                runtime_role,
                readonly_role,
                create_roles=create_roles,
                passwords=passwords,
            )
    finally:
        store.close()
    typer.echo(report.summary())


@store_app.command("stats")
def store_stats(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rows per table, changes, quarantine and lineage counts."""
    from siapp_siasn.summary import collect_summary, render_summary

    store = _store(url)
    with user_errors():
        summary = collect_summary(store)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True, default=str))
        return
    render_summary(summary)


@store_app.command("rekey")
def store_rekey(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
    count_only: bool = typer.Option(
        False, "--count", help="Only count the rows per key id (nothing is written)."
    ),
) -> None:
    """Pseudonymise NIKs stored in clear (once, after upgrading); print rows per key id."""
    store = _store(url)
    try:
        with user_errors("store rekey"):
            if not count_only:
                done = store.asn.pseudonymise_stored()
                typer.echo("pseudonymised: " + ", ".join(f"{k}={v}" for k, v in done.items()))
            previous = store.nik_key_previous
            if previous is None and url is None:
                # the CLI opens the store with the connection's current key only
                from siapp_siasn.hooks.store import StoreHook
                from siapp_siasn.models.nik import NikKey

                secret = StoreHook().get_hash_key_previous()
                previous = NikKey(secret) if secret else None
            names = {
                k.key_id: label
                for k, label in ((previous, "previous"), (store.nik_key, "current"))
                if k is not None
            }
            for table, counts in store.asn.count_by_key_id().items():
                shown = ", ".join(
                    f"{names.get(k, k if k == 'clear' else f'unknown key {k}')}={n}"
                    for k, n in sorted(counts.items())
                )
                typer.echo(f"{table}: {shown or 'no NIK'}")
    finally:
        store.close()


@app.command("nik-token")
def nik_token() -> None:
    """Print the stored token of each NIK read from stdin, one a line (never from argv: shell
    history keeps arguments). Uses the store connection's hash_key (or $SIAPP_SIASN_HASH_KEY)."""
    import sys

    from siapp_siasn.hooks.store import StoreHook
    from siapp_siasn.models.nik import NikKey

    with user_errors("nik-token"):
        secret = StoreHook().get_hash_key()
        if not secret:
            raise UserError(
                "no hash key: set extra hash_key of connection siapp_siasn_store "
                "or SIAPP_SIASN_HASH_KEY"
            )
        key = NikKey(secret)
    for line in sys.stdin:
        # one output line per input line, so the tokens can be pasted next to the input
        typer.echo(key.token(line) if line.strip() else "")


@lineage_app.command("list")
def lineage_list(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
    limit: int = typer.Option(20, help="How many, newest first."),
) -> None:
    """Recent lineage records."""
    store = _store(url)
    with user_errors():
        records = store.lineage.list(limit=limit)
    for record in records:
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
def ui(
    port: int = typer.Option(8080, help="Loopback port of the Airflow UI (0: any free port)."),
    employees: int = typer.Option(3000, help="Employees in the sandbox's synthetic world."),
    seed: int = typer.Option(1, help="Seed of the synthetic world."),
    workdir: str = typer.Option(".airflow", help="Airflow home, logs and the store."),
    fresh: bool = typer.Option(False, "--fresh", help="Start from nothing (deletes workdir)."),
) -> None:
    """Airflow's UI on the embedded defaults: the sandbox, a SQLite store and Airflow (api-server,
    scheduler, dag-processor, triggerer) with the hub's connections and DAGs, until Ctrl-C."""
    import_dev_tool("siapp_sandbox.testing", "ui", _SANDBOX_HINT)
    from siapp_siasn.demo import run_ui

    run_ui(port=port, employees=employees, seed=seed, workdir=workdir, fresh=fresh)


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
        with user_errors("reconcile"), Progress(console=console, transient=True) as bar:
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


select_app = typer.Typer(
    no_args_is_help=True,
    help="Selections: employees a re-pull reads by id (the NIPs stay in the store).",
)
app.add_typer(select_app, name="select")


@select_app.command("create")
def select_create(
    file: Path = typer.Option(
        ...,
        "--file",
        exists=True,
        dir_okay=False,
        readable=True,
        help="NIPs: one per line (commas, blanks, # comments allowed).",
    ),
    purpose: str = typer.Option(..., help="Why these employees are re-pulled (no NIP/NIK in it)."),
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
) -> None:
    """Store a selection of NIPs; print its id for siasn_asn_daily's `selection` param."""
    from siapp_siasn.store.selection import read_nip_list

    store = _store(url)
    try:
        with user_errors("select create"):  # a SelectionError is a ValueError: one line
            selection = store.selection.create(
                read_nip_list(file.read_text(encoding="utf-8-sig")), purpose
            )
    finally:
        store.close()
    typer.echo(selection.id)  # stdout: the id alone, for $(...)
    typer.echo(
        f"{selection.count} employees; trigger siasn_asn_daily with conf "
        f'{{"selection": "{selection.id}"}}',
        err=True,
    )


@select_app.command("list")
def select_list(
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default: connection siapp_siasn_store"
    ),
    limit: int = typer.Option(20, help="How many, newest first."),
) -> None:
    """Recent selections: id, created, count, purpose (never the NIPs)."""
    store = _store(url)
    try:
        with user_errors():
            for s in store.selection.list(limit=limit):
                typer.echo(f"{s.id}  {s.created_at:%Y-%m-%d %H:%M}Z  {s.count:>6}  {s.purpose}")
    finally:
        store.close()


@app.command()
def monitor(
    once: bool = typer.Option(False, "--once", help="Probe both APIs once and exit."),
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL of the store; default: connection siapp_siasn_store"
    ),
    notice_dir: str | None = typer.Option(None, help="Folder of the notices for the other party."),
    outage_after_s: float = typer.Option(0.0, help="Seconds an outage may last before it fails."),
    repeats: int = typer.Option(3, help="Calls per read endpoint (latency p50/p95)."),
) -> None:
    """API contract and health monitor (the `api_contract_monitor` DAG's probe), once.

    The APIs come from the connections `siasn_api` and `siapp_api` (AIRFLOW_CONN_* variables).
    """
    import time

    from rich.console import Console
    from rich.table import Table

    from siapp_siasn.flows.api_monitor import MonitorParams, run_monitor_once
    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.hooks import SiappHook, SiasnHook

    if not once:
        raise _fail(
            "monitor: only --once here; the hourly schedule is the DAG api_contract_monitor"
        )
    store = _store(url)
    try:
        with user_errors("monitor"):
            record = run_monitor_once(
                SiasnHook().get_config(),
                SiappHook().get_config(),
                store,
                MonitorParams(
                    repeats=repeats, outage_after_s=outage_after_s, notice_dir=notice_dir
                ),
                RunContext(dag_id="cli", run_id=f"monitor-{time.time_ns()}", task_id="monitor"),
            )
    finally:
        store.close()
    console = Console()
    table = Table(title="API monitor")
    for col in ("system", "endpoint", "status", "p50 ms", "p95 ms"):
        table.add_column(col)
    for system, endpoints in record.extra["endpoints"].items():
        for name, e in endpoints.items():
            status = e.get("skipped") or str(e["status"])
            table.add_row(system, name, status, str(e["p50_ms"]), str(e["p95_ms"]))
    console.print(table)
    for f in record.extra["findings"]:
        console.print(f"{f['severity']}: {f['system']} {f['endpoint']} {f['code']} {f['subject']}")
    for path in record.extra["notices"]:
        console.print(f"notice: {path}")
    if record.failures:
        console.print("[red]" + "; ".join(record.failures))
        raise typer.Exit(1)


@app.command()
def report(
    period_from: str = typer.Option(
        ..., "--from", help="First day of the period (YYYY-MM-DD, Asia/Jakarta)."
    ),
    period_to: str = typer.Option(..., "--to", help="Last day of the period, included."),
    out_dir: str = typer.Option(
        "reports", "--out", help="Folder under which the period's folder is written."
    ),
    url: str | None = typer.Option(
        None, help="SQLAlchemy URL of the store; default: connection siapp_siasn_store"
    ),
) -> None:
    """The monitoring & evaluation report of a period, as the DAG `pks_monitoring_report`
    writes it: an HTML page with charts and a CSV per table (reads the store only)."""
    from siapp_siasn.flows.monitoring_report import build_monitoring_report

    store = _store(url)
    try:
        with user_errors("report"):
            result = build_monitoring_report(store, period_from, period_to, Path(out_dir))
    finally:
        store.close()
    if result.empty:
        typer.echo("no activity recorded in this period: the report says so")
    typer.echo(", ".join(f"{k} {v}" for k, v in result.record.counts.as_dict().items()))
    typer.echo(f"report: {result.html}")
