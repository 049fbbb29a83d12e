"""Benchmark: full ASN pull against the sandbox with latency, a server-side rate limit and,
optionally, injected 5xx answers.

    .venv/bin/python bench/pull_bench.py --employees 20000 --latency-ms 20 --rate-limit 500
    .venv/bin/python bench/pull_bench.py --employees 5000 --stores sqlite --error-rate 0.05

Prints (never asserts) requests/s reached vs. the server's limit (every attempt, retries
included; "answered" leaves out 429s and 5xx), wall time, peak RSS of the pulling process and
store write rows/s, on SQLite and on a real PostgreSQL server. Each pull runs in its own child
process so its peak RSS is its own. `--employees` is the number of IV/b+ employees pulled; the
sandbox world is sized with `--ivb-share` to hold that many.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

ROOT = Path(__file__).resolve().parents[1]
app = typer.Typer(add_completion=False)


def _client(siasn_url: str, concurrency: int, rate_limit: float | None) -> Any:
    from siapp_siasn.clients.config import SiasnConfig
    from siapp_siasn.clients.siasn import SiasnClient

    config = SiasnConfig(
        base_url=siasn_url,
        client_id="siapp-hub",
        client_secret="sandbox-secret",
        sso_username="siapp",
        sso_password="sandbox-password",
        concurrency=concurrency,
        rate_limit_rps=rate_limit,
    )
    return SiasnClient.from_config(config)


def _vm_hwm_mb() -> float:
    """Peak RSS of this process since its exec (VmHWM). `ru_maxrss` would also count the
    memory of the parent this process was forked from, before the exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@app.command()
def child(
    siasn_url: str, store_url: str, concurrency: int, rate_limit: float, batch_size: int
) -> None:
    """One full pull in this process; prints a JSON line with its figures."""
    from siapp_siasn.flows.asn_pull import PullParams, pull_asn
    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.store import Store

    store = Store(store_url, hash_key="bench")
    store.migrate()
    write_s = 0.0  # in the pull's writer thread, overlapping the fetches
    original = store.asn.apply_batch

    def timed_apply(*args: Any, **kwargs: Any) -> Any:
        nonlocal write_s
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            write_s += time.perf_counter() - t

    store.asn.apply_batch = timed_apply  # type: ignore[method-assign]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    record = asyncio.run(
        pull_asn(
            _client(siasn_url, concurrency, rate_limit),
            store,
            PullParams(full_refresh=True, batch_size=batch_size),
            RunContext(run_id=f"bench-{os.getpid()}"),
        )
    )
    wall = time.perf_counter() - t0
    requests = record.requests
    rows = record.counts.inserted + record.counts.updated + record.counts.unchanged
    print(
        json.dumps(
            {
                "employees": record.counts.read,
                "rows_written": rows,
                "wall_s": round(wall, 2),
                "cpu_s": round(time.process_time() - cpu0, 2),
                "requests": requests.get("requests"),
                "retries": requests.get("retries"),
                "throttled_429": requests.get("throttled_429"),
                "requests_per_s": round(requests.get("requests", 0) / wall, 1),
                # answered: neither throttled nor a server error (a 404 envelope is an answer)
                "answered_per_s": round(
                    sum(
                        n
                        for code, n in requests.get("status", {}).items()
                        if int(code) < 500 and int(code) != 429
                    )
                    / wall,
                    1,
                ),
                "write_s": round(write_s, 2),
                "write_rows_per_s": round(rows / write_s, 0) if write_s else None,
                "peak_rss_mb": _vm_hwm_mb(),
                "quarantined": record.counts.quarantined,
                "failed": record.counts.failed,
            }
        )
    )


def _run_child(siasn_url: str, store_url: str, opts: dict[str, Any]) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__)),
        "child",
        siasn_url,
        store_url,
        str(opts["concurrency"]),
        str(opts["rate_limit"]),
        str(opts["batch_size"]),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"pull failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@app.command()
def main(
    employees: int = typer.Option(20_000, help="IV/b+ employees to pull"),
    ivb_share: float = typer.Option(0.8, help="share of IV/b+ in the sandbox world"),
    latency_ms: int = typer.Option(20, help="sandbox latency per request"),
    rate_limit: float = typer.Option(
        500, help="server-side limit (req/s); the client uses the same"
    ),
    concurrency: int = typer.Option(64, help="client requests in flight"),
    batch_size: int = typer.Option(500, help="employees per committed batch"),
    stores: str = typer.Option("sqlite,postgresql", help="comma-separated: sqlite, postgresql"),
    error_rate: float = typer.Option(
        0.0, help="share of requests the sandbox answers with a 5xx (error_5xx_rate)"
    ),
    seed: int = 7,
) -> None:
    """Start a sandbox, pull every IV/b+ employee into each store, print the figures."""
    sys.path.insert(0, str(ROOT))
    from siapp_sandbox.testing import run_sandbox

    world = int(employees / ivb_share) + 1
    faults = {"latency_ms": latency_ms, "rate_limit_rps": rate_limit, "error_5xx_rate": error_rate}
    results: list[dict[str, Any]] = []
    with run_sandbox(employees=world, seed=seed, ivb_share=ivb_share, faults=faults) as sandbox:
        in_scope = sandbox.truth("asn", min_gol=42)["count"]
        print(
            f"sandbox: {world:,} employees, {in_scope:,} IV/b+, {latency_ms} ms, "
            f"{rate_limit} req/s, {error_rate:.0%} 5xx"
        )
        opts = {"concurrency": concurrency, "rate_limit": rate_limit, "batch_size": batch_size}
        for kind in [s.strip() for s in stores.split(",") if s.strip()]:
            if kind == "sqlite":
                with tempfile.TemporaryDirectory() as d:
                    result = _run_child(sandbox.siasn_url, f"sqlite:///{d}/store.sqlite", opts)
            elif kind == "postgresql":
                from tests.fixtures.postgres import running_postgres

                with running_postgres() as server:
                    result = _run_child(sandbox.siasn_url, server.create_database("bench"), opts)
            else:
                raise typer.BadParameter(f"unknown store {kind}")
            result["store"] = kind
            result["share_of_limit"] = round(result["requests_per_s"] / rate_limit, 3)
            result["answered_share"] = round(result["answered_per_s"] / rate_limit, 3)
            results.append(result)
            print(json.dumps(result))
    print()
    print(
        "| store | employees | wall s | req/s | share of limit | answered share | retries "
        "| peak RSS MB | write rows/s | CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['store']} | {r['employees']:,} | {r['wall_s']} | {r['requests_per_s']} | "
            f"{r['share_of_limit']:.1%} | {r['answered_share']:.1%} | {r['retries']} | "
            f"{r['peak_rss_mb']} | {r['write_rows_per_s']:,.0f} | {r['cpu_s']} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        sys.argv.pop(1)
        typer.run(child)
    else:
        typer.run(main)
