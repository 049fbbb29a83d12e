"""End to end: a `usulan_sync` run that dead-letters items is not green, its lineage is
readable, and the OpenLineage provider (file transport) gets our inputs, outputs and counts.

One real `airflow dags test` run against the sandbox, shared by the tests of this module: the
mirror is loaded (its lineage stored as `siasn_asn_daily.pull_asn` would), the usulan are
collected, then two items no retry can deliver are put in the outbox (an usulan whose document
does not match its announced sha256, a PIC grant for a NIP SIASN does not know) and the DAG
runs with `max_attempts` 1.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.testing import run_sandbox
from siapp_siasn.airflow_env import AirflowEnv, sandbox_connections
from siapp_siasn.flows.asn_pull import PullParams, pull_asn
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.referensi import pull_referensi
from siapp_siasn.flows.usulan_rules import FLOW_PIC, FLOW_USULAN, idempotency_key, version_hash
from siapp_siasn.models.siasn import REFERENCE_TABLES
from siapp_siasn.store import OutboxItem, Store
from tests.flows._usulan import WORLD, Hub

pytestmark = pytest.mark.e2e

HASH_KEY = b"sandbox-hash-key"  # the key sandbox_connections gives the store connection
POISON = ("poison-usulan", "poison-pic")


@dataclass
class _OpenLineageEnv(AirflowEnv):
    """The isolated Airflow home with the OpenLineage provider writing events to a file."""

    events_file: Path | None = None

    def environ(self) -> dict[str, str]:
        env = super().environ()
        transport = {"type": "file", "log_file_path": str(self.events_file), "append": True}
        env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(transport)
        env["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "siapp-siasn-test"
        return env


def _poison(store: Store, sb: Any) -> list[OutboxItem]:
    real = store.outbox.list(flow=FLOW_USULAN, status="pending")[0].payload
    bad_doc = {**real["dokumen"][0], "sha256": "0" * 64}
    usulan = {
        **real,
        "usulan_id": POISON[0],
        "body": {**real["body"], "id_usulan_siapp": POISON[0]},
        "dokumen": [bad_doc],
    }
    unknown_nip = "199912312025121999"
    assert sb.truth(f"asn/{unknown_nip}") is None  # SIASN answers 400 for it, every time
    pic = {
        "version": 1,
        "body": {
            "id_pic_siapp": POISON[1],
            "versi": 1,
            "nip": unknown_nip,
            "instansi_id": "0" * 32,
            "aksi": "GRANT",
        },
    }
    items = []
    for flow, entity, payload in ((FLOW_USULAN, POISON[0], usulan), (FLOW_PIC, POISON[1], pic)):
        vhash = version_hash(payload)
        items.append(OutboxItem(flow, entity, vhash, idempotency_key(flow, entity, vhash), payload))
    return items


def _sqlite(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def dead_letter_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dead_letters")
    home = tmp / "airflow"
    events = tmp / "openlineage.jsonl"
    AirflowEnv(home).migrate(log_path=tmp / "migrate.log")
    store_url = f"sqlite:///{tmp / 'store.sqlite'}"
    store = Store(store_url, hash_key=HASH_KEY)
    store.migrate()
    with run_sandbox(**WORLD) as sb:
        hub = Hub(sb, store)
        nightly = RunContext(
            dag_id="siasn_asn_daily", run_id="nightly", task_id="pull_asn", now=hub.now()
        )
        asyncio.run(pull_referensi(hub.siasn(), store, REFERENCE_TABLES, nightly))
        asn_load = asyncio.run(pull_asn(hub.siasn(), store, PullParams(), nightly))
        store.lineage.write(asn_load.to_xcom())  # what the pull_asn task publishes
        sb.advance(2)
        hub.collect()
        assert store.outbox.enqueue(_poison(store, sb)) == 2
        connections = sandbox_connections(sb.siasn_url, sb.siapp_url, store_url)
        env = _OpenLineageEnv(home, connections, events_file=events)
        log = tmp / "run.log"
        code = env.dags_test("usulan_sync", conf={"max_attempts": 1}, log_path=log)
        truth = sb.truth("usulan")["usulan"]
    return {
        "code": code,
        "home": home,
        "log": log.read_text(),
        "store": Store(store_url, hash_key=HASH_KEY),
        "asn_load": asn_load.lineage_id,
        "events": events,
        "nips": [u["nip"] for u in truth],
    }


def test_dead_letters_fail_the_push_and_the_run_while_the_other_direction_runs(
    dead_letter_run: dict[str, Any],
) -> None:
    home = dead_letter_run["home"]
    assert dead_letter_run["code"] != 0, "dags test reports the failed run"
    states = dict(_sqlite(home, "select task_id, state from task_instance"))
    assert states == {
        "collect": "success",
        "push_siasn": "failed",
        "status_back": "success",  # BKN's answers still come back
        "push_siapp": "success",
        "run_verdict": "failed",
    }
    assert _sqlite(home, "select state from dag_run where dag_id = 'usulan_sync'") == [("failed",)]
    tries = dict(_sqlite(home, "select task_id, try_number from task_instance"))
    assert tries["push_siasn"] == 1, "no retry: a retry would not un-dead them"

    record = next(
        r
        for r in dead_letter_run["store"].lineage.list(dag_id="usulan_sync")
        if r["task_id"] == "push_siasn"
    )
    counts = record["counts"]
    assert counts["dead"] == 2
    message = (
        f"push_siasn: 2 dead letters this run (threshold 0); {counts['sent']} sent, "
        f"{counts['deferred']} deferred — view v_outbox_dead"
    )
    assert record["failures"] == [message.removeprefix("push_siasn: ")]
    assert message in dead_letter_run["log"]  # the task's failure
    assert "run_verdict" in dead_letter_run["log"]
    # the verdict names the push's problem too
    assert dead_letter_run["log"].count(message) >= 2
    assert record["references"]["dead_letters"] == {
        "count": 2,
        "where": "view v_outbox_dead (outbox status dead)",
    }
    dead = {r.entity_id for r in dead_letter_run["store"].outbox.list(status="dead")}
    assert dead == set(POISON)


def test_lineage_reads_top_down_and_links_collect_to_the_asn_load(
    dead_letter_run: dict[str, Any],
) -> None:
    store: Store = dead_letter_run["store"]
    lineage = {r["task_id"]: r for r in store.lineage.list(dag_id="usulan_sync")}
    assert set(lineage) == {"collect", "push_siasn", "status_back", "push_siapp"}

    for task in ("push_siasn", "push_siapp"):
        lines = json.dumps(lineage[task], indent=2).splitlines()
        assert len(lines) <= 60, f"{task}: {len(lines)} lines"
        counts_at = next(i for i, line in enumerate(lines) if line.startswith('  "counts"'))
        assert counts_at < 20
        assert list(lineage[task]["counts"]) == ["due", "sent", "failed", "dead", "deferred"]
        assert "requests" not in lineage[task]  # telemetry: XCom key http_metrics
    assert lineage["push_siasn"]["title"].startswith("F5-F8")
    assert "inserted" not in lineage["collect"]["counts"]

    # upstream as objects whose ids resolve in the lineage table, across DAGs for collect
    (asn,) = [u for u in lineage["collect"]["upstream"] if u["flow"] == "F1"]
    assert asn == {
        "lineage_id": dead_letter_run["asn_load"],
        "dag_id": "siasn_asn_daily",
        "task_id": "pull_asn",
        "flow": "F1",
    }
    assert store.lineage.get(asn["lineage_id"]) is not None
    assert {
        "lineage_id": lineage["collect"]["lineage_id"],
        "dag_id": "usulan_sync",
        "task_id": "collect",
        "flow": "F5-F8",
    } in lineage["push_siasn"]["upstream"]
    # the failed push's record still reached its downstream task through XCom
    assert lineage["push_siasn"]["lineage_id"] in {
        u["lineage_id"] for u in lineage["status_back"]["upstream"]
    }

    home = dead_letter_run["home"]
    keys = _sqlite(home, "select task_id, key from xcom where task_id = 'push_siapp'")
    assert ("push_siapp", "http_metrics") in keys
    text = json.dumps(list(lineage.values()))
    assert not [nip for nip in dead_letter_run["nips"] if nip in text]


def test_openlineage_events_carry_inputs_outputs_and_counts(
    dead_letter_run: dict[str, Any],
) -> None:
    path: Path = dead_letter_run["events"]
    assert path.exists(), "the OpenLineage provider wrote no events"
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    ends = {
        e["job"]["name"].split(".")[-1]: e
        for e in events
        if e.get("eventType") in ("COMPLETE", "FAIL") and e["job"]["name"].count(".") == 1
    }
    siapp = ends["push_siapp"]
    assert siapp["eventType"] == "COMPLETE"
    assert {(d["namespace"], d["name"]) for d in siapp["inputs"]} == {("hub-store", "outbox")}
    assert ("siapp", "/api/v1/inbound/{status-usulan,pertek,ralat-pertek,penolakan}") in {
        (d["namespace"], d["name"]) for d in siapp["outputs"]
    }
    facet = siapp["run"]["facets"]["siapp_siasn"]
    assert set(facet["counts"]) == {"due", "sent", "failed", "dead", "deferred"}
    assert facet["counts"]["sent"] > 0 and facet["failures"] == []

    siasn = ends["push_siasn"]
    assert siasn["eventType"] == "FAIL"
    facet = siasn["run"]["facets"]["siapp_siasn"]
    assert facet["counts"]["dead"] == 2 and "2 dead letters" in facet["failures"][0]
    assert ("siasn", "upload-dok") in {(d["namespace"], d["name"]) for d in siasn["outputs"]}

    collect = ends["collect"]
    assert ("siapp", "/api/v1/{usulan,verifikasi,keppres,pic}") in {
        (d["namespace"], d["name"]) for d in collect["inputs"]
    }
    text = path.read_text()
    assert not [nip for nip in dead_letter_run["nips"] if nip in text]
