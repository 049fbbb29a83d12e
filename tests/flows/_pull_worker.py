"""Run ``pull_asn`` once in its own process: the kill/resume test SIGKILLs it mid-run.

Usage: ``python tests/flows/_pull_worker.py '<json>'`` with the JSON keys ``siasn`` (the
``SiasnConfig`` fields), ``store_url``, ``hash_key``, ``run_id``, ``dag_id``, ``task_id``,
``now`` (ISO datetime) and ``batch_size``. Prints the lineage record as JSON on success.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from typing import Any

from siapp_siasn.clients.config import SiasnConfig
from siapp_siasn.clients.siasn import SiasnClient
from siapp_siasn.flows.asn_pull import PullParams, pull_asn
from siapp_siasn.flows.context import RunContext
from siapp_siasn.store import Store


def main(argv: list[str]) -> int:
    spec: dict[str, Any] = json.loads(argv[1])
    client = SiasnClient.from_config(SiasnConfig(**spec["siasn"]))
    store = Store(spec["store_url"], hash_key=spec["hash_key"])
    run = RunContext(
        dag_id=spec["dag_id"],
        run_id=spec["run_id"],
        task_id=spec["task_id"],
        now=dt.datetime.fromisoformat(spec["now"]),
    )
    try:
        record = asyncio.run(
            pull_asn(client, store, PullParams(batch_size=spec["batch_size"]), run)
        )
    finally:
        store.close()
    print(json.dumps(record.to_xcom()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
