"""Hourly API contract and health monitor of SIASN and SIAPP NV (art. 4(e), 5(2)g).

Wiring and schedule only: the work lives in `siapp_siasn.flows.api_monitor`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from siapp_siasn.notifiers import HubMailNotifier
from siapp_siasn.operators.monitor import ApiMonitorOperator

DOC_MD = """
### `api_contract_monitor` — both APIs answer, and answer what the contract says

Runs hourly (Asia/Jakarta). The agreement obliges each side to tell the other about problems
and changes of its API (art. 4(e), 5(2)g): this DAG finds them between the syncs.

**Task `probe`** calls every read endpoint family through the hub's clients (same connections,
tokens and proxy as the syncs; fewer retries): SIASN gateway and SSO tokens, data-utama,
data-pasangan, data-anak, data-ortu, rw-golongan, referensi, ref-unor, and the PKS lists
`siapp/asn`, `siapp/status-usulan` (in `api_mode` `public`: `list-kp-instansi`,
`list-pensiun-instansi` instead); SIAPP NV token, the usulan, verifikasi, keppres and pic lists
and the dokumen inventory. **At most one record per endpoint**: the first row of a one-row page,
and for the per-employee endpoints one NIP the store already holds (else the first row of the
PKS list). The POST-only endpoints (SIASN `siapp/*` inbound, uploads; SIAPP NV `inbound/*`) are
not called: a probe would create data on the other side. Each read endpoint is called
`repeats` times: status and latency p50/p95 per endpoint are in the lineage record, and every
call is a row of table `probe`.

The first answer of each endpoint is checked against the SIASN contract
(`include/contract/siasn.json`) or, for the PKS and SIAPP NV endpoints, the hub's models:

| finding | severity |
|---|---|
| new field | info |
| unseen code of a reference table (golongan, agama, kedudukan hukum, …) | warning |
| missing field, retyped field, broken envelope | breaking |
| endpoint failing (no answer, HTTP error, 401/403) | warning; after `outage_after_s` breaking |
| p95 latency above `slow_ms` | warning |

Findings go to table `finding` (field names and JSON types, never a value of a record), grouped
into incidents (table `incident`, one per kind and endpoint) that stay open until a run finds
the endpoint healthy again, then close by themselves. **Breaking drift, or an outage open for
`outage_after_s` or longer, fails the task** with a readable diff, e.g. `siasn data-utama:
retyped golRuangAkhirId: string → integer; missing field tglLahir (string)`, and writes a
ready-to-send notice for the other party (BKN for SIASN, Biro APP Kemensetneg for SIAPP NV:
the agreement's art. 16 correspondents) under `notice_dir`, once per incident; its path is in
the lineage record (`references.notice`, `extra.notices`) and on the incident.

**Mail** (off by default): with `notify_to` (or `$SIAPP_SIASN_NOTIFY_TO`) set, a new breaking
incident and any task failure are mailed through the SMTP connection `smtp_default`.

**Lineage** (XCom, table `lineage`): counts `probes`, `ok`, `failed`, `findings`, `breaking`,
`warning`, `info`, `incidents_opened`, `incidents_closed`, `open_incidents`; per endpoint the
status and latency in `extra.endpoints`.

**Params**

| param | meaning |
|---|---|
| `repeats` | calls per read endpoint (latency over them; the same record) |
| `outage_after_s` | seconds an outage may last before the task fails (0: the first run) |
| `slow_ms` | p95 latency in ms above which an endpoint is reported slow |
| `notice_dir` | folder of the notices (empty: the system's temp directory) |
| `notify_to` | mail recipients, comma-separated (empty: `$SIAPP_SIASN_NOTIFY_TO`, else none) |
"""

with DAG(
    dag_id="api_contract_monitor",
    description="Hourly probe of SIASN and SIAPP NV: contract drift, outages, incidents",
    schedule="10 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    doc_md=DOC_MD,
    tags=["siasn", "siapp", "monitoring"],
    default_args={
        # a failed probe is the finding: the next hourly run is the retry
        "retries": 0,
        "on_failure_callback": HubMailNotifier(to="{{ params.notify_to }}"),
    },
    params={
        "repeats": Param(
            3,
            type="integer",
            minimum=1,
            maximum=20,
            description="Calls per read endpoint; latency p50/p95 are taken over them (the "
            "same record each time).",
        ),
        "outage_after_s": Param(
            0,
            type="number",
            minimum=0,
            description="Seconds an outage may stay open before the task fails and a notice "
            "is written; 0 fails the first run that sees it.",
        ),
        "slow_ms": Param(
            5000,
            type="number",
            exclusiveMinimum=0,
            description="p95 latency (ms) above which an endpoint is reported slow (warning).",
        ),
        "notice_dir": Param(
            "",
            type="string",
            description="Folder of the notices for the other party; empty for the system's "
            "temp directory.",
        ),
        "notify_to": Param(
            "",
            type="string",
            description="Mail recipients of new breaking incidents and task failures, "
            "comma-separated; empty: $SIAPP_SIASN_NOTIFY_TO, else no mail.",
        ),
    },
) as dag:
    ApiMonitorOperator(
        task_id="probe",
        repeats="{{ params.repeats }}",
        outage_after_s="{{ params.outage_after_s }}",
        slow_ms="{{ params.slow_ms }}",
        notice_dir="{{ params.notice_dir }}",
        notify_to="{{ params.notify_to }}",
    )
