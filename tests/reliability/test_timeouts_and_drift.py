"""Three cells of the fault matrix: timeouts in the usulan sync and in the reconciliation, and
SIAPP NV's usulan list drifting from the contract.

Timeouts are made deterministic, not load-sensitive: the sandbox's ``hang_first`` knob holds
the first answer of every route template ``HANG_MS`` after the server acted on the request
(a POST is stored), far past the clients' timeout (``TIMEOUT_S``). Every client meets exactly
the held requests as timeouts, retries each once, and a held POST comes back as an
Idempotency-Key replay, never a second receipt.

Drift: SIAPP NV renames ``tmt`` in its usulan list. Absent is not null: the usulan it lists
are quarantined as ``missing_fields`` (not sent to SIASN with a null TMT), the collect's
quality gate fails naming the field, and the watermark is held so that, once the drift is
fixed, the next collect delivers them, each version once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.flows import watermarks
from siapp_siasn.lineage import LineageRecord
from tests.flows._truth import audit_quarantine, fetch_truth
from tests.flows._usulan import WORLD, Hub, per_version, siapp_client
from tests.flows.conftest import HASH_KEY, StoreFactory
from tests.reliability.test_sync_faults import (
    KeepingHub,
    _client_metrics,
    _reconcile,
    assert_documents_ok,
    assert_usulan_truth,
)

pytestmark = pytest.mark.integration

#: 30x the sandbox's slowest answers on a loaded 2-core machine: only held answers time out
TIMEOUT_S = 0.8
HANG_MS = 2500  # three times the timeout: a held answer arrives long after the client gave up
HANG = {"hang_ms": HANG_MS, "hang_first": 1}
CLIENT = {"timeout": TIMEOUT_S, "download_timeout": TIMEOUT_S}
WATERMARK = watermarks.SIAPP_RESOURCE.format(resource="usulan")


def _held_posts(sb: Any) -> set[tuple[str, str]]:
    """(app, route) of every POST the sandbox held since its stats were reset: one per POST
    route (``hang_first`` = 1), token calls aside (they carry no Idempotency-Key)."""
    routes = sb.stats()["routes"]
    return {
        (app, tmpl)
        for app, by_tmpl in routes.items()
        for tmpl in by_tmpl
        if tmpl.startswith("POST ") and "token" not in tmpl
    }


def _timeouts_met(records: list[LineageRecord]) -> Counter[str]:
    """Timeouts met per task; asserts that every retry was for one and none gave up."""
    met: Counter[str] = Counter()
    for rec in records:
        for m in _client_metrics(rec):
            timeouts = int(m["errors"].get("timeout", 0))
            assert m["retries"] == timeouts, (rec.task_id, m["client"], m["errors"])
            assert m["failures"] == 0, (rec.task_id, m["client"])
            assert set(m["errors"]) <= {"timeout"}, (rec.task_id, m["client"], m["errors"])
            met[rec.task_id] += timeouts
    return met


def test_usulan_sync_timeouts_retried_and_held_posts_replayed_once(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    """collect, push_siasn, status_back and push_siapp over two simulated days, the first
    answer of every route held past the timeout: each task met timeouts, retried exactly
    them, and SIASN and SIAPP NV got every message once (the held POSTs once more as a
    replay of the same Idempotency-Key)."""
    sb = sandbox_factory(**WORLD)
    hub = KeepingHub(sb, store_factory("sqlite"), client=CLIENT)
    hub.load_mirror()
    sb.set_faults(HANG)
    sb.reset_stats()
    faulted = len(hub.lineage)
    hub.cycle()
    for _ in range(2):
        hub.day()
    records = hub.lineage[faulted:]
    stats = sb.stats()
    held = stats["faults"]["hang"]

    met = _timeouts_met(records)
    assert sum(met.values()) == held  # every held answer was a timeout a client met
    tasks = {t for t, n in met.items() if n}
    assert {"collect", "push_siasn", "status_back", "push_siapp"} <= tasks, met
    held_posts = _held_posts(sb)
    assert ("siasn", "POST /apisiasn/1.0/siapp/usulan") in held_posts
    # one replay per held POST route: the kind each route's first receipt was logged under
    replays: Counter[str] = Counter()
    for e in sb.received():
        replays[e["kind"]] += e["replays"]
    assert sum(replays.values()) == len(held_posts) == stats["faults"]["idempotent_replay"]
    assert replays["siapp.usulan"] == 1 and replays["upload-dok"] == 1
    assert_usulan_truth(hub, held_posts=len(held_posts))


def test_reconciliation_timeouts_retried_repairs_replayed_and_every_document_ok(
    sandbox_factory: Any, store_factory: StoreFactory, tmp_path: Path
) -> None:
    """Two documents damaged at SIASN (one lost, one corrupted), then two reconciliations
    with the first answer of every route held past the timeout (the inventories a few rows
    a page, the repairs' uploads and downloads): both clients met and retried exactly those
    timeouts; the first run finds exactly the damage and repairs it, the re-transfers being
    replays of their first Idempotency-Keys (SIASN holds no second receipt); the second finds
    every document ok on all three sides (sha256 and size), nothing quarantined or flagged."""
    sb = sandbox_factory(**WORLD)
    hub = KeepingHub(sb, store_factory("sqlite"), client=CLIENT)
    hub.load_mirror()
    hub.cycle()
    hub.day()
    before = {e["seq"] for e in sb.received()}
    sb.set_faults({**HANG, "document_faults": {"missing_at_siasn": 1, "corrupt_at_siasn": 1}})
    sb.reset_stats()
    first = _reconcile(hub, tmp_path / "1", siapp_page_size=5, siasn_page_size=5)
    held = sb.stats()["faults"]["hang"]

    met = _timeouts_met([first])
    per_client = {m["client"]: m["errors"].get("timeout", 0) for m in _client_metrics(first)}
    assert len(per_client) == 2 and all(n >= 1 for n in per_client.values()), per_client
    assert met["reconcile"] == held
    found = {c: n for c, n in first.extra["categories"].items() if c != "ok" and n}
    assert found == {"missing_at_siasn": 1, "hash_mismatch": 1}
    repair = first.extra["repair"]
    assert (repair["attempted"], repair["repaired"], repair["verified"]) == (2, 2, 2)
    assert repair["failed"] == repair["flagged"] == 0 and first.failures == []
    damage = sb.truth("dokumen-faults")["faults"]
    assert [f["active"] for f in damage] == [False, False]
    # one new upload per repaired document, with the source's bytes; the held one retried as
    # a replay of its Idempotency-Key, not received a second time
    source = {
        d["id"]: d["sha256"]
        for u in sb.truth("usulan")["usulan"]
        for v in u["versions"]
        for d in v["dokumen"]
    }
    new = [e for e in sb.received() if e["seq"] not in before]
    assert sorted((e["kind"], e["replays"]) for e in new) == [("upload-dok", 0), ("upload-dok", 1)]
    assert sorted(e["payload"]["sha256"] for e in new) == sorted(source[f["ref"]] for f in damage)

    sb.set_faults(HANG)  # held again: a new count per route
    sb.reset_stats()
    second = _reconcile(hub, tmp_path / "2", siapp_page_size=5, siasn_page_size=5)
    assert _timeouts_met([second])["reconcile"] == sb.stats()["faults"]["hang"] >= 2
    assert_documents_ok(second, hub)


def _listed_usulan(sb: Any, since: str | None) -> dict[str, str]:
    """id -> updated_at of the usulan SIAPP NV lists since ``since`` (what a collect reads)."""

    async def walk() -> dict[str, str]:
        async with siapp_client(sb) as client:
            return {
                r["id"]: r["updated_at"]
                async for r in client.iter_list("usulan", updated_since=since)
            }

    return asyncio.run(walk())


def test_usulan_list_drift_quarantines_the_affected_usulan_and_loses_none(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    sb = sandbox_factory(**WORLD)
    hub = Hub(sb, store_factory("sqlite"))
    hub.load_mirror()
    hub.cycle()  # day 0 delivered without drift
    sb.advance(1)
    hub.pull_mirror()
    since = hub.store.state.get_watermark(WATERMARK)
    affected = _listed_usulan(sb, since)
    assert len(affected) >= 3
    sb.set_faults({"schema_drift": {"rename": {"tmt": "tanggal_mulai"}}})
    before = len(sb.received("siapp.usulan"))

    drifted = hub.collect()
    hub.push("siasn")
    # the outcome: the collect's gate fails naming the field; nothing reached SIASN
    assert drifted.failures == [
        f"quality gate failed: {len(affected)} usulan quarantined for drift (contract fields "
        "absent: tmt) > max_drifted 0; held, read again next run"
    ]
    assert drifted.extra["drifted"] == len(affected) and drifted.extra["absent_fields"] == ["tmt"]
    assert len(sb.received("siapp.usulan")) == before
    # the quarantine is exactly the affected usulan, once each, naming the field, no value
    rows = hub.store.quarantine.list(run_id=drifted.run_id, limit=100_000)
    assert {(r["reason"], r["detail"]) for r in rows} == {("missing_fields", "tmt")}
    assert Counter(r["key_hash"] for r in rows) == {
        hmac.new(HASH_KEY, u.encode(), hashlib.sha256).hexdigest(): 1 for u in affected
    }
    truth = sb.truth("usulan")["usulan"]
    people = fetch_truth(sb, {u["nip"] for u in truth})
    audit = audit_quarantine(rows, {u["id"]: people[u["nip"]] for u in truth}, HASH_KEY)
    assert (audit.traced, audit.untraced, audit.leaks) == (len(rows), 0, [])
    # held at the first affected row (read inclusively): the next run reads them all again
    assert hub.store.state.get_watermark(WATERMARK) == min(affected.values())

    # the drift fixed: the next run reads them again and delivers each version once
    sb.set_faults({})
    fixed = hub.collect()
    hub.push("siasn")
    hub.status()
    hub.push("siapp")
    assert fixed.failures == [] and "drifted" not in fixed.extra
    in_scope = [u for u in truth if u["in_scope"]]
    received = sb.received("siapp.usulan")
    assert per_version(received) == {
        (u["id"], v["version"]): 1 for u in in_scope for v in u["versions"]
    }
    assert all(e["payload"]["tmt"] for e in received)  # a TMT, never the null drift made
    assert sum(e["replays"] for e in received) == 0
    assert hub.store.outbox.list(status="dead") == []
    leftover = {f: s for f, s in hub.store.outbox.stats().items() if set(s) - {"sent", "rejected"}}
    assert leftover == {}, leftover
