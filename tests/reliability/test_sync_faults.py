"""The three flows under faults their own tests did not cover: duplicated and reordered pages
on every list (SIAPP NV's changes, SIASN's statuses and inventories, the ASN enumeration),
tokens expiring many times within a run, 429s whose Retry-After the clients must honour, 5xx
and timeouts.

Each case runs real traffic against the sandbox (the ASN mirror, a few simulated days of
usulan, a reconciliation) and then asserts: the mirror equals the truth, one row and one open
version per NIP; every in-scope usulan version reached SIASN exactly once with its documents;
the outbox holds no dead letter and nothing left behind; the quarantine holds exactly the
usulan SIAPP NV sent out of the PKS scope (the world's only bad items, if any); every flow's
record names no failure; and the reconciliation finds every document ok.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.clients.siasn import SiasnClient
from siapp_siasn.flows.asn_pull import PullParams, pull_asn, pull_referensi
from siapp_siasn.flows.reconciliation_run import ReconcileParams, reconcile
from siapp_siasn.flows.usulan_sync import collect_siapp
from siapp_siasn.lineage import LineageRecord
from siapp_siasn.models.siasn import REFERENCE_TABLES
from siapp_siasn.store.tables import quarantine
from tests.flows._truth import StoreView, fetch_truth, mismatches
from tests.flows._usulan import WORLD, Hub, per_version, siapp_client
from tests.flows.conftest import (
    HASH_KEY,
    StoreFactory,
    client_config,
    run,
    run_context,
    siasn_client,
)

pytestmark = pytest.mark.integration

DAYS = 3
RETRY_AFTER_S = 1


class KeepingHub(Hub):
    """The hub, keeping the lineage of its F2 and F1 pulls too (their clients' metrics)."""

    def load_mirror(self) -> None:
        ctx = self.ctx("referensi")
        self._keep(asyncio.run(pull_referensi(self.siasn(), self.store, REFERENCE_TABLES, ctx)))
        self.pull_mirror()

    def pull_mirror(self) -> None:
        self._keep(asyncio.run(pull_asn(self.siasn(), self.store, PullParams(), self.ctx("pull"))))


@dataclass
class SmallPageHub(KeepingHub):
    """The hub, collecting SIAPP NV's changes a few rows a page (many pages to fault)."""

    page_size: int = 3

    def collect(self) -> LineageRecord:
        client = siapp_client(self.sb, **self.client)
        ctx = self.ctx("collect")
        return self._keep(
            asyncio.run(collect_siapp(client, self.store, ctx, page_size=self.page_size))
        )


def _traffic(hub: Hub, days: int = DAYS) -> None:
    hub.load_mirror()
    hub.cycle()
    for _ in range(days):
        hub.day()


def _reconcile(hub: Hub, report_dir: Path, **params: Any) -> LineageRecord:
    p = ReconcileParams(report_dir=report_dir, max_unrepairable=0, **params)
    return asyncio.run(
        reconcile(
            hub.ctx("reconcile"), hub.siasn(), siapp_client(hub.sb, **hub.client), hub.store, p
        )
    )


def assert_usulan_truth(hub: Hub, held_posts: int = 0) -> None:
    """Nothing lost, nothing twice, exactly the bad items quarantined, no dead letter, every
    run green. ``held_posts``: POSTs whose answer was lost after SIASN or SIAPP NV acted (a
    timeout): each replayed once under its own kind, no other message replayed."""
    sb, store = hub.sb, hub.store
    assert [(r.task_id, r.failures) for r in hub.lineage if r.failures] == []
    truth = sb.truth("usulan")["usulan"]
    in_scope = [u for u in truth if u["in_scope"]]
    out_of_scope = [u for u in truth if not u["in_scope"]]
    assert len(in_scope) >= 5
    received = sb.received("siapp.usulan")
    expected = {(u["id"], v["version"]) for u in in_scope for v in u["versions"]}
    assert per_version(received) == dict.fromkeys(expected, 1)
    assert all(v["delivered_matches"] for u in in_scope for v in u["versions"])
    # each document uploaded once, with the bytes SIAPP NV holds
    docs = {d["id"]: d["sha256"] for u in in_scope for v in u["versions"] for d in v["dokumen"]}
    uploads = sb.received("upload-dok")
    assert len(uploads) == len(docs)
    assert Counter(e["payload"]["sha256"] for e in uploads) == Counter(docs.values())
    everything = sb.received()
    replayed = [e["kind"] for e in everything if e["replays"]]
    assert Counter(e["replays"] for e in everything) == {
        n: count for n, count in ((0, len(everything) - held_posts), (1, held_posts)) if count
    }
    assert len(set(replayed)) == len(replayed) == held_posts  # one per held route
    # each message the hub recorded as sent arrived once, and only those
    messages = [e for e in everything if not e["kind"].startswith("upload-")]
    assert Counter(e["idempotency_key"] for e in messages) == Counter(
        r.idempotency_key for r in store.outbox.list(status="sent")
    )
    leftover = {f: s for f, s in store.outbox.stats().items() if set(s) - {"sent", "rejected"}}
    assert leftover == {}, leftover
    assert store.outbox.list(status="dead") == []
    rows = store.quarantine.list(limit=100_000)
    refused = {
        hmac.new(HASH_KEY, u["id"].encode(), hashlib.sha256).hexdigest() for u in out_of_scope
    }
    assert Counter(r["key_hash"] for r in rows) == dict.fromkeys(refused, 1)


def assert_documents_ok(record: LineageRecord, hub: Hub, *, repeated_rows: bool = False) -> None:
    """Every document ok on all three sides (``repeated_rows``: pages served rows twice, so
    the inventories read more rows than there are documents)."""
    counts = record.extra["categories"]
    ledger = hub.store.documents.list()
    assert counts["ok"] == len(ledger) > 10
    assert {c: n for c, n in counts.items() if c != "ok" and n} == {}
    assert record.failures == []
    inv = record.extra["inventories"]
    if repeated_rows:
        assert min(inv[s]["rows"] for s in inv) == inv["ledger"]["rows"] == len(ledger)
        assert max(inv[s]["rows"] for s in inv) > len(ledger)
    else:
        assert inv["siapp"]["rows"] == inv["siasn"]["rows"] == inv["ledger"]["rows"] == len(ledger)
    assert all(inv[s]["complete"] and not inv[s]["quarantined_pages"] for s in inv)
    assert record.counts.quarantined == 0
    assert hub.store.reconciliation.stats()["open"] == 0


def _asn_mirror_equals_truth(sb: RunningSandbox, hub: Hub) -> None:
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    view = StoreView.read(hub.store)
    assert view.active == truth_nips
    assert len(view.rows) == len(truth_nips)  # one row per NIP
    assert all(view.open_versions(nip) == 1 for nip in truth_nips)
    assert mismatches(view, fetch_truth(sb, truth_nips)) == {}


def test_duplicated_and_reordered_pages_lose_and_double_nothing(
    sandbox_factory: Any, store_factory: StoreFactory, tmp_path: Path
) -> None:
    sb = sandbox_factory(**WORLD, faults={"duplicate_page_rate": 0.5, "reorder_pages": True})
    hub = SmallPageHub(sb, store_factory("sqlite"))
    _traffic(hub)
    record = _reconcile(hub, tmp_path, siapp_page_size=7, siasn_page_size=5)

    faults = sb.stats()["faults"]
    assert faults.get("duplicate_page", 0) >= 10 and faults.get("reordered_page", 0) >= 10
    assert_usulan_truth(hub)
    assert_documents_ok(record, hub, repeated_rows=True)
    _asn_mirror_equals_truth(sb, hub)


def test_tokens_expiring_mid_run_are_refreshed_without_a_lost_item(
    sandbox_factory: Any, store_factory: StoreFactory, tmp_path: Path
) -> None:
    """Every token lives 1 s (the sandbox's default is hours) and every answer comes 60 ms
    late (300 ms for one collect): the ASN pull, a collect and the reconciliation (one row a
    page) each outlive their tokens, whatever the machine's speed (latency is a floor)."""
    ttl = 1.0
    sb = sandbox_factory(
        **WORLD,
        faults={
            "gateway_token_ttl_s": ttl,
            "sso_token_ttl_s": ttl,
            "siapp_token_ttl_s": ttl,
            "latency_ms": 60,
        },
    )
    hub = SmallPageHub(sb, store_factory("sqlite"), page_size=1)
    _traffic(hub, days=1)
    # one more collect, with answers 300 ms late: its four lists alone outlive a token
    faults = sb.faults()
    sb.set_faults({**faults, "latency_ms": 300})
    hub.collect()
    sb.set_faults(faults)
    record = _reconcile(hub, tmp_path, siapp_page_size=1, siasn_page_size=1)

    def most(task: str, token: str) -> int:
        """The most tokens one client of one run of ``task`` fetched."""
        recs = [*hub.lineage, record]
        return max(
            m["token_refreshes"].get(token, 0)
            for r in recs
            if r.task_id == task
            for m in _client_metrics(r)
        )

    assert most("pull", "gateway") >= 2 and most("pull", "sso") >= 2
    assert most("collect", "siapp") >= 2
    assert most("reconcile", "gateway") >= 2 and most("reconcile", "siapp") >= 2
    assert_usulan_truth(hub)
    assert_documents_ok(record, hub)
    _asn_mirror_equals_truth(sb, hub)


def _client_metrics(record: LineageRecord) -> list[dict[str, Any]]:
    """The HTTP metrics of each client a flow used (``record.requests``)."""
    req = record.requests or {}
    return [req] if "client" in req else [m for m in req.values() if isinstance(m, dict)]


TRANSIENT: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # fault -> (sandbox faults of the traffic, of the reconciliation: it makes few requests,
    # so a higher rate makes sure the fault bites it too)
    "429": (
        {"error_429_rate": 0.05, "retry_after_s": RETRY_AFTER_S, "seed": 9},
        {"error_429_rate": 0.15, "retry_after_s": RETRY_AFTER_S, "seed": 9},
    ),
    "5xx": ({"error_5xx_rate": 0.05, "seed": 9}, {"error_5xx_rate": 0.15, "seed": 9}),
}


