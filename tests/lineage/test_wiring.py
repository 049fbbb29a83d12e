"""Assets carry descriptions, tasks that read an Asset declare it as an inlet, and every DAG
whose tasks may run on after a failure ends in a verdict task (parsed as the dag-processor
parses the DAG files)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from siapp_siasn import assets
from siapp_siasn.airflow_env import PROJECT_ROOT, AirflowEnv

PROBE = r"""
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=%r)
out = {}
for dag_id in ("usulan_sync", "dokumen_reconciliation"):
    dag = bag.dags[dag_id]
    out[dag_id] = {
        "inlets": {t.task_id: sorted(a.uri for a in t.inlets) for t in dag.tasks},
        "leaves": sorted(t.task_id for t in dag.tasks if not t.downstream_task_ids),
        "verdict_upstream": sorted(dag.get_task("run_verdict").upstream_task_ids),
        "verdict_rule": str(dag.get_task("run_verdict").trigger_rule),
        "verdict_retries": dag.get_task("run_verdict").retries,
        "tasks": sorted(dag.task_ids),
        "params": {k: dag.params[k] for k in dag.params if k.startswith("max_")},
        "templated": {
            t.task_id: [f for f in t.template_fields if f.startswith("max_")] for t in dag.tasks
        },
    }
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def wiring(tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = AirflowEnv(tmp_path_factory.mktemp("airflow-home")).environ()
    out = subprocess.run(
        [sys.executable, "-c", PROBE % str(PROJECT_ROOT / "dags")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_asset_has_a_description_in_its_extra() -> None:
    found = [v for v in vars(assets).values() if v.__class__.__name__ == "Asset"]
    assert len(found) == 6
    for asset in found:
        assert len(str(asset.extra.get("description", ""))) > 40, asset.uri
        assert asset.extra.get("producer"), asset.uri


def test_tasks_that_read_an_asset_declare_it(wiring: dict) -> None:
    usulan = wiring["usulan_sync"]["inlets"]
    assert usulan["collect"] == ["siasn://asn/"]  # the scope check reads the ASN mirror
    recon = wiring["dokumen_reconciliation"]["inlets"]
    assert recon["check_keppres"] == ["siasn://usulan/"]
    assert recon["reconcile"] == ["siapp://status/", "siasn://usulan/"]


def test_a_failed_task_fails_the_run_through_the_verdict(wiring: dict) -> None:
    for dag in wiring.values():
        others = sorted(set(dag["tasks"]) - {"run_verdict"})
        assert dag["leaves"] == ["run_verdict"]
        assert dag["verdict_upstream"] == others
        assert dag["verdict_rule"] in ("all_done", "TriggerRule.ALL_DONE")
        assert dag["verdict_retries"] == 0


def test_thresholds_are_params_templated_into_the_tasks(wiring: dict) -> None:
    usulan, recon = wiring["usulan_sync"], wiring["dokumen_reconciliation"]
    assert usulan["params"]["max_dead_letters"] == usulan["params"]["max_drifted"] == 0
    assert usulan["templated"]["collect"] == ["max_drifted"]
    assert (
        usulan["templated"]["push_siasn"]
        == usulan["templated"]["push_siapp"]
        == [
            "max_dead_letters",
            "max_attempts",
        ]
    )
    assert recon["params"]["max_unrepairable"] == 0
    assert recon["templated"]["reconcile"] == ["max_unrepairable", "max_attempts"]
