"""Every usulan SIAPP NV sent gets exactly one answer: delivered to SIASN or refused back with
the reason really checked, never dropped (issue #10).

- an in-scope usulan whose employee is missing from the ASN mirror only because the employee's
  record was quarantined (F1) waits, and goes once a re-pull (``nips``) stored the employee;
- an usulan with an invalid field is refused once (``penolakan`` naming the field, never its
  value) with a lifecycle row, and stays quarantined for audit;
- the store lists the usulan with no answer N days after submission (ids and ages only).

The first two run on a real sandbox (its ``malformed_rate`` fault makes a record invalid, the
way SIASN or SIAPP NV would serve it), the third on a real SQLite store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from siapp_siasn.clients.siasn import DATA_UTAMA
from siapp_siasn.flows import watermarks
from siapp_siasn.flows.asn_pull import PullParams, pull_asn
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.usulan_rules import (
    ALASAN_GOLONGAN_TERCATAT,
    FLOW_PENOLAKAN,
    FLOW_USULAN,
    GOLONGAN_DI_BAWAH_IVB,
    GOLONGAN_TIDAK_DIKETAHUI,
    PAYLOAD_TIDAK_VALID,
    WAITING_FOR_MIRROR,
    invalid_field_reason,
    mirror_reason,
)
from siapp_siasn.flows.usulan_sync import collect_siapp
from siapp_siasn.models.siapp import SiappUsulan
from siapp_siasn.store import OutboxItem, QuarantineItem, Store
from tests.flows._usulan import WORLD, Hub, per_version, siapp_client

SIAPP_USULAN = "/api/v1/usulan"


def _seed_malforming(sb: Any, path: str, rate: float) -> int:
    """A fault seed under which the sandbox serves ``path`` malformed (left set on return)."""
    for seed in range(20_000):
        sb.set_faults({"malformed_rate": rate, "seed": seed})
        if sb.truth("malformed", path=path)["malformed"]:
            return seed
    raise AssertionError(f"no seed malforms {path} at rate {rate}")


def _collect_lineage(hub: Hub) -> Any:
    return [r for r in hub.lineage if r.task_id == "collect"][-1]


# ---------------------------------------------------------------------------------------------
# (a) the employee's record was quarantined: wait, never refuse
# ---------------------------------------------------------------------------------------------
@pytest.mark.integration
def test_usulan_of_a_quarantined_employee_waits_then_is_delivered_once(
    sandbox_factory: Any, store_factory: Any
) -> None:
    sb = sandbox_factory(**WORLD)
    store: Store = store_factory("sqlite")
    hub = Hub(sb, store)
    sb.advance(1)  # SIAPP NV's first usulan
    in_scope = [u for u in sb.truth("usulan")["usulan"] if u["in_scope"]]
    assert in_scope
    target = in_scope[0]
    nip = target["nip"]

    # the nightly pull meets the employee's data-utama malformed (an unrelated field)
    _seed_malforming(sb, DATA_UTAMA.format(nip=nip), 0.005)
    hub.load_mirror()
    sb.set_faults("none")
    assert store.asn.get(nip) is None
    f1_keys = {q["key_hash"] for q in store.quarantine.list(flow="F1", limit=100_000)}
    assert store.quarantine.key_hash(nip) in f1_keys

    hub.cycle()
    hub.cycle()  # the next run re-checks it: still quarantined, still waiting
    rows = store.outbox.list(flow=FLOW_USULAN, entity_id=target["id"])
    assert [(r.status, r.reason) for r in rows] == [("pending", WAITING_FOR_MIRROR)]
    assert store.outbox.list(flow=FLOW_PENOLAKAN, entity_id=target["id"]) == []
    assert target["id"] not in {e["payload"]["usulan_id"] for e in sb.received("inbound.penolakan")}
    assert target["id"] not in {
        e["payload"]["id_usulan_siapp"] for e in sb.received("siapp.usulan")
    }
    assert store.usulan.get(target["id"])["status"] == "menunggu_mirror_asn"
    extra = _collect_lineage(hub).extra
    assert extra["waiting_for_mirror"] >= 1
    assert "siasn_asn_daily" in extra["waiting_hint"] and "selection" in extra["waiting_hint"]
    assert nip not in str(extra)
    # every other usulan of a quarantined employee waits too; none is refused for golongan
    quarantined = {u["id"] for u in in_scope if store.quarantine.key_hash(u["nip"]) in f1_keys}
    refused = {
        r.entity_id: r.reason for r in store.outbox.list(flow=FLOW_USULAN, status="rejected")
    }
    assert not quarantined & set(refused)

    # the re-pull the hint names stores the employee; the next collect sends the usulan
    asyncio.run(pull_asn(hub.siasn(), store, PullParams(nips=[nip]), hub.ctx("pull")))
    assert store.asn.get(nip) is not None
    hub.cycle()
    hub.cycle()
    [row] = store.outbox.list(flow=FLOW_USULAN, entity_id=target["id"])
    assert (row.status, row.reason) == ("sent", None)
    assert per_version(sb.received("siapp.usulan"))[(target["id"], 1)] == 1
    assert target["id"] not in {e["payload"]["usulan_id"] for e in sb.received("inbound.penolakan")}
    assert store.usulan.get(target["id"])["sent_at"] is not None


# ---------------------------------------------------------------------------------------------
# (b) an invalid field: refused once, with a lifecycle row, and kept in quarantine
# ---------------------------------------------------------------------------------------------
async def _listed(sb: Any) -> list[dict[str, Any]]:
    async with siapp_client(sb) as siapp:
        return [r async for r in siapp.iter_list("usulan")]


def _mutated(listed: list[dict[str, Any]], truth: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``usulan id -> field`` the sandbox served malformed (compared with its ground truth)."""
    out: dict[str, str] = {}
    for row in listed:
        t = truth[row["id"]]
        for name in ("updated_at", "nip", "golongan_baru_id"):
            if str(row.get(name) or "") != str(t[name] or ""):
                out[row["id"]] = name
    return out


