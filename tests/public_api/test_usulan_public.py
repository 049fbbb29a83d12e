"""Units of the public-API mode's usulan traffic: F6/F8 held in the outbox, the linker that
finds SIAPP NV usulan in SIASN's published lists, and the sandbox's agency entry."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from siapp_siasn.flows.usulan_push import _AwaitingEntry, _PublicLinker
from siapp_siasn.flows.usulan_rules import (
    AWAITING_ENTRY,
    HELD_NO_PUBLIC_ENDPOINT,
    LINKED,
    version_hash,
)
from siapp_siasn.flows.usulan_sync import public_status_rows
from siapp_siasn.store import OutboxItem
from tests.flows._usulan import agency_entry
from tests.flows.conftest import StoreFactory, route_count
from tests.public_api.test_units import KP_ROW, NIP_A, NIP_B, NIP_C, PENSIUN_ROW

T0 = dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC)


def _item(flow: str, entity: str) -> OutboxItem:
    payload = {"usulan_id": entity, "body": {"n": entity}}
    vhash = version_hash(payload)
    return OutboxItem(
        flow=flow,
        entity_id=entity,
        version_hash=vhash,
        idempotency_key=f"{flow}:{entity}:{vhash}",
        payload=payload,
    )


# ---------------------------------------------------------------------------- held items
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_held_items_stay_out_of_due_until_released(
    backend: str, store_factory: StoreFactory
) -> None:
    store = store_factory(backend)
    store.outbox.enqueue(
        [
            _item("verifikasi-setneg", "v-1"),
            _item("pic", "p-1"),
            _item("pic", "p-2"),
            _item("usulan", "u-1"),
        ]
    )
    (sent,) = store.outbox.list(entity_id="p-2")
    store.outbox.mark_sent(sent.id, response={"id": "x"}, sent_at=T0)

    held = store.outbox.hold(["verifikasi-setneg", "pic"], reason=HELD_NO_PUBLIC_ENDPOINT)
    assert held == {"verifikasi-setneg": 1, "pic": 1}  # a sent row is never held
    # holding again changes nothing and still reports every held row
    assert store.outbox.hold(["pic"], reason=HELD_NO_PUBLIC_ENDPOINT) == {"pic": 1}
    assert [r.entity_id for r in store.outbox.due(T0)] == ["u-1"]
    assert store.outbox.stats() == {
        "verifikasi-setneg": {"held": 1},
        "pic": {"held": 1, "sent": 1},
        "usulan": {"pending": 1},
    }
    assert {r.reason for r in store.outbox.list(flow="pic", status="pending")} == {
        HELD_NO_PUBLIC_ENDPOINT
    }

    assert store.outbox.release(reason=HELD_NO_PUBLIC_ENDPOINT) == 2
    assert [r.entity_id for r in store.outbox.due(T0)] == ["v-1", "p-1", "u-1"]
    assert store.outbox.stats()["pic"] == {"pending": 1, "sent": 1}
    assert store.outbox.release(reason=HELD_NO_PUBLIC_ENDPOINT) == 0


# ---------------------------------------------------------------------------- the linker
class _Lists:
    """SIASN's published lists with canned rows; counts the requests."""

    def __init__(self, kp: list[dict[str, Any]], pensiun: list[dict[str, Any]]) -> None:
        self.kp, self.pensiun = kp, pensiun
        self.calls: list[tuple[str, Any]] = []

    async def list_kp_instansi(self, periode: dt.date) -> list[dict[str, Any]]:
        self.calls.append(("kp", periode))
        await asyncio.sleep(0)
        return [r for r in self.kp if r["tmtKp"] == periode.strftime("%d-%m-%Y")]

    async def list_pensiun_instansi(self, awal: dt.date, akhir: dt.date) -> list[dict[str, Any]]:
        self.calls.append(("pensiun", (awal, akhir)))
        return self.pensiun


KP_OTHER = {**KP_ROW, "id": "1" * 32, "nipBaru": NIP_B, "golonganBaruId": "44"}
KP_TWICE = {**KP_ROW, "id": "2" * 32, "nipBaru": NIP_B, "golonganBaruId": "44"}


def _body(jenis: str, nip: str, **kw: Any) -> dict[str, Any]:
    return {"jenis_usulan": jenis, "nip": nip, **kw}


