"""Daily retention purge of the hub's store and reports (PKS art. 11).

Wiring and schedule only: the work lives in `siapp_siasn.flows.retention`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param

from siapp_siasn.operators.retention import RetentionOperator

DOC_MD = """
### `hub_retention` — keep data only as long as the agreement needs it

Article 11 of the agreement (PKS) allows the receiving side to use the data only for the
agreement's purpose and makes it liable for leaks and misuse: what no flow needs any more should
not be kept. Runs daily at 02:30 (Asia/Jakarta) and purges what is older than `max_age_days`
(default **365**: one year keeps the yearly monitoring & evaluation of art. 13 and any audit of
the last year answerable, and nothing longer).

- raw SIASN payloads of **closed** `asn_history` versions (`valid_to` before the cutoff):
  `payload` emptied to `{}`; key, validity, `record_hash` and typed columns stay;
- `quarantine` rows created before the cutoff: deleted;
- `outbox` items `sent`, `dead` or `rejected`, last updated before the cutoff: `payload`
  emptied and `response` cleared; the row and its idempotency key stay so nothing is sent twice;
- report files (`.csv`, `.html`) named in `extra.report` of lineage records before the cutoff:
  removed (and their folder when left empty).

**Never purged**: lineage rows (and their counts), open `asn_history` versions (the current
record), `pending` and `retry` outbox items whatever their age.

Each chunk of rows is one transaction; a second run purges nothing. **Lineage** (XCom, table
`lineage`): counts `history_payloads`, `quarantine_rows`, `outbox_bodies`, `report_files`; the
cutoff in `window`.

**Params**

| param | meaning |
|---|---|
| `max_age_days` | age in days past which data is purged (at least 1; default 365) |
"""

with DAG(
    dag_id="hub_retention",
    description="PKS art. 11: purge raw payloads, quarantine, outbox bodies, reports past age",
    schedule=CronTriggerTimetable("30 2 * * *", timezone="Asia/Jakarta"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC_MD,
    tags=["siasn", "siapp", "retention", "security"],
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=10)},
    params={
        "max_age_days": Param(
            365,
            type="integer",
            minimum=1,
            description="Age in days past which raw payloads, quarantine rows, finished outbox "
            "bodies and report files are purged (PKS art. 11). Default 365: one year of "
            "monitoring & evaluation (art. 13), nothing longer.",
        ),
    },
) as dag:
    RetentionOperator(task_id="purge_expired", max_age_days="{{ params.max_age_days }}")
