"""F1 + F2 through a flaky SIASN: 5xx, 429 with Retry-After, short-lived tokens and malformed
records. The run completes, every well-formed employee equals the truth, every malformed one is
quarantined (keyed hash, reason naming the field) and nothing is stored twice."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from siapp_siasn.flows.asn_pull import PullParams, QualityGate, check_quality
from siapp_siasn.store.tables import asn, asn_history, quarantine
from tests.flows._truth import StoreView, audit_quarantine, fetch_truth, mismatches
from tests.flows.conftest import (
    HASH_KEY,
    StoreFactory,
    pull,
    pull_everything,
    route_count,
    run_context,
)

pytestmark = pytest.mark.integration

EMPLOYEE_PATH = "/apisiasn/1.0/pns/"
ENUMERATION_PATH = "/apisiasn/1.0/siapp/asn"
# the sandbox default is 3600: this makes expiry bite within the run. Under CPU load a request
# can queue for a slot (32 in flight, 429 backoffs) longer than that: the client reads its
# tokens again once it holds the slot (tests/reliability/test_token_in_flight.py), so a token
# that expired while the request queued is refreshed, not sent (it used to end in a 401 after
# the one refresh, and an employee failed).
TOKEN_TTL_S = 2.0
FAULTS: dict[str, Any] = {
    "error_5xx_rate": 0.05,
    "error_429_rate": 0.02,
    "retry_after_s": 1,
    "gateway_token_ttl_s": TOKEN_TTL_S,
    "sso_token_ttl_s": TOKEN_TTL_S,
    "malformed_rate": 0.005,
    "latency_ms": 2,
    "seed": 11,
}
# ~560 IV/b+ employees: ~2,800 records (4 endpoints + one enumeration row each) at 0.5 %
WORLD: dict[str, Any] = {"employees": 2000, "seed": 3, "ivb_share": 0.3}


def _malformed(
    served: list[dict[str, Any]],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """What the sandbox served malformed: (NIP -> records of the employee endpoints,
    NIP -> enumeration row; the record id of a row is ``path#nipBaru`` as listed)."""
    employee: dict[str, list[dict[str, Any]]] = {}
    enumeration: dict[str, dict[str, Any]] = {}
    for item in served:
        record = item["record"]
        if record.startswith(ENUMERATION_PATH + "#"):
            enumeration[record.split("#", 1)[1]] = item
        elif item["path"].startswith(EMPLOYEE_PATH):
            employee.setdefault(item["path"].rsplit("/", 1)[1], []).append(item)
        else:
            raise AssertionError(f"unexpected malformed record {record}")
    return employee, enumeration


def test_flaky_api_run_completes_and_quarantines_malformed(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    sb = sandbox_factory(**WORLD, faults=FAULTS)
    store = store_factory("sqlite")

    record = pull_everything(sb, store, "flaky-1")

    stats = sb.stats()
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    bad_employees, bad_rows = _malformed(sb.truth("malformed")["served"])
    # rows whose NIP itself was garbled cannot be traced to anyone: the hub never fetches them
    unnamed = {nip for nip, item in bad_rows.items() if item["field"] == "nipBaru"}
    # the faults did bite
    assert stats["faults"].get("5xx", 0) > 20
    assert stats["faults"].get("429", 0) > 5
    assert route_count(stats, "POST /oauth2/token") >= 2
    assert route_count(stats, "POST /auth/realms/public-siasn/protocol/openid-connect/token") >= 2
    assert len(bad_employees) >= 5
    assert len(bad_rows) - len(unnamed) >= 1, "some enumeration rows must be malformed"
    # ... and the run completed with every nameable employee fetched
    assert record.counts.failed == 0
    assert record.counts.read == len(truth_nips - unnamed)
    assert record.extra.get("unidentified_rows", 0) == len(unnamed)

    view = StoreView.read(store)
    well_formed = truth_nips - set(bad_employees) - unnamed
    # every well-formed employee equals the truth (a bad enumeration row does not drop its
    # employee); nothing malformed was stored
    assert view.active == well_formed
    assert mismatches(view, fetch_truth(sb, well_formed)) == {}
    assert not set(view.rows) & set(bad_employees)

    with store.engine.connect() as c:
        rows = c.execute(sa.select(quarantine).where(quarantine.c.flow == "F1")).mappings().all()
        n_asn = c.scalar(sa.select(sa.func.count()).select_from(asn))
        n_nips = c.scalar(sa.select(sa.func.count(sa.distinct(asn.c.nip))))
        open_per_nip = c.execute(
            sa.select(asn_history.c.nip, sa.func.count())
            .where(asn_history.c.valid_to.is_(None))
            .group_by(asn_history.c.nip)
        ).all()
    by_key: dict[tuple[str, str], list[Any]] = {}
    for q in rows:
        by_key.setdefault((q["entity_kind"], q["key_hash"]), []).append(q)
    assert all(q["reason"] == "invalid" for q in rows)
    assert record.counts.quarantined == len(rows)
    # the quality gate fails loudly above its quarantine threshold, naming counts only
    rate = len(rows) / record.counts.read
    ctx = run_context(sb, "quality")
    pulled = [record.to_xcom()]
    lenient = QualityGate(rate * 2, min_quarantined=1)
    strict = QualityGate(rate / 2, min_quarantined=1)
    assert check_quality(store, pulled, lenient, ctx).failures == []
    failures = check_quality(store, pulled, strict, ctx).failures
    assert len(failures) == 1
    listing_bad = record.extra["quarantine_reasons"].get("listing_invalid", 0)
    assert failures[0].startswith(
        f"quality gate failed: {len(rows)} of {record.counts.read} employees quarantined ("
    )
    assert failures[0].endswith(
        ": "
        + ", ".join(
            f"{reason} {n}"
            for reason, n in sorted(
                {"invalid": len(rows) - listing_bad, "listing_invalid": listing_bad}.items()
            )
            if n
        )
    )
    assert not any(nip in failures[0] for nip in truth_nips)

    # every malformed employee is quarantined under its keyed hash, the reason naming the field
    for nip, items in bad_employees.items():
        found = by_key.get(("asn", store.quarantine.key_hash(nip)), [])
        assert len(found) == 1, f"malformed employee not quarantined ({items[0]['mutation']})"
        for item in items:
            assert item["field"] in found[0]["detail"], (item["field"], found[0]["detail"])
        assert nip not in found[0]["detail"]
    # so is every malformed enumeration row (under the NIP it carried)
    for nip, item in bad_rows.items():
        if nip in unnamed:
            continue
        found = by_key.get(("asn_enumeration", store.quarantine.key_hash(nip)), [])
        assert len(found) == 1 and item["field"] in found[0]["detail"]
    truth_hashes = {store.quarantine.key_hash(nip) for nip in truth_nips}
    garbled = [q for q in rows if q["entity_kind"] == "asn_enumeration"]
    assert len(garbled) == len(bad_rows)
    assert sum(q["key_hash"] not in truth_hashes for q in garbled) == len(unnamed)
    assert len(rows) == len(bad_employees) + len(bad_rows)
    # the stored rows keep nothing personal of the employees behind them (names, NIK, birth
    # dates, address, phone, e-mail, NIPs), each under the HMAC of its NIP with the store's key
    audit = audit_quarantine(rows, fetch_truth(sb, set(bad_employees) | set(bad_rows)), HASH_KEY)
    assert audit.leaks == []
    assert (audit.traced, audit.untraced) == (len(rows) - len(unnamed), len(unnamed))

    # no duplicates: one row per NIP, one (open) version per NIP
    assert n_asn == n_nips == len(well_formed)
    assert {nip for nip, _ in open_per_nip} == set(view.rows)
    assert all(n == 1 for _, n in open_per_nip)
    assert all(len(h) == 1 for h in view.history.values())


def test_garbled_enumeration_rows_never_depart_anyone(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    """A full sweep whose listing holds rows without a usable NIP cannot tell who is absent:
    it must not mark active employees departed; malformed employees keep their last good
    version."""
    sb = sandbox_factory(employees=3000, seed=1, ivb_share=0.08)
    store = store_factory("sqlite")
    pull_everything(sb, store, "clean")
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    before = StoreView.read(store)
    assert before.active == truth_nips

    sb.set_faults({"malformed_rate": 0.01, "seed": 4})
    sweep = pull(sb, store, "garbled", PullParams(full_refresh=True))
    bad_employees, bad_rows = _malformed(sb.truth("malformed")["served"])
    unnamed = {nip for nip, item in bad_rows.items() if item["field"] == "nipBaru"}
    assert unnamed, "the fault seed must garble at least one NIP of the listing"
    assert bad_employees

    assert sweep.window["mode"] == "full"
    assert sweep.extra["unidentified_rows"] == len(unnamed)
    assert sweep.extra["departures_skipped"] == len(unnamed)
    assert sweep.counts.departed == 0
    assert sweep.counts.unchanged == len(truth_nips) - len(unnamed) - len(bad_employees)
    after = StoreView.read(store)
    assert after.active == truth_nips
    assert after.history == before.history
    assert {n: r["record_hash"] for n, r in after.rows.items()} == {
        n: r["record_hash"] for n, r in before.rows.items()
    }


def test_renamed_contract_fields_are_drift_and_keep_the_stored_values(
    sandbox_factory: Any, store_factory: StoreFactory
) -> None:
    """The sandbox's drift fault renames ``tglLahir`` → ``tanggalLahir`` and ``unorNama`` →
    ``namaUnor``: absent is not null. The re-pulled employees are quarantined naming the
    fields, the stored rows and their SCD2 history are unchanged, and the quality gate fails."""
    sb = sandbox_factory(employees=300, seed=2, ivb_share=0.3)
    store = store_factory("sqlite")
    pull_everything(sb, store, "clean")
    before = StoreView.read(store)
    nips = sorted(before.active)[:3]
    assert len(nips) == 3

    sb.set_faults(
        {"schema_drift": {"rename": {"tglLahir": "tanggalLahir", "unorNama": "namaUnor"}}}
    )
    selection = store.selection.create(nips, "re-pull after a SIASN release")
    drifted = pull(sb, store, "drifted", PullParams(selection=selection.id))

    assert drifted.counts.read == 3
    assert drifted.counts.quarantined == 3
    assert (drifted.counts.updated, drifted.counts.inserted, drifted.counts.valid) == (0, 0, 0)
    after = StoreView.read(store)
    for nip in nips:
        assert after.rows[nip] == before.rows[nip]
        assert after.history[nip] == before.history[nip]
        assert after.rows[nip]["tgl_lahir"] is not None
    with store.engine.connect() as c:
        rows = (
            c.execute(sa.select(quarantine).where(quarantine.c.run_id == "drifted"))
            .mappings()
            .all()
        )
    assert {q["key_hash"] for q in rows} == {store.quarantine.key_hash(n) for n in nips}
    for q in rows:
        assert q["reason"] == "missing_fields"
        assert "tglLahir" in q["detail"] and "unorNama" in q["detail"]
        assert not any(nip in q["detail"] for nip in nips)
    # the drifted payloads (tanggalLahir, namaUnor: renamed fields) keep nothing personal
    audit = audit_quarantine(rows, fetch_truth(sb, nips), HASH_KEY)
    assert (audit.traced, audit.untraced, audit.leaks) == (3, 0, [])
    # drift fails the default gate at the first drifted employee, naming the count and the
    # fields; the quarantine-rate gate (at least 5 by default) is not what catches it
    assert drifted.extra["quarantine_reasons"] == {"missing_fields": 3}
    ctx = run_context(sb, "quality")
    default = check_quality(store, [drifted.to_xcom()], QualityGate(), ctx).failures
    [message] = default
    assert message.startswith(
        "quality gate failed: 3 of 3 employees quarantined for drift (contract fields absent: "
    )
    assert message.endswith(") > max_drifted 0; the stored values were kept")
    # the rename reaches the family payloads too (anak.listAnak[].tglLahir, ...)
    assert {"tglLahir", "unorNama", "ortu.ayah.tglLahir"} <= set(drifted.extra["absent_fields"])
    assert all(field in message for field in drifted.extra["absent_fields"])
    assert not any(nip in message for nip in nips)
    strict = QualityGate(max_quarantine_rate=0.02, min_quarantined=3, max_drifted=3)
    assert check_quality(store, [drifted.to_xcom()], strict, ctx).failures == [
        "quality gate failed: 3 of 3 employees quarantined (100.00% > max_quarantine_rate "
        "2.00%, min_quarantined 3): missing_fields 3"
    ]
