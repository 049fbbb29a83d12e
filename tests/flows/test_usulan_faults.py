"""usulan_sync under failure: a push killed between the POST and its record, 429/5xx storms with
corrupt documents, and poison items that must die alone.

Real sandbox subprocesses, real HTTP, a real SQLite store; the crash is a real SIGKILL of a
real push process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.clients.errors import ApiError
from siapp_siasn.flows.usulan_push import dead_letter_failure
from siapp_siasn.flows.usulan_rules import (
    FLOW_PIC,
    FLOW_USULAN,
    RetryPolicy,
    idempotency_key,
    version_hash,
)
from siapp_siasn.models.redact import keyed_hash
from siapp_siasn.store import OutboxItem, Store
from tests.flows._truth import audit_quarantine, fetch_truth
from tests.flows._usulan import WORLD, Hub, per_version
from tests.flows.conftest import CLIENT_DEFAULTS, HASH_KEY, SANDBOX_CREDENTIALS, StoreFactory

pytestmark = pytest.mark.integration

# A push in its own process; after the first successful POST of flow CRASH_FLOW it kills itself
# with SIGKILL, before mark_sent: the other side has the message, the outbox does not know.
CRASHING_PUSH = r"""
import asyncio, datetime as dt, json, os, signal, sys
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.usulan_push import PushParams, push_outbox
from siapp_siasn.clients.config import SiappConfig, SiasnConfig
from siapp_siasn.clients.siapp import SiappClient
from siapp_siasn.clients.siasn import SiasnClient
from siapp_siasn.store import Store

cfg = json.loads(sys.argv[1])
creds, client = cfg["credentials"], cfg["client"]
siasn = SiasnClient.from_config(SiasnConfig(base_url=cfg["siasn_url"], **creds, **client))
siapp = SiappClient.from_config(SiappConfig(
    base_url=cfg["siapp_url"], client_id=creds["client_id"],
    client_secret=creds["client_secret"], **client))

def crash(row):
    if row.flow == cfg["flow"]:
        os.kill(os.getpid(), signal.SIGKILL)

run = RunContext(run_id="crashing", task_id="push", now=dt.datetime.fromisoformat(cfg["now"]))
store = Store(cfg["store_url"], hash_key=cfg["hash_key"].encode())
asyncio.run(push_outbox(siasn, siapp, store, PushParams(target=cfg["target"], concurrency=1),
                        run, after_post=crash))
