"""Nightly pull of ASN golongan IV/b and above (F1) and SIASN reference data (F2).

Wiring and schedule only: the work lives in `siapp_siasn.flows.asn_pull`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from siapp_siasn.assets import ASN_ASSET, REFERENSI_ASSET
from siapp_siasn.operators.siasn import (
    AsnQualityCheckOperator,
    SiasnAsnPullOperator,
    SiasnReferensiOperator,
)

#: ``siapp_siasn.store.selection.SELECTION_ID_PATTERN`` (a test keeps them equal): the DAG file
#: does not import the store, parsing it must stay fast
SELECTION_ID_PATTERN = r"^sel-[0-9]{8}-[0-9a-f]{6}$"

DOC_MD = """
### `siasn_asn_daily` — flows F1 and F2 of the PKS

Pulls, every night (Asia/Jakarta), SIASN reference data and the data utama + data keluarga of
every ASN of **golongan IV/b (42) and above** from all agencies into the hub's store, which SIAPP
NV reads through read-only views (`v_asn_current`, `v_asn_family`, `v_referensi`).

**Tasks**

1. `pull_referensi` — every reference table (golongan, instansi, unor, eselon, …); rows missing
   from a full pull are marked inactive. Asset `siasn://referensi`.
2. `pull_asn` — plans the run: the employees IV/b+ changed since the watermark, a full sweep
   (weekly, on `full_refresh`, or when there is no watermark), or only the employees of a stored
   `selection` (see below). It
   fetches data-utama, pasangan, anak and ortu of many employees at once within the client's
   concurrency and rate limit, validates them and stores them every `batch_size` employees:
   current rows upserted, an SCD2 history row only when the record hash changes, family members
   replaced per employee atomically. Departures (absent from a full sweep, or kedudukan hukum
   pensiun / diberhentikan / wafat) are marked inactive with a date, never deleted; a full sweep
   whose listing holds a row without a usable NIP departs nobody. Bad records are quarantined
   with a reason; a bad listing row still fetches its employee when its NIP is usable. Each
   stored batch carries a checkpoint of exactly which employees are stored, so a killed or
   retried task resumes without them (it refetches only the batch under way and the employees
   in flight); a slow employee never holds back the others. The watermark moves only after
   the last commit, and not at all when some employees could not be fetched (the next run
   retries them). Asset `siasn://asn`.
3. `quality_checks` — golongan and agency ids exist in the reference tables, NIPs are well
   formed, SCD2 history is consistent, SIASN sent every contract field, and the pull did not
   quarantine too much. It fails when more than `max_drifted` employees came without a
   contract field (drift: SIASN renamed or dropped it; their stored values are kept), or when
   at least `min_quarantined` records were quarantined **and** they are more than
   `max_quarantine_rate` of those read. The message names the counts and the reasons, e.g.
   `quality gate failed: 3 of 400 employees quarantined for drift (contract fields absent:
   tglLahir) > max_drifted 0`. It fails without retries (the same data would fail again).
   Inlets: `siasn://asn` and `siasn://referensi`.

Every task returns a lineage record (XCom `return_value`), stores it in the `lineage` table and
attaches it to its Asset event. No personal data is logged or put in XCom; quarantined records
are keyed by an HMAC of the NIP under the store connection's `hash_key`.

**Re-pulling some employees: a selection, never NIPs**

Airflow shows a run's conf, its rendered template fields and its audit log in the UI, so NIPs
never go into a param. Put them in a selection in the hub's store, then trigger with its id:

```
siapp-siasn select create --file nips.txt --purpose "SIASN fixed the records of ticket 123"
# prints the id of the new selection, e.g. sel-20261130-ab12cd
```

and trigger `siasn_asn_daily` with `{"selection": "sel-20261130-ab12cd"}`: only those
employees are fetched, nobody is departed, the watermark does not move. Conf, rendered fields
and logs show only the id and the count. A run whose conf still carries NIPs (the former
`nips` param, or any 16-18 digit number) fails `pull_asn` with a message saying this, without
the NIPs.

**Params**

| param | meaning |
|---|---|
| `full_refresh` | sweep all IV/b+ employees, not only changes; the absent become departed |
| `selection` | id of a stored selection (`sel-yyyymmdd-xxxxxx`): re-pull only its employees |
| `batch_size` | employees per committed batch (one checkpoint each) |
| `max_quarantine_rate` | share of the records read that may be quarantined |
| `min_quarantined` | quarantined records below which the quarantine rate never fails the run |
| `max_drifted` | employees quarantined for absent contract fields (drift) tolerated |
"""

with DAG(
    dag_id="siasn_asn_daily",
    description="F1 + F2: ASN golongan IV/b+ (data utama, keluarga) and reference data from SIASN",
    schedule="0 1 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    doc_md=DOC_MD,
    tags=["siasn", "F1", "F2"],
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "full_refresh": Param(
            False,
            type="boolean",
            description="Sweep every IV/b+ employee, not only the changes since the watermark; "
            "employees no longer listed are marked departed.",
        ),
        "selection": Param(
            None,
            type=["null", "string"],
            pattern=SELECTION_ID_PATTERN,
            description="Id of a stored selection (sel-yyyymmdd-xxxxxx, from `siapp-siasn "
            "select create --file nips.txt --purpose ...`): re-pull only its employees; the "
            "watermark does not move. Never NIPs: the UI would show them.",
        ),
        "batch_size": Param(
            500,
            type="integer",
            minimum=1,
            maximum=5000,
            description="Employees stored per committed batch (one checkpoint each): a killed "
            "task refetches the batch under way and the employees in flight.",
        ),
        "max_quarantine_rate": Param(
            0.02,
            type="number",
            minimum=0,
            maximum=1,
            description="Share of the pulled records that may be quarantined; above it (and "
            "with at least min_quarantined records) quality_checks fails.",
        ),
        "min_quarantined": Param(
            5,
            type="integer",
            minimum=1,
            description="Quarantined records below which quality_checks never fails on the "
            "quarantine rate (a few bad records in a small run).",
        ),
        "max_drifted": Param(
            0,
            type="integer",
            minimum=0,
            description="Employees quarantined because SIASN left out a contract field (drift) "
            "that quality_checks tolerates; one more fails the run.",
        ),
    },
) as dag:
    referensi = SiasnReferensiOperator(task_id="pull_referensi", outlets=[REFERENSI_ASSET])
    asn = SiasnAsnPullOperator(
        task_id="pull_asn",
        full_refresh="{{ params.full_refresh }}",
        selection="{{ params.selection }}",
        batch_size="{{ params.batch_size }}",
        outlets=[ASN_ASSET],
    )
    quality = AsnQualityCheckOperator(
        task_id="quality_checks",
        max_quarantine_rate="{{ params.max_quarantine_rate }}",
        min_quarantined="{{ params.min_quarantined }}",
        max_drifted="{{ params.max_drifted }}",
        inlets=[ASN_ASSET, REFERENSI_ASSET],
    )
    referensi >> asn >> quality
