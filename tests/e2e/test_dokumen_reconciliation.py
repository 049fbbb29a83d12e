"""End to end: the real `dokumen_reconciliation` DAG run by `airflow dags test` against the sandbox.

The comparison, the repair and the decree cross-check are checked against ground truth in
tests/reconciliation; here one real Airflow run shows what only a DAG run shows: both tasks
wired and run, the connections read, the params rendered, lineage in XCom and in the store, and
the Asset event `hub://reconciliation` carrying the counts per category and the report paths.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.testing import run_sandbox
from siapp_siasn.airflow_env import AirflowEnv, sandbox_connections
from siapp_siasn.store import Store
from tests.flows._usulan import WORLD
from tests.flows.conftest import HASH_KEY
from tests.reconciliation.test_sources import traffic

pytestmark = pytest.mark.e2e

FAULTS = {"missing_at_siasn": 1, "corrupt_at_siasn": 1, "orphan_at_siasn": 1}


def _sqlite(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(sql).fetchall()


def test_one_dag_run_reconciles_repairs_and_publishes_lineage(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    AirflowEnv(home).migrate(log_path=tmp_path / "migrate.log")
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = Store(store_url, hash_key=HASH_KEY)
    store.migrate()

    with run_sandbox(**WORLD) as sb:
        sb.set_faults({"keppres_withhold_rate": 0.5, "seed": 5})
        traffic(sb, store, days=10)  # usulan both ways, decrees delivered
        sb.set_faults({"keppres_withhold_rate": 0.5, "seed": 5, "document_faults": FAULTS})
        expected = sb.truth("dokumen-faults")["expected"]
        env = AirflowEnv(home, sandbox_connections(sb.siasn_url, sb.siapp_url, store_url))
        log = tmp_path / "run.log"
        conf = {
            "keppres_min_age_days": 1,
            "repair_limit": 10,
            "report_dir": str(tmp_path / "r"),
            "no_answer_days": 0,
            # the injected orphan is flagged unrepairable (once): tolerated here, so that the
            # run succeeds and publishes its Asset event; the default 0 would fail reconcile
            "max_unrepairable": 1,
        }
        code = env.dags_test("dokumen_reconciliation", conf=conf, log_path=log)
        assert code == 0, f"DAG run failed; log: {log}\n{log.read_text()[-4000:]}"

    dag = "dag_id = 'dokumen_reconciliation'"
    states = dict(_sqlite(home, f"select task_id, state from task_instance where {dag}"))
    assert states == {"check_keppres": "success", "reconcile": "success", "run_verdict": "success"}

    lineage = {
        r["task_id"]: r for r in Store(store_url).lineage.list(dag_id="dokumen_reconciliation")
    }
    assert set(lineage) == {"check_keppres", "reconcile"}
    reconcile = lineage["reconcile"]
    categories = reconcile["extra"]["categories"]
    found = {c: n for c, n in categories.items() if n and c not in ("ok", "usulan_no_answer")}
    assert found == expected  # the params rendered: report_dir, repair_limit
    # no_answer_days=0: every usulan not yet delivered nor refused when the run looked
    waiting = store.usulan.no_answer(
        as_of=dt.datetime.fromisoformat(reconcile["started_at"]), days=0
    )
    assert categories["usulan_no_answer"] == len(waiting)
    assert reconcile["extra"]["usulan_no_answer"]["after_days"] == 0
    assert Path(reconcile["extra"]["report"]["csv"]).is_relative_to(tmp_path / "r")
    assert reconcile["extra"]["repair"]["attempted"] >= 2  # missing + corrupt re-transferred
    assert lineage["check_keppres"]["extra"]["keppres"]["checked"] > 0
    assert reconcile["counts"]["unrepairable"] == 1 and reconcile["failures"] == []

    events = _sqlite(
        home,
        "select a.uri, e.extra from asset_event e join asset a on a.id = e.asset_id",
    )
    (extra,) = [json.loads(x) for uri, x in events if uri.rstrip("/") == "hub://reconciliation"]
    assert extra["lineage"]["lineage_id"] == reconcile["lineage_id"]
    assert extra["lineage"]["extra"]["categories"] == reconcile["extra"]["categories"]
    xcom = _sqlite(
        home,
        f"select value from xcom where {dag} and task_id = 'reconcile' and key = 'return_value'",
    )
    assert len(xcom) == 1
