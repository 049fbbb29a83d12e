"""Proposal traffic both ways (F3-F8) through one outbox, every 15 minutes.

Wiring and schedule only: the work lives in `siapp_siasn.flows.usulan_sync` and
`siapp_siasn.flows.usulan_push`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, TriggerRule

from siapp_siasn.assets import ASN_ASSET, SIAPP_STATUS_ASSET, USULAN_ASSET
from siapp_siasn.operators.base import RunVerdictOperator
from siapp_siasn.operators.usulan import (
    OutboxPushOperator,
    SiappCollectOperator,
    SiasnStatusBackOperator,
)

DOC_MD = """
### `usulan_sync` — flows F3 to F8 of the PKS

Carries the proposals (usulan) for KP, Pemberhentian and Pengangkatan of JPT Utama, JPT Madya and
JF Ahli Utama from SIAPP NV to SIASN, and BKN's answers back, every 15 minutes (Asia/Jakarta).
Everything either side is owed goes through **one outbox** in the hub's store, with an
Idempotency-Key per message (`flow:entity id:sha256 of the outgoing content`): each usulan
version, verification, Keppres, PIC change, status, pertek and refusal is delivered exactly once,
however often a run is retried or killed.

**Tasks**

1. `collect` — usulan, verifikasi, keppres and PIC records SIAPP NV changed since the watermark
   of each resource (the newest `updated_at` seen; the edge is read again and de-duplicated by
   Idempotency-Key; a record changed during the walk counts in its latest form). The **scope
   check** happens here, before anything can leave: jenis KP / PEMBERHENTIAN / PENGANGKATAN,
   kategori JPT_UTAMA / JPT_MADYA / JF_AHLI_UTAMA, PENGANGKATAN only for JF_AHLI_UTAMA, the NIP
   active and golongan IV/b+ in the ASN mirror (DAG `siasn_asn_daily`), and a body SIASN would
   accept. A refused usulan is quarantined with its reason, kept in the outbox as `rejected`
   (audit, never sent), and reported to SIAPP NV once through an outbox item of flow
   `penolakan`; a verifikasi, Keppres or PIC record of a refused usulan is kept `rejected` too
   (`USULAN_DITOLAK_HUB`). Invalid records are quarantined. Items, quarantine, lifecycle and the
   watermark of one resource commit in one transaction. Usulan wait (watermark untouched) until
   the ASN mirror has been loaded once. Inlet: Asset `siasn://asn`; its lineage record's
   `upstream` names the ASN load (`siasn_asn_daily.pull_asn`) the scope was checked against.
2. `push_siasn` — due items of flows `usulan` (F5), `verifikasi-setneg` (F6), `keppres` (F7) and
   `pic` (F8). Documents first: downloaded from SIAPP NV, checked against the sha256 and size
   SIAPP NV announced and the download's checksum header (a document that does not match is
   never forwarded), uploaded to `upload-dok` (the Keppres copy to `upload-dok-sk-kp`) and
   recorded in the document ledger before the record that refers to them is sent; a later
   attempt, or a new usulan version keeping a document, reuses the SIASN copy instead of
   uploading it again. Then the record. Asset `siasn://usulan`.
3. `status_back` — BKN status rows changed since the watermark (a day: today's rows are read
   again on every run, and a status read twice is the same message) update the usulan
   lifecycle and become outbox items `status-usulan` (F3), `pertek` / `ralat-pertek` (F4) when
   a row announces the PDF; one transaction. Runs even when an upstream task failed.
4. `push_siapp` — due items `status-usulan`, `pertek` and `ralat-pertek` (the PDF downloaded from
   SIASN, checked against the sha256 SIASN lists, sent with its sha256) and `penolakan`.
   Asset `siapp://status`. Runs even when an upstream task failed.
5. `run_verdict` — runs last, whatever happened: nothing when every task succeeded; otherwise
   it fails, naming each failed task's problem, so that **the run shows failed** (Airflow
   judges a run by its last tasks only, and `status_back` / `push_siapp` run on after a failed
   `push_siasn`).

**Dead letters fail the push.** A push task whose run sent more than `max_dead_letters` items
to the dead letters (default 0: any) stores its lineage record and then fails without retries
(a retry would not bring them back), e.g. `push_siasn: 13 dead letters this run (threshold 0);
40 sent, 2 deferred — view v_outbox_dead`. The other direction still runs.

Both push tasks are the same engine. A POST whose answer was lost (timeout, killed task) is sent
again with the same body and Idempotency-Key, and the other side replays its first answer; a
delivery is recorded together with what it means for the lifecycle, in one transaction. A
failed item is retried at an exponential, jittered `next_attempt_at` and goes to the dead
letters (view `v_outbox_dead`) after `max_attempts`; items about one usulan toward one side keep
their order (a later one waits while an earlier one is in backoff), different usulan never wait
for each other. Only a failure of the store stops a push task: the outbox is the source of
truth and the next run goes on from it. A bad setting (an unknown target or resource, a retry
policy with `backoff_base_s` > `backoff_max_s`) fails the task without retries. Every task
returns a lineage record (XCom), stores it and attaches it to its Asset event; no personal data
is logged or put in XCom.

