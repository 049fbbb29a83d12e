"""The peer benchmark: our pull, the DAG under Airflow, dlt and a naive HttpHook loop, side by
side against ONE sandbox (same seed, world, latency and server rate limit), in one run.

Run by `siapp-siasn bench` (options in `bench/cli.py`) or `make bench`.
Order of a run:

1. machine facts, versions and load average; a PostgreSQL server (durable settings) when a
   step needs one; the sandbox with `{"latency_ms": L, "rate_limit_rps": R}`;
2. the ground truth: the IV/b+ NIP set (`/_sandbox/truth/asn?min_gol=42`) and each NIP's typed
   record (golongan, TMT golongan, kedudukan, numbers of spouses, children and parents);
3. the sandbox's own ceiling (`siapp_sandbox.loadtest`, same concurrency): with the limit in
   place, and with the latency only (the fault settings are restored afterwards);
4. each peer in its own child process (wall, CPU and peak RSS from `wait4`), the sandbox's
   request counters reset before and read after; the rows each loaded are checked against the
   truth;
5. parse time of every file in dags/ (the dag-processor's way, a fresh process per file) and
   the store's PostgreSQL upsert rows/s (`bench/store_bench.py`);
6. targets judged, JSON + markdown written to bench/results/, the table printed.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bench.common import (
    ROOT,
    ChildRun,
    api_counts,
    child_env,
    compare_facts,
    facts_from_dlt,
    facts_from_payloads,
    facts_from_store,
    fetch_truth,
    load_average,
    machine_info,
    run_module,
    run_process,
    siasn_tokens,
    summarize_collapsed,
    versions,
    write_json,
)

PEERS = ("ours", "airflow", "dlt", "naive")
DAG_ID = "siasn_asn_daily"
console = Console(width=130, stderr=True)


@dataclass
class Options:
    employees: int = 5000
    ivb_share: float = 0.8
    seed: int = 7
    latency_ms: int = 20
    rate_limit: float = 500.0
    concurrency: int = 64
    batch_size: int = 500
    page_size: int = 1000
    peers: tuple[str, ...] = PEERS
    naive_n: int = 200
    dlt_workers: int | None = None  # default: concurrency
    dlt_destination: str = "duckdb"
    #: dlt loader file formats to run; the first is the tuned one the targets compare with
    dlt_formats: tuple[str, ...] = ("jsonl", "default")
    #: also run ours and dlt with the server's limit off (latency only)
    unlimited: bool = True
    store: str = "postgresql"  # store of our pull and of the DAG run
    parse: bool = True
    store_bench: bool = True
    store_rows: int = 20_000
    ceiling: bool = True
    ceiling_seconds: float = 8.0
    profile: bool = False
    out: Path = ROOT / "bench" / "results"
    command: str = ""

    @property
    def world(self) -> int:
        return int(self.employees / self.ivb_share) + 1

    @property
    def workers(self) -> int:
        return self.dlt_workers or self.concurrency


@dataclass
class Step:
    name: str
    seconds: float
    load_before: list[float]
    load_after: list[float]


@dataclass
class Report:
    options: dict[str, Any]
    started_at: str
    machine: dict[str, Any]
    versions: dict[str, Any]
    sandbox: dict[str, Any] = field(default_factory=dict)
    ceiling: dict[str, Any] = field(default_factory=dict)
    peers: list[dict[str, Any]] = field(default_factory=list)
    dag_parse: list[dict[str, Any]] = field(default_factory=list)
    store_upsert: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    load_average: dict[str, list[float]] = field(default_factory=dict)
    postgres_version: str | None = None
    duration_s: float = 0.0


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
class Runner:
    """Holds the run's directories and records every step with the load average around it."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        self.work = ROOT / "bench" / "results" / "tmp" / self.stamp
        self.work.mkdir(parents=True, exist_ok=True)
        self.steps: list[Step] = []
        self.t0 = time.perf_counter()

    def log(self, message: str) -> None:
        elapsed = time.perf_counter() - self.t0
        console.print(f"[dim]{elapsed:7.1f}s[/dim] {message}")

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        before = load_average()
        self.log(f"[bold]{escape(name)}[/bold] … (load {before[0]:.2f})")
        t = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - t
            after = load_average()
            self.steps.append(Step(name, round(seconds, 2), before, after))
            self.log(f"{escape(name)} done in {seconds:.1f}s (load {after[0]:.2f})")


