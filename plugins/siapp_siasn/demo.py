"""`make demo`: the main job end to end on the embedded default, then a readable summary; and
`make ui`: the same embedded default served in Airflow's UI until Ctrl-C (:func:`run_ui`).

Sandbox on loopback (subprocess), SQLite store, Airflow metadata on SQLite under the work
directory, `siasn_asn_daily` run with `airflow dags test`, the sandbox clock moved a day, the DAG
run again (incremental), and the store's summary printed. Airflow's own output goes to log files
under the work directory; the console shows progress and the summary.
"""

from __future__ import annotations

import shutil
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from siapp_siasn.airflow_env import LOCAL_STORES, AirflowEnv, sandbox_connections
from siapp_siasn.flows.context import LOCAL_TZ

console = Console()


def _step(message: str) -> float:
    console.print(f"[bold cyan]▶[/] {message}")
    return time.monotonic()


def _done(started: float, note: str = "") -> None:
    console.print(f"  [green]done[/] in {time.monotonic() - started:.1f} s {note}")


def run_demo(
    employees: int = 10000,
    seed: int = 7,
    workdir: str = ".demo",
    days: int = 1,
    usulan_days: int = 8,
) -> None:
    from siapp_sandbox.testing import run_sandbox
    from siapp_siasn.store import Store
    from siapp_siasn.summary import collect_summary, render_reconciliation, render_summary

    work = Path(workdir).resolve()
    if work.exists():
        shutil.rmtree(work)  # a demo starts from nothing, so its figures mean something
    logs = work / "logs"
    logs.mkdir(parents=True)
    store_url = f"sqlite:///{work / 'store.sqlite'}"

    t = _step(f"starting the sandbox: {employees:,} employees, seed {seed}")
    with run_sandbox(employees=employees, seed=seed) as sandbox:
        _done(t, f"(SIASN {sandbox.siasn_url}, SIAPP NV {sandbox.siapp_url})")
        first_day = date.fromisoformat(sandbox.clock()["date"])
        truth = sandbox.truth("asn", min_gol=42)
        console.print(
            f"  the sandbox holds {truth['count']:,} ASN of golongan IV/b and above today"
        )

        env = AirflowEnv(
            work / "airflow", sandbox_connections(sandbox.siasn_url, sandbox.siapp_url, store_url)
        )
        t = _step("migrating the Airflow metadata database (SQLite) and the hub's store")
        env.migrate(log_path=logs / "airflow-db-migrate.log")
        Store(store_url).migrate()
        _done(t)

        t = _step("run 1: siasn_asn_daily (full sweep: reference data, every IV/b+ employee)")
        _run_dag(env, logs / "run1.log")
        _done(t, f"[dim](log {logs / 'run1.log'})[/]")

        after = sandbox.advance(days)
        console.print(f"  sandbox clock advanced {days} days to {after['date']}")
        sandbox.reset_stats()
        t = _step("run 2: siasn_asn_daily (incremental: only what changed since the watermark)")
        _run_dag(env, logs / "run2.log")
        _done(t, f"[dim](log {logs / 'run2.log'})[/]")
        run2_requests = _count_employee_requests(sandbox.stats())

        # SIASN will not apply some decrees it accepts (the cross-check must find exactly those)
        sandbox.set_faults({"keppres_withhold_rate": DEMO_KEPPRES_WITHHOLD_RATE})
        console.print(
            f"[bold cyan]▶[/] proposal traffic: {usulan_days} simulated days, one usulan_sync"
            " run a day (collect → push to SIASN → status back → push to SIAPP NV)"
        )
        for day in range(1, usulan_days + 1):
            t = time.monotonic()
            log = logs / f"usulan-day{day}.log"
            if day > 1:
                sandbox.advance(1)
            code = env.dags_test("usulan_sync", log_path=log)
            if code != 0:
                console.print(f"[red]usulan_sync failed (exit {code}); see {log}[/]")
                raise SystemExit(code)
            received = len(sandbox.received("siapp.usulan"))
            console.print(
                f"  day {day} ({sandbox.clock()['date']}): done in {time.monotonic() - t:.1f} s,"
                f" {received} usulan versions received by SIASN so far"
            )

        recon = _reconcile(env, sandbox, logs)
        summary = collect_summary(Store(store_url))
        # the period spans both clocks: the hub's rows carry the real time, the lifecycle
        # stamps the sandbox's calendar (in production they are one clock)
        last_day = max(date.fromisoformat(sandbox.clock()["date"]), datetime.now(LOCAL_TZ).date())
    render_summary(summary)
    render_reconciliation(summary, recon)
    console.print(
        f"run 2 made {run2_requests:,} employee requests (4 per changed employee). "
        + (
            "Inspect: siapp-siasn store stats --json (from this folder it reads this store)"
            if work == (Path.cwd() / LOCAL_STORES["make demo"]).parent
            else f"Inspect: siapp-siasn store stats --url {store_url} --json"
        )
    )
    t = _step(f"monitoring & evaluation report of the simulated period ({first_day} to {last_day})")
    html = _monitoring_report(store_url, first_day, last_day, work / "reports")
    _done(t)
    console.print(f"Monitoring & evaluation report: {html}")


