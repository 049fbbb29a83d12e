"""F1 + F2 against the sandbox's ground truth, on SQLite and on a real PostgreSQL.

A full sweep must mirror every active IV/b+ employee exactly; after the simulated clock moves a
few days, an incremental run must fetch exactly the employees that changed, version them
(SCD2) exactly where their data-utama changed, mark departures without deleting anything, and
leave the store equal to the truth again.
"""

from __future__ import annotations

from typing import Any

import pytest

from siapp_sandbox.world import day_to_date
from siapp_siasn.flows.asn_pull import PullParams, QualityGate, check_quality
from siapp_siasn.flows.watermarks import ASN_CURSOR, ASN_FULL_SWEEP
from siapp_siasn.models.siasn import REFERENCE_TABLES
from tests.flows._truth import StoreView, data_utama, expected_family, fetch_truth, mismatches
from tests.flows.conftest import (
    StoreFactory,
    pull,
    pull_everything,
    route_count,
    run_context,
    sandbox_today,
)

pytestmark = pytest.mark.integration

# A small world with many IV/b+ employees (~560). On seed 1 the days 234..239 hold ordinary
# changes (kontak, unor, jabatan, family, promotions into IV/b), a death (day 235) and
# retirements at BUP (1 June 2026 = day 239): the window below exercises every kind of change.
WORLD: dict[str, Any] = {"employees": 2000, "seed": 1, "ivb_share": 0.3}
START_DAY = 233
WINDOW_DAYS = 6  # < 7: the second run stays incremental (the weekly full sweep is not due)
# The departure reason the hub must store per kedudukan hukum (SIASN's reference table:
# 66 Diberhentikan, 77 Wafat, 99 Pensiun), written out here rather than read from the code
# under test; the test checks it against the sandbox's own reference table too.
DEPARTURE_REASONS = {"66": "diberhentikan", "77": "wafat", "99": "pensiun"}