def rel(path: Path) -> str:
    """`path` relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _rate(n: float, seconds: float | None) -> float | None:
    return round(n / seconds, 1) if seconds else None


def _peer_row(
    *,
    system: str,
    mode: str,
    run: ChildRun,
    counts: dict[str, int],
    work_wall_s: float | None,
    employees: int,
    limit: float | None,
    check: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    wall = work_wall_s or run.wall_s
    return {
        "system": system,
        "mode": mode,
        "ok": run.ok,
        "employees": employees,
        "work_wall_s": round(wall, 2),
        "process_wall_s": run.wall_s,
        "records_per_s": _rate(employees, wall),
        "api_requests": counts,
        "requests_per_s": _rate(counts["accepted"], wall),
        "share_of_limit": round(counts["accepted"] / wall / limit, 3) if wall and limit else None,
        "throttled_429": counts["throttled_429"],
        "peak_rss_mb": run.peak_rss_mb,
        "cpu_s": run.cpu_s,
        "cpu_s_per_1000": round(1000 * run.cpu_s / employees, 2) if employees else None,
        "truth": check,
        "log": rel(run.log),
        "child": run.result,
        **(extra or {}),
    }


def _failed_row(system: str, mode: str, run: ChildRun) -> dict[str, Any]:
    return {
        "system": system,
        "mode": mode,
        "ok": False,
        "error": run.tail(1500),
        "log": rel(run.log),
        "process_wall_s": run.wall_s,
        "peak_rss_mb": run.peak_rss_mb,
    }


# ---------------------------------------------------------------------------------------------
# the steps
# ---------------------------------------------------------------------------------------------
def measure_ceiling(r: Runner, sandbox: Any, faults: dict[str, Any]) -> dict[str, Any]:
    """Requests/s the sandbox answers: with the benchmark's limit, and with latency only."""
    opts = r.opts
    out: dict[str, Any] = {"concurrency": opts.concurrency, "seconds": opts.ceiling_seconds}
    for label, setting in (
        ("with_limit", faults),
        ("latency_only", {"latency_ms": opts.latency_ms}),
    ):
        sandbox.set_faults(setting)
        run = run_module(
            "siapp_sandbox.loadtest",
            [
                "--siasn-url",
                sandbox.siasn_url,
                "--seconds",
                str(opts.ceiling_seconds),
                "--concurrency",
                str(opts.concurrency),
            ],
            log=r.work / f"ceiling_{label}.log",
            timeout_s=120 + opts.ceiling_seconds,
        )
        lines = [ln for ln in run.log.read_text().splitlines() if ln.startswith("{")]
        res: dict[str, Any] = ast.literal_eval(lines[-1]) if lines else {"error": run.tail()}
        status = {str(k): v for k, v in res.get("status", {}).items()}
        seconds = res.get("seconds") or opts.ceiling_seconds
        res["status"] = status
        res["ok_per_s"] = round(status.get("200", 0) / seconds, 1)
        if label == "with_limit":
            # the token bucket starts full (one second of requests): take that burst out
            burst = min(status.get("200", 0), int(opts.rate_limit))
            res["ok_per_s_after_burst"] = round((status.get("200", 0) - burst) / seconds, 1)
        res["loadgen_cpu_s"] = run.cpu_s
        out[label] = res
    sandbox.set_faults(faults)
    sandbox.reset_stats()
    return out


def run_ours(
    r: Runner,
    sandbox: Any,
    store_url: str,
    truth: dict[str, Any],
    *,
    server_limit: float | None,
    tag: str = "",
) -> dict[str, Any]:
    """Our pull outside Airflow; the client's own limit is the server's (none when it has none)."""
    opts = r.opts
    client_limit = server_limit or 0
    sandbox.reset_stats()
    run = run_module(
        "bench.peer_ours",
        [
            "--siasn-url",
            sandbox.siasn_url,
            "--store-url",
            store_url,
            "--concurrency",
            str(opts.concurrency),
            "--rate-limit",
            str(client_limit),
            "--batch-size",
            str(opts.batch_size),
        ],
        log=r.work / f"ours{tag}.log",
    )
    counts = api_counts(sandbox.stats())
    system = "ours: pull_asn" + (" [server limit off]" if server_limit is None else "")
    limit_text = f"client limit {client_limit:g}/s" if client_limit else "no client limit"
    mode = f"outside Airflow, {opts.concurrency} in flight, {limit_text}, → {opts.store}"
    if not run.ok:
        return _failed_row(system, mode, run)
    check = compare_facts(truth, facts_from_store(store_url))
    return _peer_row(
        system=system,
        mode=mode,
        run=run,
        counts=counts,
        work_wall_s=run.result.get("work_wall_s"),
        employees=run.result.get("employees", 0),
        limit=server_limit,
        check=check,
        extra={"store": opts.store},
    )


