"""One flow run in a process of its own, for the faults that end or limit a process.

``python _worker.py '<json>'``: runs ``reconcile`` or the monitoring & evaluation report on
the store and the sandbox named in the JSON and prints the lineage record (JSON) on stdout.

- ``fsize``: a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored): a write past it fails with
  EFBIG, as a write to a full disk fails with ENOSPC;
- ``kill_after_upload``: the process SIGKILLs itself right after SIASN answered the first
  upload-dok of a repair (the document is at SIASN; the ledger does not know).

A failure prints ``ERROR <type>: <text>`` as the last line of stderr and exits with 3.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

# matplotlib's first use writes its font cache: done before any limit is set
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from siapp_siasn.clients.config import SiappConfig, SiasnConfig
from siapp_siasn.clients.siapp import SiappClient
from siapp_siasn.clients.siasn import SiasnClient
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.monitoring_report import build_monitoring_report
from siapp_siasn.flows.reconciliation_run import ReconcileParams, reconcile
from siapp_siasn.store import Store


def main(cfg: dict[str, Any]) -> int:
    FigureCanvasAgg(Figure()).draw()
    if cfg.get("fsize"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["fsize"], cfg["fsize"]))
    store = Store(cfg["store_url"], hash_key=cfg["hash_key"].encode())
    run = RunContext(
        dag_id=cfg["dag_id"],
        run_id=cfg["run_id"],
        task_id=cfg["task_id"],
        now=dt.datetime.fromisoformat(cfg["now"]),
    )
    try:
        if cfg["flow"] == "reconcile":
            creds, client = cfg["credentials"], cfg["client"]
            siasn = SiasnClient.from_config(
                SiasnConfig(base_url=cfg["siasn_url"], **creds, **client)
            )
            siapp = SiappClient.from_config(
                SiappConfig(
                    base_url=cfg["siapp_url"],
                    client_id=creds["client_id"],
                    client_secret=creds["client_secret"],
                    **client,
                )
            )
            if cfg.get("kill_after_upload"):
                upload = siasn.upload_dok

                async def upload_then_die(*args: Any, **kwargs: Any) -> Any:
                    await upload(*args, **kwargs)
                    os.kill(os.getpid(), signal.SIGKILL)

                siasn.upload_dok = upload_then_die  # type: ignore[method-assign]
            params = ReconcileParams(report_dir=Path(cfg["report_dir"]), max_unrepairable=0)
            record = asyncio.run(reconcile(run, siasn, siapp, store, params))
        else:
            result = build_monitoring_report(
                store, cfg["period_from"], cfg["period_to"], cfg["report_dir"], run=run
            )
            record = result.record
    except Exception as exc:  # the task's error, as the task log would end
        print(f"ERROR {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    finally:
        store.close()
    print(json.dumps(record.to_xcom(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
