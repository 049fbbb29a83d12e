"""Child: the same pull with dlt's `rest_api` source into DuckDB (or PostgreSQL).

    BENCH_SIASN_GATEWAY_TOKEN=… BENCH_SIASN_SSO_TOKEN=… \
    python -m bench.peer_dlt --siasn-url URL --workdir DIR [--workers 64] [--page-size 1000]

Source (declarative `rest_api` config, see `source_config`):

- `asn` (parent, not loaded): `GET /apisiasn/1.0/siapp/asn`, offset paginator (`limit`/`offset`,
  `total_path` `data.total`), records at `data.list`; 404 (empty page) ends it;
- four child resources per NIP (`{resources.asn.nipBaru}`), `parallelized`, single page, 404 =
  no rows: `data_utama` (`data`, SCD2 merge on its row hash, like the hub's history),
  `data_pasangan` (`data.listPasangan`), `data_anak` (`data.listAnak`), `data_ortu` (`data`), the
  family ones carrying the parent's NIP (`include_from_parent`) and merged delete-insert on it
  (a NIP's family is replaced as a whole, like the hub's);
- both SIASN tokens as static headers (`Authorization: Bearer`, `Auth: bearer`), fetched once
  by the parent with the sandbox credentials (dlt has no two-token auth of its own).

Tuning (set through dlt's config environment variables before dlt is imported):
`EXTRACT__WORKERS` and `EXTRACT__MAX_PARALLEL_ITEMS` = `--workers` (requests in flight; ours
uses the same number), normalize workers 1 and load workers 20 (dlt's defaults, passed to
`normalize()`/`load()`), `RUNTIME__REQUEST_MAX_ATTEMPTS=9` (ours retries 8 times),
`RUNTIME__LOG_LEVEL=WARNING`; loader file format `jsonl` by default (`csv` on PostgreSQL):
DuckDB's preferred `insert_values` makes the load step parse huge INSERT statements (peak RSS
1.4 GB at 5,000 employees, 3.6 GB at 20,000). dlt has no client-side rate limiter: it relies on
the server's 429 + Retry-After.
Prints `BENCH_RESULT {json}` with phase timings and row counts per table.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path
from typing import Any

from bench.common import emit_result


def _maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


NOT_FOUND_IS_EMPTY = [{"status_code": 404, "action": "ignore"}]


def dlt_settings(
    workers: int, normalize_workers: int = 1, load_workers: int = 20
) -> dict[str, str]:
    """dlt configuration, as the environment variables dlt reads."""
    return {
        "EXTRACT__WORKERS": str(workers),
        "EXTRACT__MAX_PARALLEL_ITEMS": str(workers),
        "NORMALIZE__WORKERS": str(normalize_workers),
        "LOAD__WORKERS": str(load_workers),
        # 1 attempt + 8 retries, like our client's max_retries=8 (dlt's default is 5 attempts,
        # which a 20,000-employee run exhausted on 429s and failed)
        "RUNTIME__REQUEST_MAX_ATTEMPTS": "9",
        "RUNTIME__LOG_LEVEL": "WARNING",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


def compile_path(selector: str) -> Any:
    """The selector as a compiled JSONPath (dlt imported lazily: its settings come first)."""
    from dlt.common.jsonpath import compile_path as compile_jsonpath

    return compile_jsonpath(selector)


def _child(
    name: str, endpoint: str, selector: str, family: bool, utama_strategy: str = "scd2"
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "name": name,
        "parallelized": True,
        "endpoint": {
            "path": f"apisiasn/1.0/pns/{endpoint}/{{resources.asn.nipBaru}}",
            # compiled once: a string selector is parsed again (a new JSONPath parser) for every
            # response, a quarter of dlt's GIL time in a py-spy profile
            "data_selector": compile_path(selector),
            "paginator": "single_page",
            "response_actions": NOT_FOUND_IS_EMPTY,
        },
    }
    if family:
        resource["include_from_parent"] = ["nipBaru"]
        resource["merge_key"] = "_asn_nip_baru"
        resource["write_disposition"] = {"disposition": "merge", "strategy": "delete-insert"}
    else:
        resource["primary_key"] = "nipBaru"
        resource["write_disposition"] = {"disposition": "merge", "strategy": utama_strategy}
    return resource


def source_config(
    siasn_url: str, gateway_token: str, sso_token: str, page_size: int, utama_strategy: str = "scd2"
) -> dict[str, Any]:
    """The `rest_api` configuration (a plain dict: dlt's `RESTAPIConfig`)."""
    return {
        "client": {
            "base_url": siasn_url.rstrip("/") + "/",
            "headers": {"Authorization": f"Bearer {gateway_token}", "Auth": f"bearer {sso_token}"},
        },
        "resources": [
            {
                "name": "asn",
                "selected": False,
                "endpoint": {
                    "path": "apisiasn/1.0/siapp/asn",
                    "data_selector": compile_path("data.list"),
                    "paginator": {
                        "type": "offset",
                        "limit": page_size,
                        "offset_param": "offset",
                        "limit_param": "limit",
                        "total_path": "data.total",
                    },
                    "response_actions": NOT_FOUND_IS_EMPTY,
                },
            },
            _child("data_utama", "data-utama", "data", family=False, utama_strategy=utama_strategy),
            _child("data_pasangan", "data-pasangan", "data.listPasangan", family=True),
            _child("data_anak", "data-anak", "data.listAnak", family=True),
            _child("data_ortu", "data-ortu", "data", family=True),
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--siasn-url", required=True)
    ap.add_argument("--workdir", type=Path, required=True, help="pipelines dir and DuckDB file")
    ap.add_argument("--workers", type=int, default=64)
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--load-workers", type=int, default=20, help="dlt's default: 20")
    ap.add_argument("--normalize-workers", type=int, default=1, help="dlt's default: 1")
    ap.add_argument("--utama-strategy", choices=["scd2", "delete-insert"], default="scd2")
    ap.add_argument(
        "--loader-file-format",
        choices=["default", "insert_values", "jsonl", "csv", "parquet"],
        default="default",
        help="default: the destination's preferred (insert_values for both); jsonl is taken "
        "as csv on PostgreSQL (its COPY path), which has no jsonl loader",
    )
    ap.add_argument("--duckdb-memory-limit", help="e.g. 256MB (DuckDB's default: 80%% of RAM)")
    ap.add_argument("--destination", choices=["duckdb", "postgres"], default="duckdb")
    ap.add_argument("--postgres-url", help="SQLAlchemy-style URL for --destination postgres")
    ap.add_argument("--profile", type=Path, help="write a pyinstrument HTML profile here")
    args = ap.parse_args()

    settings = dlt_settings(args.workers, args.normalize_workers, args.load_workers)
    os.environ.update(settings)
    gateway = os.environ.pop("BENCH_SIASN_GATEWAY_TOKEN")
    sso = os.environ.pop("BENCH_SIASN_SSO_TOKEN")

    import dlt
    from dlt.sources.rest_api import rest_api_source

    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.destination == "duckdb":
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        credentials = DuckDbCredentials(str(args.workdir / "dlt.duckdb"))
        if args.duckdb_memory_limit:
            credentials.global_config = {"memory_limit": args.duckdb_memory_limit}
        destination: Any = dlt.destinations.duckdb(credentials)
    else:
        from sqlalchemy.engine import make_url

        url = make_url(args.postgres_url or "").set(drivername="postgresql")
        if url.password is None:  # dlt insists on one; the test server trusts loopback
            url = url.set(password="unused")
        destination = dlt.destinations.postgres(url.render_as_string(hide_password=False))
    pipeline = dlt.pipeline(
        pipeline_name="siasn_bench",
        pipelines_dir=str(args.workdir / "pipelines"),
        destination=destination,
        dataset_name="siasn",
    )
    source = rest_api_source(
        source_config(args.siasn_url, gateway, sso, args.page_size, args.utama_strategy),
        name="siasn",
    )
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    rss = {"start": _maxrss_mb()}
    if args.destination == "postgres" and args.loader_file_format == "jsonl":
        args.loader_file_format = "csv"
    file_format = None if args.loader_file_format == "default" else args.loader_file_format
    pipeline.extract(
        source,
        workers=args.workers,
        max_parallel_items=args.workers,
        loader_file_format=file_format,  # type: ignore[arg-type]
    )
    t1 = time.perf_counter()
    rss["extract"] = _maxrss_mb()
    pipeline.normalize(workers=args.normalize_workers)
    t2 = time.perf_counter()
    rss["normalize"] = _maxrss_mb()
    pipeline.load(workers=args.load_workers)
    t3 = time.perf_counter()
    rss["load"] = _maxrss_mb()
    cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.stop()
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        args.profile.write_text(profiler.output_html())
        args.profile.with_suffix(".txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=False)
        )
    # counted in the destination, after the clock stopped (normalize's row counts are not
    # rows for every file format)
    rows: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for table in ("data_utama", "data_pasangan", "data_anak", "data_ortu"):
            where = " where _dlt_valid_to is null" if table == "data_utama" else ""
            name = client.make_qualified_table_name(table)
            rows[table] = client.execute_sql(f"select count(*) from {name}{where}")[0][0]
    emit_result(
        {
            "employees": rows["data_utama"],
            "rows_loaded": rows,
            "work_wall_s": round(t3 - t0, 3),
            "work_cpu_s": round(cpu, 3),
            "extract_s": round(t1 - t0, 3),
            "normalize_s": round(t2 - t1, 3),
            "load_s": round(t3 - t2, 3),
            "peak_rss_mb_after": rss,
            "settings": settings,
            "utama_strategy": args.utama_strategy,
            "loader_file_format": args.loader_file_format,
            "duckdb_memory_limit": args.duckdb_memory_limit,
            "page_size": args.page_size,
            "destination": args.destination,
            "duckdb": str(args.workdir / "dlt.duckdb") if args.destination == "duckdb" else None,
        }
    )


if __name__ == "__main__":
    main()