def run_airflow(r: Runner, sandbox: Any, store_url: str, truth: dict[str, Any]) -> dict[str, Any]:
    """`airflow dags test siasn_asn_daily` (full refresh) against the same sandbox."""
    from siapp_siasn.airflow_env import AirflowEnv, airflow_bin, sandbox_connections
    from siapp_siasn.store import Store

    opts = r.opts
    Store(store_url).migrate()
    env = AirflowEnv(
        r.work / "airflow",
        sandbox_connections(
            sandbox.siasn_url,
            sandbox.siapp_url,
            store_url,
            concurrency=opts.concurrency,
            rate_limit_rps=opts.rate_limit,
        ),
    )
    env.migrate(log_path=r.work / "airflow_migrate.log")
    conf = json.dumps({"full_refresh": True, "batch_size": opts.batch_size})
    sandbox.reset_stats()
    run = run_process(
        [airflow_bin(), "dags", "test", DAG_ID, "--conf", conf],
        env=env.environ(),
        log=r.work / "airflow_dags_test.log",
    )
    counts = api_counts(sandbox.stats())
    if not run.ok:
        return _failed_row("ours: DAG via Airflow", "airflow dags test", run)
    store = Store(store_url, hash_key="bench")
    lineage = store.lineage.list(dag_id=DAG_ID)
    store.close()
    tasks = {
        rec.get("task_id"): {
            "duration_s": rec.get("duration_s"),
            "read": rec.get("counts", {}).get("read"),
            "requests": (rec.get("requests") or {}).get("requests"),
        }
        for rec in lineage
    }
    pull = tasks.get("pull_asn", {})
    check = compare_facts(truth, facts_from_store(store_url))
    return _peer_row(
        system="ours: DAG via Airflow",
        mode="airflow dags test (3 tasks: referensi, pull_asn, quality_checks)",
        run=run,
        counts=counts,
        work_wall_s=run.wall_s,
        employees=int(pull.get("read") or 0),
        limit=opts.rate_limit,
        check=check,
        extra={"tasks": tasks, "store": opts.store},
    )


def run_dlt(
    r: Runner,
    sandbox: Any,
    truth: dict[str, Any],
    pg_url: str | None,
    *,
    server_limit: float | None,
    file_format: str = "jsonl",
    tag: str = "",
    profile: bool = False,
) -> dict[str, Any]:
    """dlt's rest_api pipeline (see bench/peer_dlt.py for the source and its settings)."""
    opts = r.opts
    gateway, sso = siasn_tokens(sandbox.siasn_url)
    name = f"dlt{tag}" + ("_profile" if profile else "")
    args = [
        "--siasn-url",
        sandbox.siasn_url,
        "--workdir",
        str(r.work / name),
        "--workers",
        str(opts.workers),
        "--page-size",
        str(opts.page_size),
        "--destination",
        opts.dlt_destination,
        "--loader-file-format",
        file_format,
    ]
    if opts.dlt_destination == "postgres":
        args += ["--postgres-url", pg_url or ""]
    env = {"BENCH_SIASN_GATEWAY_TOKEN": gateway, "BENCH_SIASN_SSO_TOKEN": sso}
    sandbox.reset_stats()
    if profile:
        # dlt's work runs in its extract threads: py-spy samples every thread (pyinstrument
        # would see the main thread waiting on futures)
        raw = r.work / "profile_dlt.raw"
        spy = str(Path(sys.executable).with_name("py-spy"))
        cmd = [spy, "record", "--gil", "--format", "raw", "-r", "100", "-o", str(raw), "--"]
        cmd += [sys.executable, "-m", "bench.peer_dlt", *args]
        run = run_process(cmd, env=child_env(env), log=r.work / f"{name}.log")
        if raw.exists():
            summarize_collapsed(
                raw,
                opts.out / f"profile_dlt_{r.stamp}.txt",
                f"py-spy --gil (samples of the thread holding the GIL), dlt rest_api pipeline "
                f"({opts.employees} employees, server limit {opts.rate_limit:g} req/s)",
            )
    else:
        run = run_module("bench.peer_dlt", args, log=r.work / f"{name}.log", env=env)
    counts = api_counts(sandbox.stats())
    used = run.result.get("loader_file_format", file_format)  # jsonl is csv on PostgreSQL
    fmt = "insert_values, dlt's default" if used == "default" else used
    system = "dlt rest_api" + (f" [{fmt}]" if file_format != opts.dlt_formats[0] else "")
    system += " [server limit off]" if server_limit is None else ""
    mode = (
        f"{opts.workers} extract workers, parallelized children, {fmt} files → "
        f"{opts.dlt_destination}"
    )
    if not run.ok:
        return _failed_row(system, mode, run)
    loaded = (
        facts_from_dlt(duckdb_path=run.result["duckdb"])
        if opts.dlt_destination == "duckdb"
        else facts_from_dlt(postgres_url=pg_url)
    )
    check = compare_facts(truth, loaded)
    extract_s = run.result.get("extract_s")
    return _peer_row(
        system=system,
        mode=mode,
        run=run,
        counts=counts,
        work_wall_s=run.result.get("work_wall_s"),
        employees=run.result.get("employees", 0),
        limit=server_limit,
        check=check,
        extra={"extract_requests_per_s": _rate(counts["accepted"], extract_s)},
    )