@pytest.mark.integration
def test_usulan_with_an_invalid_field_is_refused_once_naming_the_field(
    sandbox_factory: Any, store_factory: Any
) -> None:
    sb = sandbox_factory(**WORLD)
    store: Store = store_factory("sqlite")
    hub = Hub(sb, store)
    hub.load_mirror()
    sb.advance(1)
    truth = {u["id"]: u for u in sb.truth("usulan")["usulan"]}
    # a seed under which SIAPP NV serves at least one usulan with a non-numeric golongan_baru_id
    for seed in range(500):
        sb.set_faults({"malformed_rate": 0.3, "seed": seed})
        listed = asyncio.run(_listed(sb))
        mutated = _mutated(listed, truth)
        if "golongan_baru_id" in mutated.values():
            break
    else:
        raise AssertionError("no seed serves a malformed golongan_baru_id")
    served = {r["id"]: r for r in listed}

    hub.cycle()
    hub.cycle()  # the same records read again: nothing new is owed
    sb.set_faults("none")

    penolakan = sb.received("inbound.penolakan")
    answers = Counter(e["payload"]["usulan_id"] for e in penolakan)
    codes = {e["payload"]["usulan_id"]: e["payload"] for e in penolakan}
    delivered = {e["payload"]["id_usulan_siapp"] for e in sb.received("siapp.usulan")}
    f5_keys = {q["key_hash"] for q in store.quarantine.list(flow="F5", limit=100_000)}
    for usulan_id, name in mutated.items():
        assert answers[usulan_id] == 1, name
        body = codes[usulan_id]
        assert body["alasan_kode"] == f"{name.upper()}_TIDAK_VALID"
        assert name in body["alasan"]
        bad_value = str(served[usulan_id][name])
        assert bad_value not in str(body), "a refusal never repeats the value"
        assert truth[usulan_id]["nip"] not in str(body)
        assert usulan_id not in delivered
        life = store.usulan.get(usulan_id)
        assert life is not None and life["status"] == "ditolak_hub"
        assert life["submitted_at"] is not None
        assert store.quarantine.key_hash(usulan_id) in f5_keys  # kept for audit
    # the valid ones are answered as before: delivered or refused for their scope
    for usulan_id, u in truth.items():
        if usulan_id in mutated:
            continue
        assert (usulan_id in delivered) == u["in_scope"]
        assert answers[usulan_id] == (0 if u["in_scope"] else 1)


def test_invalid_field_reason_names_the_field_never_the_value() -> None:
    raw = {
        "id": "U-1",
        "version": 2,
        "updated_at": "2026-01-05T09:39:21Z",
        "jenis": "KP",
        "kategori_jabatan": "JPT_MADYA",
        "nip": "197203151998031002",
        "golongan_baru_id": "IV/c",
        "dokumen": [],
    }
    with pytest.raises(ValidationError) as one:
        SiappUsulan.model_validate(raw)
    code, alasan = invalid_field_reason(one.value)
    assert code == "GOLONGAN_BARU_ID_TIDAK_VALID"
    assert "golongan_baru_id" in alasan and "IV/c" not in alasan
    with pytest.raises(ValidationError) as two:
        SiappUsulan.model_validate({**raw, "golongan_baru_id": "99", "tmt": "2026-02-30"})
    code, alasan = invalid_field_reason(two.value)
    assert code == PAYLOAD_TIDAK_VALID
    assert "golongan_baru_id" in alasan and "tmt" in alasan and "99" not in alasan


def test_mirror_reason_says_what_was_checked() -> None:
    assert mirror_reason(None) == GOLONGAN_DI_BAWAH_IVB  # absent from the IV/b+ sweep
    assert mirror_reason({"is_active": True, "gol_ruang_akhir_id": "41"}) == GOLONGAN_DI_BAWAH_IVB
    assert mirror_reason({"is_active": True, "gol_ruang_akhir_id": None}) == (
        GOLONGAN_TIDAK_DIKETAHUI
    )
    assert mirror_reason({"is_active": True, "gol_ruang_akhir_id": "42"}) is None


