"""The store's connection dropped in the middle of a batch (PostgreSQL: the backend terminated
from a second connection just before the batch's last statement): the task fails with a
StoreError naming the operation and no value; the batch is rolled back as a whole; the rerun
(Airflow's retry of the same run) completes and the store and SIASN equal the ground truth,
with nothing lost and nothing twice."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_siasn.flows.asn_pull import STEP, PullParams, pull_referensi
from siapp_siasn.flows.usulan_push import PushParams
from siapp_siasn.flows.usulan_rules import FLOW_USULAN
from siapp_siasn.models.siasn import REFERENCE_TABLES
from siapp_siasn.store import Store, StoreError
from siapp_siasn.store.tables import asn, asn_history, quarantine
from tests.flows._truth import StoreView, fetch_truth, mismatches
from tests.flows._usulan import WORLD, Hub, per_version
from tests.flows.conftest import HASH_KEY, pull, run, run_context, siasn_client
from tests.reliability.conftest import BackendKiller

pytestmark = pytest.mark.integration

SMALL_WORLD: dict[str, Any] = {"employees": 300, "seed": 5, "ivb_share": 0.3}
BATCH = 20
NIP = re.compile(r"\b\d{18}\b")


def _counts(store: Store) -> tuple[int, int, int, int]:
    """asn rows, distinct NIPs, open history versions, quarantine rows."""
    with store.engine.connect() as c:
        return (
            c.scalar(sa.select(sa.func.count()).select_from(asn)) or 0,
            c.scalar(sa.select(sa.func.count(sa.distinct(asn.c.nip)))) or 0,
            c.scalar(
                sa.select(sa.func.count())
                .select_from(asn_history)
                .where(asn_history.c.valid_to.is_(None))
            )
            or 0,
            c.scalar(sa.select(sa.func.count()).select_from(quarantine)) or 0,
        )


def test_asn_pull_backend_terminated_mid_batch_resumes_on_rerun(
    sandbox_factory: Any, postgres_db_url: str
) -> None:
    sb = sandbox_factory(**SMALL_WORLD)
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    assert len(truth_nips) > 3 * BATCH
    store = Store(postgres_db_url, hash_key=HASH_KEY)
    store.migrate()
    run(pull_referensi(siasn_client(sb), store, REFERENCE_TABLES, run_context(sb, "f2")))
    # the third batch's checkpoint is the last statement of its transaction: its rows are
    # written, uncommitted, when the connection dies
    killer = BackendKiller(store, "INSERT INTO checkpoint", nth=3)
    params = PullParams(batch_size=BATCH)
    with pytest.raises(StoreError) as failed:
        pull(sb, store, "nightly", params)
    assert killer.killed, "the fault did not fire"
    text = str(failed.value)
    assert "state.save_checkpoint" in text and not NIP.search(text)
    run_key = run_context(sb, "nightly").run_key
    store.close()

    # what a retried task sees: a new process, a new engine
    store = Store(postgres_db_url, hash_key=HASH_KEY)
    cp = store.state.load_checkpoint(run_key, STEP)
    assert cp is not None and cp.batch_no == 2  # batch 3 rolled back as a whole
    assert _counts(store)[:3] == (2 * BATCH, 2 * BATCH, 2 * BATCH)
    record = pull(sb, store, "nightly", params)
    assert record.extra["resumed_after_batch"] == 2
    assert record.counts.failed == record.counts.quarantined == 0
    assert record.counts.read == record.counts.inserted == len(truth_nips)
    assert store.state.load_checkpoint(run_key, STEP) is None

    n = len(truth_nips)
    assert _counts(store) == (n, n, n, 0)  # nothing lost, nothing twice, nothing quarantined
    view = StoreView.read(store)
    assert view.active == truth_nips
    assert mismatches(view, fetch_truth(sb, truth_nips)) == {}
    assert all(len(h) == 1 for h in view.history.values())
    store.close()


def test_usulan_push_backend_terminated_after_post_delivers_once_on_rerun(
    sandbox_factory: Any, postgres_db_url: str
) -> None:
    """The connection dies in the transaction that records a delivery (``mark_sent`` of the
    third usulan): SIASN has the message, the outbox does not know. The push fails; the rerun
    sends it again under the same Idempotency-Key and SIASN replays its first answer (so for
    any other POST the failing task left without its record)."""
    sb = sandbox_factory(**WORLD)
    store = Store(postgres_db_url, hash_key=HASH_KEY)
    store.migrate()
    hub = Hub(sb, store)
    hub.load_mirror()
    sb.advance(1)
    hub.collect()
    pending = store.outbox.list(flow=FLOW_USULAN, status="pending")
    assert len(pending) >= 4
    # the push to SIASN also carries verifikasi, Keppres and PIC items; the third delivery
    # recorded may be any of them (concurrency decides)
    to_siasn = set(PushParams(target="siasn").flows())
    owed = [r for r in store.outbox.list(status="pending") if r.flow in to_siasn]
    out_of_scope = store.quarantine.list(limit=100_000)

    killer = BackendKiller(store, "UPDATE outbox SET status", nth=3)
    with pytest.raises(StoreError) as failed:
        hub.push("siasn")
    assert killer.killed, "the fault did not fire"
    assert "outbox.mark_sent" in str(failed.value) and not NIP.search(str(failed.value))
    # SIASN took these, the outbox does not know: the one whose record died with the
    # connection, and any other the failing task left in flight
    still_pending = {
        r.idempotency_key for r in store.outbox.list(status="pending") if r.flow in to_siasn
    }
    unrecorded = still_pending & {e["idempotency_key"] for e in sb.received()}
    assert unrecorded
    store.close()

    hub.store = store = Store(postgres_db_url, hash_key=HASH_KEY)
    record = hub.push("siasn")  # the rerun
    assert record.counts.dead == record.counts.failed == 0
    received = sb.received("siapp.usulan")
    # every version in the outbox arrived exactly once, and nothing else did
    assert per_version(received) == dict.fromkeys(
        {(r.entity_id, r.payload["version"]) for r in pending}, 1
    )
    # what SIASN took without the hub knowing was sent again and replayed once; what the
    # outbox recorded as sent was never sent again. (A POST the dying task had on the wire may
    # reach SIASN only after the check above: replayed at most once.)
    messages = [e for e in sb.received() if e["app"] == "siasn" and "upload" not in e["kind"]]
    replays = {e["idempotency_key"]: e["replays"] for e in messages}
    assert len(replays) == len(messages)  # each message received once
    assert set(replays) == {r.idempotency_key for r in owed}
    assert all(replays[k] == 1 for k in unrecorded)
    assert all(replays[k] == 0 for k in set(replays) - still_pending)
    assert all(replays[k] in (0, 1) for k in still_pending - unrecorded)
    assert Counter(r.status for r in store.outbox.list() if r.flow in to_siasn) == {
        "sent": len(owed)
    }
    assert store.outbox.list(status="dead") == []
    # documents: each uploaded once (the ledger spared the replayed usulan a second upload)
    docs = {d["id"] for r in pending for d in r.payload["dokumen"]}
    assert len(sb.received("upload-dok")) == len(docs)
    # the quarantine holds the refused out-of-scope usulan only, unchanged by the fault
    assert store.quarantine.list(limit=100_000) == out_of_scope
    store.close()
