"""Monthly monitoring & evaluation report of the integration (PKS art. 4(e), 5(2)g, 13).

Wiring and schedule only: the work lives in `siapp_siasn.flows.monitoring_report`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param

from siapp_siasn.assets import MONITORING_REPORT_ASSET
from siapp_siasn.operators.report import MonitoringReportOperator

_DATE = r"^(\d{4}-\d{2}-\d{2})?$"

DOC_MD = """
### `pks_monitoring_report` — how the integration did, per period

The agreement obliges both parties to monitor and evaluate the integration (art. 4(e), 5(2)g,
13). Runs at 06:00 (Asia/Jakarta) on the 1st of each month and reports the **previous calendar
month**; trigger it with `period_from` and `period_to` (Jakarta days, both included) for any
other period. It reads the hub's store only.

**What the report holds** (one HTML page with charts, one CSV per table)

| table | what |
|---|---|
| `flows` | per flow F1–F8: task runs, items, succeeded, failed, quarantined, dead letters |
| `runs` | every lineage record of the period per flow label, its counts summed |
| `latency` | p50 / p95 per system and endpoint, from `api_contract_monitor`'s probes |
| `backlog` | outbox items owed at the period's end per outbox flow, age of the oldest |
| `sla` | median and p90 days between usulan lifecycle stages reached in the period |
| `incidents`, `findings` | drift and outage incidents and findings of the API monitor |
| `reconciliation` | document categories (new, resolved, open) and decree checks |

An empty period gives a valid report that says so; a store without the monitor's tables says "no
monitor data". Nothing personal is written: flow names, counts, durations, endpoint templates and
category codes only.

**Lineage** (XCom, table `lineage`, Asset `hub://monitoring-report`): counts `runs`, `items`,
`succeeded`, `failed`, `quarantined`, `dead_lettered`, `backlog`, `incidents`, `charts`; the
paths of the HTML page and of each CSV in `extra.report` (and at the top of the Asset event's
extra, with the period).

**Params**

| param | meaning |
|---|---|
| `period_from` | first day, `YYYY-MM-DD` (both empty: the previous month) |
| `period_to` | last day of the period, included |
| `report_dir` | folder of the reports (empty: the system's temp directory) |
"""

with DAG(
    dag_id="pks_monitoring_report",
    description="PKS monitoring & evaluation: monthly report of every flow F1-F8",
    schedule=CronTriggerTimetable("0 6 1 * *", timezone="Asia/Jakarta"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC_MD,
    tags=["siasn", "siapp", "F1-F8", "report"],
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=10)},
    params={
        "period_from": Param(
            "",
            type="string",
            pattern=_DATE,
            description="First day of the period (YYYY-MM-DD, Asia/Jakarta). Empty, with "
            "period_to empty: the calendar month before the run.",
        ),
        "period_to": Param(
            "",
            type="string",
            pattern=_DATE,
            description="Last day of the period, included (YYYY-MM-DD, Asia/Jakarta).",
        ),
        "report_dir": Param(
            "",
            type="string",
            description="Folder of the report (one sub-folder per period); empty for the "
            "system's temp directory.",
        ),
    },
) as dag:
    MonitoringReportOperator(
        task_id="monitoring_report",
        period_from="{{ params.period_from }}",
        period_to="{{ params.period_to }}",
        report_dir="{{ params.report_dir }}",
        outlets=[MONITORING_REPORT_ASSET],
    )
