"""Daily document reconciliation and decree cross-check (F4, F7).

Wiring and schedule only: the work lives in `siapp_siasn.flows.keppres_check` and
`siapp_siasn.flows.reconciliation_run`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, TriggerRule

from siapp_siasn.assets import RECONCILIATION_ASSET, SIAPP_STATUS_ASSET, USULAN_ASSET
from siapp_siasn.operators.base import RunVerdictOperator
from siapp_siasn.operators.reconciliation import (
    DokumenReconciliationOperator,
    KeppresCheckOperator,
)

DOC_MD = """
### `dokumen_reconciliation` — both sides hold the same documents; decrees took effect

Runs daily (Asia/Jakarta) and proves three things, repairing what it can.

**Tasks**

1. `check_keppres` — every Keppres the hub delivered at least `keppres_min_age_days` ago must
   show in SIASN: for a KP, data-utama (`golRuangAkhirId`, `tmtGolAkhir`) and a rw-golongan row
   with that golongan and TMT; for a pemberhentian, kedudukan hukum no longer `01`. Otherwise the
   decree is `keppres_not_applied`, with its age in days (table `keppres_check`, keyed by usulan
   and kind, the NIP only as a keyed hash). A decree whose SIASN records could not be read is
   `unverified`: counted, never flagged. Inlet: Asset `siasn://usulan`.
2. `reconcile` — three inventories, read in chunks (memory stays bounded): SIAPP NV's documents
   per usulan (sha256, size), SIASN's document list (in public-API mode: the documents SIASN's
   published status rows reference) and the hub's document ledger. Joined with pandas into
   categories per document: `ok`, `missing_at_siasn`, `missing_at_siapp`, `hash_mismatch`,
   `size_mismatch`, `orphan` (at a destination with no source), `source_missing` (sent, but the
   source no longer has it), plus `ledger_only`, `duplicate` and `unread` (a page that could not
   be read: quarantined with its reason, never taken as missing). Items that are not ok go to
   `reconciliation_item`; up to `repair_limit` of them are re-transferred through the outbox
   (same Idempotency-Key, same ledger row) and verified; what no transfer can fix is flagged
   once with its reason and not retried. A CSV of the differences and an HTML page with a chart
   are written under `report_dir`; their paths and the counts per category are in the lineage
   record (XCom, store, Asset `hub://reconciliation`). **Every usulan has exactly one answer**:
   usulan SIAPP NV sent that were neither delivered to SIASN nor refused back
   `no_answer_days` after submission are counted as `usulan_no_answer` (ids and ages in the
   store's lifecycle; `store.usulan.no_answer`). Inlets: Assets `siasn://usulan` and
   `siapp://status`. More than `max_unrepairable` documents flagged unrepairable in one run
   fail the task after its lineage is stored (no retries), e.g. `reconcile: 2 documents
   flagged unrepairable this run (threshold 0) — see reconciliation_item and the report`;
   each item is flagged once, so the next run fails only on new ones.
3. `run_verdict` — runs last: nothing when both tasks succeeded; otherwise it fails naming
   each failed task's problem, so that the run shows failed (Airflow judges a run by its last
   task only, and `reconcile` runs after a failed `check_keppres`).

**Lineage** (XCom, table `lineage`, Asset `hub://reconciliation`): counts `read`, `ok`,
`differences`, `new_items`, `open_items`, `repaired`, `repair_failed`, `unrepairable`,
`quarantined`, `usulan_no_answer` (per category in `extra.categories`); `check_keppres`:
`checked`, `applied`, `keppres_not_applied`, `unverified`, `not_due`. HTTP telemetry under XCom
key `http_metrics`.

**Params**

| param | meaning |
|---|---|
| `keppres_min_age_days` | days after delivery before a Keppres must show in SIASN |
| `repair_limit` | items re-transferred per run at most (0: compare and record only) |
| `max_attempts` | runs that may try to repair an item before it is flagged unrepairable |
| `report_dir` | folder of the reports (empty: the system's temp directory) |
| `no_answer_days` | days after which an usulan with no answer is `usulan_no_answer` |
| `max_unrepairable` | documents flagged unrepairable per run before `reconcile` fails (0: none) |
"""

with DAG(
    dag_id="dokumen_reconciliation",
    description="F4/F7: documents on both sides equal the ledger; decrees applied in SIASN",
    schedule="30 5 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    doc_md=DOC_MD,
    tags=["siasn", "siapp", "F4", "F7", "reconciliation"],
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "keppres_min_age_days": Param(
            7,
            type="integer",
            minimum=0,
            maximum=365,
            description="Days after delivery before a Keppres must show in SIASN (data-utama "
            "and rw-golongan for KP, kedudukan hukum for pemberhentian).",
        ),
        "repair_limit": Param(
            50,
            type="integer",
            minimum=0,
            maximum=10000,
            description="Documents re-transferred per run at most; 0 compares and records only.",
        ),
        "max_attempts": Param(
            3,
            type="integer",
            minimum=1,
            maximum=20,
            description="Runs that may try to repair a document before it is flagged "
            "unrepairable (once, with its reason).",
        ),
        "no_answer_days": Param(
            14,
            type="integer",
            minimum=0,
            maximum=365,
            description="Days after submission when an usulan with no answer (neither "
            "delivered to SIASN nor refused back to SIAPP NV) is reported as usulan_no_answer.",
        ),
        "max_unrepairable": Param(
            0,
            type="integer",
            minimum=0,
            description="Documents reconcile may flag unrepairable in one run (orphans, "
            "sources gone, repairs exhausted); one more fails the task and the run. 0: any.",
        ),
        "report_dir": Param(
            "",
            type="string",
            description="Folder of the CSV and HTML reports; empty for the system's temp "
            "directory.",
        ),
    },
) as dag:
    keppres = KeppresCheckOperator(
        task_id="check_keppres",
        min_age_days="{{ params.keppres_min_age_days }}",
        inlets=[USULAN_ASSET],
    )
    reconcile = DokumenReconciliationOperator(
        task_id="reconcile",
        repair_limit="{{ params.repair_limit }}",
        max_attempts="{{ params.max_attempts }}",
        report_dir="{{ params.report_dir }}",
        no_answer_days="{{ params.no_answer_days }}",
        max_unrepairable="{{ params.max_unrepairable }}",
        inlets=[USULAN_ASSET, SIAPP_STATUS_ASSET],
        outlets=[RECONCILIATION_ASSET],
        trigger_rule=TriggerRule.ALL_DONE,
    )
    verdict = RunVerdictOperator(task_id="run_verdict")
    keppres >> reconcile
    [keppres, reconcile] >> verdict
