"""End to end on Airflow's distributed engine: the compose topology as local processes.

Redis, PostgreSQL, the api-server, scheduler, dag-processor, triggerer and two Celery workers
run as separate processes with CeleryExecutor and the settings of ``deploy/airflow.env`` (see
``runner.py``). One test, in the order a deployment lives it:

1. both DAGs unpaused through the REST API: **the scheduler** runs them on their schedules
   (shortened to every minute by a cluster policy, configuration only);
2. a full sweep of ``siasn_asn_daily`` triggered through the REST API; the worker running its
   ``pull_asn`` is SIGKILLed (with its whole process group) once part of the employees are
   stored: the scheduler notices the missing heartbeat, the retry runs on the other worker and
   resumes from the checkpoints;
3. ``usulan_sync`` triggered through the REST API, two simulated days later;
4. the store equals the sandbox's ground truth (every IV/b+ employee field by field after the
   killed sweep; every in-scope usulan delivered and every refused one reported after the
   usulan run); the lineage read back through the REST API's XCom endpoint equals the store's;
   tasks ran on both workers;
5. least privilege: after airflow-init (migrations and grants as the owner) every session on the
   store database was the runtime role, which owns no table and may not create one.

Not collected by default: ``make e2e-distributed`` runs it (``-m distributed``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_siasn.store import Store
from tests.distributed.runner import (
    STORE_OWNER,
    STORE_RUNTIME,
    Api,
    Topology,
    distributed_topology,
    wait_for,
)
from tests.flows._truth import StoreView, fetch_truth, mismatches
from tests.flows._usulan import WORLD

pytestmark = pytest.mark.distributed

ASN, USULAN = "siasn_asn_daily", "usulan_sync"
SCHEDULES = {ASN: "* * * * *", USULAN: "* * * * *"}
DATA_UTAMA = "GET /apisiasn/1.0/pns/data-utama/{nipBaru}"
#: SIASN requests per second the hub may make (the connection's rate limit): slow enough that a
#: full sweep of the IV/b+ employees lasts long enough to kill its worker in the middle
RATE_LIMIT_RPS = 60
BATCH_SIZE = 20


def _runs(api: Api, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
    return api.get(f"dags/{dag_id}/dagRuns", limit=100, **filters)["dag_runs"]


def _trigger(api: Api, dag_id: str, conf: dict[str, Any]) -> str:
    run = api.request("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    return run["dag_run_id"]


def _finished(api: Api, dag_id: str, run_id: str) -> str | None:
    state = api.get(f"dags/{dag_id}/dagRuns/{run_id}")["state"]
    return state if state in ("success", "failed") else None


def _wait_success(topo: Topology, dag_id: str, run_id: str, timeout_s: float = 600) -> None:
    state = wait_for(f"{dag_id} {run_id}", lambda: _finished(topo.api, dag_id, run_id), timeout_s)
    if state != "success":
        tis = topo.api.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        states = {ti["task_id"]: (ti["state"], ti["hostname"]) for ti in tis}
        pytest.fail(f"{dag_id} {run_id} ended {state}: {states}\n{topo.logs()}")


def _data_utama_requests(topo: Topology) -> int:
    routes = topo.sandbox.stats()["routes"].get("siasn", {})
    return routes.get(DATA_UTAMA, {}).get("count", 0)


def _xcom(api: Api, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    entry = api.get(
        f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    )
    value = entry["value"]
    return json.loads(value) if isinstance(value, str) else value


def _hostnames(api: Api) -> set[str]:
    """Host names recorded by every try of every task instance of both DAGs."""
    names: set[str] = set()
    for dag_id in SCHEDULES:
        for run in _runs(api, dag_id):
            tis = api.get(f"dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")
            for ti in tis["task_instances"]:
                tries = api.get(
                    f"dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/{ti['task_id']}/tries"
                )["task_instances"]
                names |= {t["hostname"] for t in tries if t["hostname"]}
    return names


def test_scheduled_and_triggered_runs_on_two_celery_workers_survive_a_killed_worker() -> None:
    started = time.monotonic()
    with distributed_topology(
        sandbox=WORLD, schedules=SCHEDULES, siasn_extra={"rate_limit_rps": RATE_LIMIT_RPS}
    ) as topo:
        api, sb = topo.api, topo.sandbox
        print(f"topology up in {time.monotonic() - started:.0f}s")

        # 1. the scheduler runs both DAGs on their schedules
        for dag_id in SCHEDULES:
            api.request("PATCH", f"dags/{dag_id}", json={"is_paused": False})
        for dag_id in SCHEDULES:
            wait_for(
                f"a scheduled {dag_id} run",
                lambda d=dag_id: _runs(api, d, run_type="scheduled", state="success"),
                600,
            )
        print(f"scheduled runs done at {time.monotonic() - started:.0f}s")

        # 2. a full sweep through the REST API; the worker of its pull_asn killed in the middle
        ivb = set(sb.truth("asn", min_gol=42)["nips"])
        sb.reset_stats()
        run_id = _trigger(api, ASN, {"full_refresh": True, "batch_size": BATCH_SIZE})
        pull = f"dags/{ASN}/dagRuns/{run_id}/taskInstances/pull_asn"

        def mid_pull() -> dict[str, Any] | None:
            ti = api.get(pull)
            if ti["state"] == "running" and ti["hostname"]:
                stored = _data_utama_requests(topo)
                if len(ivb) // 5 <= stored <= len(ivb) // 2:
                    return ti
                if stored > len(ivb) // 2:
                    pytest.fail(f"pull_asn went past the middle unseen ({stored} employees)")
            return None

        victim = wait_for("pull_asn in the middle of the sweep", mid_pull, 600, every_s=0.2)
        killed_at = _data_utama_requests(topo)
        topo.kill(topo.workers[victim["hostname"]])
        _wait_success(topo, ASN, run_id)
        print(f"killed {victim['hostname']} after {killed_at} employees; run done")

        tries = sorted(api.get(f"{pull}/tries")["task_instances"], key=lambda t: t["try_number"])
        assert tries[0]["hostname"] == victim["hostname"]
        assert tries[-1]["state"] == "success" and len(tries) >= 2
        survivor = tries[-1]["hostname"]
        assert survivor in topo.workers and survivor != victim["hostname"]
        # the retry resumed from the checkpoints: not every employee was fetched twice
        assert _data_utama_requests(topo) < len(ivb) + killed_at

        # the services (scheduler, workers, api-server) reached the store as the runtime role
        # only: sampled before this test opens a connection of its own
        by_services = topo.store_users()
        assert set(by_services) == {STORE_RUNTIME}, by_services
        assert by_services[STORE_RUNTIME] > 0
        print(f"store sessions: {topo.sessions.samples if topo.sessions else 0} samples, "
              f"roles seen {by_services}")  # fmt: skip

        # the store equals SIASN's truth, field by field, after the killed and resumed sweep
        store = Store(topo.store_url)  # the runtime role: it reads what the DAGs wrote
        assert store.asn.active_nips() == ivb
        assert mismatches(StoreView.read(store), fetch_truth(sb, ivb)) == {}

        # 3. usulan traffic through the REST API, two simulated days on (new usulan, answers)
        sb.advance(2)
        usulan_run = _trigger(api, USULAN, {"max_attempts": 3, "concurrency": 4})
        _wait_success(topo, USULAN, usulan_run)

        # 4. lineage through the XCom endpoint, usulan against ground truth, both workers
        stored_lineage = {r["lineage_id"]: r for r in store.lineage.list(dag_id=ASN)}
        stored_lineage |= {r["lineage_id"]: r for r in store.lineage.list(dag_id=USULAN)}
        for dag_id, rid, task_id in (
            (ASN, run_id, "pull_referensi"),
            (ASN, run_id, "pull_asn"),
            (ASN, run_id, "quality_checks"),
            (USULAN, usulan_run, "collect"),
            (USULAN, usulan_run, "push_siasn"),
            (USULAN, usulan_run, "status_back"),
            (USULAN, usulan_run, "push_siapp"),
        ):
            record = _xcom(api, dag_id, rid, task_id)
            assert (record["dag_id"], record["run_id"], record["task_id"]) == (
                dag_id,
                rid,
                task_id,
            )
            assert stored_lineage[record["lineage_id"]] == record
        pull_record = _xcom(api, ASN, run_id, "pull_asn")
        assert pull_record["window"]["mode"] == "full"
        assert pull_record["try_number"] == len(tries)

        truth = sb.truth("usulan")["usulan"]
        in_scope = {u["id"] for u in truth if u["in_scope"]}
        refused = {u["id"] for u in truth if not u["in_scope"]}
        assert in_scope
        assert {e["payload"]["id_usulan_siapp"] for e in sb.received("siapp.usulan")} == in_scope
        assert {e["payload"]["usulan_id"] for e in sb.received("inbound.penolakan")} == refused

        assert set(topo.workers) <= _hostnames(api)

        # 5. every task that calls SIASN took a slot of the one SIASN pool (the deployment's
        # cluster policy, deploy/airflow_local_settings.py); the others stayed in default_pool
        pools = {
            ti["task_id"]: ti["pool"]
            for dag_id, rid in ((ASN, run_id), (USULAN, usulan_run))
            for ti in api.get(f"dags/{dag_id}/dagRuns/{rid}/taskInstances")["task_instances"]
        }
        siasn_callers = {"pull_referensi", "pull_asn", "push_siasn", "status_back", "push_siapp"}
        assert {t for t, pool in pools.items() if pool == "siasn_api"} == siasn_callers
        assert {pools[t] for t in pools.keys() - siasn_callers} == {"default_pool"}

        # 6. the runtime role owns nothing and cannot change the schema; nobody else connected
        admin = sa.create_engine(topo.admin_url)
        with admin.connect() as conn:
            owners = conn.exec_driver_sql(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).scalars()
            assert set(owners) == {STORE_OWNER}
        admin.dispose()
        runtime = sa.create_engine(topo.store_url)
        with runtime.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as refused:
            conn.exec_driver_sql("ALTER TABLE asn ADD COLUMN intruder int")
        assert refused.value.orig is not None and refused.value.orig.sqlstate == "42501"
        runtime.dispose()
        assert set(topo.store_users()) == {STORE_RUNTIME}
    print(f"wall time {time.monotonic() - started:.0f}s")