def _monitoring_report(store_url: str, first_day: date, last_day: date, out_dir: Path) -> Path:
    """The monitoring & evaluation report of the demo's period (pks_monitoring_report's call)."""
    from siapp_siasn.flows.monitoring_report import build_monitoring_report
    from siapp_siasn.store import Store

    with Store(store_url) as store:
        return build_monitoring_report(store, first_day, last_day, out_dir).html


#: documents the demo damages after the traffic, per fault (one of each category at least)
DEMO_DOCUMENT_FAULTS = {
    "missing_at_siasn": 2,
    "corrupt_at_siasn": 1,
    "resized_at_siasn": 1,
    "orphan_at_siasn": 1,
    "missing_at_siapp": 1,
    "source_missing": 1,
}
DEMO_KEPPRES_WITHHOLD_RATE = 0.3


def _reconcile(env: AirflowEnv, sandbox: Any, logs: Path) -> dict[str, Any]:
    """dokumen_reconciliation twice around injected document faults: found, repaired, clean."""
    sandbox.set_faults(
        {
            "keppres_withhold_rate": DEMO_KEPPRES_WITHHOLD_RATE,
            "document_faults": DEMO_DOCUMENT_FAULTS,
        }
    )
    injected = sandbox.truth("dokumen-faults") or {}
    console.print(
        f"[bold cyan]▶[/] dokumen_reconciliation: {sum(DEMO_DOCUMENT_FAULTS.values())} documents"
        " damaged in the sandbox; run 1 finds and repairs, run 2 checks"
    )
    # the sandbox's SIASN applies a decree the day it accepts it: every delivered one is due
    # an orphan at SIASN and a document gone at its source cannot be repaired: the demo injects
    # them on purpose, so it allows exactly those (a real run fails on the first, by default)
    unrepairable = DEMO_DOCUMENT_FAULTS["orphan_at_siasn"] + DEMO_DOCUMENT_FAULTS["source_missing"]
    conf = {
        "keppres_min_age_days": 0,
        "report_dir": str(logs.parent / "reports"),
        "max_unrepairable": unrepairable,
    }
    for run in (1, 2):
        t = time.monotonic()
        log = logs / f"reconciliation-{run}.log"
        code = env.dags_test("dokumen_reconciliation", conf=conf, log_path=log)
        if code != 0:
            console.print(f"[red]dokumen_reconciliation failed (exit {code}); see {log}[/]")
            raise SystemExit(code)
        console.print(f"  run {run}: done in {time.monotonic() - t:.1f} s [dim](log {log})[/]")
        if run == 1:
            sandbox.advance(1)
            code = env.dags_test("usulan_sync", log_path=logs / "usulan-after-repair.log")
            if code != 0:
                raise SystemExit(code)
    withheld = sandbox.truth("keppres-withheld") or {}
    return {"injected": injected, "withheld": withheld.get("count", 0)}


def _run_dag(env: AirflowEnv, log_path: Path) -> None:
    code = env.dags_test("siasn_asn_daily", log_path=log_path)  # the main job
    if code != 0:
        console.print(f"[red]the DAG run failed (exit {code}); see {log_path}[/]")
        raise SystemExit(code)


def _count_employee_requests(stats: dict) -> int:
    routes = stats.get("routes", {}).get("siasn", {})
    return sum(v.get("count", 0) for k, v in routes.items() if "/pns/" in k)