print("not killed")
"""


def _crashing_push(hub: Hub, store_url: str, target: str, flow: str) -> int:
    cfg = {
        "siasn_url": hub.sb.siasn_url,
        "siapp_url": hub.sb.siapp_url,
        "credentials": SANDBOX_CREDENTIALS,
        "client": CLIENT_DEFAULTS,
        "store_url": store_url,
        "hash_key": HASH_KEY.decode(),
        "now": hub.now().isoformat(),
        "target": target,
        "flow": flow,
    }
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_PUSH, json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode


def test_a_push_killed_after_the_post_delivers_once_on_rerun(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    sb = sandbox_factory(**WORLD)
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = Store(store_url, hash_key=HASH_KEY)
    store.migrate()
    hub = Hub(sb, store)
    hub.load_mirror()
    sb.advance(1)
    hub.collect()
    pending = store.outbox.list(flow=FLOW_USULAN, status="pending")
    assert len(pending) >= 3

    # ---- SIASN side: killed right after the first usulan POST ------------------------------
    assert _crashing_push(hub, store_url, "siasn", FLOW_USULAN) == -signal.SIGKILL
    first = sb.received("siapp.usulan")
    assert len(first) == 1
    crashed = next(r for r in pending if r.idempotency_key == first[0]["idempotency_key"])
    row = store.outbox.list(entity_id=crashed.entity_id, flow=FLOW_USULAN)[0]
    assert (row.status, row.attempts, row.sent_at) == ("pending", 0, None)  # never recorded
    # its documents were uploaded and recorded before the POST
    for doc in crashed.payload["dokumen"]:
        assert store.documents.get(doc["id"])["status"] == "transferred"

    hub.push("siasn")  # the rerun
    usulan_rx = sb.received("siapp.usulan")
    assert per_version(usulan_rx) == dict.fromkeys(
        {(r.entity_id, r.payload["version"]) for r in pending}, 1
    )
    replays = {e["idempotency_key"]: e["replays"] for e in usulan_rx}
    assert replays.pop(crashed.idempotency_key) == 1  # the rerun's POST was a replay
    assert set(replays.values()) == {0}
    # the ledger spared the crashed usulan a second upload of its documents
    docs = {d["id"] for r in pending for d in r.payload["dokumen"]}
    assert len(sb.received("upload-dok")) == len(docs)
    assert {r.status for r in store.outbox.list(flow=FLOW_USULAN)} == {"sent"}

    # ---- SIAPP NV side: killed right after the first status POST ---------------------------
    sb.advance(1)
    hub.status()
    statuses = store.outbox.list(flow="status-usulan", status="pending")
    assert len(statuses) >= len(pending)
    assert _crashing_push(hub, store_url, "siapp", "status-usulan") == -signal.SIGKILL
    assert len(sb.received("inbound.status-usulan")) == 1
    hub.push("siapp")
    status_rx = sb.received("inbound.status-usulan")
    assert len(status_rx) == len(statuses)
    assert sorted(e["replays"] for e in status_rx) == [0] * (len(statuses) - 1) + [1]
    assert {r.status for r in store.outbox.list(flow="status-usulan")} == {"sent"}
    # nothing dead-lettered, nothing failed, and the quarantine is exactly the bad input
    assert store.outbox.list(status="dead") == []
    assert all(r.counts.dead == r.counts.failed == 0 for r in hub.lineage)
    _assert_quarantine_is_the_out_of_scope_usulan(hub)


def _assert_quarantine_keeps_nothing_personal(hub: Hub) -> int:
    """The quarantine rows after a faulty run (the usulan the hub refused as out of scope) are
    keyed by the HMAC of the usulan id under the store's key and hold no personal value of the
    employee concerned (sandbox truth). Returns the number of rows."""
    truth = hub.sb.truth("usulan")["usulan"]
    rows = hub.store.quarantine.list(limit=100_000)
    people = fetch_truth(hub.sb, {u["nip"] for u in truth})
    audit = audit_quarantine(rows, {u["id"]: people[u["nip"]] for u in truth}, HASH_KEY)
    assert rows, "the run must have quarantined some usulan (out of scope)"
    assert (audit.traced, audit.untraced, audit.leaks) == (len(rows), 0, [])
    return len(rows)


def _assert_quarantine_is_the_out_of_scope_usulan(hub: Hub) -> None:
    """The quarantine holds exactly the usulan the sandbox's truth calls out of scope (keyed
    by the HMAC of their ids under the store's key): no fault added or hid one."""
    truth = hub.sb.truth("usulan")["usulan"]
    expected = {keyed_hash(u["id"], secret=HASH_KEY) for u in truth if not u["in_scope"]}
    rows = hub.store.quarantine.list(limit=100_000)
    assert {r["key_hash"] for r in rows} == expected


def _post_answers(stats: dict[str, Any], kind: str) -> Counter[str]:
    """Statuses the sandbox answered on the POST route that logs ``kind`` (``siapp.usulan`` ->
    SIASN's ``/siapp/usulan``, ``inbound.pertek`` -> SIAPP NV's ``/inbound/pertek``, ...)."""
    app = "siapp" if kind.startswith("inbound.") else "siasn"
    suffix = "/" + kind.replace(".", "/")
    routes = stats["routes"].get(app, {})
    [route] = [r for r in routes if r.startswith("POST ") and r.endswith(suffix)]
    return Counter(routes[route]["status"])


