"""Hostile input corpus (issue #14): what a broken or compromised SIASN / SIAPP NV could send,
through the models and the flows of both directions.

For every variant: no exception escapes (nothing crashes a run); the record is quarantined with
a reason, or stored where valid (the store's ``payload`` column keeps data-utama verbatim, the
typed columns hold the normalised text); and no error text, quarantine reason or detail,
lineage record, refusal sent back or log line contains the hostile value.

Entry points are the flows' own: ``build_employee`` (what ``pull_asn`` calls per employee),
``pull_asn`` itself on a real SQLite store with an in-process SIASN answering the hostile
payloads, and ``collect_siapp`` with an in-process SIAPP NV listing hostile usulan (the sandbox
can only malform or retype fields, not serve arbitrary values).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siapp_siasn.clients.http import bounded_map
from siapp_siasn.flows import watermarks
from siapp_siasn.flows.asn_pull import PullParams, pull_asn
from siapp_siasn.flows.asn_records import EmployeeRecord, build_employee
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.usulan_rules import FLOW_PENOLAKAN
from siapp_siasn.flows.usulan_sync import collect_siapp
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.siapp import SiappUsulan
from siapp_siasn.models.types import clean_text
from siapp_siasn.store import QuarantineItem, Store
from tests.models import samples
from tests.security.hostile import VALUES, Hostile, hostile_text, json_values, needles

NOW = dt.datetime(2026, 1, 6, 12, 0, tzinfo=dt.UTC)

# ---------------------------------------------------------------------------------------------
# where a hostile value goes: SIASN answers (the four payloads of one employee)
# ---------------------------------------------------------------------------------------------
Parts = dict[str, Any]


def employee_parts(nip: str = samples.NIP, pns_id: str = samples.GUID) -> Parts:
    """The four SIASN answers of one valid employee (``build_employee`` keyword names)."""
    du = samples.data_utama(nipBaru=nip, id=pns_id)
    parts = {"data_utama": du, "pasangan": samples.pasangan(), "anak": samples.anak()}
    parts["ortu"] = samples.ortu()
    for key in ("pasangan", "anak", "ortu"):
        parts[key].update(nipBaru=nip, idPns=pns_id)
    for child in parts["anak"]["listAnak"]:
        child["ayahId"] = pns_id
    return parts


def _set(path: str) -> Callable[[Parts, Any], None]:
    """A setter of ``value`` at ``part.key.0.key`` (digits index lists)."""
    part, *keys = path.split(".")

    def put(parts: Parts, value: Any) -> None:
        if not keys:
            parts[part] = value
            return
        node = parts[part]
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        node[keys[-1]] = value

    return put


def _hostile_key(parts: Parts, value: Any) -> None:
    # an unknown field: kept in the stored payload, never typed
    parts["data_utama"]["catatanTambahan"] = value


SIASN_TARGETS: dict[str, Callable[[Parts, Any], None]] = {
    "nama": _set("data_utama.nama"),  # personal free text
    "nipBaru": _set("data_utama.nipBaru"),
    "tglLahir": _set("data_utama.tglLahir"),
    "golRuangAkhirId": _set("data_utama.golRuangAkhirId"),
    "kedudukanPnsId": _set("data_utama.kedudukanPnsId"),
    "id": _set("data_utama.id"),
    "jenisKelamin": _set("data_utama.jenisKelamin"),
    "jabatanNama": _set("data_utama.jabatanNama"),
    "unknown_field": _hostile_key,
    "pasangan.nama": _set("pasangan.listPasangan.0.orang.nama"),
    "anak.tglLahir": _set("anak.listAnak.0.tglLahir"),
    "ortu": _set("ortu"),  # a whole answer replaced
    "data_utama": _set("data_utama"),
}

# ---------------------------------------------------------------------------------------------
# ... and SIAPP NV usulan
# ---------------------------------------------------------------------------------------------
USULAN_TARGETS = (
    "nip",
    "jenis",
    "kategori_jabatan",
    "golongan_baru_id",
    "tmt",
    "updated_at",
    "instansi_id",
    "version",
    "dokumen",
    "dokumen.0.sha256",
    "dokumen.0.id_ref_dokumen",
    "catatan_tambahan",  # unknown field
)


def usulan_with(usulan_id: str, target: str, value: Any) -> dict[str, Any]:
    raw = samples.siapp_usulan(id=usulan_id, version=1)
    if target == "dokumen.0.sha256":
        raw["dokumen"][0]["sha256"] = value
    elif target == "dokumen.0.id_ref_dokumen":
        raw["dokumen"][0]["id_ref_dokumen"] = value
    else:
        raw[target] = value
    return raw


# ---------------------------------------------------------------------------------------------
# checks shared by every test
# ---------------------------------------------------------------------------------------------
def assert_not_echoed(value: Any, *texts: Any, where: str) -> None:
    """No text the hub wrote about ``value`` contains it."""
    joined = "\n".join(t if isinstance(t, str) else json.dumps(t, default=str) for t in texts)
    for needle in needles(value):
        assert needle not in joined, f"{where}: the hostile value is echoed"


def check_employee(result: Any, value: Any, where: str) -> str:
    """``build_employee``'s answer to a hostile variant: a row or a reasoned quarantine."""
    assert isinstance(result, EmployeeRecord | QuarantineItem), where
    if isinstance(result, QuarantineItem):
        assert result.reason, where
        assert_not_echoed(value, result.reason, result.detail or "", where=where)
        return "quarantined"
    # unknown field names travel to lineage: never a value
    assert_not_echoed(value, result.unknown_fields, where=where)
    return "stored"


