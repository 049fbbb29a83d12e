"""`make demo`: the main job end to end on the embedded default, then a readable summary.

Sandbox on loopback (subprocess), SQLite store, Airflow metadata on SQLite under the work
directory, `siasn_asn_daily` run with `airflow dags test`, the sandbox clock moved a day, the DAG
run again (incremental), and the store's summary printed. Airflow's own output goes to log files
under the work directory; the console shows progress and the summary.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from siapp_siasn.airflow_env import AirflowEnv, sandbox_connections

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
    render_summary(summary)
    render_reconciliation(summary, recon)
    console.print(
        f"run 2 made {run2_requests:,} employee requests (4 per changed employee). "
        f"Inspect: siapp-siasn store stats --url {store_url} --json"
    )


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
    conf = {"keppres_min_age_days": 0, "report_dir": str(logs.parent / "reports")}
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
