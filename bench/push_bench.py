"""Benchmark: usulan push throughput (F5 with documents) against a throttled sandbox.

    .venv/bin/python bench/push_bench.py --days 150 --concurrency 96

SIAPP NV accumulates usulan while the hub is away (the sandbox clock runs `--days` with no
delivery); then the hub loads its ASN mirror, collects, and pushes every due F5-F8 item to
SIASN: documents downloaded from SIAPP NV (sha256 and size checked), uploaded to SIASN, then the
record with its Idempotency-Key. Prints (never asserts) usulan/s, documents moved, requests/s on
each side, the share of the per-port server limit reached, and the CPU seconds of the hub (its
event loop and its store thread) and of the sandbox, which runs on the same cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import tempfile
import time
from typing import Any

import typer


def _clients(sb: Any, rate_limit: float | None, concurrency: int) -> tuple[Any, Any]:
    from siapp_siasn.clients.config import SiappConfig, SiasnConfig
    from siapp_siasn.clients.siapp import SiappClient
    from siapp_siasn.clients.siasn import SiasnClient

    common: dict[str, Any] = {
        "client_id": "siapp-hub",
        "client_secret": "sandbox-secret",  # the sandbox's public test credential
        "concurrency": concurrency,
        "rate_limit_rps": rate_limit,
    }
    siasn = SiasnClient.from_config(
        SiasnConfig(
            base_url=sb.siasn_url, sso_username="siapp", sso_password="sandbox-password", **common
        )
    )
    siapp = SiappClient.from_config(SiappConfig(base_url=sb.siapp_url, **common))
    return siasn, siapp


def main(
    days: int = typer.Option(150, help="simulated days of SIAPP NV traffic before the push"),
    employees: int = typer.Option(3000, help="sandbox world size"),
    ivb_share: float = typer.Option(0.3, help="share of IV/b+ (PKS candidates) in the world"),
    latency_ms: int = typer.Option(20, help="sandbox latency per request"),
    rate_limit: float = typer.Option(500, help="server limit per port (req/s); client uses it too"),
    concurrency: int = typer.Option(32, help="usulan in flight"),
    seed: int = 3,
) -> None:
    import psutil

    from siapp_sandbox.testing import run_sandbox
    from siapp_siasn.flows.asn_pull import PullParams, pull_asn, pull_referensi
    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.flows.usulan_push import PushParams, push_outbox
    from siapp_siasn.flows.usulan_rules import RetryPolicy
    from siapp_siasn.flows.usulan_sync import collect_siapp
    from siapp_siasn.models.siasn import REFERENCE_TABLES
    from siapp_siasn.store import Store

    with (
        tempfile.TemporaryDirectory() as tmp,
        run_sandbox(employees=employees, seed=seed, ivb_share=ivb_share) as sb,
    ):
        store = Store(f"sqlite:///{tmp}/store.sqlite", hash_key="bench")
        store.migrate()
        sb.advance(days)
        ctx = RunContext(dag_id="bench", run_id="push", task_id="bench")
        siasn, siapp = _clients(sb, None, concurrency)
        asyncio.run(pull_referensi(siasn, store, REFERENCE_TABLES, ctx))
        siasn, siapp = _clients(sb, None, concurrency)
        asyncio.run(pull_asn(siasn, store, PullParams(), ctx))
        asyncio.run(collect_siapp(siapp, store, ctx))
        due = store.outbox.due(ctx.now, limit=100_000)
        usulan_items = [i for i in due if i.flow == "usulan"]
        docs_meta = [d for i in usulan_items for d in i.payload.get("dokumen", [])]
        print(
            f"sandbox: {employees:,} employees, {days} days of traffic; due: {len(due)} items, "
            f"{len(usulan_items)} usulan with {len(docs_meta)} documents "
            f"(~{sum(d.get('size', 0) for d in docs_meta) / max(len(docs_meta), 1) / 1024:.0f} KB)"
        )
        sb.set_faults({"latency_ms": latency_ms, "rate_limit_rps": rate_limit})
        sb.reset_stats()
        siasn, siapp = _clients(sb, rate_limit, concurrency * 4)
        params = PushParams(
            target="siasn",
            limit=100_000,
            concurrency=concurrency,
            retry=RetryPolicy(max_attempts=8, base_s=1),
        )
        sandbox = psutil.Process(sb.pid)
        sandbox_cpu0 = sum(sandbox.cpu_times()[:2])
        cpu0, loop_cpu0 = time.process_time(), time.thread_time()
        t0 = time.perf_counter()
        record = asyncio.run(push_outbox(siasn, siapp, store, params, ctx))
        wall = time.perf_counter() - t0
        cpu, loop_cpu = time.process_time() - cpu0, time.thread_time() - loop_cpu0
        sandbox_cpu = sum(sandbox.cpu_times()[:2]) - sandbox_cpu0
        stats = sb.stats()["routes"]
        per_port = {app: sum(v["count"] for v in routes.values()) for app, routes in stats.items()}
        sent = store.outbox.stats()
        ledger = store.documents.stats()
        result = {
            "usulan_sent": sent.get("usulan", {}).get("sent", 0),
            "items_sent": sum(v.get("sent", 0) for v in sent.values()),
            "dead": sum(v.get("dead", 0) for v in sent.values()),
            "documents_uploaded": ledger.get("total", 0),
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_s_event_loop": round(loop_cpu, 2),
            "cpu_s_store_thread": round(cpu - loop_cpu, 2),
            "sandbox_cpu_s": round(sandbox_cpu, 2),
            "requests_per_port": per_port,
            "requests_per_s_per_port": {k: round(v / wall, 1) for k, v in per_port.items()},
            "share_of_limit_busiest_port": round(max(per_port.values()) / wall / rate_limit, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            # the cores are shared: a busy machine lowers every figure above
            "load_average_1m": round(os.getloadavg()[0], 2),
            "lineage_counts": record.counts.model_dump(),
        }
        result["usulan_per_s"] = round(result["usulan_sent"] / wall, 2)
        result["items_per_s"] = round(result["items_sent"] / wall, 2)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    typer.run(main)