def from_the_wire(h: Hostile) -> Hostile | None:
    """``h`` as the clients' JSON decoder (orjson) hands it over, or None when no response
    body can carry it (lone surrogates, NaN, nesting past 1024): those are covered above at
    the models, not sent through a flow. Integers past 64 bits arrive as floats."""
    try:
        return Hostile(h.kind, h.label, orjson.loads(json.dumps(h.value)))
    except RecursionError:
        # json.dumps gives up before orjson.loads does: plain nesting up to 1,024 decodes
        return h if h.kind == "deep_nesting" else None
    except (orjson.JSONDecodeError, ValueError):
        return None


#: the corpus as it can reach a flow
WIRE_VALUES: list[Hostile] = [w for w in map(from_the_wire, VALUES) if w is not None]


def _text_of(value: Any) -> str | None:
    """What a typed text column holds for ``value`` (None when the text type refuses it)."""
    try:
        return clean_text(value, max_length=10_000)
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------
# (1) the models, through the pull's own per-employee entry point
# ---------------------------------------------------------------------------------------------
def test_every_hostile_siasn_value_is_quarantined_or_kept_never_echoed() -> None:
    outcomes: Counter[tuple[str, str]] = Counter()
    for h in VALUES:
        for target, put in SIASN_TARGETS.items():
            parts = employee_parts()
            put(parts, h.value)
            where = f"{h.kind}/{h.label} in {target}"
            outcome = check_employee(build_employee(samples.NIP, None, **parts), h.value, where)
            outcomes[(h.kind, outcome)] += 1
    assert sum(outcomes.values()) == len(VALUES) * len(SIASN_TARGETS) >= 200
    # the identity and the dates cannot take garbage: each of those is quarantined
    for h in VALUES:
        if h.kind in ("oversize", "nul_surrogate", "wrong_type", "deep_nesting", "wide"):
            for target in ("nipBaru", "tglLahir", "golRuangAkhirId", "data_utama"):
                if (h.label, target) == ("int", "golRuangAkhirId"):
                    continue  # 42 is IV/b: a golongan code as a number is valid
                parts = employee_parts()
                SIASN_TARGETS[target](parts, h.value)
                result = build_employee(samples.NIP, None, **parts)
                assert isinstance(result, QuarantineItem), f"{h.label} in {target} was accepted"


@pytest.mark.parametrize("h", [h for h in VALUES if h.kind == "date"], ids=lambda h: h.label)
def test_impossible_dates_are_quarantined_as_invalid_dates(h: Hostile) -> None:
    for target in ("tglLahir", "anak.tglLahir"):
        parts = employee_parts()
        SIASN_TARGETS[target](parts, h.value)
        result = build_employee(samples.NIP, None, **parts)
        assert isinstance(result, QuarantineItem), f"{h.label} in {target} accepted"
        assert result.reason == "invalid"
        assert "tglLahir" in (result.detail or "")  # the field is named, the value is not
        assert_not_echoed(h.value, result.detail, where=h.label)


@pytest.mark.parametrize("h", VALUES, ids=lambda h: f"{h.kind}-{h.label}")
def test_every_hostile_usulan_value_is_a_reason_never_an_echo(h: Hostile) -> None:
    for target in USULAN_TARGETS:
        model, reason = validate_payload(SiappUsulan, usulan_with("USL-1", target, h.value))
        assert (model is None) == (reason is not None)
        if model is None:
            assert reason and reason.startswith(("SiappUsulan", "payload"))
            assert_not_echoed(h.value, reason, where=f"{h.label} in {target}")