def run_naive(
    r: Runner, sandbox: Any, truth_nips: list[str], truth: dict[str, Any]
) -> dict[str, Any]:
    from siapp_siasn.airflow_env import AirflowEnv

    opts = r.opts
    gateway, sso = siasn_tokens(sandbox.siasn_url)
    conn = {
        "conn_type": "http",
        "host": sandbox.siasn_url,
        "extra": {"Authorization": f"Bearer {gateway}", "Auth": f"bearer {sso}"},
    }
    env = AirflowEnv(r.work / "airflow_naive", {"siasn_naive": conn}).environ()
    (r.work / "airflow_naive").mkdir(parents=True, exist_ok=True)
    db = r.work / "naive.sqlite"
    sandbox.reset_stats()
    run = run_process(
        [sys.executable, "-m", "bench.peer_naive", "--n", str(opts.naive_n), "--sqlite", str(db)],
        env={**env, "PYTHONPATH": str(ROOT)},
        log=r.work / "naive.log",
    )
    counts = api_counts(sandbox.stats())
    if not run.ok:
        return _failed_row("naive HttpHook loop", f"sequential, N={opts.naive_n}", run)
    import sqlite3

    loaded = {}
    with contextlib.closing(sqlite3.connect(db)) as c:
        for nip, *parts in c.execute("select nip, utama, pasangan, anak, ortu from naive_asn"):
            facts = facts_from_payloads(*(json.loads(p) if p else None for p in parts))
            if facts is not None:
                loaded[nip] = facts
    expected = {nip: truth[nip] for nip in truth_nips[: opts.naive_n]}
    check = compare_facts(expected, loaded)
    return _peer_row(
        system="naive HttpHook loop",
        mode=f"sequential, small N={opts.naive_n} only",
        run=run,
        counts=counts,
        work_wall_s=run.result.get("work_wall_s"),
        employees=run.result.get("employees", 0),
        limit=opts.rate_limit,
        check=check,
    )


def _keep_profile_text(r: Runner, html: Path, name: str) -> str:
    """The HTML profile stays in the run's tmp folder; its text version goes to results."""
    target = r.opts.out / f"profile_{name}_{r.stamp}.txt"
    if html.with_suffix(".txt").exists():
        shutil.copyfile(html.with_suffix(".txt"), target)
    return rel(target)


def run_profile_ours(r: Runner, sandbox: Any, store_url: str) -> str:
    out = r.work / "profile_ours.html"
    run_module(
        "bench.peer_ours",
        [
            "--siasn-url",
            sandbox.siasn_url,
            "--store-url",
            store_url,
            "--concurrency",
            str(r.opts.concurrency),
            "--rate-limit",
            str(r.opts.rate_limit),
            "--batch-size",
            str(r.opts.batch_size),
            "--profile",
            str(out),
        ],
        log=r.work / "ours_profile.log",
    )
    return _keep_profile_text(r, out, "ours")


def run_dag_parse(r: Runner) -> list[dict[str, Any]]:
    from siapp_siasn.airflow_env import AirflowEnv

    env = AirflowEnv(r.work / "airflow_parse").environ()
    (r.work / "airflow_parse").mkdir(parents=True, exist_ok=True)
    rows = []
    for path in sorted((ROOT / "dags").glob("*.py")):
        if path.name.startswith("_"):
            continue
        run = run_process(
            [sys.executable, "-m", "bench.dag_parse", str(path)],
            env={**env, "PYTHONPATH": str(ROOT)},
            log=r.work / f"parse_{path.stem}.log",
            timeout_s=300,
        )
        res = dict(run.result)
        res.update(
            {
                "file": rel(path),
                "ok": run.ok and not res.get("import_errors"),
                "process_wall_s": run.wall_s,
                "peak_rss_mb": run.peak_rss_mb,
            }
        )
        if res.get("parse_s") is not None:
            res["cold_import_s"] = round(res["preload_s"] + res["pre_import_s"] + res["parse_s"], 4)
        rows.append(res)
    return rows