EMPLOYEE_ROUTES = tuple(
    f"GET /apisiasn/1.0/pns/{kind}/{{nipBaru}}"
    for kind in ("data-utama", "data-pasangan", "data-anak", "data-ortu")
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_full_then_incremental_pull_equals_truth(
    backend: str, sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    sb = sandbox_factory(**WORLD)
    sb.advance(START_DAY)
    store = store_factory(backend)

    # ---- full sweep: the store equals the truth -------------------------------------------
    first = pull_everything(sb, store, "full-1")
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    assert first.window["mode"] == "full"
    assert first.counts.read == len(truth_nips) > 400
    assert first.counts.inserted == len(truth_nips)
    assert first.counts.quarantined == first.counts.failed == 0
    before = fetch_truth(sb, truth_nips)
    view = StoreView.read(store)
    assert view.active == truth_nips
    assert mismatches(view, before) == {}
    assert all(len(view.history[nip]) == 1 for nip in truth_nips)
    assert store.state.get_watermark(ASN_FULL_SWEEP) == sandbox_today(sb).isoformat()
    assert store.state.get_watermark(ASN_CURSOR) is not None
    # the store's reference tables hold every id the mirror uses
    assert store.quality.unknown_reference_ids() == []

    # ---- a few days later: an incremental run fetches exactly what changed ---------------
    sb.advance(WINDOW_DAYS)
    today = sandbox_today(sb)
    changes = sb.truth("changes", since=START_DAY + 1, min_gol=42)["changes"]
    changed = {c["nip"] for c in changes}
    assert len(changed) >= 10
    sb.reset_stats()
    second = pull(sb, store, "incr-1")
    assert second.window["mode"] == "incremental"
    stats = sb.stats()
    assert route_count(stats, EMPLOYEE_ROUTES[0]) == len(changed)
    for route in EMPLOYEE_ROUTES:
        assert route_count(stats, route) == len(changed), route
    assert second.counts.read == len(changed)
    assert second.counts.failed == second.counts.quarantined == 0

    after_nips = set(sb.truth("asn", min_gol=42)["nips"])
    after = fetch_truth(sb, after_nips | changed)
    view = StoreView.read(store)

    # departures: inactive, dated, still there (never deleted), with a closed-off history;
    # the reason is the kedudukan hukum's name in the sandbox's reference table
    kedudukan = {r["id"]: r["nama"] for r in sb.truth("referensi/kedudukan-hukum")["results"]}
    assert {k: kedudukan[k].lower() for k in DEPARTURE_REASONS} == DEPARTURE_REASONS
    departed = {
        nip: DEPARTURE_REASONS[t["kedudukanPnsId"]]
        for nip, t in after.items()
        if t["kedudukanPnsId"] in DEPARTURE_REASONS
    }
    assert {"pensiun", "wafat"} <= set(departed.values()), "the window must hold departures"
    assert set(departed) <= changed
    for nip, reason in departed.items():
        row = view.rows[nip]
        assert row["is_active"] is False
        assert row["departed_on"] == today
        assert row["departure_reason"] == reason
        last = view.history[nip][-1]
        assert last["valid_to"] is None
        assert (last["is_active"], last["departed_on"]) == (False, today)
    # nothing was ever deleted
    assert set(view.rows) == truth_nips | (changed - truth_nips)

    # SCD2: a second version exactly where data-utama changed; new employees have one
    for nip in sorted(set(view.rows)):
        history = view.history[nip]
        if nip not in truth_nips:
            expected = 1  # promoted into IV/b during the window: new in the mirror
        elif data_utama(after[nip]) != data_utama(before[nip]):
            expected = 2
        else:
            expected = 1
        assert len(history) == expected, (nip, nip in changed)
        assert view.open_versions(nip) == 1
        if expected == 2:
            assert nip in changed
            assert history[0]["valid_to"] == history[1]["valid_from"]
    assert any(len(h) == 2 for h in view.history.values())
    # family changes (births, marriages...) replaced the family rows
    family_changed = {
        n for n in changed & truth_nips if expected_family(after[n]) != expected_family(before[n])
    }
    assert family_changed, "the window must hold family changes"
    for nip in family_changed:
        assert view.family.get(nip, []) == expected_family(after[nip])

    # the store equals the truth again: the active set and every fetched record
    assert view.active == after_nips
    assert mismatches(view, after) == {}
    # the quality gates agree: reference ids known, NIPs valid, SCD2 consistent
    quality = check_quality(
        store,
        [first.to_xcom(), second.to_xcom()],
        QualityGate(max_quarantine_rate=0.0, min_quarantined=1),
        run_context(sb, "q"),
    )
    assert quality.failures == []
    assert quality.extra["scd2"]["asn_with_several_open_versions"] == 0
    # the weekly sweep mark stays; the cursor moves to the newest change it stored
    assert store.state.get_watermark(ASN_FULL_SWEEP) == day_to_date(START_DAY).isoformat()
    assert (
        store.state.get_watermark(ASN_CURSOR)
        == day_to_date(max(c["day"] for c in changes)).isoformat()
    )

    # pulling the same employees again (an operator's stored selection) changes nothing:
    # no new versions, departed employees stay departed on the day they left
    selection = store.selection.create(sorted(changed), "re-pull the changed employees")
    third = pull(sb, store, "selection-1", PullParams(selection=selection.id))
    assert third.window["mode"] == "selection"
    assert third.window["selection"] == selection.id
    assert third.extra["to_fetch"] == selection.count == len(changed)
    assert third.counts.unchanged == len(changed)
    assert third.counts.inserted == third.counts.updated == third.counts.departed == 0
    again = StoreView.read(store)
    assert again.history == view.history
    assert again.rows.keys() == view.rows.keys()
    for nip, row in again.rows.items():
        old = view.rows[nip]
        for col in ("record_hash", "is_active", "departed_on", "departure_reason", "family_hash"):
            assert row[col] == old[col], (nip, col)


def test_weekly_full_sweep_departs_who_is_no_longer_listed(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    """The full sweep is the backstop: employees no longer listed become inactive (dated,
    kept, with a departed version), newcomers and changes are picked up, F2 equals the truth."""
    sb = sandbox_factory(employees=3000, seed=1, ivb_share=0.08)
    sb.advance(START_DAY)
    store = store_factory("sqlite")
    pull_everything(sb, store, "week-1")
    before = set(sb.truth("asn", min_gol=42)["nips"])
    for ref in REFERENCE_TABLES:
        truth_ids = {str(r["id"]).lower() for r in sb.truth(f"referensi/{ref}")["results"]}
        assert {i.lower() for i in store.referensi.ids(ref)} == truth_ids, ref

    sb.advance(WINDOW_DAYS)
    today = sandbox_today(sb)
    after = set(sb.truth("asn", min_gol=42)["nips"])
    gone = before - after
    assert gone and after - before, "the window must hold departures and newcomers"
    sweep = pull(sb, store, "week-2", PullParams(full_refresh=True))
    assert sweep.window["mode"] == "full"
    assert sweep.counts.read == len(after)
    assert sweep.counts.departed == len(gone)
    view = StoreView.read(store)
    assert view.active == after
    assert mismatches(view, fetch_truth(sb, after)) == {}
    for nip in gone:
        row = view.rows[nip]
        assert (row["is_active"], row["departed_on"]) == (False, today)
        assert row["departure_reason"] == "absent_from_full_sweep"
        first, last = view.history[nip]
        assert first["valid_to"] == last["valid_from"] and last["valid_to"] is None
        assert (first["is_active"], last["is_active"]) == (True, False)
    assert store.state.get_watermark(ASN_FULL_SWEEP) == today.isoformat()
