"""Decree cross-check (F7) against the sandbox's ground truth, and its pure judgement.

The hub runs the usulan traffic over simulated weeks until Keppres are delivered; the sandbox
applies some decrees and withholds others (fault ``keppres_withhold_rate``). The check must flag
exactly the withheld ones that are old enough, each with its age in days (delivery day to check
day), store them without the NIP, and conclude nothing when SIASN cannot be read.
Real HTTP over loopback, a real SQLite store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.flows.keppres_check import (
    APPLIED,
    NOT_APPLIED,
    UNVERIFIED,
    Decree,
    KeppresCheckRun,
    SiasnView,
    check_keppres,
    judge,
    view_of,
)
from siapp_siasn.store import Store
from tests.flows._usulan import WORLD, Hub
from tests.flows.conftest import sandbox_today

DAYS = 18
MIN_AGE = 2
FAULTS: dict[str, Any] = {"keppres_withhold_rate": 0.4, "seed": 5}
DELIVERED = "KEPPRES_DELIVERED"
CHECKED = ("KP", "PEMBERHENTIAN")


def _check(hub: Hub, today: dt.date, min_age_days: int = MIN_AGE) -> KeppresCheckRun:
    return asyncio.run(
        check_keppres(
            hub.ctx("keppres_check"), hub.siasn(), hub.store, min_age_days=min_age_days, today=today
        )
    )


def _delivery_days(truth: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """usulan id -> (jenis, day SIASN received its Keppres), for the jenis the hub checks."""
    out = {}
    for u in truth:
        days = [s["day"] for s in u["stages"] if s["stage"] == DELIVERED]
        if days and u["jenis"] in CHECKED:
            out[u["id"]] = (u["jenis"], days[0])
    return out


@pytest.mark.integration
def test_exactly_the_withheld_decrees_are_flagged_with_their_age(
    sandbox_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sb = sandbox_factory(**WORLD, faults=FAULTS)
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    store.migrate()
    hub = Hub(sb, store)
    hub.load_mirror()
    hub.cycle()
    for _ in range(DAYS):
        hub.day()

    today = sandbox_today(sb)
    today_day = sb.clock()["day"]
    withheld = {w["usulan_id"]: w for w in sb.truth("keppres-withheld")["withheld"]}
    delivered = _delivery_days(sb.truth("usulan")["usulan"])
    assert set(withheld) <= set(delivered)
    assert all(withheld[u]["day"] == delivered[u][1] for u in withheld)
    due = {u: today_day - d for u, (_j, d) in delivered.items() if today_day - d >= MIN_AGE}
    due_withheld = {u: age for u, age in due.items() if u in withheld}
    kinds = Counter(delivered[u][0] for u in due_withheld)
    assert due_withheld and len(due) > len(due_withheld), "both kinds of outcome must occur"
    assert kinds["KP"] and kinds["PEMBERHENTIAN"], "a withheld decree of each kind must be due"
    assert len(delivered) > len(due), "some decrees must be too young to check"
    # the sandbox really withheld them: SIASN said "diterima" with status 32 all the same
    rows = {u["id"]: u for u in sb.truth("usulan")["usulan"]}
    assert all(rows[u]["siasn"]["statusUsulan"] == "32" for u in withheld)
    assert all(rows[u]["stages"][-1]["stage"] == "KEPPRES_WITHHELD" for u in withheld), (
        "a withheld decree changes nothing after its delivery"
    )

    result = _check(hub, today)

    flagged = {r.decree.usulan_id: r.decree.age_days for r in result.not_applied}
    assert flagged == due_withheld
    applied = {r.decree.usulan_id for r in result.results if r.status == APPLIED}
    assert applied == set(due) - set(due_withheld)
    assert not [r for r in result.results if r.status == UNVERIFIED]
    # a withheld KP misses on both sides; a withheld pemberhentian keeps kedudukan 01
    reasons = {r.decree.usulan_id: r.reason for r in result.not_applied}
    for u, reason in reasons.items():
        expected = "data_utama+rw_golongan" if delivered[u][0] == "KP" else "kedudukan"
        assert reason == expected, (u, reason)

    extra = result.record.extra["keppres"]
    assert extra[NOT_APPLIED] == len(due_withheld)
    assert extra[APPLIED] == len(applied)
    assert extra["not_due"] == len(delivered) - len(due)
    assert extra["delivered"] == len(delivered)
    assert result.record.counts.checked == len(due)

    stored = store.reconciliation.keppres_checks()
    assert {r["usulan_id"]: r["age_days"] for r in stored if r["status"] == NOT_APPLIED} == (
        due_withheld
    )
    assert {r["usulan_id"] for r in stored if r["status"] == APPLIED} == applied
    assert {r["kind"] for r in stored} <= {"kp", "pemberhentian"}

    # no NIP anywhere: not in the stored rows, the lineage record or the logs
    nips = {u["nip"] for u in rows.values()}
    lineage = json.dumps(result.record.to_xcom())
    stored_text = json.dumps(stored, default=str)
    logs = caplog.text
    for nip in nips:
        assert nip not in lineage and nip not in stored_text and nip not in logs
    assert all(len(r["nip_hash"]) == 64 for r in stored)

    # a check one day later ages the same findings by one day (rows overwritten, not added)
    later = _check(hub, today + dt.timedelta(days=1))
    grown = {u: a + 1 for u, a in due_withheld.items()}
    young = {
        u: 1 + today_day - d
        for u, (_j, d) in delivered.items()
        if u in withheld and today_day - d == MIN_AGE - 1
    }
    assert {r.decree.usulan_id: r.decree.age_days for r in later.not_applied} == grown | young
    assert len(store.reconciliation.keppres_checks()) == len(later.results)

    # SIASN unreadable: nothing is concluded, the earlier findings stay as they were
    sb.set_faults({**FAULTS, "error_5xx_rate": 1.0})
    hub.client = {"max_retries": 1}
    blind = _check(hub, today + dt.timedelta(days=1))
    assert blind.results and all(r.status == UNVERIFIED for r in blind.results)
    assert {r.reason for r in blind.results} == {"fetch_error"}
    after = store.reconciliation.keppres_checks()
    assert {r["usulan_id"]: r["age_days"] for r in after if r["status"] == NOT_APPLIED} == (
        grown | young
    )


# ---------------------------------------------------------------------------------------------
# the judgement alone
# ---------------------------------------------------------------------------------------------
TMT = dt.date(2026, 2, 1)
NOW = dt.datetime(2026, 2, 3, 3, tzinfo=dt.UTC)


def _kp(**kw: Any) -> Decree:
    return Decree("u1", "kp", "199001012020011001", NOW, 3, golongan_id=43, tmt=TMT, **kw)


def test_kp_applied_needs_data_utama_and_rw_golongan() -> None:
    both = SiasnView(43, TMT, "01", frozenset({(42, dt.date(2020, 1, 1)), (43, TMT)}))
    assert judge(_kp(), both).status == APPLIED
    assert "199001012020011001" not in repr(judge(_kp(), both))  # the NIP never shows
    only_rw = SiasnView(42, dt.date(2020, 1, 1), "01", frozenset({(43, TMT)}))
    assert (judge(_kp(), only_rw).status, judge(_kp(), only_rw).reason) == (
        NOT_APPLIED,
        "data_utama",
    )
    only_utama = SiasnView(43, TMT, "01", frozenset({(43, dt.date(2026, 3, 1))}))
    assert judge(_kp(), only_utama).reason == "rw_golongan"
    # a later promotion already on top: still applied
    later = SiasnView(
        44, dt.date(2030, 4, 1), "01", frozenset({(43, TMT), (44, dt.date(2030, 4, 1))})
    )
    assert judge(_kp(), later).status == APPLIED
    # an unreadable rw-golongan row proves nothing
    unsure = SiasnView(42, None, "01", frozenset(), rw_invalid=True)
    assert (judge(_kp(), unsure).status, judge(_kp(), unsure).reason) == (UNVERIFIED, "invalid")


def test_pemberhentian_and_unknowns() -> None:
    stop = Decree("u2", "pemberhentian", "199001012020011001", NOW, 5, tmt=TMT)
    assert judge(stop, SiasnView(kedudukan="99")).status == APPLIED
    assert judge(stop, SiasnView(kedudukan="01")).reason == "kedudukan"
    assert judge(stop, SiasnView(found=False)).reason == "not_found"
    # the hub cannot say what to look for: no conclusion
    blind = Decree("u3", "kp", "199001012020011001", NOW, 5, golongan_id=None, tmt=TMT)
    assert judge(blind, SiasnView()).status == UNVERIFIED
    # data-utama that fails validation is not judged
    assert view_of({"nipBaru": "x"}, [], with_rw=True) == "invalid"
    assert view_of(None, None, with_rw=True) == SiasnView(found=False, rw_golongan=frozenset())