# hypothesis: values of any JSON shape, and text made of the characters that break things
# derandomize: CI meets the same 150 examples on every run, so a red CI is reproducible
# (drop it locally to explore further)
_settings = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@_settings
@given(target=st.sampled_from(sorted(SIASN_TARGETS)), value=json_values | hostile_text)
def test_any_json_value_in_any_siasn_field_never_crashes(target: str, value: Any) -> None:
    parts = employee_parts()
    SIASN_TARGETS[target](parts, value)
    check_employee(build_employee(samples.NIP, None, **parts), value, target)


@_settings
@given(target=st.sampled_from(USULAN_TARGETS), value=json_values | hostile_text)
def test_any_json_value_in_any_usulan_field_never_crashes(target: str, value: Any) -> None:
    model, reason = validate_payload(SiappUsulan, usulan_with("USL-1", target, value))
    assert (model is None) == (reason is not None)
    assert_not_echoed(value, reason or "", where=target)


# ---------------------------------------------------------------------------------------------
# (2) end to end: an ASN pull whose SIASN answers carry hostile values
# ---------------------------------------------------------------------------------------------
class _Siasn:
    """SIASN answering ``get_employee`` from ``answers`` (nip -> the four payloads), in process."""

    def __init__(self, answers: dict[str, Parts]) -> None:
        self.answers = answers
        self.api = self

    async def __aenter__(self) -> _Siasn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Any, items: Any, *, limit: int | None = None) -> Any:
        return bounded_map(fn, items, limit=limit or 8)

    async def get_employee(self, nip: str) -> dict[str, Any]:
        p = self.answers[nip]  # each employee is fetched once
        return {
            "utama": p["data_utama"],
            "pasangan": p["pasangan"],
            "anak": p["anak"],
            "ortu": p["ortu"],
        }

    def metrics(self) -> dict[str, Any]:
        return {}


def _nip(i: int) -> str:
    # same birth date, CPNS month and gender as samples.NIP: only the sequence differs
    return f"197203151998031{i:03d}"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'hostile.sqlite'}", hash_key=b"hostile-key")
    s.migrate()
    return s


# the fields the end-to-end pull rotates through (one employee per value)
E2E_SIASN_TARGETS = ("nama", "unknown_field", "pasangan.nama", "tglLahir", "golRuangAkhirId")