def run_store_bench(r: Runner, pg_url: str, profile: Path | None = None) -> dict[str, Any]:
    args = ["--backend", "postgresql", "--pg-url", pg_url, "--rows", str(r.opts.store_rows)]
    if profile is not None:
        args += ["--profile", str(profile)]
    run = run_module(
        "bench.store_bench",
        [*args, "--json"],
        log=r.work / "store_bench.log",
        timeout_s=1800,
    )
    if not run.ok:
        return {"ok": False, "error": run.tail(1500)}
    return {"ok": True, "peak_rss_mb": run.peak_rss_mb, "cpu_s": run.cpu_s, **run.result}


# ---------------------------------------------------------------------------------------------
# targets and report
# ---------------------------------------------------------------------------------------------
def judge(report: Report, opts: Options) -> list[dict[str, Any]]:
    by = {p["system"]: p for p in report.peers if p.get("ok")}
    ours = by.get("ours: pull_asn")
    dlt = by.get("dlt rest_api")
    out: list[dict[str, Any]] = []

    ceiling = report.ceiling.get("latency_only", {}).get("ok_per_s")
    if ours:
        share = ours["share_of_limit"]
        out.append(
            {
                "target": f"≥ 90% of the server limit ({opts.rate_limit:g} req/s at "
                f"{opts.latency_ms} ms)",
                "measured": f"{share:.1%} ({ours['requests_per_s']} req/s; sandbox ceiling "
                f"without limit {ceiling} req/s)",
                "met": share >= 0.9,
            }
        )
    if ours and dlt:
        speed = ours["records_per_s"] / dlt["records_per_s"]
        rss = ours["peak_rss_mb"] / dlt["peak_rss_mb"]
        correct = ours["truth"]["ok"] and dlt["truth"]["ok"]
        out.append(
            {
                "target": "≥ 2× dlt's records/s at ≤ ½ of its peak RSS, rows correct",
                "measured": f"{speed:.2f}× records/s, {rss:.2f}× peak RSS, rows correct: "
                f"ours {ours['truth']['ok']}, dlt {dlt['truth']['ok']}",
                "met": speed >= 2 and rss <= 0.5 and correct,
                "parts": {"speed": speed >= 2, "rss": rss <= 0.5, "correct": correct},
            }
        )
    free_ours = by.get("ours: pull_asn [server limit off]")
    free_dlt = by.get("dlt rest_api [server limit off]")
    if free_ours and free_dlt:
        speed = free_ours["records_per_s"] / free_dlt["records_per_s"]
        rss = free_ours["peak_rss_mb"] / free_dlt["peak_rss_mb"]
        out.append(
            {
                "target": "(information) the same comparison with the server's limit off",
                "measured": f"{speed:.2f}× records/s ({free_ours['records_per_s']} vs "
                f"{free_dlt['records_per_s']}), {rss:.2f}× peak RSS, rows correct: ours "
                f"{free_ours['truth']['ok']}, dlt {free_dlt['truth']['ok']}",
                "met": None,
            }
        )
    if report.dag_parse:
        worst = max((p.get("parse_s") or 99.0) for p in report.dag_parse)
        out.append(
            {
                "target": "DAG file parse ≤ 0.2 s each",
                "measured": ", ".join(
                    f"{Path(p['file']).name} {p.get('parse_s')} s" for p in report.dag_parse
                ),
                "met": worst <= 0.2 and all(p["ok"] for p in report.dag_parse),
            }
        )
    passes = report.store_upsert.get("passes") or []
    initial = next((p for p in passes if p["pass"] == "initial load"), None)
    if initial:
        out.append(
            {
                "target": "PostgreSQL upsert ≥ 30,000 rows/s (asn, initial load)",
                "measured": ", ".join(f"{p['pass']} {p['rows_per_s']:,.0f}/s" for p in passes),
                "met": initial["rows_per_s"] >= 30_000,
            }
        )
    return out


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "–"
    return format(value, spec) if spec else str(value)