def _poison_items(hub: Hub) -> list[OutboxItem]:
    """Two items no number of retries can deliver.

    - an usulan whose SIAPP NV metadata announces a sha256 the document's bytes do not have
      (the persistent corrupt document): the hub must refuse it before any upload;
    - a PIC grant for a NIP SIASN does not know: SIASN answers 400 every time.
    """
    real = hub.store.outbox.list(flow=FLOW_USULAN, status="pending")[0].payload
    bad_doc = {**real["dokumen"][0], "sha256": "0" * 64}
    usulan = {
        **real,
        "usulan_id": "poison-usulan",
        "body": {**real["body"], "id_usulan_siapp": "poison-usulan"},
        "dokumen": [bad_doc],
    }
    unknown_nip = "199912312025121999"
    assert hub.sb.truth(f"asn/{unknown_nip}") is None  # SIASN does not know it
    pic = {
        "version": 1,
        "body": {
            "id_pic_siapp": "poison-pic",
            "versi": 1,
            "nip": unknown_nip,
            "instansi_id": "0" * 32,
            "aksi": "GRANT",
        },
    }
    items = []
    for flow, entity, payload in (
        (FLOW_USULAN, "poison-usulan", usulan),
        (FLOW_PIC, "poison-pic", pic),
    ):
        vhash = version_hash(payload)
        items.append(OutboxItem(flow, entity, vhash, idempotency_key(flow, entity, vhash), payload))
    return items


