"""Every DAG file parses the way the dag-processor parses it, fast, and is wired as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from siapp_siasn.airflow_env import PROJECT_ROOT, AirflowEnv

PROBE = r"""
import json, time
t = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=%r)
out = {"errors": {k: v.splitlines()[-1] for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "tasks": sorted(dag.task_ids),
        "edges": sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids),
        "schedule": str(getattr(dag.timetable, "_expression", dag.timetable)),
        "timezone": str(dag.timezone),
        "max_active_runs": dag.max_active_runs,
        "params": sorted(dag.params.keys()),
        "undescribed_params": sorted(
            k for k, v in dag.params.items() if not (getattr(v, "description", None) or "").strip()
        ),
        "doc_md": bool(dag.doc_md and len(dag.doc_md) > 200),
        "outlets": {t.task_id: [a.uri for a in t.outlets] for t in dag.tasks},
        "inlets": {t.task_id: [a.uri for a in t.inlets] for t in dag.tasks if t.inlets},
        "calls_siasn": sorted(t.task_id for t in dag.tasks if getattr(t, "calls_siasn", False)),
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = AirflowEnv(tmp_path_factory.mktemp("airflow-home")).environ()
    dags = str(PROJECT_ROOT / "dags")
    out = subprocess.run(
        [sys.executable, "-c", PROBE % dags], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_dag_file_imports_without_errors(dagbag: dict) -> None:
    assert dagbag["errors"] == {}
    assert {p.stem for p in Path(PROJECT_ROOT / "dags").glob("*.py")} <= set(dagbag["dags"])


def test_siasn_asn_daily_is_wired_as_documented(dagbag: dict) -> None:
    dag = dagbag["dags"]["siasn_asn_daily"]
    assert dag["tasks"] == ["pull_asn", "pull_referensi", "quality_checks"]
    assert dag["edges"] == [["pull_asn", "quality_checks"], ["pull_referensi", "pull_asn"]]
    assert dag["timezone"] == "Asia/Jakarta"
    assert "'0 1 * * *'" in dag["schedule"]
    assert dag["max_active_runs"] == 1
    assert dag["params"] == [
        "batch_size",
        "full_refresh",
        "max_drifted",
        "max_quarantine_rate",
        "min_quarantined",
        "selection",
    ]
    assert dag["doc_md"]
    assert dag["outlets"]["pull_asn"] == ["siasn://asn/"]
    assert dag["outlets"]["pull_referensi"] == ["siasn://referensi/"]
    assert dag["inlets"] == {"quality_checks": ["siasn://asn/", "siasn://referensi/"]}


def test_api_contract_monitor_is_wired_as_documented(dagbag: dict) -> None:
    dag = dagbag["dags"]["api_contract_monitor"]
    assert dag["tasks"] == ["probe"]
    assert dag["timezone"] == "Asia/Jakarta"
    assert "'10 * * * *'" in dag["schedule"]
    assert dag["params"] == ["notice_dir", "notify_to", "outage_after_s", "repeats", "slow_ms"]


def test_pks_monitoring_report_is_wired_as_documented(dagbag: dict) -> None:
    dag = dagbag["dags"]["pks_monitoring_report"]
    assert dag["tasks"] == ["monitoring_report"] and dag["timezone"] == "Asia/Jakarta"
    assert "0 6 1 * *" in dag["schedule"] and dag["max_active_runs"] == 1
    assert dag["params"] == ["period_from", "period_to", "report_dir"]
    assert dag["outlets"]["monitoring_report"] == ["hub://monitoring-report/"]


def test_hub_retention_is_wired_as_documented(dagbag: dict) -> None:
    dag = dagbag["dags"]["hub_retention"]
    assert dag["tasks"] == ["purge_expired"] and dag["timezone"] == "Asia/Jakarta"
    assert "'30 2 * * *'" in dag["schedule"]
    assert dag["params"] == ["max_age_days"]


def test_tasks_that_call_siasn_say_so(dagbag: dict) -> None:
    """The deployment's cluster policy puts these tasks into the SIASN pool
    (deploy/airflow_local_settings.py); a task that calls SIASN and does not say so would
    escape the shared rate limit. The hourly monitor is left out on purpose: a few probes must
    not wait hours behind a full sweep."""
    calls = {d: v["calls_siasn"] for d, v in dagbag["dags"].items() if v["calls_siasn"]}
    assert calls == {
        "siasn_asn_daily": ["pull_asn", "pull_referensi"],
        "usulan_sync": ["push_siapp", "push_siasn", "status_back"],
        "dokumen_reconciliation": ["check_keppres", "reconcile"],
    }


def test_every_param_has_a_description(dagbag: dict) -> None:
    """The trigger form shows each Param's description: none may be left without one."""
    assert {d: v["undescribed_params"] for d, v in dagbag["dags"].items()} == {
        d: [] for d in dagbag["dags"]
    }