def _transient(metrics: dict[str, Any], fault: str) -> int:
    """The attempts of one client that met the injected fault."""
    if fault == "429":
        return int(metrics["throttled_429"])
    return sum(int(n) for code, n in metrics["status"].items() if code.startswith("5"))


@pytest.mark.parametrize("fault", sorted(TRANSIENT))
def test_transient_errors_are_retried_and_deliver_everything(
    fault: str, sandbox_factory: Any, store_factory: StoreFactory, tmp_path: Path
) -> None:
    """Only one transient fault is injected: every retry each client made was for it (none
    gave up), 429s waited at least their Retry-After (the delays the clients recorded), and
    the ASN mirror, SIASN's usulan and the documents end equal to the truth."""
    traffic_faults, reconcile_faults = TRANSIENT[fault]
    sb = sandbox_factory(**WORLD, faults=traffic_faults)
    hub = KeepingHub(sb, store_factory("sqlite"))
    _traffic(hub, days=1)
    sb.set_faults(reconcile_faults)
    record = _reconcile(hub, tmp_path, siapp_page_size=1, siasn_page_size=1)
    injected = sb.stats()["faults"][fault]
    sb.set_faults({})

    met = 0
    flows = set()
    for rec in [*hub.lineage, record]:
        for m in _client_metrics(rec):
            assert m["retries"] == _transient(m, fault), (rec.task_id, m["client"])
            assert m["failures"] == 0, (rec.task_id, m["client"])
            if fault == "429":
                assert m["retry_wait_s"] >= RETRY_AFTER_S * m["retries"], m["client"]
            met += _transient(m, fault)
            if m["retries"]:
                flows.add(rec.task_id)
    # the fault bit every flow: the ASN pull, the usulan sync and the reconciliation
    assert {"pull", "reconcile"} <= flows and flows & {"collect", "push_siasn", "status_back"}
    assert injected == met  # every injected fault met by a client, and retried
    assert_usulan_truth(hub)
    assert_documents_ok(record, hub)
    _asn_mirror_equals_truth(sb, hub)


