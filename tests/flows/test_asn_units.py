"""Unit tests of the ASN pull's pure parts (no network): the plan, what a record means for the
mirror, validation into store rows or quarantine items, reference rows.

Payloads are rendered by the sandbox's own SIASN renderer from its synthetic world (strings
everywhere, ``dd-mm-yyyy`` dates, null forms, ``gelarBlk``/lower-case quirks), in process.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.siasn_app import raw_anak, raw_data_utama, raw_ortu, raw_pasangan
from siapp_sandbox.world import World
from siapp_siasn.flows.asn_pull import (
    Plan,
    PullParams,
    QualityGate,
    check_quality,
    decide_plan,
    tally_quarantine,
)
from siapp_siasn.flows.asn_records import (
    UNKNOWN_NAMES_MAX,
    EmployeeRecord,
    build_employee,
    departure_reason,
    merge_unknown_fields,
    parse_enumeration_row,
)
from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.watermarks import ASN_CURSOR, ASN_FULL_SWEEP
from siapp_siasn.lineage import Endpoint, LineageRecord
from siapp_siasn.models.record import validate_asn_record
from siapp_siasn.store import QuarantineItem, Store
from tests.flows._truth import expected_columns, expected_family

TODAY = dt.date(2026, 3, 2)
#: data-utama keys holding personal values: none may appear in a quarantine reason or detail
PERSONAL_KEYS = ("nama", "nik", "email", "emailGov", "noHp", "alamat", "tempatLahir", "tglLahir")


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=5, employees=400, ivb_share=0.5, day=0)


def _employee(world: World, *, with_family: bool = True) -> tuple[int, dict[str, Any]]:
    """An active IV/b+ employee with a spouse, children and a parent (when asked)."""
    for i in world.active_indices(0, 42).tolist():
        if not with_family or (
            world.pasangan(i, 0) and world.anak(i, 0) and world.ortu(i, 0)["ayah"]
        ):
            return i, raw_payloads(world, i)
    raise AssertionError("the world has no such employee")


def raw_payloads(world: World, i: int) -> dict[str, Any]:
    """The ``data`` of the four endpoints as SIASN serves them (None where SIASN says 404)."""
    pasangan, anak, ortu = raw_pasangan(world, i, 0), raw_anak(world, i, 0), raw_ortu(world, i, 0)
    ident = world.identity(i)
    wrap = {"idPns": ident["idPns"], "nipBaru": ident["nipBaru"], "nipLama": ident["nipLama"] or ""}
    return {
        "data_utama": raw_data_utama(world, i, 0),
        "pasangan": {**wrap, "listPasangan": pasangan} if pasangan else None,
        "anak": {**wrap, "listAnak": anak} if anak else None,
        "ortu": {**wrap, **ortu} if (ortu["ayah"] or ortu["ibu"]) else None,
    }


def truth_of(world: World, i: int) -> dict[str, Any]:
    """The typed truth record (what ``/_sandbox/truth/asn/{nip}`` serves), in process."""
    return {
        **world.record(i, 0),
        "pasangan": world.pasangan(i, 0),
        "anak": world.anak(i, 0),
        "ortu": world.ortu(i, 0),
    }


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path}/plan.sqlite", hash_key=b"unit")
    s.migrate()
    return s


def _personal_values(raw: dict[str, Any]) -> list[str]:
    values = [str(raw[k]) for k in PERSONAL_KEYS if raw.get(k) not in (None, "")]
    values.append(raw["nipBaru"])
    return values


# ------------------------------------------------------------------------------ decide_plan
def test_plan_without_watermark_is_a_full_sweep(store: Store) -> None:
    assert decide_plan(store, PullParams(), TODAY) == Plan("full")


def test_plan_with_watermark_and_recent_sweep_is_incremental(store: Store) -> None:
    store.state.set_watermark(ASN_CURSOR, "2026-02-27")
    store.state.set_watermark(ASN_FULL_SWEEP, TODAY - dt.timedelta(days=6))
    assert decide_plan(store, PullParams(), TODAY) == Plan(
        "incremental", updated_since="2026-02-27"
    )


@pytest.mark.parametrize("days_ago", [7, 30])
def test_plan_after_a_week_without_sweep_is_full(store: Store, days_ago: int) -> None:
    store.state.set_watermark(ASN_CURSOR, "2026-02-27")
    store.state.set_watermark(ASN_FULL_SWEEP, TODAY - dt.timedelta(days=days_ago))
    assert decide_plan(store, PullParams(), TODAY).mode == "full"
    # the period is a parameter
    every_60 = PullParams(full_sweep_every_days=60)
    assert decide_plan(store, every_60, TODAY).mode == "incremental"


def test_plan_with_cursor_but_no_sweep_record_is_full(store: Store) -> None:
    store.state.set_watermark(ASN_CURSOR, "2026-02-27")
    assert decide_plan(store, PullParams(), TODAY).mode == "full"


def test_plan_full_refresh_wins_over_watermarks(store: Store) -> None:
    store.state.set_watermark(ASN_CURSOR, "2026-03-01")
    store.state.set_watermark(ASN_FULL_SWEEP, TODAY)
    assert decide_plan(store, PullParams(full_refresh=True), TODAY) == Plan("full")


def test_plan_with_nips_fetches_exactly_those(store: Store) -> None:
    store.state.set_watermark(ASN_CURSOR, "2026-03-01")
    store.state.set_watermark(ASN_FULL_SWEEP, TODAY)
    params = PullParams(nips=["197203151998031002", "196502091995041754", "197203151998031002"])
    plan = decide_plan(store, params, TODAY)
    assert plan == Plan("nips", nips=["196502091995041754", "197203151998031002"])
    # a plan survives the checkpoint round trip (a resumed run reuses it)
    assert Plan.from_state(plan.to_state()) == plan


def test_plan_with_selection_fetches_its_stored_nips(store: Store) -> None:
    store.state.set_watermark(ASN_CURSOR, "2026-03-01")
    store.state.set_watermark(ASN_FULL_SWEEP, TODAY)
    nips = ["197203151998031002", "196502091995041754"]
    sel = store.selection.create(nips, "unit test")
    plan = decide_plan(store, PullParams(selection=sel.id), TODAY)
    assert plan == Plan("selection", nips=sorted(nips), selection=sel.id)
    # the checkpoint holds the id only; a resumed run reads the NIPs from the store again
    state = plan.to_state()
    assert state["nips"] == [] and state["selection"] == sel.id
    assert Plan.from_state(state, store) == plan


def test_plan_with_unknown_or_mixed_selection_is_a_config_error(store: Store) -> None:
    with pytest.raises(FlowConfigError, match="not in this store") as unknown:
        decide_plan(store, PullParams(selection="sel-20260302-abcdef"), TODAY)
    assert "select create" in str(unknown.value)
    with pytest.raises(FlowConfigError, match="looks like sel-"):
        decide_plan(store, PullParams(selection="197203151998031002"), TODAY)
    sel = store.selection.create(["197203151998031002"], "unit test")
    with pytest.raises(FlowConfigError, match="excludes"):
        decide_plan(store, PullParams(selection=sel.id, full_refresh=True), TODAY)


# ------------------------------------------------------------------------------ departure_reason
@pytest.mark.parametrize(
    ("kedudukan", "golongan", "reason"),
    [
        ("01", "42", None),
        ("01", "45", None),
        ("99", "43", "pensiun"),
        ("77", "42", "wafat"),
        ("66", "44", "diberhentikan"),
        ("01", "41", "below_iv_b"),
    ],
)
def test_departure_reason(world: World, kedudukan: str, golongan: str, reason: str | None) -> None:
    _i, raw = _employee(world, with_family=False)
    data = {**raw["data_utama"], "kedudukanPnsId": kedudukan, "golRuangAkhirId": golongan}
    record, problem = validate_asn_record(data)
    assert problem is None and record is not None
    assert departure_reason(record) == reason


# ------------------------------------------------------------------------------ build_employee
def test_build_employee_valid_gives_the_typed_row_and_family(world: World) -> None:
    i, raw = _employee(world)
    nip = world.nip_of(i)
    result = build_employee(nip, "2026-01-02", **raw)
    assert isinstance(result, EmployeeRecord)
    row = result.row
    assert row.nip == nip
    assert row.source_updated == dt.date(2026, 1, 2)
    assert result.departure_reason is None
    # every typed column equals the world's truth (dates, ints, codes, GUIDs)
    truth = truth_of(world, i)
    assert {c: getattr(row, c) for c in expected_columns(truth)} == expected_columns(truth)
    members = sorted(
        (
            m.relation,
            m.member_id,
            m.tgl_lahir,
            m.jenis_kelamin,
            m.status_hidup,
            m.status_hubungan,
            m.tgl_menikah,
            m.tgl_cerai,
            m.orang_tua_id,
        )
        for m in row.family or []
    )
    assert sorted(members, key=repr) == expected_family(truth)
    assert {m.relation for m in row.family or []} >= {"pasangan", "anak", "ayah"}
    # the raw record is kept whole (unknown fields too) and the hashes are set
    assert row.payload == raw["data_utama"]
    assert result.unknown_fields == [] and result.unknown_field_count == 0
    assert len(row.record_hash) == 64 and row.family_hash is not None


def test_build_employee_without_family_is_an_empty_family(world: World) -> None:
    i, raw = _employee(world, with_family=False)
    result = build_employee(world.nip_of(i), None, raw["data_utama"], None, None, None)
    assert isinstance(result, EmployeeRecord)
    assert result.row.family == []
    assert result.row.source_updated is None


def test_build_employee_hash_ignores_key_spelling_and_family_order(world: World) -> None:
    i, raw = _employee(world)
    nip = world.nip_of(i)
    a = build_employee(nip, None, **raw)
    shuffled = copy.deepcopy(raw)
    shuffled["anak"]["listAnak"].reverse()
    du = shuffled["data_utama"]
    if "gelarBelakang" in du:
        du["gelarBlk"] = du.pop("gelarBelakang")
    else:
        du["gelarBelakang"] = du.pop("gelarBlk")
    b = build_employee(nip, None, **shuffled)
    assert isinstance(a, EmployeeRecord) and isinstance(b, EmployeeRecord)
    assert (a.row.record_hash, a.row.family_hash) == (b.row.record_hash, b.row.family_hash)


@pytest.mark.parametrize(
    ("part", "mutate", "field"),
    [
        ("data_utama", lambda d: d.update(tglLahir="31-02-1970"), "tglLahir"),
        ("data_utama", lambda d: d.update(golRuangAkhirId="IV/b"), "golRuangAkhirId"),
        (
            "data_utama",
            lambda d: d.update(nipBaru=d["nipBaru"][:4] + "13" + d["nipBaru"][6:-1]),
            "nipBaru",
        ),
        ("data_utama", lambda d: d.pop("nama"), "nama"),
        ("anak", lambda d: d["listAnak"][0].update(tglLahir="30-02-2001"), "listAnak.0.tglLahir"),
        (
            "pasangan",
            lambda d: d["listPasangan"][0]["orang"].update(id="not-a-guid"),
            "listPasangan.0.orang.id",
        ),
    ],
)
def test_build_employee_malformed_is_quarantined_without_personal_values(
    world: World, part: str, mutate: Any, field: str
) -> None:
    i, raw = _employee(world)
    nip = world.nip_of(i)
    bad = copy.deepcopy(raw)
    mutate(bad[part])
    result = build_employee(nip, "2026-01-02", **bad)
    assert isinstance(result, QuarantineItem)
    assert (result.flow, result.entity_kind, result.key) == ("F1", "asn", nip)
    assert result.reason == "invalid"
    assert result.detail and field in result.detail
    text = f"{result.reason} {result.detail}"
    for value in [*_personal_values(raw["data_utama"]), "31-02-1970", "30-02-2001", "not-a-guid"]:
        assert value not in text
    for member in raw["anak"]["listAnak"] + [p["orang"] for p in raw["pasangan"]["listPasangan"]]:
        assert member["nama"] not in text


def test_build_employee_nip_mismatch(world: World) -> None:
    i, raw = _employee(world)
    other = world.nip_of(i + 1 if i + 1 < world.n else i - 1)
    result = build_employee(other, None, **raw)
    assert isinstance(result, QuarantineItem)
    assert (result.key, result.reason) == (other, "nip_mismatch")
    text = f"{result.reason} {result.detail or ''}"
    assert world.nip_of(i) not in text and other not in text


@pytest.mark.parametrize(
    ("data_utama", "reason"),
    [(None, "data_utama_not_found"), (["x"], "data_utama_not_an_object")],
)
def test_build_employee_without_data_utama(data_utama: Any, reason: str) -> None:
    result = build_employee("197203151998031002", None, data_utama, None, None, None)
    assert isinstance(result, QuarantineItem)
    assert result.reason == reason


# ------------------------------------------------------------------------------ enumeration
def test_parse_enumeration_row() -> None:
    row, reason = parse_enumeration_row(
        {
            "nipBaru": "197203151998031002",
            "golRuangAkhirId": "42",
            "kedudukanPnsId": "01",
            "updated": "03-01-2026",
        }
    )
    assert reason is None and row is not None
    assert (row.nip, row.updated, row.gol_ruang_akhir_id, row.kedudukan_pns_id) == (
        "197203151998031002",
        "2026-01-03",
        42,
        "01",
    )
    row, reason = parse_enumeration_row({"nipBaru": "1972031", "updated": "31-02-2026"})
    assert row is None and reason and "nipBaru" in reason and "1972031" not in reason


# ------------------------------------------------------------------------------ quality gate
def _pulled(
    read: int, quarantined: int, reasons: dict[str, int] | None = None, **extra: Any
) -> list[dict[str, Any]]:
    """The lineage record (XCom) of one pull, as far as the gate reads it."""
    reasons = reasons if reasons is not None else {"invalid": quarantined}
    return [
        {
            "flow": "F1",
            "counts": {"read": read, "quarantined": quarantined},
            "extra": {"quarantine_reasons": reasons, **extra},
        }
    ]


def test_quality_gate_passes_a_small_run_above_the_rate(store: Store) -> None:
    """2 quarantined of 61 is 3.3 % > 2 %, but two records on a quiet night fail no run."""
    record = check_quality(store, _pulled(61, 2), QualityGate(), RunContext())
    assert QualityGate() == QualityGate(max_quarantine_rate=0.02, min_quarantined=5)
    assert record.failures == []
    assert record.extra["quarantine_rate"] == round(2 / 61, 6)


def test_quality_gate_passes_many_quarantined_below_the_rate(store: Store) -> None:
    assert check_quality(store, _pulled(4000, 60), QualityGate(), RunContext()).failures == []


def test_quality_gate_fails_when_count_and_rate_are_both_exceeded(store: Store) -> None:
    gate = QualityGate(max_quarantine_rate=0.02, min_quarantined=5)
    record = check_quality(
        store, _pulled(61, 5, {"invalid": 4, "nip_mismatch": 1}), gate, RunContext()
    )
    assert record.failures == [
        "quality gate failed: 5 of 61 employees quarantined (8.20% > max_quarantine_rate "
        "2.00%, min_quarantined 5): invalid 4, nip_mismatch 1"
    ]
    # the thresholds are the caller's: a stricter count fails the small run too
    strict = QualityGate(max_quarantine_rate=0.02, min_quarantined=2)
    assert len(check_quality(store, _pulled(61, 2), strict, RunContext()).failures) == 1


def test_quality_gate_fails_on_drift_naming_counts_and_fields(store: Store) -> None:
    """3 of 400 quarantined is below every quarantine threshold, but absent contract fields
    are drift: the default gate fails at the first, naming the count and the fields."""
    pulled = _pulled(400, 3, {"missing_fields": 3}, absent_fields=["tglLahir", "unorNama"])
    record = check_quality(store, pulled, QualityGate(), RunContext())
    assert record.failures == [
        "quality gate failed: 3 of 400 employees quarantined for drift (contract fields "
        "absent: tglLahir, unorNama) > max_drifted 0; the stored values were kept"
    ]
    assert record.extra["drifted"] == 3
    assert record.extra["quarantine_reasons"] == {"missing_fields": 3}
    # the threshold is a param: a tolerant gate lets the same run pass
    assert check_quality(store, pulled, QualityGate(max_drifted=3), RunContext()).failures == []


def test_tally_quarantine_counts_reasons_and_drifted_fields() -> None:
    extra: dict[str, Any] = {}
    items = [
        QuarantineItem("F1", "asn", "k1", "missing_fields", detail="absent: tglLahir, unorNama"),
        QuarantineItem("F1", "asn", "k2", "missing_fields", detail="absent: tglLahir (+2 more)"),
        QuarantineItem("F1", "asn", "k3", "invalid", detail="gol: bad"),
        QuarantineItem("F1", "asn_enumeration", "k4", "invalid", detail="row"),
        QuarantineItem("F1", "asn", "k5", "fetch_failed", detail="500 /x"),
    ]
    tally_quarantine(extra, items)
    tally_quarantine(extra, items[:1])  # a later batch adds to the same record
    assert extra == {
        "quarantine_reasons": {"invalid": 1, "listing_invalid": 1, "missing_fields": 3},
        "absent_fields": ["tglLahir", "unorNama"],
    }


# ------------------------------------------------------------------------------ drift reports
def test_absent_contract_field_is_drift_not_null(world: World) -> None:
    """A renamed contract field (the sandbox's drift fault) quarantines the employee naming
    the absent fields (never values); the null forms are present values."""
    i, raw = _employee(world)
    nip = world.nip_of(i)
    drifted = copy.deepcopy(raw)
    drifted["data_utama"]["tanggalLahir"] = drifted["data_utama"].pop("tglLahir")
    drifted["data_utama"]["namaUnor"] = drifted["data_utama"].pop("unorNama")
    result = build_employee(nip, None, **drifted)
    assert isinstance(result, QuarantineItem)
    assert result.reason == "missing_fields"
    assert result.detail == "absent: tglLahir, unorNama"
    for value in _personal_values(raw["data_utama"]):
        assert value not in result.detail
    nulled = copy.deepcopy(raw)
    nulled["data_utama"]["tglLahir"] = "01-01-0001"
    nulled["data_utama"]["unorNama"] = None
    assert isinstance(build_employee(nip, None, **nulled), EmployeeRecord)


def test_unknown_field_reports_are_capped(world: World) -> None:
    """100,000 unknown keys: the record keeps them in its raw payload, but what goes into
    lineage (and so XCom and Asset events) is at most UNKNOWN_NAMES_MAX names and a count."""
    i, raw = _employee(world)
    flooded = copy.deepcopy(raw)
    flooded["data_utama"].update({f"extraField{n:06d}": "x" for n in range(100_000)})
    result = build_employee(world.nip_of(i), None, **flooded)
    assert isinstance(result, EmployeeRecord)
    assert len(result.unknown_fields) == UNKNOWN_NAMES_MAX
    assert result.unknown_field_count >= 100_000
    assert len(result.row.payload) == len(flooded["data_utama"])  # kept, as SIASN sent it
    record = LineageRecord(
        flow="F1",
        source=Endpoint(system="siasn", endpoint="/apisiasn/1.0/pns/data-utama/{nip}"),
        target=Endpoint(system="hub-store", endpoint="asn"),
    )
    merge_unknown_fields(record.extra, result)
    merge_unknown_fields(record.extra, result)
    assert len(record.extra["unknown_fields"]) == UNKNOWN_NAMES_MAX
    assert record.extra["unknown_fields_omitted"] >= 2 * (100_000 - UNKNOWN_NAMES_MAX)
    assert len(json.dumps(record.to_xcom())) < 10_000