class _Siapp:
    """SIAPP NV listing ``rows`` as its usulan (and nothing else), in process."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
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


def test_a_held_usulan_is_refused_for_what_the_mirror_then_says(
    store_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: Store = store_factory("sqlite")
    nip = "197203151998031002"
    store.state.set_watermark(watermarks.ASN_CURSOR, "2026-01-01")  # the mirror is loaded
    store.quarantine.add(
        [QuarantineItem(flow="F1", entity_kind="asn", key=nip, reason="invalid", detail="x")]
    )
    raw = {
        "id": "U-held",
        "version": 1,
        "updated_at": "2026-01-05T09:39:21Z",
        "jenis": "KP",
        "kategori_jabatan": "JPT_MADYA",
        "nip": nip,
        "instansi_id": None,  # SIAPP NV sends every contract field, null when empty
        "golongan_baru_id": "44",
        "tmt": None,
        "jenis_kp": None,
        "dokumen": [
            {"id": "d-1", "jenis": "SURAT", "id_ref_dokumen": "876", "sha256": "a" * 64, "size": 1}
        ],
    }
    ctx = RunContext(run_id="r1", now=dt.datetime(2026, 1, 6, tzinfo=dt.UTC))
    first = asyncio.run(collect_siapp(_Siapp([raw]), store, ctx))
    assert first.extra["waiting_for_mirror"] == 1
    [held] = store.outbox.list(flow=FLOW_USULAN)
    assert (held.status, held.reason) == ("pending", WAITING_FOR_MIRROR)
    assert store.outbox.due(ctx.now) == []  # held: never sent while it waits

    # the re-pull stored the employee: active, but below IV/b
    monkeypatch.setattr(
        store.asn, "get", lambda _nip: {"is_active": True, "gol_ruang_akhir_id": "41"}
    )
    again = asyncio.run(collect_siapp(_Siapp([]), store, RunContext(run_id="r2", now=ctx.now)))
    assert again.extra["waiting_for_mirror"] == 0
    [row] = store.outbox.list(flow=FLOW_USULAN)
    assert (row.status, row.reason) == ("rejected", GOLONGAN_DI_BAWAH_IVB)
    [refusal] = store.outbox.list(flow=FLOW_PENOLAKAN)
    body = refusal.payload["body"]
    assert (body["alasan_kode"], body["alasan"]) == (
        GOLONGAN_DI_BAWAH_IVB,
        ALASAN_GOLONGAN_TERCATAT,
    )
    assert store.usulan.get("U-held")["status"] == "ditolak_hub"
    asyncio.run(collect_siapp(_Siapp([raw]), store, RunContext(run_id="r3", now=ctx.now)))
    assert len(store.outbox.list(flow=FLOW_PENOLAKAN)) == 1  # one answer, however often read


# ---------------------------------------------------------------------------------------------
# (c) no answer after N days
# ---------------------------------------------------------------------------------------------
def test_no_answer_lists_usulan_neither_delivered_nor_refused_after_n_days(
    store_factory: Any,
) -> None:
    store: Store = store_factory("sqlite")
    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    old, young = now - dt.timedelta(days=10, hours=3), now - dt.timedelta(days=2)

    def life(uid: str, at: dt.datetime, status: str, **fields: Any) -> None:
        stamps = {"submitted_at": at}
        if fields.pop("sent", False):
            stamps["sent_at"] = at + dt.timedelta(hours=1)
        store.usulan.upsert(uid, fields={"status": status, **fields}, stamps=stamps)

    def refusal(uid: str) -> int:
        item = OutboxItem(FLOW_PENOLAKAN, uid, "v" * 64, f"penolakan:{uid}:v", {"usulan_id": uid})
        store.outbox.enqueue([item])
        return store.outbox.list(flow=FLOW_PENOLAKAN, entity_id=uid)[0].id

    life("u-waiting", old, "menunggu_mirror_asn")
    life("u-sent", old, "terkirim", sent=True)
    life("u-linked", old, "tertaut_siasn", bkn_usulan_id="B-1")
    life("u-refused", old, "ditolak_hub")
    store.outbox.mark_sent(refusal("u-refused"), response={"ok": True}, sent_at=now)
    life("u-refusal-unsent", old, "ditolak_hub")
    refusal("u-refusal-unsent")  # SIAPP NV has not heard it yet
    life("u-young", young, "diterima_hub")

    rows = store.usulan.no_answer(as_of=now, days=7)
    assert rows == [
        {"usulan_id": "u-refusal-unsent", "status": "ditolak_hub", "age_days": 10},
        {"usulan_id": "u-waiting", "status": "menunggu_mirror_asn", "age_days": 10},
    ]
    assert [r["usulan_id"] for r in store.usulan.no_answer(as_of=now, days=1)] == [
        "u-refusal-unsent",
        "u-waiting",
        "u-young",
    ]
    with pytest.raises(ValueError, match="days"):
        store.usulan.no_answer(as_of=now, days=-1)