def test_storms_and_corrupt_documents_deliver_everything_but_the_poison(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    sb = sandbox_factory(**WORLD)
    store = store_factory("sqlite")
    max_attempts = 8
    # a client that gives up after a few quick retries, so failures reach the outbox's own
    # retries (about one attempt in four fails under this storm)
    hub = Hub(
        sb,
        store,
        client={"max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05},
        retry=RetryPolicy(max_attempts=max_attempts, base_s=60, max_s=1800),
    )
    hub.load_mirror()
    sb.advance(1)
    hub.collect()
    poison = _poison_items(hub)
    assert store.outbox.enqueue(poison) == 2

    storm = {
        "error_5xx_rate": 0.2,
        "error_429_rate": 0.15,
        "retry_after_s": 0,
        "corrupt_document_rate": 0.25,
    }
    sb.set_faults(storm)
    failed_runs = 0
    for day in range(6):
        if day:
            sb.advance(1)
            hub.hour = 1.0
            sb.set_faults({})  # the nightly mirror pull is another DAG's business
            hub.pull_mirror()
            sb.set_faults(storm)
        for _ in range(2):  # runs an hour apart: backoffs (at most 30 min here) expire
            for step in (
                hub.collect,
                lambda: hub.push("siasn"),
                hub.status,
                lambda: hub.push("siapp"),
            ):
                try:
                    step()
                except ApiError:
                    failed_runs += (
                        1  # a listing that failed: the task fails, the next run redoes it
                    )
            hub.tick(1.0)
    sb.set_faults({})
    for _ in range(4):  # the storm is over: a few more runs drain what is waiting
        hub.cycle()
        hub.tick(1.0)

    stats = sb.stats()["faults"]
    assert stats["5xx"] > 30 and stats["429"] > 20 and stats["corrupt_document"] >= 1

    # ---- everything but the poison arrived, exactly once per version ------------------------
    truth = sb.truth("usulan")["usulan"]
    in_scope = [u for u in truth if u["in_scope"]]
    delivered = {(u["id"], v["version"]) for u in in_scope for v in u["versions"]}
    usulan_rx = sb.received("siapp.usulan")
    assert per_version(usulan_rx) == dict.fromkeys(delivered, 1)
    assert all(v["delivered_matches"] for u in in_scope for v in u["versions"])
    outbox = store.outbox.stats()
    leftover = {f: s for f, s in outbox.items() if set(s) - {"sent", "rejected", "dead"}}
    assert leftover == {}, leftover
    dead = store.outbox.list(status="dead")
    assert {r.entity_id for r in dead} == {"poison-usulan", "poison-pic"}
    assert all(r.attempts == max_attempts for r in dead)
    # The dead letter keeps the error of the LAST attempt, which a storm may have answered
    # with a 5xx; that each poison failed for its own reason shows in the push lineage.
    errors = {r.entity_id: r.last_error for r in dead}
    transient = ("HTTP 5", "HTTP 429")
    assert "DocumentIntegrityError" in errors["poison-usulan"] or any(
        t in errors["poison-usulan"] for t in transient
    )
    assert "400" in errors["poison-pic"] or any(t in errors["poison-pic"] for t in transient)
    kinds: dict[str, int] = {}
    for record in hub.lineage:
        for kind, n in (record.extra.get("errors") or {}).items():
            kinds[kind] = kinds.get(kind, 0) + n
    assert kinds.get("DocumentIntegrityError", 0) >= 1
    assert kinds.get("ApiError:400", 0) >= 1
    assert sb.received("siapp.pic") and all(
        e["payload"]["id_pic_siapp"] != "poison-pic" for e in sb.received("siapp.pic")
    )
    assert "poison-usulan" not in {e["payload"]["id_usulan_siapp"] for e in usulan_rx}
    # the outcome: the push runs that dead-lettered the poison are the ones the DAG's gate
    # (max_dead_letters, default 0) fails, and they counted exactly the two poison items
    assert sum(r.counts.dead for r in hub.lineage) == 2
    gated = [
        r
        for r in hub.lineage
        if dead_letter_failure(r.counts.dead, 0, sent=r.counts.sent, deferred=r.counts.deferred)
    ]
    assert 1 <= len(gated) <= 2
    _assert_quarantine_is_the_out_of_scope_usulan(hub)

    # ---- no corrupt byte ever left the hub ---------------------------------------------------
    docs = sb.truth("documents")
    genuine = {d["sha256"] for d in docs["siapp"] if d["source"] == "SIAPP"}
    uploads = sb.received("upload-dok") + sb.received("upload-dok-sk-kp")
    assert uploads and {e["payload"]["sha256"] for e in uploads} <= genuine
    assert all(d["known_source"] for d in docs["siasn"])
    inbound = [d for d in docs["siapp"] if d["source"] == "INBOUND"]
    assert inbound and all(d["ok"] for d in inbound)
    refused = sum(r.extra.get("documents", {}).get("refused", 0) for r in hub.lineage)
    # The poison's document is refused at every attempt that reaches its integrity check; the
    # storm fails some attempts earlier (a 5xx or 429 on the download), so the count of
    # refusals is at least the integrity errors the push recorded, not max_attempts.
    assert refused >= kinds["DocumentIntegrityError"] >= 1
    assert store.documents.get(poison[0].payload["dokumen"][0]["id"])["status"] == "transferred"

    # ---- the statuses and perteks still reached SIAPP NV, once each --------------------------
    status_keys = Counter(e["idempotency_key"] for e in sb.received("inbound.status-usulan"))
    assert status_keys and set(status_keys.values()) == {1}
    assert sb.received("inbound.pertek")

    # ---- each message the hub recorded as sent arrived once, and only those ------------------
    received = sb.received()
    messages = [e for e in received if not e["kind"].startswith("upload-")]
    sent = store.outbox.list(status="sent")
    assert Counter(e["idempotency_key"] for e in messages) == Counter(
        r.idempotency_key for r in sent
    )
    # The storm strikes before the other side handles a request (5xx, 429) or on downloads
    # (corrupt bytes): no accepted message loses its answer, so none is ever sent again.
    replays = sum(e["replays"] for e in received)
    assert replays == 0
    # Idempotency on the wire, route by route: the 200s a POST route answered are the first
    # receipts plus the replays; no key was reused with another body (409)
    stats = sb.stats()
    for kind in sorted({e["kind"] for e in received}):
        entries = [e for e in received if e["kind"] == kind]
        answers = _post_answers(stats, kind)
        assert answers["200"] == len(entries) + sum(e["replays"] for e in entries), kind
        assert answers["409"] == 0, kind
    # the poison PIC: every attempt that got past the storm was refused (400), the first by
    # SIASN, each later one by replaying that stored answer
    pic = _post_answers(stats, "siapp.pic")
    assert pic["400"] == kinds["ApiError:400"] >= 1
    assert stats["faults"].get("idempotent_replay", 0) == replays + pic["400"] - 1
    # every attempt that failed on a bad document (the poison's, or a storm-corrupted copy
    # still bad after the client's retries) refused at least that document; an attempt can
    # refuse more (an usulan's documents are fetched together) but fails once
    integrity = kinds["DocumentIntegrityError"] + sum(
        n for kind, n in kinds.items() if kind.startswith("ChecksumMismatchError")
    )
    assert refused >= integrity

    quarantined = _assert_quarantine_keeps_nothing_personal(hub)
    print(f"storm: {failed_runs} failed listings, {quarantined} quarantined, 0 replays")
