"""End to end: the real `usulan_sync` DAG run by `airflow dags test` against the sandbox.

The flows are checked against ground truth over simulated weeks in tests/flows; here one real
Airflow run shows what only a DAG run shows: the four tasks wired and run in order, the
connections read, the params rendered, lineage in XCom and in the store, and the Asset events
`siasn://usulan` and `siapp://status` carrying that lineage.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.testing import run_sandbox
from siapp_siasn.airflow_env import PROJECT_ROOT, AirflowEnv, sandbox_connections
from siapp_siasn.store import Store
from tests.flows._usulan import WORLD, Hub

pytestmark = pytest.mark.e2e


def _asset_events(home: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "select a.uri, e.extra from asset_event e join asset a on a.id = e.asset_id"
        ).fetchall()
    return [{"uri": uri.rstrip("/"), **json.loads(extra)} for uri, extra in rows]


def _task_states(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "select task_id, state from task_instance where dag_id = 'usulan_sync'"
        ).fetchall()
    return dict(rows)


def test_one_dag_run_delivers_both_ways_with_lineage_and_asset_events(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    AirflowEnv(home).migrate(log_path=tmp_path / "migrate.log")
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = Store(store_url)
    store.migrate()

    with run_sandbox(**WORLD) as sb:
        Hub(sb, store).load_mirror()  # the nightly siasn_asn_daily's job
        sb.advance(2)
        env = AirflowEnv(home, sandbox_connections(sb.siasn_url, sb.siapp_url, store_url))
        log = tmp_path / "run.log"
        code = env.dags_test(
            "usulan_sync", conf={"max_attempts": 3, "concurrency": 4}, log_path=log
        )
        assert code == 0, f"DAG run failed; log: {log}\n{log.read_text()[-4000:]}"

        truth = sb.truth("usulan")["usulan"]
        in_scope = {u["id"] for u in truth if u["in_scope"]}
        refused = {u["id"] for u in truth if not u["in_scope"]}
        delivered = {e["payload"]["id_usulan_siapp"] for e in sb.received("siapp.usulan")}
        assert in_scope and delivered == in_scope
        statuses = {e["payload"]["usulan_id"] for e in sb.received("inbound.status-usulan")}
        assert statuses == in_scope  # status 1 came back within the same run
        assert {e["payload"]["usulan_id"] for e in sb.received("inbound.penolakan")} == refused
        pics = len(sb.received("siapp.pic"))
        assert len(sb.received("upload-dok")) == sum(
            len(u["versions"][0]["dokumen"]) for u in truth if u["in_scope"]
        )

    assert _task_states(home) == {
        "collect": "success",
        "push_siasn": "success",
        "status_back": "success",
        "push_siapp": "success",
        "run_verdict": "success",
    }
    lineage = {r["task_id"]: r for r in Store(store_url).lineage.list(dag_id="usulan_sync")}
    assert set(lineage) == {"collect", "push_siasn", "status_back", "push_siapp"}
    assert lineage["push_siasn"]["counts"]["sent"] == len(in_scope) + pics
    assert lineage["push_siasn"]["extra"]["max_attempts"] == 3  # the conf reached the task
    assert lineage["push_siapp"]["counts"]["sent"] == len(in_scope) + len(refused)
    upstream = {t: [u["lineage_id"] for u in r["upstream"]] for t, r in lineage.items()}
    assert lineage["collect"]["lineage_id"] in upstream["push_siasn"]
    assert lineage["status_back"]["lineage_id"] in upstream["push_siapp"]

    events = {e["lineage"]["lineage_id"]: e["uri"] for e in _asset_events(home)}
    assert events[lineage["push_siasn"]["lineage_id"]] == "siasn://usulan"
    assert events[lineage["push_siapp"]["lineage_id"]] == "siapp://status"

    text = json.dumps(list(lineage.values())) + (tmp_path / "run.log").read_text()
    assert not [u["nip"] for u in truth if u["nip"] in text], "no NIP in lineage or task logs"


WIRING_PROBE = r"""
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=%r)
dag = bag.dags["usulan_sync"]
print(json.dumps({
    "errors": list(bag.import_errors),
    "tasks": sorted(dag.task_ids),
    "edges": sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids),
    "schedule": str(getattr(dag.timetable, "_expression", dag.timetable)),
    "timezone": str(dag.timezone),
    "max_active_runs": dag.max_active_runs,
    "catchup": dag.catchup,
    "native": dag.render_template_as_native_obj,
    "params": sorted(dag.params.keys()),
    "doc_md": len(dag.doc_md or ""),
    "outlets": {t.task_id: [a.uri for a in t.outlets] for t in dag.tasks},
    "trigger_rules": {t.task_id: str(getattr(t.trigger_rule, "value", t.trigger_rule))
                      for t in dag.tasks},
}))
"""


def test_usulan_sync_is_wired_as_documented(tmp_path: Path) -> None:
    env = AirflowEnv(tmp_path / "airflow").environ()
    out = subprocess.run(
        [sys.executable, "-c", WIRING_PROBE % str(PROJECT_ROOT / "dags")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    dag = json.loads(out.stdout.strip().splitlines()[-1])
    assert dag["errors"] == []
    assert dag["tasks"] == ["collect", "push_siapp", "push_siasn", "run_verdict", "status_back"]
    assert dag["edges"] == [
        ["collect", "push_siasn"],
        ["collect", "run_verdict"],
        ["push_siapp", "run_verdict"],
        ["push_siasn", "run_verdict"],
        ["push_siasn", "status_back"],
        ["status_back", "push_siapp"],
        ["status_back", "run_verdict"],
    ]
    assert "'*/15 * * * *'" in dag["schedule"] and dag["timezone"] == "Asia/Jakarta"
    assert (dag["max_active_runs"], dag["catchup"], dag["native"]) == (1, False, True)
    assert dag["params"] == [
        "backoff_base_s",
        "backoff_max_s",
        "concurrency",
        "max_attempts",
        "max_dead_letters",
        "max_drifted",
        "push_limit",
    ]
    assert dag["doc_md"] > 1000
    assert dag["outlets"] == {
        "collect": [],
        "push_siasn": ["siasn://usulan/"],
        "status_back": [],
        "push_siapp": ["siapp://status/"],
        "run_verdict": [],
    }
    # BKN's answers still flow back when SIAPP NV or SIASN failed earlier in the run
    assert dag["trigger_rules"]["status_back"] == dag["trigger_rules"]["push_siapp"] == "all_done"
    assert dag["trigger_rules"]["run_verdict"] == "all_done"  # the run fails if a task did
