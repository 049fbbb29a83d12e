"""Measure how many data-utama requests per second one sandbox process serves.

::

    python -m siapp_sandbox.loadtest --employees 250000 --seconds 10 --concurrency 64

starts a sandbox subprocess (or uses ``--siasn-url`` of a running one), fetches tokens, then
runs ``--concurrency`` aiohttp workers over one connection pool for ``--seconds``, each GETting
``/apisiasn/1.0/pns/data-utama/{nip}`` for NIPs drawn at random from the active IV/b+ list.
Prints requests/s, status counts, latency percentiles and the sandbox RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import aiohttp
import httpx

__all__ = ["load"]


async def load(
    siasn_url: str,
    headers: dict[str, str],
    nips: list[str],
    seconds: float = 10.0,
    concurrency: int = 64,
    endpoint: str = "data-utama",
) -> dict[str, Any]:
    """Hammer one endpoint; returns counts, rate and latency percentiles."""
    rng = random.Random(0)
    statuses: dict[int, int] = {}
    lat: list[float] = []
    stop = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(
        base_url=siasn_url, connector=conn, headers=headers
    ) as session:

        async def worker() -> None:
            while time.perf_counter() < stop:
                nip = nips[rng.randrange(len(nips))]
                t = time.perf_counter()
                async with session.get(f"/apisiasn/1.0/pns/{endpoint}/{nip}") as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                lat.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    n = len(lat)

    def pct(p: float) -> float:
        return round(1000 * lat[min(n - 1, int(p * n))], 2) if n else 0.0

    return {
        "requests": n,
        "seconds": round(elapsed, 2),
        "rps": round(n / elapsed, 1),
        "status": statuses,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def _tokens(url: str) -> dict[str, str]:
    g = httpx.post(
        f"{url}/oauth2/token",
        auth=("siapp-hub", "sandbox-secret"),
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    s = httpx.post(
        f"{url}/auth/realms/public-siasn/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "siapp-hub",
            "username": "siapp",
            "password": "sandbox-password",
        },
    ).json()["access_token"]
    return {"Authorization": f"Bearer {g}", "Auth": f"bearer {s}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--siasn-url", help="a running sandbox (default: start one)")
    ap.add_argument("--employees", type=int, default=250_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--endpoint", default="data-utama")
    args = ap.parse_args()

    def run(url: str, rss: Any) -> None:
        headers = _tokens(url)
        nips = httpx.get(f"{url}/_sandbox/truth/asn", timeout=60).json()["nips"]
        res = asyncio.run(load(url, headers, nips, args.seconds, args.concurrency, args.endpoint))
        res["nips"] = len(nips)
        if rss is not None:
            res["sandbox_rss_mb"] = round(rss(), 1)
        print(res, flush=True)

    if args.siasn_url:
        run(args.siasn_url, None)
    else:
        from .testing import run_sandbox

        with run_sandbox(employees=args.employees, seed=args.seed) as sb:
            print(f"sandbox pid={sb.pid} rss_after_start={sb.rss_mb():.1f} MB", flush=True)
            run(sb.siasn_url, sb.rss_mb)


if __name__ == "__main__":
    main()
