"""Child: the naive Airflow way — providers-http `HttpHook`, one NIP after another.

    AIRFLOW_CONN_SIASN_NAIVE='{"conn_type": "http", "host": URL, "extra": {"Authorization":
    "Bearer …", "Auth": "bearer …"}}' python -m bench.peer_naive --n 200 --sqlite out.sqlite

What a PythonOperator calling `HttpHook.run` in a loop does: the tokens pasted into the
connection's extra (HttpHook sends every unknown extra as a header), the first N NIPs from the
PKS enumeration, then data-utama, data-pasangan, data-anak and data-ortu of each NIP in turn
(`check_response=False` so a 404 means "none"), each employee inserted into SQLite and
committed. No concurrency, no client-side rate limit, no retries: `HttpHook.run` builds a new
`requests.Session` (so a new TCP connection) for every call. Prints `BENCH_RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path

from bench.common import emit_result

ENDPOINTS = (
    ("utama", "data-utama"),
    ("pasangan", "data-pasangan"),
    ("anak", "data-anak"),
    ("ortu", "data-ortu"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="employees (the first N of the list)")
    ap.add_argument("--sqlite", type=Path, required=True)
    ap.add_argument("--conn-id", default="siasn_naive")
    args = ap.parse_args()

    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method="GET", http_conn_id=args.conn_id)
    db = sqlite3.connect(args.sqlite)
    db.execute(
        "create table if not exists naive_asn "
        "(nip text primary key, utama text, pasangan text, anak text, ortu text)"
    )
    requests = 0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    nips: list[str] = []
    offset = 0
    while len(nips) < args.n:
        page = min(1000, args.n - len(nips))
        resp = hook.run(
            "/apisiasn/1.0/siapp/asn",
            data={"limit": page, "offset": offset},
            extra_options={"check_response": False},
        )
        requests += 1
        if resp.status_code == 404:
            break
        resp.raise_for_status()
        rows = resp.json()["data"]["list"]
        nips += [row["nipBaru"] for row in rows]
        offset += page
        if len(rows) < page:
            break
    for nip in nips[: args.n]:
        parts: dict[str, str | None] = {}
        for name, endpoint in ENDPOINTS:
            resp = hook.run(
                f"/apisiasn/1.0/pns/{endpoint}/{nip}", extra_options={"check_response": False}
            )
            requests += 1
            if resp.status_code == 404:
                parts[name] = None
                continue
            resp.raise_for_status()
            parts[name] = json.dumps(resp.json()["data"])
        db.execute(
            "insert or replace into naive_asn values (?, ?, ?, ?, ?)",
            (nip, parts["utama"], parts["pasangan"], parts["anak"], parts["ortu"]),
        )
        db.commit()
    wall = time.perf_counter() - t0
    emit_result(
        {
            "employees": len(nips[: args.n]),
            "client_requests": requests,
            "work_wall_s": round(wall, 3),
            "work_cpu_s": round(time.process_time() - cpu0, 3),
        }
    )
    db.close()


if __name__ == "__main__":
    main()
