"""The leak audit's Airflow side: run all six DAGs with ``dag.test()`` in ONE process (an
``airflow dags test`` per DAG costs ~20 s of start-up each on this machine), switching the
sandbox's faults between them so that the paths that write what the audit reads all run.

Started by tests/security/test_leak_audit.py as ``python -m tests.security._leak_runner SPEC``
in the isolated Airflow environment (``AirflowEnv.environ()``), stdout and stderr to a file the
audit reads. ``SPEC`` (JSON) names the sandbox, the store and the output folders; the runner
writes ``<out>/runner.json``: each run's task states and every exception a failed task raised
(caught by a task-instance listener: the text Airflow logs and shows for the failure).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import httpx

# A PIC grant for a NIP SIASN does not know: refused (400) every time, so dead-lettered.
UNKNOWN_NIP = "199912312025121999"
#: fields SIASN adds under names the hub does not know, holding an e-mail address and a NIK-like
#: number: the audit looks for these values too
DRIFT_ADDED = {"emailPribadi": "drift.probe@mail.example", "nomorIndukBaru": "3171015507900001"}
#: SIASN serves these for the selection re-pull: a renamed personal field (the stored value is
#: kept, the record quarantined as missing_fields) and the new fields above
DRIFT_REPULL = {"schema_drift": {"rename": {"tglLahir": "tanggalLahirBaru"}, "add": DRIFT_ADDED}}
#: the monitor's probe meets a retyped contract field: breaking drift, a notice
DRIFT_MONITOR = {"schema_drift": {"retype": {"golRuangAkhirId": "int"}, "add": {"flagIkd": "1"}}}
DOCUMENT_FAULTS = {"missing_at_siasn": 1, "corrupt_at_siasn": 1, "orphan_at_siasn": 1}


class _FailureListener:
    """Keeps the text of every exception a task instance failed with (Airflow's listener hook
    is the place the task runner hands it over, in this process under ``dag.test()``)."""

    def __init__(self) -> None:
        self.failures: list[dict[str, str]] = []

    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        text = ""
        if isinstance(error, BaseException):
            text = "".join(traceback.format_exception(error))
        elif error is not None:
            text = str(error)
        self.failures.append(
            {"dag_id": task_instance.dag_id, "task_id": task_instance.task_id, "error": text}
        )


def _install_listener() -> _FailureListener:
    from airflow.sdk._shared.listeners import hookimpl
    from airflow.sdk.listener import get_listener_manager

    listener = _FailureListener()
    # pluggy takes the marked function from the object: mark the bound method's function
    hookimpl(_FailureListener.on_task_instance_failed)
    get_listener_manager().add_listener(listener)
    return listener


def _poison_pic(store_url: str, hash_key: str) -> None:
    from siapp_siasn.flows.usulan_rules import FLOW_PIC, idempotency_key, version_hash
    from siapp_siasn.store import OutboxItem, Store

    payload = {
        "version": 1,
        "body": {
            "id_pic_siapp": "leak-audit-poison-pic",
            "versi": 1,
            "nip": UNKNOWN_NIP,
            "instansi_id": "0" * 32,
            "aksi": "GRANT",
        },
    }
    vhash = version_hash(payload)
    item = OutboxItem(
        FLOW_PIC,
        "leak-audit-poison-pic",
        vhash,
        idempotency_key(FLOW_PIC, "leak-audit-poison-pic", vhash),
        payload,
    )
    with Store(store_url, hash_key=hash_key.encode()) as store:
        assert store.outbox.enqueue([item]) == 1


def _selection(store_url: str, hash_key: str, count: int) -> str:
    """A stored selection of ``count`` mirrored employees (the re-pull takes its id)."""
    from siapp_siasn.store import Store

    with Store(store_url, hash_key=hash_key.encode()) as store:
        nips = sorted(store.asn.active_nips())[:count]
        return store.selection.create(nips, "leak audit: re-pull under drift").id


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    out = Path(spec["out"])
    ctl = httpx.Client(base_url=f"{spec['siasn_url']}/_sandbox", timeout=60.0)

    def faults(value: dict[str, Any]) -> None:
        ctl.put("/faults", content=json.dumps(value)).raise_for_status()

    def advance(days: int) -> None:
        ctl.post("/clock/advance", params={"days": days}).raise_for_status()

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=spec["dags_folder"])
    assert not bag.import_errors, bag.import_errors
    listener = _install_listener()
    runs: list[dict[str, Any]] = []

    def run(dag_id: str, conf: dict[str, Any] | None = None) -> None:
        print(f"=== leak audit: {dag_id} conf={sorted(conf or {})}", flush=True)
        dr = bag.dags[dag_id].test(run_conf=conf or {})
        states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
        runs.append({"dag_id": dag_id, "state": str(dr.state), "tasks": states})

    store_url, key = spec["store_url"], spec["hash_key"]
    # F2 + F1: a few malformed answers (quarantined; tolerated by the rate), tokens that expire
    # within the run (refreshed: more tokens to look for)
    faults({"malformed_rate": 0.05, "seed": 7, "gateway_token_ttl_s": 4, "siapp_token_ttl_s": 4})
    run("siasn_asn_daily", {"max_quarantine_rate": 1.0})
    # a re-pull of a few employees while SIASN drifts: missing_fields quarantine, the gate fails
    faults(DRIFT_REPULL)
    run("siasn_asn_daily", {"selection": _selection(store_url, key, 40)})
    # F5-F8 both ways over a few days, then a PIC grant no retry delivers: dead letter, failure
    faults({"keppres_withhold_rate": 0.5, "seed": 5})
    for _ in range(spec["usulan_days"]):
        advance(1)
        run("usulan_sync", {"max_attempts": 2})
    _poison_pic(store_url, key)
    run("usulan_sync", {"max_attempts": 1})
    # F4/F7: damaged documents on SIASN's side and withheld decrees; the orphan fails reconcile
    faults({"keppres_withhold_rate": 0.5, "seed": 5, "document_faults": DOCUMENT_FAULTS})
    run(
        "dokumen_reconciliation",
        {
            "keppres_min_age_days": 0,
            "repair_limit": 10,
            "no_answer_days": 0,
            "report_dir": spec["report_dir"],
        },
    )
    # the monitor meets breaking drift: the probe fails and writes a notice
    faults(DRIFT_MONITOR)
    run("api_contract_monitor", {"notice_dir": spec["notice_dir"]})
    faults({})
    run(
        "pks_monitoring_report",
        {
            "period_from": spec["period_from"],
            "period_to": spec["period_to"],
            "report_dir": spec["report_dir"],
        },
    )
    # retention removes report files named in lineage: keep copies for the audit first
    import shutil

    for name in ("report_dir", "notice_dir"):
        if Path(spec[name]).exists():
            shutil.copytree(spec[name], out / "kept" / name, dirs_exist_ok=True)
    run("hub_retention", {"max_age_days": 1})

    (out / "runner.json").write_text(json.dumps({"runs": runs, "failures": listener.failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