**Public-API mode** (SIASN connection extra `api_mode: public`, when the PKS endpoints under
`/apisiasn/1.0/siapp/` do not exist): nothing is POSTed to them. Usulan are entered in SIASN by
the agency; `push_siasn` links each one by NIP in SIASN's published `list-kp-instansi` /
`list-pensiun-instansi` and keeps waiting ones pending (lifecycle `menunggu_entri_siasn`, lineage
`awaiting_entry`); Setneg verifications and PIC changes are held in the outbox (reason `no
published endpoint in public mode`) until the connection is switched back to `pks`; the Keppres
copy goes through `upload-dok-sk-kp`; `status_back` reads `kp-instansi-byId`.

**Lifecycle stamps** (table `usulan_lifecycle`, the first time wins): `submitted_at` = SIAPP
NV's `created_at`; `setneg_verified_at` = the verification's `verified_at`; `keppres_at` = the
Keppres record's `updated_at`; `sent_at` / `keppres_sent_at` = when SIASN accepted the POST;
`bkn_verified_at`, `pertek_at`, `ralat_at`, `keppres_applied_at` = when the hub first saw the
BKN status (SIASN only gives a day, so the observation time bounds the event from above, to
within one schedule interval).

**Params**

| param | meaning |
|---|---|
| `max_attempts` | failed attempts after which an outbox item is dead-lettered |
| `push_limit` | due items each push task takes per run (oldest first) |
| `concurrency` | usulan delivered in parallel by each push task |
| `backoff_base_s` | wait after the first failed attempt (doubles each time, with jitter) |
| `backoff_max_s` | the longest wait between two attempts |
| `max_dead_letters` | items a push task may dead-letter in one run before it fails (0: none) |
| `max_drifted` | usulan the collect may quarantine for drift (absent fields) before it fails |

**Lineage** (XCom `return_value`, table `lineage`, the Asset event): title, flow, run, window,
counts under the task's own names (collect: `read`, `enqueued`, `known`, `refused`,
`invalid`, `waiting`, `quarantined`; push: `due`, `sent`, `failed`, `dead`, `deferred`;
status back: `read`, `enqueued`, `known`, `quarantined`), failures, upstream records
(`{lineage_id, dag_id, task_id, flow}`), references to the quarantine and the dead letters,
digest; HTTP telemetry under XCom key `http_metrics`. Assets: descriptions in their `extra`.
"""

PUSH_PARAMS = {
    "max_dead_letters": "{{ params.max_dead_letters }}",
    "max_attempts": "{{ params.max_attempts }}",
    "push_limit": "{{ params.push_limit }}",
    "concurrency": "{{ params.concurrency }}",
    "backoff_base_s": "{{ params.backoff_base_s }}",
    "backoff_max_s": "{{ params.backoff_max_s }}",
}

with DAG(
    dag_id="usulan_sync",
    description="F3-F8: usulan, verifikasi, Keppres, PIC to SIASN; status and pertek to SIAPP NV",
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    doc_md=DOC_MD,
    tags=["siasn", "siapp", "F3", "F4", "F5", "F6", "F7", "F8"],
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=2)},
    params={
        "max_attempts": Param(
            8,
            type="integer",
            minimum=1,
            maximum=100,
            description="Failed delivery attempts after which an outbox item goes to the dead "
            "letters (view v_outbox_dead).",
        ),
        "push_limit": Param(
            500,
            type="integer",
            minimum=1,
            maximum=10000,
            description="Due outbox items each push task takes per run, oldest first; the rest "
            "wait for the next run.",
        ),
        "concurrency": Param(
            8,
            type="integer",
            minimum=1,
            maximum=64,
            description="Usulan each push task delivers in parallel (items of one usulan always "
            "go one after the other).",
        ),
        "backoff_base_s": Param(
            60,
            type="number",
            minimum=1,
            maximum=3600,
            description="Seconds before retrying an item after its first failed attempt; "
            "doubles with each failure, with jitter.",
        ),
        "backoff_max_s": Param(
            21600,
            type="number",
            minimum=60,
            maximum=604800,
            description="The longest wait in seconds between two attempts at one item (not "
            "below backoff_base_s).",
        ),
        "max_dead_letters": Param(
            0,
            type="integer",
            minimum=0,
            description="Outbox items a push task may send to the dead letters in one run; one "
            "more fails the task (after its lineage is stored) and the run. 0: any dead letter "
            "fails it.",
        ),
        "max_drifted": Param(
            0,
            type="integer",
            minimum=0,
            description="Usulan the collect may quarantine in one run because SIAPP NV sent "
            "them without a contract field (drift; they are read again next run); one more "
            "fails the collect, naming the absent fields. 0: any drift fails it.",
        ),
    },
) as dag:
    collect = SiappCollectOperator(
        task_id="collect", inlets=[ASN_ASSET], max_drifted="{{ params.max_drifted }}"
    )
    push_siasn = OutboxPushOperator(
        task_id="push_siasn", target="siasn", outlets=[USULAN_ASSET], **PUSH_PARAMS
    )
    status = SiasnStatusBackOperator(task_id="status_back", trigger_rule=TriggerRule.ALL_DONE)
    push_siapp = OutboxPushOperator(
        task_id="push_siapp",
        target="siapp",
        outlets=[SIAPP_STATUS_ASSET],
        trigger_rule=TriggerRule.ALL_DONE,
        **PUSH_PARAMS,
    )
    verdict = RunVerdictOperator(task_id="run_verdict")
    collect >> push_siasn >> status >> push_siapp
    [collect, push_siasn, status, push_siapp] >> verdict
