"""Repair of injected document faults, against the real sandbox over loopback and a real store.

The sandbox damages documents on either side (``document_faults``) and says exactly what it did
(``/_sandbox/truth/dokumen-faults``); the reconciliation must find exactly that, repair what a
re-transfer can fix (same Idempotency-Keys, same ledger rows), verify it, and flag the rest once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.store import Store
from tests.flows._usulan import WORLD, per_version
from tests.flows.conftest import HASH_KEY
from tests.reconciliation.test_sources import differences, run_reconcile, traffic

pytestmark = pytest.mark.integration

FAULTS = {
    "missing_at_siasn": 2,
    "corrupt_at_siasn": 2,
    "resized_at_siasn": 1,
    "orphan_at_siasn": 1,
    "missing_at_siapp": 1,
    "source_missing": 1,
}


def _store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    url = (
        f"sqlite:///{tmp_path / 'store'}.sqlite"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_db_url")
    )
    store = Store(url, hash_key=HASH_KEY)
    store.migrate()
    return store


def _flags(store: Store) -> list[tuple[Any, ...]]:
    """The flagged open items, without what every run moves (``last_seen_*``)."""
    return [
        (
            r["usulan_id"],
            r["jenis"],
            r["direction"],
            r["category"],
            r["unrepairable_reason"],
            r["flagged_at"],
            r["repair_attempts"],
            r["first_seen_run"],
        )
        for r in store.reconciliation.open_items(flagged=True)
    ]


def _replays(sb: Any, *kinds: str) -> int:
    return sum(e["replays"] for kind in kinds for e in sb.received(kind))


def _truth(sb: Any, *, active: bool = True) -> set[tuple[str, str, str, str]]:
    return {
        (f["usulan_id"], f["direction"], f["ref"], f["category"])
        for f in sb.truth("dokumen-faults")["faults"]
        if f["active"] == active
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_injected_faults_are_found_exactly_repaired_and_flagged_once(
    backend: str, sandbox_factory: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    sb = sandbox_factory(**WORLD)
    store = _store(backend, tmp_path, request)
    try:
        hub = traffic(sb, store)
        clean = run_reconcile(hub, tmp_path / "r0", "clean")
        assert differences(clean) == set()

        sb.set_faults({"document_faults": FAULTS, "seed": 11})
        truth = sb.truth("dokumen-faults")
        assert truth["requested"] == FAULTS
        assert len(truth["faults"]) == sum(FAULTS.values()), "every fault found a document"
        injected = _truth(sb)
        outbox_before = store.outbox.stats()
        usulan_rx = per_version(sb.received("siapp.usulan"))
        replays = _replays(sb, "siapp.usulan")
        pertek_replays = _replays(sb, "inbound.pertek", "inbound.ralat-pertek")
        ledger_before = {r["doc_id"]: r for r in store.documents.list()}

        # ---- run 1: exactly the injected faults, repaired or flagged ------------------------
        found = run_reconcile(hub, tmp_path / "r1", "faulted")
        assert differences(found) == injected
        counts = found.extra["categories"]
        assert {c: n for c, n in counts.items() if n and c != "ok"} == truth["expected"]
        repair = found.extra["repair"]
        assert repair["attempted"] == repair["repaired"] == 6
        assert repair["verified"] == 5  # the SIASN copies; SIAPP NV's pertek is checked next run
        assert repair["flagged"] == 2 and repair["reasons"] == {"orphan": 1, "source_missing": 1}

        # what the repair did: the very same copies back (restored, same dok_id), same keys
        assert _truth(sb) == {k for k in injected if k[3] in ("orphan", "source_missing")}
        for doc_id, row in ledger_before.items():
            after = store.documents.get(doc_id)
            assert after is not None
            assert after["target_dok_id"] == row["target_dok_id"]
        repaired_refs = {k[2] for k in injected if k[3] not in ("orphan", "source_missing")}
        assert {store.documents.get(r)["status"] for r in repaired_refs} <= {
            "verified",
            "transferred",
        }
        assert store.outbox.stats() == outbox_before, "no new outbox item, none left due"
        assert per_version(sb.received("siapp.usulan")) == usulan_rx, "no new first receipt"
        # one replay of the carrying message per SIASN copy, one of the pertek delivery
        assert _replays(sb, "siapp.usulan") - replays == 5
        assert _replays(sb, "inbound.pertek", "inbound.ralat-pertek") - pertek_replays == 1

        # ---- a push run, then run 2: clean but for the two flagged items -------------------
        hub.push("siasn")
        hub.push("siapp")
        after = run_reconcile(hub, tmp_path / "r2", "after")
        left = {k for k in injected if k[3] in ("orphan", "source_missing")}
        assert differences(after) == left
        assert after.extra["items"]["resolved"] == 6
        flagged = _flags(store)
        assert {(r[3], r[4]) for r in flagged} == {
            ("orphan", "orphan"),
            ("source_missing", "source_missing"),
        }
        assert store.reconciliation.open_items(flagged=False) == []
        assert after.extra["repair"]["attempted"] == after.extra["repair"]["flagged"] == 0

        # ---- run 3: flagged once, never retried --------------------------------------------
        again = run_reconcile(hub, tmp_path / "r3", "again")
        assert differences(again) == left
        assert again.extra["repair"] == after.extra["repair"]
        assert _flags(store) == flagged
    finally:
        store.close()


def test_a_corrupt_source_is_flagged_once_and_not_retried(
    sandbox_factory: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """SIASN lost a copy, and SIAPP NV serves only damaged bytes of the source: the repair
    refuses to re-transfer them, flags the item ``source_corrupt`` once, and never tries again."""
    sb = sandbox_factory(**WORLD)
    store = _store("sqlite", tmp_path, request)
    try:
        hub = traffic(sb, store, days=4)
        sb.set_faults({"document_faults": {"missing_at_siasn": 1}, "seed": 3})
        (fault,) = sb.truth("dokumen-faults")["faults"]
        uploads = len(sb.received("upload-dok"))
        sb.set_faults({"corrupt_document_rate": 1.0})
        first = run_reconcile(hub, tmp_path / "r1", "first")
        key = (fault["usulan_id"], fault["direction"], fault["ref"], "missing_at_siasn")
        assert differences(first) == {key}
        assert first.extra["repair"]["flagged"] == 1
        assert first.extra["repair"]["reasons"] == {"source_corrupt": 1}
        (item,) = _flags(store)
        assert item[4] == "source_corrupt"
        assert item[6] == 0
        assert len(sb.received("upload-dok")) == uploads, "damaged bytes are never uploaded"
        assert store.documents.get(fault["ref"])["status"] in ("transferred", "verified")

        second = run_reconcile(hub, tmp_path / "r2", "second")
        assert differences(second) == {key}
        assert second.extra["repair"]["attempted"] == second.extra["repair"]["flagged"] == 0
        assert _flags(store) == [item]
        assert sb.truth("dokumen-faults")["faults"][0]["active"] is True
    finally:
        sb.set_faults({})
        store.close()
