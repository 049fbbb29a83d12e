"""End to end: the real `pks_monitoring_report` DAG run by `airflow dags test`, on demand for
October 2026 (`period_from`/`period_to` in the run's conf) and as the monthly schedule runs it
(no conf: the month before the run's day). The report's figures are checked against the store
in tests/report/test_monitoring_report.py; here what only a DAG run shows: the params rendered,
the store connection read, lineage in XCom and in the store, and the Asset event
`hub://monitoring-report` carrying the report's paths and period.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from siapp_siasn.airflow_env import AirflowEnv
from siapp_siasn.flows.monitoring_report import previous_month
from siapp_siasn.store import Store
from tests.report._fill import EXPECTED_FLOWS, fill_october

pytestmark = pytest.mark.e2e

DAG = "pks_monitoring_report"


def _sqlite(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(sql).fetchall()


def test_on_demand_and_monthly_runs_publish_the_report(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    AirflowEnv(home).migrate(log_path=tmp_path / "migrate.log")
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with Store(store_url, hash_key=b"e2e") as store:
        store.migrate()
        fill_october(store)
    connections = {
        "siapp_siasn_store": {
            "conn_type": "generic",
            "extra": {"sqlalchemy_url": store_url, "hash_key": "e2e"},
        }
    }
    env = AirflowEnv(home, connections)
    reports = tmp_path / "reports"

    # on demand: October 2026
    log = tmp_path / "october.log"
    conf = {"period_from": "2026-10-01", "period_to": "2026-10-31", "report_dir": str(reports)}
    code = env.dags_test(DAG, conf=conf, log_path=log)
    assert code == 0, f"DAG run failed; log: {log}\n{log.read_text()[-4000:]}"
    # as scheduled: no conf, the previous month of the run's Jakarta day
    log = tmp_path / "monthly.log"
    code = env.dags_test(DAG, conf={"report_dir": str(reports)}, log_path=log)
    assert code == 0, f"DAG run failed; log: {log}\n{log.read_text()[-4000:]}"

    states = _sqlite(home, f"select state from task_instance where dag_id = '{DAG}'")
    assert states == [("success",), ("success",)]
    with Store(store_url) as store:
        records = [r for r in store.lineage.list(dag_id=DAG) if r["task_id"] == "monitoring_report"]
    by_period = {r["window"]["period_from"]: r for r in records}
    assert len(by_period) == 2
    october = by_period["2026-10-01"]
    assert october["window"]["period_to"] == "2026-10-31"
    html = Path(october["extra"]["report"]["html"])
    assert html.is_relative_to(reports) and html.parent.name == "monitoring_2026-10-01_2026-10-31"
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with Path(october["extra"]["report"]["csv"]["flows"]).open(encoding="utf-8") as fh:
        flows = {r["flow"]: r for r in csv.DictReader(fh)}
    for code_, numbers in EXPECTED_FLOWS.items():
        assert {k: int(flows[code_][k]) for k in numbers} == numbers, code_
    assert october["counts"]["dead_lettered"] == 1 and october["counts"]["incidents"] == 1
    assert not october["extra"]["empty"]

    first, last = previous_month(dt.datetime.now(ZoneInfo("Asia/Jakarta")).date())
    monthly = by_period[first.isoformat()]
    assert monthly["window"]["period_to"] == last.isoformat()

    events = [
        json.loads(extra)
        for uri, extra in _sqlite(
            home, "select a.uri, e.extra from asset_event e join asset a on a.id = e.asset_id"
        )
        if uri.rstrip("/") == "hub://monitoring-report"
    ]
    assert len(events) == 2
    (event,) = [e for e in events if e["period"]["period_from"] == "2026-10-01"]
    assert event["report"]["html"] == str(html)
    assert event["lineage"]["lineage_id"] == october["lineage_id"]
    xcom = _sqlite(
        home,
        f"select value from xcom where dag_id = '{DAG}' and task_id = 'monitoring_report' "
        "and key = 'return_value'",
    )
    assert len(xcom) == 2
