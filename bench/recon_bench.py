"""Document reconciliation of three inventories: ours vs one SQL FULL OUTER JOIN vs datacompy.

    .venv/bin/python bench/recon_bench.py                 # 1,000,000 documents per side
    .venv/bin/python bench/recon_bench.py --quick         # 50,000 (smoke run)
    .venv/bin/python bench/recon_bench.py --docs 200000 --faults 500

Printed, never asserted. The parent generates the three inventories once (SIAPP NV, SIASN, the
ledger; parquet for the pandas peers, CSV for COPY) with a known set of injected differences
(``--faults`` per category: missing_at_siasn, missing_at_siapp, hash_mismatch, size_mismatch,
orphan, source_missing), then runs each peer in its own child process (bench/common.py's
launcher: wall time and peak RSS are the peer's own) and prints whether each found exactly
the injected differences:

- ``ours``: ``flows.reconciliation.iter_reconcile`` over parquet batches (chunks of
  ``--chunk`` rows), partitioned, spilling past ``spill_rows``.
- ``postgresql``: a throw-away server (tests/fixtures/postgres.py, durable settings, its
  ``work_mem`` raised to 256MB for the join); the three tables loaded with COPY + ANALYZE
  (timed apart as "load"), then one query: two FULL OUTER JOINs with the same category rules
  (timed as the peer's time). Its peak RSS is the client's plus the peak sum of the server
  processes' PSS, sampled every 0.2 s during the query.
- ``datacompy``: ``PandasCompare`` of source vs destination and of source vs ledger on the key
  (whole frames in memory, as datacompy needs), categories derived from its unique and
  mismatched rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import emit_result, machine_info, run_module  # noqa: E402

KEY = ["usulan_id", "direction", "ref"]
TO_SIASN, TO_SIAPP = "siapp_to_siasn", "siasn_to_siapp"
INJECTED = (
    "missing_at_siasn",
    "missing_at_siapp",
    "hash_mismatch",
    "size_mismatch",
    "orphan",
    "source_missing",
)


# -- the data -------------------------------------------------------------------------------------


def _hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.bytes(32 * n).hex().encode("ascii")
    return np.frombuffer(raw, dtype="S64").astype(str)


def generate(n: int, faults: int, out: Path, seed: int = 7) -> dict[str, Any]:
    """Write ``siapp``/``siasn``/``ledger`` (.parquet and .csv) into ``out``; return the
    injected differences ``{"usulan_id|direction|ref": category}`` and the row counts."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    pertek = i % 10 == 9
    usulan = pd.Series(i // 4).astype(str).str.zfill(7).radd("U").to_numpy(dtype=object)
    num = pd.Series(i).astype(str).str.zfill(8)
    ref = np.where(
        pertek, ("siasn:" + num).to_numpy(dtype=object), ("D" + num).to_numpy(dtype=object)
    )
    direction = np.where(pertek, TO_SIAPP, TO_SIASN)
    jenis_src = np.array(["SURAT_PENGANTAR", "SK_PANGKAT", "SK_JABATAN", "KEPPRES"])[i % 4]
    jenis_siapp = np.where(pertek, "PERTEK", jenis_src)
    jenis_siasn = np.where(pertek, "PERTEK", np.where(i % 4 == 3, "SK", "UPLOAD"))
    sha = _hashes(rng, n)
    size = rng.integers(10_000, 5_000_000, n)
    base = pd.DataFrame({"usulan_id": usulan, "direction": direction, "ref": ref})

    picks = rng.permutation(n)
    to_siasn_idx = picks[~pertek[picks]]
    to_siapp_idx = picks[pertek[picks]]
    take = {
        "missing_at_siasn": to_siasn_idx[:faults],
        "missing_at_siapp": to_siapp_idx[:faults],
        "hash_mismatch": to_siasn_idx[faults : 2 * faults],
        "size_mismatch": to_siapp_idx[faults : 2 * faults],
        "source_missing": to_siasn_idx[2 * faults : 3 * faults],
    }
    keep_siapp = np.ones(n, bool)
    keep_siasn = np.ones(n, bool)
    keep_siasn[take["missing_at_siasn"]] = False
    keep_siapp[take["missing_at_siapp"]] = False
    keep_siapp[take["source_missing"]] = False
    sha_siasn = sha.copy()
    sha_siasn[take["hash_mismatch"]] = _hashes(rng, faults)
    size_siapp = size.copy()
    size_siapp[take["size_mismatch"]] += 1  # pertek: SIAPP NV is the destination

    siapp = base.assign(jenis=jenis_siapp, sha256=sha, size=size_siapp, status=None)[keep_siapp]
    siasn = base.assign(jenis=jenis_siasn, sha256=sha_siasn, size=size, status=None)[keep_siasn]
    ledger = base.assign(jenis=jenis_siapp, sha256=sha, size=size, status="transferred")
    orphans = pd.DataFrame(
        {
            "usulan_id": [f"X{k:07d}" for k in range(faults)],
            "direction": TO_SIASN,
            "ref": [f"O{k:08d}" for k in range(faults)],
            "jenis": "UPLOAD",
            "sha256": _hashes(rng, faults),
            "size": rng.integers(10_000, 5_000_000, faults),
            "status": None,
        }
    )
    siasn = pd.concat([siasn, orphans], ignore_index=True)
    expected: dict[str, str] = {}
    for category, idx in take.items():
        for row in base.iloc[idx].itertuples(index=False):
            expected["|".join(row)] = category
    for row in orphans[KEY].itertuples(index=False):
        expected["|".join(row)] = "orphan"
    cols = ["usulan_id", "jenis", "direction", "ref", "sha256", "size", "status"]
    rows = {}
    for name, frame in (("siapp", siapp), ("siasn", siasn), ("ledger", ledger)):
        frame = frame[cols].sample(frac=1.0, random_state=seed).reset_index(drop=True)
        frame.to_parquet(out / f"{name}.parquet", index=False, row_group_size=100_000)
        frame.to_csv(out / f"{name}.csv", index=False)
        rows[name] = len(frame)
    (out / "expected.json").write_text(json.dumps(expected))
    return {"expected": len(expected), "rows": rows}


def _check(found: dict[str, str], data: Path) -> dict[str, Any]:
    expected = json.loads((data / "expected.json").read_text())
    wrong = sum(1 for k, v in found.items() if expected.get(k) != v)
    missed = sum(1 for k in expected if k not in found)
    return {
        "found": len(found),
        "wrong": wrong,
        "missed": missed,
        "exact": not wrong and not missed,
    }


# -- the peers (each in its own child process) -----------------------------------------------


def _batches(path: Path, chunk: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk):
        yield batch.to_pandas()


def peer_ours(data: Path, chunk: int) -> dict[str, Any]:
    from siapp_siasn.flows.reconciliation import iter_reconcile

    t0 = time.perf_counter()
    found: dict[str, str] = {}
    sides = [_batches(data / f"{s}.parquet", chunk) for s in ("siapp", "siasn", "ledger")]
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as work:
        for diff in iter_reconcile(*sides, workdir=Path(work)):
            keys = diff["usulan_id"] + "|" + diff["direction"].astype(str) + "|" + diff["ref"]
            found.update(zip(keys, diff["category"].astype(str), strict=True))
    return {"seconds": time.perf_counter() - t0, **_check(found, data)}


def _category(rows: pd.DataFrame, name: str) -> dict[str, str]:
    keys = rows["usulan_id"] + "|" + rows["direction"].astype(str) + "|" + rows["ref"]
    return dict.fromkeys(keys, name)


def peer_datacompy(data: Path) -> dict[str, Any]:
    from datacompy import PandasCompare

    t0 = time.perf_counter()
    cols = ["usulan_id", "direction", "ref", "sha256", "size"]
    siapp = pd.read_parquet(data / "siapp.parquet", columns=cols)
    siasn = pd.read_parquet(data / "siasn.parquet", columns=cols)
    ledger = pd.read_parquet(data / "ledger.parquet", columns=[*cols, "status"])
    ledger = ledger[ledger["status"].isin(["transferred", "verified"])][cols]
    to_siasn_a, to_siasn_b = siapp["direction"] == TO_SIASN, siasn["direction"] == TO_SIASN
    src = pd.concat([siapp[to_siasn_a], siasn[~to_siasn_b]], ignore_index=True)
    dst = pd.concat([siasn[to_siasn_b], siapp[~to_siasn_a]], ignore_index=True)
    del siapp, siasn
    sd = PandasCompare(src, dst, join_columns=KEY, df1_name="src", df2_name="dst")
    sl = PandasCompare(src, ledger, join_columns=KEY, df1_name="src", df2_name="ledger")
    found: dict[str, str] = {}
    only_src = sd.df1_unq_rows
    missing = np.where(only_src["direction"] == TO_SIASN, "missing_at_siasn", "missing_at_siapp")
    keys = only_src["usulan_id"] + "|" + only_src["direction"] + "|" + only_src["ref"]
    found.update(zip(keys, missing, strict=True))
    found.update(_category(sd.df2_unq_rows, "orphan"))
    found.update(_category(sl.df2_unq_rows, "source_missing"))
    mism = sd.all_mismatch()
    sizes = mism["size_src"] != mism["size_dst"]
    found.update(_category(mism[sizes], "size_mismatch"))
    found.update(_category(mism[~sizes], "hash_mismatch"))
    return {"seconds": time.perf_counter() - t0, **_check(found, data)}


_DDL = """CREATE UNLOGGED TABLE {t} (usulan_id text, jenis text, direction text, ref text,
sha256 text, size bigint, status text)"""

_QUERY = """
SELECT usulan_id, direction, ref, category FROM (
  SELECT usulan_id, direction, ref,
    CASE
      WHEN a.ref_a IS NOT NULL AND b.ref_b IS NOT NULL THEN CASE
        WHEN a.size IS DISTINCT FROM b.size THEN 'size_mismatch'
        WHEN a.sha256 IS DISTINCT FROM b.sha256 THEN 'hash_mismatch'
        ELSE 'ok' END
      WHEN (direction = 'siapp_to_siasn' AND a.ref_a IS NOT NULL) THEN 'missing_at_siasn'
      WHEN (direction = 'siasn_to_siapp' AND b.ref_b IS NOT NULL) THEN 'missing_at_siapp'
      WHEN l.status IN ('transferred', 'verified') THEN 'source_missing'
      WHEN a.ref_a IS NOT NULL OR b.ref_b IS NOT NULL THEN 'orphan'
      ELSE 'ledger_only' END AS category
  FROM (SELECT usulan_id, direction, ref, ref AS ref_a, sha256, size FROM siapp) a
  FULL OUTER JOIN (SELECT usulan_id, direction, ref, ref AS ref_b, sha256, size FROM siasn) b
    USING (usulan_id, direction, ref)
  FULL OUTER JOIN ledger l USING (usulan_id, direction, ref)
) x WHERE category <> 'ok'
"""


def _server_pss(postmaster: Any) -> int:
    total = 0
    for proc in [postmaster, *postmaster.children(recursive=True)]:
        with contextlib.suppress(Exception):
            total += proc.memory_full_info().pss
    return total


def peer_postgres(data: Path, url: str) -> dict[str, Any]:
    import psutil
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        t0 = time.perf_counter()
        for t in ("siapp", "siasn", "ledger"):
            conn.execute(f"DROP TABLE IF EXISTS {t}")
            conn.execute(_DDL.format(t=t))
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY {t} FROM STDIN (FORMAT csv, HEADER true)") as copy,
                (data / f"{t}.csv").open("rb") as fh,
            ):
                while block := fh.read(1 << 20):
                    copy.write(block)
            conn.execute(f"ANALYZE {t}")
        load = time.perf_counter() - t0
        conn.execute("SET work_mem = '256MB'")
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        postmaster = psutil.Process(backend).parent()
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], _server_pss(postmaster))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t1 = time.perf_counter()
        rows = conn.execute(_QUERY).fetchall()
        seconds = time.perf_counter() - t1
        done.set()
        sampler.join()
    found = {f"{u}|{d}|{r}": c for u, d, r, c in rows}
    return {
        "seconds": seconds,
        "load_seconds": load,
        "server_peak_mb": peak[0] / 2**20,
        **_check(found, data),
    }


