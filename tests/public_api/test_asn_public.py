"""F1 in both API modes against the sandbox's ground truth: the store equals the truth field
by field (family included) after a full pull and again after the clock moved, departures
carry SIASN's reason. In public mode the NIP list comes from the export file only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.flows.asn_pull import PullParams, pull_asn, pull_referensi
from siapp_siasn.models.siasn import REFERENCE_TABLES
from tests.flows._truth import StoreView, expected_family, fetch_truth, mismatches
from tests.flows.conftest import StoreFactory, route_count, run, run_context
from tests.public_api.conftest import MODES, ModeClients

pytestmark = pytest.mark.integration

#: SIASN's kedudukan hukum codes that mean the employee left, and the departure reason each must
#: give: literals, not the code's own table (a swap there must fail this test)
DEPARTURE_REASONS = {"66": "diberhentikan", "77": "wafat", "99": "pensiun"}

WORLD: dict[str, Any] = {"employees": 2000, "seed": 1, "ivb_share": 0.3}
START_DAY = 233
WINDOW_DAYS = 6


@pytest.mark.parametrize("mode", MODES)
def test_pull_equals_truth_in_both_modes(
    mode: str, sandbox_factory: Any, store_factory: StoreFactory, tmp_path: Path
) -> None:
    sb = sandbox_factory(**WORLD)
    sb.advance(START_DAY)
    store = store_factory("sqlite")
    hub = ModeClients(sb, mode, tmp_path / "exports")

    hub.export()
    run(pull_referensi(hub.client(), store, REFERENCE_TABLES, run_context(sb, "ref")))
    sb.reset_stats()
    first = run(pull_asn(hub.client(), store, PullParams(), run_context(sb, "full-1")))
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    assert first.counts.read == len(truth_nips) > 400
    assert first.counts.quarantined == first.counts.failed == 0
    view = StoreView.read(store)
    assert view.active == truth_nips
    assert mismatches(view, fetch_truth(sb, truth_nips)) == {}
    pks_calls = route_count(sb.stats(), "GET /apisiasn/1.0/siapp/asn")
    assert (pks_calls == 0) if mode == "public" else (pks_calls > 0)

    # a few days later: a new export (public) or the incremental listing (pks)
    sb.advance(WINDOW_DAYS)
    hub.export()
    changed = {c["nip"] for c in sb.truth("changes", since=START_DAY + 1, min_gol=42)["changes"]}
    sb.reset_stats()
    second = run(pull_asn(hub.client(), store, PullParams(), run_context(sb, "next-1")))
    assert second.counts.failed == second.counts.quarantined == 0
    if mode == "public":
        assert route_count(sb.stats(), "GET /apisiasn/1.0/siapp/asn") == 0
    after_nips = set(sb.truth("asn", min_gol=42)["nips"])
    after = fetch_truth(sb, after_nips | changed)
    view = StoreView.read(store)
    assert view.active == after_nips
    assert mismatches(view, after) == {}
    departed = {
        nip: DEPARTURE_REASONS[t["kedudukanPnsId"]]
        for nip, t in after.items()
        if t["kedudukanPnsId"] in DEPARTURE_REASONS and nip in view.rows
    }
    assert {"pensiun", "wafat"} <= set(departed.values())
    for nip, reason in departed.items():
        assert view.rows[nip]["is_active"] is False
        assert view.rows[nip]["departure_reason"] == reason
    for nip in after_nips:
        assert view.family.get(nip, []) == expected_family(after[nip])
