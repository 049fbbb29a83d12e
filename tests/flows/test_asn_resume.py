"""Resumability, idempotency and the watermark of the ASN pull.

- A pull SIGKILLed in the middle (in its own process) resumes from its checkpoint in the same
  run and refetches at most the batch it was in; the result equals the truth.
- One slow employee holds back no other employee's commit, and a run killed meanwhile resumes
  with exactly the employees that were not stored.
- Rerunning a finished pull with the same data changes nothing.
- When employees cannot be fetched, the watermark stays, they are counted as failed, and the
  next run fetches exactly them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.world import day_to_date
from siapp_siasn.clients.siasn import SiasnClient
from siapp_siasn.flows.asn_pull import STEP, PullParams
from siapp_siasn.flows.watermarks import ASN_CURSOR, ASN_FULL_SWEEP
from siapp_siasn.store import Store
from tests.flows._truth import StoreView, fetch_truth, mismatches
from tests.flows.conftest import (
    CLIENT_DEFAULTS,
    HASH_KEY,
    SANDBOX_CREDENTIALS,
    StoreFactory,
    client_config,
    pull,
    pull_everything,
    route_count,
    run_context,
    sandbox_today,
)

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("_pull_worker.py")
DATA_UTAMA = "GET /apisiasn/1.0/pns/data-utama/{nipBaru}"
WORLD: dict[str, Any] = {"employees": 3000, "seed": 1, "ivb_share": 0.08}  # ~230 IV/b+
BATCH = 50


class _HoldingClient(SiasnClient):
    """The real client, except that SIASN answers the employees in ``held`` only once
    ``release`` is set: a slow employee whose delay the test controls."""

    held: frozenset[str] = frozenset()
    release: asyncio.Event

    async def get_employee(self, nip: str) -> dict[str, Any]:
        if nip in self.held:
            # a pull that waits for this employee before committing the others fails here
            # instead of hanging
            await asyncio.wait_for(self.release.wait(), timeout=30)
        return await super().get_employee(nip)


def _holding_client(sb: Any, held: list[str], **overrides: Any) -> _HoldingClient:
    client = _HoldingClient.from_config(client_config(sb, **overrides))
    client.held = frozenset(held)
    client.release = asyncio.Event()
    return client


def _worker(sb: Any, store: Store, run_id: str) -> subprocess.Popen[str]:
    ctx = run_context(sb, run_id)
    spec = {
        "siasn": {"base_url": sb.siasn_url, **SANDBOX_CREDENTIALS, **CLIENT_DEFAULTS},
        "store_url": store.url.render_as_string(hide_password=False),
        "hash_key": HASH_KEY.decode(),
        "run_id": run_id,
        "dag_id": ctx.dag_id,
        "task_id": ctx.task_id,
        "now": ctx.now.isoformat(),
        "batch_size": BATCH,
    }
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _history_rows(view: StoreView) -> int:
    return sum(len(h) for h in view.history.values())


def test_killed_pull_resumes_from_its_checkpoint(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    sb = sandbox_factory(**WORLD, faults={"latency_ms": 50})
    store = store_factory("sqlite")
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    total = len(truth_nips)
    batches = -(-total // BATCH)
    run_key = run_context(sb, "nightly-1").run_key
    sb.reset_stats()

    # ---- first attempt: killed once two batches are committed ---------------------------
    proc = _worker(sb, store, "nightly-1")
    deadline = time.monotonic() + 60
    killed_after = None
    while time.monotonic() < deadline and proc.poll() is None:
        cp = store.state.load_checkpoint(run_key, STEP)
        if cp is not None and cp.batch_no >= 2:
            proc.send_signal(signal.SIGKILL)
            killed_after = cp.batch_no
            break
        time.sleep(0.02)
    _out, err = proc.communicate(timeout=30)
    assert killed_after is not None, f"worker ended before two batches: {err[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    committed = store.state.load_checkpoint(run_key, STEP)
    assert committed is not None and 2 <= committed.batch_no < batches
    assert store.state.get_watermark(ASN_CURSOR) is None  # moved only at the very end

    # ---- second attempt of the same run: resumes and completes ---------------------------
    proc = _worker(sb, store, "nightly-1")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    record = json.loads(out.strip().splitlines()[-1])
    assert record["extra"]["resumed_after_batch"] == committed.batch_no
    assert record["counts"]["read"] == record["counts"]["inserted"] == total
    assert record["counts"]["failed"] == 0
    assert store.state.load_checkpoint(run_key, STEP) is None
    assert store.state.get_watermark(ASN_FULL_SWEEP) == sandbox_today(sb).isoformat()

    # at most the batch in flight when killed was fetched twice
    fetched = route_count(sb.stats(), DATA_UTAMA)
    assert total <= fetched <= total + BATCH
    view = StoreView.read(store)
    assert view.active == truth_nips
    assert mismatches(view, fetch_truth(sb, truth_nips)) == {}
    assert all(len(h) == 1 for h in view.history.values())
    # nothing bad was injected: neither attempt quarantined anything
    assert record["counts"]["quarantined"] == 0 and store.quarantine.list() == []

    # ---- rerunning the finished pull changes nothing -------------------------------------
    sb.set_faults({})
    history_before = _history_rows(view)
    again = pull(sb, store, "nightly-1")  # same run: checkpoint gone, nothing new to fetch
    assert again.window["mode"] == "incremental"
    assert again.extra["to_fetch"] == 0
    sb.reset_stats()
    full = pull(sb, store, "nightly-2", PullParams(full_refresh=True))
    assert route_count(sb.stats(), DATA_UTAMA) == total
    assert full.counts.unchanged == total
    assert full.counts.inserted == full.counts.updated == full.counts.departed == 0
    # the resumed run's digest (carried through the checkpoint) equals an uninterrupted one's
    assert full.content_digest == record["content_digest"]
    after = StoreView.read(store)
    assert _history_rows(after) == history_before
    assert after.history == view.history
    assert {n: r["record_hash"] for n, r in after.rows.items()} == {
        n: r["record_hash"] for n, r in view.rows.items()
    }


class _Crash(RuntimeError):
    """The task dies between two batches (worker lost, OOM, deploy)."""


def test_a_slow_employee_holds_back_no_commit(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    """An employee SIASN is slow to answer does not keep the others' batches from being
    committed; a run killed meanwhile resumes with exactly the employees not stored (the
    checkpoint names the pending ones, not every NIP done)."""
    sb = sandbox_factory(**WORLD)
    store = store_factory("sqlite")
    truth = sorted(sb.truth("asn", min_gol=42)["nips"])
    total, batch = len(truth), 20
    slow = truth[0]  # the first batch of a batch-by-batch pull would wait for it
    run_key = run_context(sb, "nightly-1").run_key
    committed: list[int] = []

    def progress(done: int, _total: int) -> None:
        committed.append(done)
        if done >= total - batch:
            raise _Crash  # every other batch is stored and the slow employee still pending

    with pytest.raises(_Crash):
        pull(
            sb,
            store,
            "nightly-1",
            PullParams(batch_size=batch),
            client=_holding_client(sb, [slow]),
            progress=progress,
        )
    stored = committed[-1]
    assert committed == list(range(batch, stored + 1, batch))  # full batches, none waited
    checkpoint = store.state.load_checkpoint(run_key, STEP)
    assert checkpoint is not None and checkpoint.batch_no == stored // batch
    state = checkpoint.state
    assert slow in state["not_done"] and state["done_through"] > slow
    # bounded by what can be pending: the client's window and one batch being collected
    assert len(state["not_done"]) <= 2 * CLIENT_DEFAULTS["concurrency"] + batch
    assert store.asn.get(slow) is None
    assert len(StoreView.read(store).rows) == stored

    sb.reset_stats()
    resumed = pull(sb, store, "nightly-1", PullParams(batch_size=batch))
    assert resumed.extra["resumed_after_batch"] == checkpoint.batch_no
    assert route_count(sb.stats(), DATA_UTAMA) == total - stored
    assert resumed.counts.read == resumed.counts.inserted == total
    assert store.state.load_checkpoint(run_key, STEP) is None
    view = StoreView.read(store)
    assert view.active == set(truth)
    assert mismatches(view, fetch_truth(sb, set(truth))) == {}
    assert all(len(h) == 1 for h in view.history.values())


def test_watermark_stays_when_employees_cannot_be_fetched(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    sb = sandbox_factory(**WORLD)
    store = store_factory("sqlite")
    start = sb.clock()["day"]
    pull_everything(sb, store, "day-0")
    cursor, swept = (
        store.state.get_watermark(ASN_CURSOR),
        store.state.get_watermark(ASN_FULL_SWEEP),
    )
    assert cursor is not None and swept is not None

    sb.advance(6)
    changes = sb.truth("changes", since=start + 1, min_gol=42)["changes"]
    changed = sorted(c["nip"] for c in changes)
    assert len(changed) >= 4

    # SIASN goes down after the first batch: the first two employees (NIP order) are answered,
    # the others are held until that batch is stored, and from then on every request is a 5xx
    outage: list[int] = []
    client = _holding_client(sb, changed[2:], max_retries=1)

    def progress(done: int, total: int) -> None:
        if not outage:
            outage.append(done)
            sb.set_faults({"error_5xx_rate": 1.0})
            client.release.set()

    sb.reset_stats()
    failed_run = pull(
        sb, store, "day-6", PullParams(batch_size=2), client=client, progress=progress
    )
    assert failed_run.window["mode"] == "incremental"
    unreachable = changed[2:]  # the first batch (two NIPs in NIP order) got through
    assert failed_run.counts.failed == len(unreachable)
    assert failed_run.counts.read == len(changed)
    assert failed_run.counts.valid == 2
    # the watermarks did not move; the failures are recorded under their keyed hashes
    assert store.state.get_watermark(ASN_CURSOR) == cursor
    assert store.state.get_watermark(ASN_FULL_SWEEP) == swept
    failures = {
        q["key_hash"]
        for q in store.quarantine.list(run_id="day-6")
        if q["reason"] == "fetch_failed"
    }
    assert failures == {store.quarantine.key_hash(nip) for nip in unreachable}

    # SIASN is back: the next run fetches exactly the employees that failed
    sb.set_faults({})
    sb.reset_stats()
    retry = pull(sb, store, "day-6-retry")
    assert route_count(sb.stats(), DATA_UTAMA) == len(unreachable)
    assert retry.counts.read == len(unreachable)
    assert retry.counts.failed == 0
    latest = max(c["day"] for c in changes)
    assert store.state.get_watermark(ASN_CURSOR) == day_to_date(latest).isoformat()
    view = StoreView.read(store)
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    assert view.active == truth_nips
    assert mismatches(view, fetch_truth(sb, truth_nips | set(changed))) == {}


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_resumed_pull_reports_what_an_uninterrupted_one_does(
    mode: str, sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    """A run that died after two batches and is resumed leaves the same store and the same
    lineage (plan, counts, digest, cursor) as a run that never died, bad records included."""
    sb = sandbox_factory(**WORLD)
    resumed_store = store_factory("sqlite", "resumed")
    clean_store = store_factory("sqlite", "clean")
    batch, malformed_rate = BATCH, 0.01
    if mode == "incremental":
        sb.advance(233)  # days 234..239 hold changes and departures in this world
        pull_everything(sb, resumed_store, "day-233")
        pull_everything(sb, clean_store, "day-233")
        sb.advance(6)
        batch, malformed_rate = 2, 0.15  # ~16 employees to fetch: some must be malformed
    sb.set_faults({"malformed_rate": malformed_rate, "seed": 4})
    params = PullParams(batch_size=batch)

    def crash_after_two(done: int, total: int) -> None:
        if done >= 2 * batch:
            raise _Crash

    with pytest.raises(_Crash):
        pull(sb, resumed_store, "nightly-1", params, progress=crash_after_two)
    checkpoint = resumed_store.state.load_checkpoint(run_context(sb, "nightly-1").run_key, STEP)
    assert checkpoint is not None and checkpoint.batch_no == 2
    resumed = pull(sb, resumed_store, "nightly-1", params)
    assert resumed.extra.pop("resumed_after_batch") == 2
    clean = pull(sb, clean_store, "nightly-1", params)

    assert resumed.window["mode"] == mode
    assert resumed.counts.read > 2 * batch
    assert resumed.counts.quarantined > 0
    assert resumed.counts == clean.counts
    assert resumed.content_digest == clean.content_digest
    assert resumed.window == clean.window
    assert resumed.extra == clean.extra
    for store, record in ((resumed_store, resumed), (clean_store, clean)):
        assert record.counts.quarantined == len(store.quarantine.list(run_id="nightly-1"))
    assert resumed_store.state.get_watermark(ASN_CURSOR) == clean_store.state.get_watermark(
        ASN_CURSOR
    )
    a, b = StoreView.read(resumed_store), StoreView.read(clean_store)
    assert a.family == b.family
    assert {n: r["record_hash"] for n, r in a.rows.items()} == {
        n: r["record_hash"] for n, r in b.rows.items()
    }
    assert {n: len(h) for n, h in a.history.items()} == {n: len(h) for n, h in b.history.items()}