def test_linker_finds_usulan_in_the_published_lists_or_waits() -> None:
    lists = _Lists([KP_ROW, KP_OTHER], [PENSIUN_ROW])
    today = dt.date(2026, 7, 10)
    linker = _PublicLinker(lists, today, dt.date(2026, 6, 1), taken=set())

    async def find(body: dict[str, Any]) -> str:
        return await linker.find(body)

    async def scenario() -> list[Any]:
        kp = _body("KP", NIP_A, golongan_baru_id="43", tmt="15-10-2026")
        other = _body("KP", NIP_B, golongan_baru_id="44", tmt="2026-10-01")
        return await asyncio.gather(
            find(kp),
            find(other),
            find(_body("PEMBERHENTIAN", NIP_C)),
            find(_body("KP", NIP_A, golongan_baru_id="44", tmt="01-10-2026")),
            find(_body("PENGANGKATAN", NIP_A)),
            find(_body("KP", NIP_A, tmt="01-04-2026")),
            return_exceptions=True,
        )

    kp, other, pensiun, wrong_gol, angkat, no_period = asyncio.run(scenario())
    assert (kp, other, pensiun) == (KP_ROW["id"], KP_OTHER["id"], PENSIUN_ROW["id"])
    assert isinstance(wrong_gol, _AwaitingEntry) and "not listed" in str(wrong_gol)
    assert isinstance(angkat, _AwaitingEntry) and "PENGANGKATAN" in str(angkat)
    assert isinstance(no_period, _AwaitingEntry)
    # one request per KP period and one pension window (from the earliest waiting submission)
    assert sorted(lists.calls, key=repr) == sorted(
        [
            ("kp", dt.date(2026, 10, 1)),
            ("kp", dt.date(2026, 4, 1)),
            ("pensiun", (dt.date(2026, 6, 1), today)),
        ],
        key=repr,
    )
    # a BKN id is linked once: the same usulan found again waits
    with pytest.raises(_AwaitingEntry, match="not listed"):
        asyncio.run(linker.find(_body("PEMBERHENTIAN", NIP_C)))


def test_linker_refuses_to_guess_between_two_listed_usulan() -> None:
    lists = _Lists([KP_OTHER, KP_TWICE], [])
    linker = _PublicLinker(lists, dt.date(2026, 7, 10), None, taken=set())
    body = _body("KP", NIP_B, golongan_baru_id="44", tmt="01-10-2026")
    with pytest.raises(_AwaitingEntry, match="more than once"):
        asyncio.run(linker.find(body))
    linker = _PublicLinker(lists, dt.date(2026, 7, 10), None, taken={KP_TWICE["id"]})
    assert asyncio.run(linker.find(body)) == KP_OTHER["id"]


# ---------------------------------------------------------------------------- statuses
class _Lifecycle:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def list(self) -> list[dict[str, Any]]:
        return self.rows


class _LifecycleStore:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.usulan = _Lifecycle(rows)


class _ById:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def kp_instansi_by_id(self, bkn_id: str) -> dict[str, Any]:
        self.asked.append(bkn_id)
        return {**KP_ROW, "id": bkn_id, "statusUsulan": "11"}


def test_statuses_are_read_only_for_linked_versions() -> None:
    """SIASN's row describes the version last linked: while a new version waits for the
    agency's entry its old BTS must not be told to SIAPP NV as the new version's."""
    base = {"nip": NIP_A, "jenis": "KP", "version": "2", "no_pertek": None, "tgl_pertek": None}
    rows = [
        {**base, "usulan_id": "linked", "bkn_usulan_id": "a" * 32, "status": LINKED},
        {**base, "usulan_id": "bts", "bkn_usulan_id": "b" * 32, "status": "bts"},
        {**base, "usulan_id": "waiting", "bkn_usulan_id": "c" * 32, "status": AWAITING_ENTRY},
        {**base, "usulan_id": "collected", "bkn_usulan_id": "d" * 32, "status": "diterima_hub"},
        {**base, "usulan_id": "new", "bkn_usulan_id": None, "status": AWAITING_ENTRY},
        {**base, "usulan_id": "done", "bkn_usulan_id": "e" * 32, "status_bkn": "32"},
    ]
    client = _ById()
    out = asyncio.run(public_status_rows(client, _LifecycleStore(rows)))  # type: ignore[arg-type]
    assert [r["id_usulan_siapp"] for r in out] == ["linked", "bts"]
    assert client.asked == ["a" * 32, "b" * 32]


# ---------------------------------------------------------------------------- agency entry
def test_sandbox_agency_entry_enters_usulan_without_any_post(sandbox_factory: Any) -> None:
    sb = sandbox_factory(employees=1500, seed=3, ivb_share=0.3)
    assert sb.client.get("/_sandbox/agency-entry").json() == {"agency_entry_days": None}
    for bad in ({"agency_entry_days": -1}, {"agency_entry_days": "2"}, {"days": 2}):
        r = sb.client.put("/_sandbox/agency-entry", json=bad)
        assert r.status_code == 422, bad
    sb.advance(1)
    assert all(u["siasn"] is None for u in sb.truth("usulan")["usulan"])  # off by default
    agency_entry(sb, 2)
    sb.advance(1)
    truth = sb.truth("usulan")["usulan"]
    due = [u for u in truth if u["created_day"] <= 0]
    later = [u for u in truth if u["created_day"] > 0]
    assert due and later
    assert all(u["siasn"] is not None and u["siasn"]["entered_by_agency"] for u in due)
    assert all(u["siasn"]["statusUsulan"] == "1" for u in due)
    assert all("ENTERED_V1" in {s["stage"] for s in u["stages"]} for u in due)
    assert all(u["siasn"] is None for u in later)
    assert all(v["delivered_matches"] for u in due for v in u["versions"])
    sb.advance(1)  # the next day BKN verifies, as after an F5 POST
    verified = {u["id"]: u["siasn"] for u in sb.truth("usulan")["usulan"]}
    verified = {k: s["statusUsulan"] for k, s in verified.items() if s is not None}
    assert all(verified[u["id"]] in {"11", "12", "13"} for u in due)
    stats = sb.stats()
    assert route_count(stats, "POST /apisiasn/1.0/siapp/usulan") == 0
    assert sb.received("siapp.usulan") == []
    agency_entry(sb, None)