def test_timeouts_are_retried_and_the_mirror_equals_the_truth(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    """SIASN answers after 0-500 ms (uniform), the client gives up on an attempt after
    450 ms: about one attempt in ten times out and is sent again (more under CPU load, which
    only means more retries: nine timeouts in a row would be needed to lose an employee)."""
    sb = sandbox_factory(employees=150, seed=5, ivb_share=0.3, faults={"latency_jitter_ms": 500})
    hub = KeepingHub(sb, store_factory("sqlite"), client={"timeout": 0.45})
    hub.load_mirror()
    [pull_record] = [r for r in hub.lineage if r.task_id == "pull"]
    timeouts = 0
    for rec in hub.lineage:  # reference tables, then the employees
        m = rec.requests
        assert m["retries"] == m["errors"].get("timeout", 0) and m["failures"] == 0
        timeouts += m["retries"]
    assert pull_record.requests["retries"] >= 3 and timeouts >= 5
    assert pull_record.counts.failed == pull_record.counts.quarantined == 0
    with hub.store.engine.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(quarantine)) == 0
    _asn_mirror_equals_truth(sb, hub)


class _SmallPageSiasn(SiasnClient):
    """The real SIASN client, listing the ASN enumeration ten rows a page."""

    def iter_asn(self, updated_since: Any = None, page_size: int = 1000) -> Any:
        return super().iter_asn(updated_since, page_size=10)


def test_asn_enumeration_with_duplicated_and_reordered_pages(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    """A full sweep over a listing whose pages repeat rows of the page before and come
    shuffled: every employee is stored once and equals the truth, nobody is marked departed,
    nothing is quarantined."""
    sb = sandbox_factory(employees=300, seed=5, ivb_share=0.3)
    store = store_factory("sqlite")
    run(pull_referensi(siasn_client(sb), store, REFERENCE_TABLES, run_context(sb, "f2")))
    sb.set_faults({"duplicate_page_rate": 0.5, "reorder_pages": True, "seed": 3})
    client = _SmallPageSiasn.from_config(client_config(sb))
    record = run(pull_asn(client, store, PullParams(full_refresh=True), run_context(sb, "sweep")))
    faults = sb.stats()["faults"]
    assert faults["duplicate_page"] >= 2 and faults["reordered_page"] >= 5
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    assert record.counts.read == record.counts.inserted == len(truth_nips)
    assert record.counts.departed == record.counts.failed == record.counts.quarantined == 0
    assert record.requests["pagination"]["pages"] > len(truth_nips) // 10
    hub = Hub(sb, store)
    _asn_mirror_equals_truth(sb, hub)
    with store.engine.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(quarantine)) == 0
