"""Cluster policy of the hub's distributed deployment (Airflow loads it from $AIRFLOW_HOME/config).

SIASN's rate limit is per API client, not per worker: two tasks that call SIASN at the same time
each run their own token bucket. Every task that calls SIASN therefore takes a slot of one pool
(``siasn_api``, created by airflow-init with ``SIASN_POOL_SLOTS`` slots), so that

    slots x rate_limit_rps (SIASN connection)  <=  BKN's allotment to the hub

holds however many Celery workers run. Tasks say whether they call SIASN (``calls_siasn``); a
task that names a pool of its own keeps it. The policy is configuration, not DAG code: a
deployment without the pool (``make demo``, ``make ui``, ``dag.test``) does not load this file.
"""

from __future__ import annotations

import os
from typing import Any

SIASN_POOL = os.environ.get("SIAPP_SIASN_SIASN_POOL", "siasn_api")
DEFAULT_POOL = "default_pool"


def hub_task_policy(task: Any) -> None:
    """Put every task that calls SIASN into the SIASN pool."""
    if getattr(task, "calls_siasn", False) and task.pool == DEFAULT_POOL:
        task.pool = SIASN_POOL


def task_policy(task: Any) -> None:
    hub_task_policy(task)