# ---------------------------------------------------------------------------------- make ui


def hub_dags() -> list[str]:
    """The hub's DAG ids: one DAG per file of dags/, named after it (`make ui` waits until the
    DAG processor has parsed them all)."""
    from siapp_siasn.airflow_env import PROJECT_ROOT

    return sorted(p.stem for p in (PROJECT_ROOT / "dags").glob("*.py") if p.stem != "__init__")


UI_USER = "admin"
#: What `make ui` runs: each its own process group, stopped together on Ctrl-C.
UI_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_taken(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _ui_secrets(home: Path) -> dict[str, str]:
    """The local install's secrets, made once and kept (restarts keep logins and connections)."""
    import json
    import secrets

    from cryptography.fernet import Fernet

    path = home / "ui-secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    values = {
        "password": secrets.token_urlsafe(12),
        "fernet_key": Fernet.generate_key().decode(),
        "jwt_secret": secrets.token_urlsafe(32),
        "secret_key": secrets.token_urlsafe(32),
    }
    home.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


def ui_settings(home: Path, port: int) -> dict[str, str]:
    """Airflow settings of `make ui`: LocalExecutor on the SQLite metadata database, the API
    server on loopback, one admin login, the connection form's Test button enabled, and the
    hub's DAGs unpaused when first parsed."""
    import json

    secrets_ = _ui_secrets(home)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({UI_USER: secrets_["password"]}))
    base_url = f"http://127.0.0.1:{port}"
    return {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # task processes at once: enough for the three DAGs, light on a laptop
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__FERNET_KEY": secrets_["fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{UI_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__SECRET_KEY": secrets_["secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets_["jwt_secret"],
        # the log servers of the scheduler and the triggerer: free ports, not the fixed defaults
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
    }


def _stop_group(proc: Any, grace_s: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``grace_s``, also any descendant
    that left the group."""
    import contextlib
    import os
    import signal
    import subprocess

    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        family = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    for child in family:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _api_answers(base_url: str, procs: dict[str, Any]) -> bool:
    import httpx

    if procs["api-server"].poll() is not None:
        raise SystemExit("Airflow's api-server exited while starting: see its log under logs/")
    try:
        return httpx.get(f"{base_url}/api/v2/monitor/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _ui_ready(base_url: str, password: str, procs: dict[str, Any]) -> bool:
    """Every component healthy and the hub's DAGs parsed (raises when a component exited)."""
    import httpx

    dead = [name for name, p in procs.items() if p.poll() is not None]
    if dead:
        raise SystemExit(f"{', '.join(dead)} exited while starting: see its log under logs/")
    try:
        health = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=5).json()
        if not all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        ):
            return False
        token = httpx.post(
            f"{base_url}/auth/token", json={"username": UI_USER, "password": password}, timeout=5
        ).json()["access_token"]
        dags = httpx.get(
            f"{base_url}/api/v2/dags",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    return set(hub_dags()) <= {d["dag_id"] for d in dags.get("dags", [])}


def run_ui(
    port: int = 8080,
    employees: int = 3000,
    seed: int = 1,
    workdir: str = ".airflow",
    fresh: bool = False,
    startup_timeout_s: float = 300.0,
) -> None:
    """`make ui`: the sandbox, the store, and Airflow (api-server, scheduler, dag-processor,
    triggerer) on the embedded defaults, until Ctrl-C; everything started is stopped then."""
    import contextlib
    import signal

    from siapp_sandbox.testing import run_sandbox
    from siapp_siasn.airflow_env import SANDBOX_CREDENTIALS
    from siapp_siasn.store import Store

    if port == 0:
        port = _free_port()
    elif _port_taken(port):
        raise SystemExit(f"port {port} is in use: choose another, e.g. make ui UI_PORT=8090")
    work = Path(workdir).resolve()
    if fresh and work.exists():
        shutil.rmtree(work)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    store_url = f"sqlite:///{work / 'store.sqlite'}"
    base_url = f"http://127.0.0.1:{port}"

    # SIGTERM (a test, a service manager) stops like Ctrl-C
    signal.signal(signal.SIGTERM, _interrupt)
    procs: dict[str, Any] = {}
    try:
        with contextlib.ExitStack() as stack:
            t = _step(f"starting the sandbox: {employees:,} employees, seed {seed}")
            sandbox = stack.enter_context(run_sandbox(employees=employees, seed=seed))
            # LIFO: Airflow stops before the sandbox it talks to
            stack.callback(_stop_all, procs)
            _done(t)
            creds = SANDBOX_CREDENTIALS
            console.print(
                f"  SIASN sandbox: {sandbox.siasn_url} (gateway client"
                f" {'/'.join(creds['siasn_client'])}, SSO user {'/'.join(creds['sso_user'])},"
                f" SSO client {creds['sso_client_id']})",
                soft_wrap=True,
            )
            console.print(
                f"  SIAPP NV sandbox: {sandbox.siapp_url} (client"
                f" {'/'.join(creds['siapp_client'])})",
                soft_wrap=True,
            )
            home = work / "airflow"
            # the connections go into the metadata database, not AIRFLOW_CONN_* variables:
            # the UI lists, edits and tests only those (a variable would shadow any edit)
            env = AirflowEnv(home, settings=ui_settings(home, port))
            connections = sandbox_connections(sandbox.siasn_url, sandbox.siapp_url, store_url)
            t = _step("migrating the Airflow metadata database (SQLite) and the hub's store")
            migrate_log = logs / "airflow-db-migrate.log"
            if env.run("db", "migrate", log_path=migrate_log) != 0:
                raise SystemExit(f"airflow db migrate failed; see {migrate_log}")
            _import_connections(env, connections, logs / "airflow-connections.log")
            Store(store_url).migrate()
            _done(t, f"[dim](store {work / 'store.sqlite'})[/]")
            console.print(
                "  connections " + ", ".join(connections) + " point at this sandbox and store",
                soft_wrap=True,
            )

            t = _step("starting Airflow: " + ", ".join(UI_COMPONENTS))
            deadline = time.monotonic() + startup_timeout_s
            procs["api-server"] = env.spawn(
                "api-server", "--workers", "1", log_path=logs / "api-server.log"
            )
            # the API server first: tasks report to it (its Task Execution API) from the start
            while not _api_answers(base_url, procs):
                if time.monotonic() > deadline:
                    raise SystemExit(f"Airflow's api-server did not start; see {logs}")
                time.sleep(1)
            for name in UI_COMPONENTS[1:]:
                procs[name] = env.spawn(name, log_path=logs / f"{name}.log")
            password = _ui_secrets(home)["password"]
            while not _ui_ready(base_url, password, procs):
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"Airflow did not come up in {startup_timeout_s:.0f} s; see {logs}"
                    )
                time.sleep(2)
            _done(t, f"[dim](logs {logs})[/]")
            console.print(
                f"[bold green]Airflow UI: {base_url}[/]  login: {UI_USER} / {password}",
                soft_wrap=True,
            )
            console.print(
                "  DAGs: " + ", ".join(hub_dags()) + " (unpaused). Ctrl-C stops everything.",
                soft_wrap=True,
            )
            while True:
                dead = [name for name, p in procs.items() if p.poll() is not None]
                if dead:
                    raise SystemExit(f"{', '.join(dead)} exited; see {logs}")
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    console.print("stopped: Airflow and the sandbox")


def _import_connections(
    env: AirflowEnv, connections: dict[str, dict[str, Any]], log_path: Path
) -> None:
    """Write the connections into the metadata database (`airflow connections import
    --overwrite`): each start points them at its own sandbox's ports."""
    import json

    file = env.home / "connections.json"
    file.touch(mode=0o600)
    try:
        file.write_text(
            json.dumps(
                {
                    conn_id: {
                        **{k: v for k, v in conn.items() if k != "extra"},
                        "extra_dejson": conn.get("extra") or {},
                    }
                    for conn_id, conn in connections.items()
                }
            )
        )
        if env.run("connections", "import", "--overwrite", str(file), log_path=log_path) != 0:
            raise SystemExit(f"airflow connections import failed; see {log_path}")
    finally:
        file.unlink(missing_ok=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _stop_all(procs: dict[str, Any]) -> None:
    console.print("stopping…")
    # the API server last: the others report to it until they stop
    for proc in reversed(list(procs.values())):
        _stop_group(proc)