def test_asn_pull_with_hostile_siasn_answers_quarantines_or_stores_never_echoes(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: dict[str, Parts] = {}
    planted: dict[str, tuple[Hostile, str]] = {}
    for i, h in enumerate(WIRE_VALUES, start=1):
        nip = _nip(i)
        target = E2E_SIASN_TARGETS[i % len(E2E_SIASN_TARGETS)]
        parts = employee_parts(nip, f"{samples.GUID[:-4]}{i:04x}")
        SIASN_TARGETS[target](parts, h.value)
        answers[nip] = parts
        planted[nip] = (h, target)
    run = RunContext(dag_id="hostile", run_id="hostile-1", task_id="pull", now=NOW)

    record = asyncio.run(pull_asn(_Siasn(answers), store, PullParams(nips=sorted(answers)), run))

    quarantine = {r["key_hash"]: r for r in store.quarantine.list(run_id="hostile-1")}
    outcomes: Counter[str] = Counter()
    for nip, (h, target) in planted.items():
        where = f"{h.kind}/{h.label} in {target}"
        row = store.asn.get(nip)
        q = quarantine.get(store.quarantine.key_hash(nip))
        assert (row is None) != (q is None), f"{where}: neither stored nor quarantined (or both)"
        if q is not None:
            assert q["reason"], where
            assert_not_echoed(h.value, q["reason"], q["detail"] or "", where=where)
            outcomes["quarantined"] += 1
            continue
        outcomes["stored"] += 1
        if target == "nama":
            # verbatim in the store's copy of data-utama; normalised in the typed column
            assert row["payload"]["nama"] == h.value, where
            assert row["nama"] == _text_of(h.value), where
        elif target == "unknown_field":
            assert row["payload"]["catatanTambahan"] == h.value, where
    assert sum(outcomes.values()) == len(WIRE_VALUES)
    assert record.counts.quarantined == outcomes["quarantined"]
    for h, target in planted.values():
        assert_not_echoed(
            h.value, caplog.text, record.model_dump_json(), where=f"{h.label} ({target}) logs"
        )


# ---------------------------------------------------------------------------------------------
# (3) end to end: a collect whose SIAPP NV usulan carry hostile values
# ---------------------------------------------------------------------------------------------
class _Siapp:
    """SIAPP NV listing ``rows`` as its usulan (and nothing else), in process."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    async def __aenter__(self) -> _Siapp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def iter_list(self, resource: str, **_kw: Any) -> Any:
        for row in self.rows if resource == "usulan" else []:
            yield row

    def metrics(self) -> dict[str, Any]:
        return {}


def _mirror_with_the_sample_employee(store: Store) -> None:
    result = build_employee(samples.NIP, "2026-01-02", **employee_parts())
    assert isinstance(result, EmployeeRecord)
    store.asn.apply_batch([result.row], "mirror", NOW)
    store.state.set_watermark(watermarks.ASN_CURSOR, "2026-01-02")


def test_collect_with_hostile_usulan_refuses_or_quarantines_never_echoes(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _mirror_with_the_sample_employee(store)
    rows: list[Any] = []
    planted: list[tuple[str, Hostile, str]] = []
    for i, h in enumerate(WIRE_VALUES):
        for j, target in enumerate(USULAN_TARGETS):
            if (i + j) % 3:  # a third of the product: every value, every field, < 60 s
                continue
            usulan_id = f"USL-H-{i:03d}-{j:02d}"
            rows.append(usulan_with(usulan_id, target, h.value))
            planted.append((usulan_id, h, target))
    # rows that are not objects at all, as a listing could carry them
    odd = [h for h in WIRE_VALUES if h.kind in ("wrong_type", "deep_nesting", "oversize")]
    rows.extend(h.value for h in odd)
    run = RunContext(dag_id="hostile", run_id="collect-1", task_id="collect", now=NOW)

    record = asyncio.run(collect_siapp(_Siapp(rows), store, run, resources=["usulan"]))

    assert record.extra["resources"]["usulan"]["read"] == len(rows)
    quarantine = store.quarantine.list(run_id="collect-1", limit=10_000)
    by_key = {r["key_hash"]: r for r in quarantine}
    refusals = {r.entity_id: r for r in store.outbox.list(flow=FLOW_PENOLAKAN)}
    outcomes: Counter[str] = Counter()
    for usulan_id, h, target in planted:
        where = f"{h.kind}/{h.label} in {target}"
        q = by_key.get(store.quarantine.key_hash(usulan_id))
        lifecycle = store.usulan.get(usulan_id)
        if q is None:
            # valid after normalisation: collected for SIASN (or refused for its scope)
            assert lifecycle is not None, f"{where}: neither collected nor quarantined"
            outcomes["collected"] += 1
            continue
        assert q["reason"], where
        assert_not_echoed(h.value, q["reason"], q["detail"] or "", where=where)
        if usulan_id in refusals:
            # the refusal sent back to SIAPP NV names the field, never its value
            assert_not_echoed(h.value, refusals[usulan_id].payload, where=f"{where} penolakan")
            outcomes["refused"] += 1
        else:
            outcomes["quarantined"] += 1
    assert sum(outcomes.values()) == len(planted)
    # rows that are not objects have no key: each is keyed by its content, so they stay
    # apart instead of merging into one row under the empty key
    planted_hashes = {store.quarantine.key_hash(usulan_id) for usulan_id, _, _ in planted}
    keyless = [r for r in quarantine if r["key_hash"] not in planted_hashes]
    assert 1 < len(keyless) <= len(odd)
    assert store.quarantine.key_hash("") not in by_key
    for _usulan_id, h, target in planted:
        assert_not_echoed(
            h.value, caplog.text, record.model_dump_json(), where=f"{h.label} ({target}) logs"
        )


def test_collect_survives_a_deeply_nested_usulan_version(store: Store) -> None:
    _mirror_with_the_sample_employee(store)
    [deep] = [h for h in WIRE_VALUES if h.label == "list-1000"]
    raw = usulan_with("USL-DEEP-1", "version", deep.value)
    run = RunContext(dag_id="hostile", run_id="collect-deep", task_id="collect", now=NOW)
    asyncio.run(collect_siapp(_Siapp([raw]), store, run, resources=["usulan"]))
    [row] = store.quarantine.list(run_id="collect-deep")
    assert row["reason"] == "invalid"
