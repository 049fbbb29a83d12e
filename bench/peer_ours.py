"""Child: one full ASN pull with the code the DAG runs (`flows.asn_pull.pull_asn`), no Airflow.

    python -m bench.peer_ours --siasn-url URL --store-url URL [--concurrency 64]
        [--rate-limit 500] [--batch-size 500] [--profile out.html]

The store is migrated before the clock starts. Prints `BENCH_RESULT {json}`: employees read,
rows written, work wall time (the pull only), the client's own request counters and the time
spent in store writes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from bench.common import SANDBOX_CLIENT, SANDBOX_SSO, emit_result


def make_client(siasn_url: str, concurrency: int, rate_limit: float | None) -> Any:
    """A SiasnClient configured like the DAG's connection (password grant for the SSO token)."""
    from siapp_siasn.clients.config import SiasnConfig
    from siapp_siasn.clients.siasn import SiasnClient

    config = SiasnConfig(
        base_url=siasn_url,
        client_id=SANDBOX_CLIENT[0],
        client_secret=SANDBOX_CLIENT[1],
        sso_username=SANDBOX_SSO["username"],
        sso_password=SANDBOX_SSO["password"],
        concurrency=concurrency,
        rate_limit_rps=rate_limit,
    )
    return SiasnClient.from_config(config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--siasn-url", required=True)
    ap.add_argument("--store-url", required=True)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rate-limit", type=float, default=500.0, help="client-side req/s; 0: none")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--profile", type=Path, help="write a pyinstrument HTML profile here")
    args = ap.parse_args()

    from siapp_siasn.flows.asn_pull import PullParams, pull_asn
    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.store import Store

    store = Store(args.store_url, hash_key="bench")
    store.migrate()
    write_s = 0.0  # in the pull's writer thread, overlapping the fetches
    original = store.asn.apply_batch

    def timed_apply(*a: Any, **kw: Any) -> Any:
        nonlocal write_s
        t = time.perf_counter()
        try:
            return original(*a, **kw)
        finally:
            write_s += time.perf_counter() - t

    store.asn.apply_batch = timed_apply  # type: ignore[method-assign]
    client = make_client(args.siasn_url, args.concurrency, args.rate_limit or None)
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="enabled")
        profiler.start()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    record = asyncio.run(
        pull_asn(
            client,
            store,
            PullParams(full_refresh=True, batch_size=args.batch_size),
            RunContext(dag_id="bench", run_id=f"bench-{os.getpid()}", task_id="pull_asn"),
        )
    )
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.stop()
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        args.profile.write_text(profiler.output_html())
        args.profile.with_suffix(".txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=False)
        )
    counts = record.counts
    requests = record.requests or {}
    emit_result(
        {
            "employees": counts.read,
            "rows_written": counts.inserted + counts.updated + counts.unchanged,
            "quarantined": counts.quarantined,
            "failed": counts.failed,
            "work_wall_s": round(wall, 3),
            "work_cpu_s": round(cpu, 3),
            "write_s": round(write_s, 3),
            "client_requests": requests.get("requests"),
            "client_retries": requests.get("retries"),
            "client_throttled_429": requests.get("throttled_429"),
        }
    )
    store.close()


if __name__ == "__main__":
    main()