def markdown(report: Report) -> str:
    o = report.options
    m = report.machine
    v = report.versions
    la = report.load_average
    lines = [
        f"# Peer benchmark {report.started_at}",
        "",
        f"Command: `{o['command']}`",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, "
        f"kernel {m['kernel']}. Load average (1/5/15 min) at start {la.get('start')}, at end "
        f"{la.get('end')} — the machine is shared with other jobs; every step's load is in "
        "the JSON.",
        "",
        "Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items() if val)
        + (f", PostgreSQL {report.postgres_version}" if report.postgres_version else ""),
        "",
        f"Workload: one sandbox, seed {o['seed']}, {report.sandbox.get('world'):,} employees "
        f"of whom {report.sandbox.get('ivb_plus'):,} active IV/b+ (the records), latency "
        f"{o['latency_ms']} ms, server limit {o['rate_limit']:g} req/s (token bucket), 4 "
        "requests per employee (data-utama, -pasangan, -anak, -ortu) plus the enumeration.",
        "",
    ]
    c = report.ceiling
    if c:
        wl = c.get("with_limit", {})
        lo = c.get("latency_only", {})
        lines += [
            f"Sandbox ceiling (`siapp_sandbox.loadtest`, {c['concurrency']} connections, "
            f"{c['seconds']} s, data-utama): with the limit {wl.get('ok_per_s')} accepted req/s, "
            f"{wl.get('ok_per_s_after_burst')} once the bucket's initial burst is taken out "
            f"(of {wl.get('rps')} sent; p50 {wl.get('p50_ms')} ms); latency only "
            f"{lo.get('ok_per_s')} req/s (p50 {lo.get('p50_ms')} ms).",
            "",
        ]
    lines += [
        "| system | mode | records | wall s | records/s | req/s (accepted) | share of limit "
        "| 429s | peak RSS MB | CPU s / 1k records | rows = truth |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in report.peers:
        if not p.get("ok"):
            lines.append(f"| {p['system']} | {p['mode']} | FAILED (see {p['log']}) |||||||||")
            continue
        t = p["truth"]
        verdict = (
            f"yes ({t['loaded']:,}/{t['expected']:,})"
            if t["ok"]
            else f"NO: missing {t['missing']}, extra {t['extra']}, mismatched {t['mismatched']}"
        )
        lines.append(
            f"| {p['system']} | {p['mode']} | {p['employees']:,} | {p['work_wall_s']} | "
            f"{_fmt(p['records_per_s'])} | {_fmt(p['requests_per_s'])} | "
            f"{_fmt(p['share_of_limit'], '.0%')} | {p['throttled_429']} | {p['peak_rss_mb']} | "
            f"{_fmt(p['cpu_s_per_1000'])} | {verdict} |"
        )
    lines += [
        "",
        "wall s = the work only (the pull / the dlt pipeline / the loop), interpreter start and "
        "imports excluded, except for the Airflow row, which is the whole `airflow dags test` "
        "process (its overhead is the point). Peak RSS and CPU are the whole child process "
        "(kernel accounting via wait4, imports included). req/s counts what the sandbox "
        "answered other than 429.",
        "",
    ]
    af = next(
        (p for p in report.peers if p["system"].startswith("ours: DAG") and p.get("ok")), None
    )
    ours = next((p for p in report.peers if p["system"] == "ours: pull_asn" and p.get("ok")), None)
    if af:
        tasks = af.get("tasks", {})
        lines.append(
            "Airflow run, per task (lineage duration_s): "
            + ", ".join(f"{k} {val.get('duration_s')} s" for k, val in sorted(tasks.items()))
            + (
                f"; `airflow dags test` process {af['process_wall_s']} s vs. the same pull "
                f"outside Airflow {ours['work_wall_s']} s: overhead "
                f"{af['process_wall_s'] - ours['work_wall_s']:.1f} s."
                if ours
                else "."
            )
        )
        lines.append("")
    dl = next((p for p in report.peers if p["system"] == "dlt rest_api" and p.get("ok")), None)
    if dl:
        ch = dl["child"]
        lines.append(
            f"dlt phases: extract {ch.get('extract_s')} s ({dl.get('extract_requests_per_s')} "
            f"req/s during extract), normalize {ch.get('normalize_s')} s, load "
            f"{ch.get('load_s')} s; rows per table {ch.get('rows_loaded')}; settings "
            f"{ch.get('settings')}, page size {ch.get('page_size')}."
        )
        lines.append("")
    if report.dag_parse:
        lines += [
            "DAG parse (the dag-processor's way, a fresh process per file; interpreter start "
            "excluded):",
            "",
            "| file | DAGs | parse s (per parse) | warm re-parse s | Airflow preload s "
            "| cold import total s | errors |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for p in report.dag_parse:
            lines.append(
                f"| {p['file']} | {', '.join(p.get('dags', []))} | {_fmt(p.get('parse_s'))} | "
                f"{_fmt(p.get('warm_parse_s'))} | {_fmt(p.get('preload_s'))} | "
                f"{_fmt(p.get('cold_import_s'))} | {len(p.get('import_errors') or {})} |"
            )
        lines.append("")
    su = report.store_upsert
    if su.get("passes"):
        lines += [
            f"PostgreSQL upsert (`bench/store_bench.py`, {su['rows']:,} rows, batches of "
            f"{su['batch']}, family {'yes' if su['family'] else 'no'}, durable server):",
            "",
            "| pass | rows | seconds | rows/s | inserted | updated | unchanged |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for p in su["passes"]:
            lines.append(
                f"| {p['pass']} | {p['rows']:,} | {p['seconds']} | {p['rows_per_s']:,.0f} | "
                f"{p['inserted']:,} | {p['updated']:,} | {p['unchanged']:,} |"
            )
        lines.append("")
    if report.targets:
        lines += ["Targets (same run):", "", "| target | measured | met |", "|---|---|---|"]
        for t in report.targets:
            met = "–" if t["met"] is None else ("yes" if t["met"] else "NO")
            lines.append(f"| {t['target']} | {t['measured']} | {met} |")
        lines.append("")
    if report.profiles:
        lines += [
            "Profiles (separate runs, not in the table; pyinstrument for ours and the store, "
            "py-spy over all threads for dlt): " + ", ".join(f"`{p}`" for p in report.profiles),
            "",
        ]
    lines += [
        "Steps: "
        + ", ".join(
            f"{s['name']} {s['seconds']} s (load {s['load_before'][0]})" for s in report.steps
        )
        + f"; total {report.duration_s} s.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _postgres(needed: bool) -> Iterator[Any]:
    if not needed:
        yield None
        return
    from tests.fixtures.postgres import running_postgres

    with running_postgres(fast=False) as server:
        yield server


def run(opts: Options) -> Report:
    """Run the whole suite; write bench/results/peers_<stamp>.{json,md}; return the report."""
    from siapp_sandbox.testing import run_sandbox

    r = Runner(opts)
    report = Report(
        options={k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=machine_info(),
        versions=versions(),
    )
    report.load_average["start"] = load_average()
    faults = {"latency_ms": opts.latency_ms, "rate_limit_rps": opts.rate_limit}
    uses_pg = (
        opts.store_bench
        or (opts.store == "postgresql" and {"ours", "airflow"} & set(opts.peers))
        or ("dlt" in opts.peers and opts.dlt_destination == "postgres")
    )
    with _postgres(bool(uses_pg)) as pg:
        if pg is not None:
            report.postgres_version = ".".join(map(str, pg.version))

        def store_url(name: str) -> str:
            if opts.store == "postgresql":
                return pg.create_database(name)
            return f"sqlite:///{r.work / (name + '.sqlite')}"

        def pg_db(name: str) -> str | None:
            if opts.dlt_destination != "postgres" or pg is None:
                return None
            return pg.create_database(name)

        if {"ours", "airflow", "dlt", "naive"} & set(opts.peers) or opts.ceiling:
            stack = contextlib.ExitStack()
            try:
                with r.step("sandbox start + ground truth"):
                    sandbox = stack.enter_context(
                        run_sandbox(
                            employees=opts.world,
                            seed=opts.seed,
                            ivb_share=opts.ivb_share,
                            faults=faults,
                        )
                    )
                    nips: list[str] = sandbox.truth("asn", min_gol=42)["nips"]
                    truth = fetch_truth(sandbox.siasn_url, nips)
                    report.sandbox = {
                        "world": opts.world,
                        "ivb_plus": len(nips),
                        "faults": faults,
                        "seed": opts.seed,
                        "rss_mb_after_truth": round(sandbox.rss_mb(), 1),
                    }
                if opts.ceiling:
                    with r.step("sandbox ceiling"):
                        report.ceiling = measure_ceiling(r, sandbox, faults)
                jobs: list[tuple[str, Callable[[], dict[str, Any]]]] = []
                limit = opts.rate_limit
                for peer in opts.peers:
                    if peer == "ours":
                        jobs.append(
                            (
                                "ours",
                                lambda: run_ours(
                                    r, sandbox, store_url("bench_ours"), truth, server_limit=limit
                                ),
                            )
                        )
                    elif peer == "airflow":
                        jobs.append(
                            (
                                "airflow",
                                lambda: run_airflow(r, sandbox, store_url("bench_af"), truth),
                            )
                        )
                    elif peer == "dlt":
                        for fmt in opts.dlt_formats:
                            jobs.append(
                                (
                                    f"dlt ({fmt})",
                                    lambda fmt=fmt: run_dlt(
                                        r,
                                        sandbox,
                                        truth,
                                        pg_db(f"bench_dlt_{fmt}"),
                                        server_limit=limit,
                                        file_format=fmt,
                                        tag=f"_{fmt}",
                                    ),
                                )
                            )
                    elif peer == "naive":
                        jobs.append(("naive", lambda: run_naive(r, sandbox, nips, truth)))
                    else:
                        raise ValueError(f"unknown peer {peer!r}; one of {PEERS}")
                for name, job in jobs:
                    with r.step(f"peer {name}"):
                        row = job()
                    _record(r, report, row)
                if opts.unlimited and {"ours", "dlt"} & set(opts.peers):
                    sandbox.set_faults({"latency_ms": opts.latency_ms})
                    try:
                        if "ours" in opts.peers:
                            with r.step("peer ours, server limit off"):
                                row = run_ours(
                                    r,
                                    sandbox,
                                    store_url("bench_ours_nolimit"),
                                    truth,
                                    server_limit=None,
                                    tag="_nolimit",
                                )
                            _record(r, report, row)
                        if "dlt" in opts.peers:
                            with r.step("peer dlt, server limit off"):
                                row = run_dlt(
                                    r,
                                    sandbox,
                                    truth,
                                    pg_db("bench_dlt_nolimit"),
                                    server_limit=None,
                                    file_format=opts.dlt_formats[0],
                                    tag="_nolimit",
                                )
                            _record(r, report, row)
                    finally:
                        sandbox.set_faults(faults)
                if opts.profile:
                    with r.step("profiles (not in the table)"):
                        if "ours" in opts.peers:
                            report.profiles.append(
                                run_profile_ours(r, sandbox, store_url("bench_ours_profile"))
                            )
                        if "dlt" in opts.peers:
                            run_dlt(
                                r,
                                sandbox,
                                truth,
                                pg_db("bench_dlt_profile"),
                                server_limit=limit,
                                file_format=opts.dlt_formats[0],
                                profile=True,
                            )
                            report.profiles.append(rel(opts.out / f"profile_dlt_{r.stamp}.txt"))
                report.sandbox["rss_mb_end"] = round(sandbox.rss_mb(), 1)
            finally:
                stack.close()
        if opts.parse:
            with r.step("DAG parse"):
                report.dag_parse = run_dag_parse(r)
        if opts.store_bench and pg is not None:
            with r.step("PostgreSQL upsert"):
                report.store_upsert = run_store_bench(r, pg.create_database("bench_store"))
            if opts.profile:
                with r.step("PostgreSQL upsert, profiled (not in the table)"):
                    out = r.work / "profile_store.html"
                    run_store_bench(r, pg.create_database("bench_store_profile"), out)
                    report.profiles.append(_keep_profile_text(r, out, "store"))
    report.load_average["end"] = load_average()
    report.steps = [asdict(s) for s in r.steps]
    report.duration_s = round(time.perf_counter() - r.t0, 1)
    report.targets = judge(report, opts)
    opts.out.mkdir(parents=True, exist_ok=True)
    base = opts.out / f"peers_{r.stamp}"
    write_json(base.with_suffix(".json"), asdict(report))
    text = markdown(report)
    base.with_suffix(".md").write_text(text)
    report.options["written"] = [
        rel(base.with_suffix(".json")),
        rel(base.with_suffix(".md")),
    ]
    return report


def _record(r: Runner, report: Report, row: dict[str, Any]) -> None:
    row["load_average"] = {"before": r.steps[-1].load_before, "after": r.steps[-1].load_after}
    report.peers.append(row)
    _print_peer(row)


def _print_peer(row: dict[str, Any]) -> None:
    if not row.get("ok"):
        console.print(f"  [red]{escape(row['system'])} FAILED[/red]: see {row['log']}")
        return
    console.print(
        f"  {escape(row['system'])}: {row['employees']:,} records in {row['work_wall_s']} s "
        f"({row['records_per_s']}/s), {row['requests_per_s']} req/s "
        f"({_fmt(row['share_of_limit'], '.0%')} of limit), peak RSS {row['peak_rss_mb']} MB, "
        f"rows = truth: {row['truth']['ok']}"
    )


def command_line(argv: list[str] | None = None) -> str:
    argv = list(sys.argv if argv is None else argv)
    path = Path(argv[0]) if argv else Path()
    if path.name == "siapp-siasn":
        argv[0] = "siapp-siasn"
    elif path.parts[-2:] == ("bench", "cli.py"):
        argv[0:1] = ["python", "-m", "bench.cli"]
    elif argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)
