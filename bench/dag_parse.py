"""Child: parse one DAG file the dag-processor's way, in a fresh process.

    python -m bench.dag_parse dags/siasn_asn_daily.py

Airflow 3's dag-processor manager has Airflow loaded, pre-imports the `airflow.*` modules a
file imports (`parsing_pre_import_modules`), then forks one child per file that runs
`_parse_file`: `BundleDagBag(file, load_op_links=False)` (the file's own imports included —
our package is not pre-imported) plus the serialization of every DAG. This child does the same
steps in the same order and times each (interpreter start excluded):

- `preload_s`: importing `airflow.dag_processing.processor` (the manager already has it);
- `pre_import_s`: `_pre_import_airflow_modules(file)` (done in the manager before the fork);
- `parse_s`: the first `_parse_file` — what each parse of this file costs the processor;
- `warm_parse_s`: a second `_parse_file` in the same process (every module already imported).

Prints `BENCH_RESULT {json}` with the DAG ids, import errors and the timings.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import emit_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--bundle-path", type=Path, help="default: the file's folder")
    args = ap.parse_args()
    path = args.file.resolve()
    bundle = (args.bundle_path or path.parent).resolve()

    t0 = time.perf_counter()
    import structlog
    from airflow.dag_processing.processor import (
        DagFileParseRequest,
        _parse_file,
        _pre_import_airflow_modules,
    )

    log = structlog.get_logger("bench.dag_parse")
    t1 = time.perf_counter()
    _pre_import_airflow_modules(str(path), log)
    t2 = time.perf_counter()
    request = DagFileParseRequest(
        file=str(path), bundle_path=bundle, bundle_name="dags-folder", callback_requests=[]
    )
    result = _parse_file(request, log)
    t3 = time.perf_counter()
    _parse_file(request, log)
    t4 = time.perf_counter()
    dags = [d.dag_id for d in (result.serialized_dags if result else [])]
    errors = dict(result.import_errors or {}) if result else {}
    emit_result(
        {
            "file": str(path.relative_to(bundle.parent) if bundle.parent in path.parents else path),
            "dags": dags,
            "import_errors": {k: v.splitlines()[-1] if v else "" for k, v in errors.items()},
            "preload_s": round(t1 - t0, 4),
            "pre_import_s": round(t2 - t1, 4),
            "parse_s": round(t3 - t2, 4),
            "warm_parse_s": round(t4 - t3, 4),
        }
    )


if __name__ == "__main__":
    main()