# -- the parent ----------------------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    data = Path(args.data)
    if args.peer == "ours":
        result = peer_ours(data, args.chunk)
    elif args.peer == "datacompy":
        result = peer_datacompy(data)
    else:
        result = peer_postgres(data, args.pg_url)
    emit_result(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents per side")
    parser.add_argument("--quick", action="store_true", help="50,000 documents (smoke run)")
    parser.add_argument("--faults", type=int, default=None, help="injected per category")
    parser.add_argument("--chunk", type=int, default=250_000, help="rows per chunk (ours)")
    parser.add_argument("--peers", default="ours,postgresql,datacompy")
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--pg-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        _child(args)
        return
    n = 50_000 if args.quick else args.docs
    faults = args.faults if args.faults is not None else max(10, n // 1000)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    info = machine_info()
    print(f"machine: {info['cpu_model']}, {info['nproc']} cores, {info['memory_gib']} GiB (shared)")
    with tempfile.TemporaryDirectory(prefix="recon-bench-data-") as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        made = generate(n, faults, data)
        print(
            f"generated {made['rows']} rows, {made['expected']:,} injected differences "
            f"({faults:,} per category) in {time.perf_counter() - t0:.1f}s"
        )
        results: dict[str, Any] = {}
        with contextlib.ExitStack() as stack:
            for peer in peers:
                extra = ["--peer", peer, "--data", str(data), "--chunk", str(args.chunk)]
                if peer == "postgresql":
                    from tests.fixtures.postgres import running_postgres

                    server = stack.enter_context(running_postgres(fast=False))
                    extra += ["--pg-url", server.create_database("recon_bench")]
                run = run_module("bench.recon_bench", extra, log=data / f"{peer}.log")
                if not run.ok:
                    print(f"{peer}: failed (rc {run.returncode})\n{run.tail()}")
                    continue
                results[peer] = (run, run.result)
    _print(results)


def _print(results: dict[str, Any]) -> None:
    head = f"{'peer':<11} {'time s':>8} {'load s':>8} {'child s':>8} {'peak RSS MB':>12} exact"
    print(head)
    print("-" * len(head))
    for peer, (run, res) in results.items():
        rss = run.peak_rss_mb + res.get("server_peak_mb", 0.0)
        load = f"{res['load_seconds']:.2f}" if "load_seconds" in res else "-"
        exact = "yes" if res["exact"] else f"NO (wrong {res['wrong']}, missed {res['missed']})"
        print(
            f"{peer:<11} {res['seconds']:>8.2f} {load:>8} {run.wall_s:>8.2f} {rss:>12.0f} {exact}"
        )
    times = {peer: res["seconds"] for peer, (_, res) in results.items()}
    if "ours" in times:
        ratios = []
        for peer, (_, res) in results.items():
            if peer == "ours":
                continue
            ratios.append(f"ours/{peer} {times['ours'] / res['seconds']:.2f}")
            if "load_seconds" in res:
                total = res["seconds"] + res["load_seconds"]
                ratios.append(f"ours/{peer}(load+join) {times['ours'] / total:.2f}")
        print("time ratios (< 1: ours faster): " + ", ".join(ratios))
    print(
        "time s: the comparison (ours: read + partition + compare; postgresql: the join query "
        "only; datacompy: read + two compares). child s: the whole child process. PostgreSQL's "
        "peak RSS = client RSS + peak PSS sum of the server processes."
    )


if __name__ == "__main__":
    main()
