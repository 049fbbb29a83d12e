"""usulan_sync (F3-F8) over simulated weeks, against the sandbox's ground truth.

The hub runs like the DAGs would: every simulated day the nightly ASN pull refreshes the mirror,
then one `usulan_sync` cycle collects, pushes to SIASN, reads BKN's statuses back and pushes to
SIAPP NV. The sandbox's usulan only move forward when the hub delivers, so reaching Keppres at
all shows the whole loop works; the received logs and the truth then show it worked exactly once
and with the right bytes. Real HTTP, real SQLite and real PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.flows import watermarks
from siapp_siasn.flows.usulan_rules import (
    AWAITING_ENTRY,
    DOKUMEN_SALINAN_KEPPRES,
    HELD_NO_PUBLIC_ENDPOINT,
)
from tests.flows._usulan import WORLD, Hub, agency_entry, per_version
from tests.flows.conftest import StoreFactory, route_count
from tests.public_api.lists import check_public_lists

pytestmark = pytest.mark.integration

DAYS = 16
STATUS_OF_STAGE = {"BTS": "11", "TMS": "12", "MS": "13", "PERTEK": "22", "RALAT_PERTEK": "23"}


def _last_status(entries: list[dict[str, Any]]) -> dict[str, str]:
    last: dict[str, str] = {}
    for e in sorted(entries, key=lambda e: e["seq"]):
        last[e["payload"]["usulan_id"]] = str(e["payload"]["status_bkn"])
    return last


@pytest.mark.parametrize(
    ("backend", "mode"), [("sqlite", "pks"), ("postgres", "pks"), ("sqlite", "public")]
)
def test_weeks_of_traffic_reach_both_sides_exactly_once(
    backend: str,
    mode: str,
    sandbox_factory: Any,
    store_factory: StoreFactory,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """In ``public`` mode no PKS path is called: the NIP list comes from export files, the
    agency enters each usulan in SIASN itself (the sandbox's agency entry, one day after SIAPP
    NV created it) and the hub links it from the published lists, BKN's statuses come from
    ``pns/kp-instansi-byId``, the Keppres copy goes through ``upload-dok-sk-kp``, and F6/F8
    (no published endpoint) are held until the connection is switched back to ``pks``."""
    caplog.set_level(logging.INFO)
    public = mode == "public"
    sb = sandbox_factory(**WORLD)
    store = store_factory(backend)
    hub = Hub(sb, store, mode=mode, export_dir=tmp_path / "exports")
    if public:
        agency_entry(sb, 1)

    # usulan arriving before the ASN mirror exists wait (never refused for want of a mirror)
    hub.collect()
    assert store.outbox.list(flow="usulan") == []
    assert store.state.get_watermark(watermarks.SIAPP_RESOURCE.format(resource="usulan")) is None
    hub.load_mirror()
    hub.cycle()
    for _ in range(DAYS):
        hub.day()

    truth = sb.truth("usulan")["usulan"]
    in_scope = [u for u in truth if u["in_scope"]]
    out_of_scope = [u for u in truth if not u["in_scope"]]
    assert len(in_scope) > 40 and out_of_scope, "the window must hold both kinds"
    stages = Counter(s["stage"] for u in truth for s in u["stages"])
    for stage in ("BTS", "MS", "PERTEK", "RALAT_PERTEK", "KEPPRES_DELIVERED", "REFUSED_BY_HUB"):
        assert stages[stage], f"the window must reach stage {stage}"

    # ---- F5: every in-scope usulan version at SIASN, once --------------------------------
    usulan_rx = sb.received("siapp.usulan")
    lifecycle = {r["usulan_id"]: r for r in store.usulan.list()}
    push_siasn = [r for r in hub.lineage if r.task_id == "push_siasn"]
    if public:
        # entered by the agency, never POSTed; linked by the hub where a published list shows
        # it: KP by period, PEMBERHENTIAN by pertek date (BKN's definition), PENGANGKATAN never
        assert usulan_rx == []
        entered = [u for u in in_scope if u["siasn"] is not None]
        assert entered and all(u["siasn"]["entered_by_agency"] for u in entered)
        reached = [
            u
            for u in entered
            if u["jenis"] == "KP" or (u["jenis"] == "PEMBERHENTIAN" and u["siasn"]["no_pertek"])
        ]
        assert {u["jenis"] for u in reached} == {"KP", "PEMBERHENTIAN"}
        assert {u["id"]: lifecycle[u["id"]]["bkn_usulan_id"] for u in reached} == {
            u["id"]: u["siasn"]["id"] for u in reached
        }
        unlinked = [u for u in in_scope if u not in reached]
        assert any(u["jenis"] == "PENGANGKATAN" for u in unlinked)
        assert all(lifecycle[u["id"]]["bkn_usulan_id"] is None for u in unlinked)
        # what waits is due again, never a failed attempt nor a dead letter
        waiting = store.outbox.list(flow="usulan", status="pending")
        assert {r.entity_id for r in waiting} >= {u["id"] for u in unlinked}
        assert all(r.attempts == 0 for r in waiting)
        assert all(lifecycle[r.entity_id]["status"] == AWAITING_ENTRY for r in waiting)
        assert "dead" not in store.outbox.stats()["usulan"]
        assert push_siasn[-1].extra["public"]["awaiting_entry"] == len(waiting)
        assert sum(r.extra["public"]["linked"] for r in push_siasn) == len(
            store.outbox.list(flow="usulan", status="sent")
        )
    else:
        expected = {(u["id"], v["version"]) for u in in_scope for v in u["versions"]}
        assert per_version(usulan_rx) == dict.fromkeys(expected, 1)
        reached = [u for u in in_scope if u["siasn"] is not None]
    assert sum(e["replays"] for e in usulan_rx) == 0  # a clean run never needed a replay
    delivered = [v for u in in_scope for v in u["versions"] if v["delivered_day"] is not None]
    assert delivered and all(v["delivered_matches"] for v in delivered)
    if not public:
        assert len(delivered) == sum(len(u["versions"]) for u in in_scope)
    assert any(len(u["versions"]) > 1 for u in reached), "a BTS must have led to version 2"

    # ---- documents: same bytes on both sides, each uploaded once --------------------------
    docs = sb.truth("documents")
    siapp_docs = {d["dok_id"]: d for d in docs["siapp"] if d["source"] == "SIAPP"}
    uploads = sb.received("upload-dok")
    sent_doc_ids = {d["id"] for u in in_scope for v in u["versions"] for d in v["dokumen"]}
    if public:  # the agency attached them in SIASN: upload-dok links a file to no usulan
        assert uploads == []
    else:
        assert len(uploads) == len(sent_doc_ids), "a document kept by version 2 is not re-uploaded"
    siapp_sha = {(d["usulan_id"], d["sha256"]) for d in siapp_docs.values()}
    siasn_held = [d for d in docs["siasn"] if d["kind"] in ("UPLOAD", "SK")]
    assert siasn_held and all((d["usulan_id"], d["sha256"]) in siapp_sha for d in siasn_held)
    assert all(d["known_source"] for d in siasn_held)
    for doc_id in set() if public else sent_doc_ids:
        row = store.documents.get(doc_id)
        assert row is not None and row["status"] == "transferred"
        assert row["sha256"] == siapp_docs[doc_id]["sha256"]

    # ---- F6, F7, F8 -------------------------------------------------------------------------
    verified = [u for u in truth if u["verifikasi_id"]]
    keppres = [u for u in truth if u["keppres_id"]]
    assert verified and keppres
    ver_rx = Counter(
        e["payload"]["id_verifikasi_siapp"] for e in sb.received("siapp.verifikasi-setneg")
    )
    kep_rx = Counter(e["payload"]["id_keppres_siapp"] for e in sb.received("siapp.keppres"))
    pic_rx = Counter(
        (e["payload"]["id_pic_siapp"], int(e["payload"]["versi"])) for e in sb.received("siapp.pic")
    )
    if public:
        # no published endpoint for F6/F8: held, counted per kind, nothing sent; F7 as an SK
        assert ver_rx == kep_rx == pic_rx == Counter()
        collected = Counter()
        for r in hub.lineage:
            if r.task_id == "collect":
                for resource in ("verifikasi", "pic"):
                    collected[resource] += r.extra["resources"][resource].get("enqueued", 0)
        held = push_siasn[-1].extra["public"]
        assert held["held_reason"] == HELD_NO_PUBLIC_ENDPOINT
        assert held["held"] == {"verifikasi-setneg": len(verified), "pic": collected["pic"]}
        assert collected["verifikasi"] == len(verified) and collected["pic"] > 0
        outbox_now = store.outbox.stats()
        assert outbox_now["verifikasi-setneg"] == {"held": len(verified)}
        assert outbox_now["pic"] == {"held": collected["pic"]}
        assert all(r.reason == HELD_NO_PUBLIC_ENDPOINT for r in store.outbox.list(flow="pic"))
        assert sum(r.extra["public"]["keppres_metadata_skipped"] for r in push_siasn) == len(
            keppres
        )
    else:
        assert ver_rx == dict.fromkeys((u["verifikasi_id"] for u in verified), 1)
        assert kep_rx == dict.fromkeys((u["keppres_id"] for u in keppres), 1)
        assert pic_rx and set(pic_rx.values()) == {1}
        assert {("pic", i) for i, _ in pic_rx} == {
            (r.flow, r.entity_id) for r in store.outbox.list(flow="pic")
        }
    assert all(u["siasn"]["keppres_received"] for u in keppres)
    sk = sb.received("upload-dok-sk-kp")
    keppres_copies = {d["sha256"] for d in siapp_docs.values() if d["jenis"] == "SALINAN_KEPPRES"}
    assert len(sk) == len(keppres) and {e["payload"]["sha256"] for e in sk} == keppres_copies
    if public:  # under BKN's id, with the decree's number
        assert {e["payload"]["id_usulan"] for e in sk} == {u["siasn"]["id"] for u in keppres}
        assert all(e["payload"]["no_sk"] for e in sk)

    # ---- F3: SIAPP NV saw every BKN status, in order, ending where SIASN is -----------------
    status_rx = sb.received("inbound.status-usulan")
    assert sum(e["replays"] for e in status_rx) == 0
    seen = Counter(
        (e["payload"]["usulan_id"], e["payload"]["status_bkn"], e["payload"].get("version"))
        for e in status_rx
    )
    assert set(seen.values()) == {1}
    last = _last_status(status_rx)
    assert {u["id"]: u["siasn"]["statusUsulan"] for u in reached} == last
    by_usulan: dict[str, set[str]] = {}
    for e in status_rx:
        by_usulan.setdefault(e["payload"]["usulan_id"], set()).add(str(e["payload"]["status_bkn"]))
    for u in reached:
        wanted = {STATUS_OF_STAGE[s["stage"]] for s in u["stages"] if s["stage"] in STATUS_OF_STAGE}
        if public and u["jenis"] == "PEMBERHENTIAN":  # listed from its pertek on
            wanted &= {"22", "23"}
        assert wanted <= by_usulan[u["id"]], u["id"]

    # ---- F4: pertek and ralat pertek PDFs, with SIASN's sha256 ------------------------------
    for kind, field in (
        ("inbound.pertek", "pertek_sha256"),
        ("inbound.ralat-pertek", "ralat_sha256"),
    ):
        rx = sb.received(kind)
        got = Counter((e["payload"]["metadata"]["usulan_id"], e["payload"]["sha256"]) for e in rx)
        want = {(u["id"], u["siasn"][field]) for u in reached if u["siasn"][field]}
        assert want and got == dict.fromkeys(want, 1), kind
        assert all(e["payload"]["metadata"]["sha256"] == e["payload"]["sha256"] for e in rx)
    inbound_docs = [d for d in docs["siapp"] if d["source"] == "INBOUND"]
    assert inbound_docs and all(d["ok"] for d in inbound_docs)

    # ---- out of scope: quarantined, refused once, never at SIASN ----------------------------
    oos = sb.truth("out-of-scope")["usulan"]
    assert {u["id"] for u in oos} == {u["id"] for u in out_of_scope}
    assert all(not u["delivered_to_siasn"] and u["penolakan_received"] for u in oos)
    refusals = Counter(e["payload"]["usulan_id"] for e in sb.received("inbound.penolakan"))
    assert refusals == dict.fromkeys((u["id"] for u in oos), 1)
    assert {r.entity_id for r in store.outbox.list(status="rejected", flow="usulan")} == set(
        refusals
    )
    reasons = {r.entity_id: r.reason for r in store.outbox.list(status="rejected", flow="usulan")}
    assert reasons == {u["id"]: u["reason"] for u in oos}
    quarantined = [q for q in store.quarantine.list(flow="F5") if q["entity_kind"] == "usulan"]
    assert len(quarantined) == len(oos)

    # ---- the outbox is drained and the lifecycle is stamped for SLA reporting ---------------
    stats = store.outbox.stats()
    if public:
        assert set(stats["usulan"]) <= {"sent", "rejected", "pending"}, stats
        stats_rest = {f: s for f, s in stats.items() if f != "usulan"}
        assert all(set(s) <= {"sent", "rejected", "held"} for s in stats_rest.values()), stats
    else:
        assert all(set(by_status) <= {"sent", "rejected"} for by_status in stats.values()), stats
    for u in keppres:
        row = store.usulan.get(u["id"])
        assert row is not None
        order = ["submitted_at", "sent_at", "bkn_verified_at", "pertek_at", "keppres_sent_at"]
        stamps = [row[s] for s in order]
        assert all(stamps) and stamps == sorted(stamps), u["id"]
        assert row["setneg_verified_at"] and row["keppres_at"] and row["keppres_applied_at"]
    for u in oos:
        assert store.usulan.get(u["id"])["status"] == "ditolak_hub"

    # ---- ref-dokumen: the Keppres copy went under the id the live table gives its name -----
    salinan = store.referensi.id_by_name("ref-dokumen", DOKUMEN_SALINAN_KEPPRES)
    assert salinan is not None
    if not public:  # public mode sends no Keppres metadata (upload-dok-sk-kp takes no ref id)
        assert {
            e["payload"]["dokumen"]["id_ref_dokumen"] for e in sb.received("siapp.keppres")
        } == {salinan}

    # ---- the mode's sources: public mode never called a PKS list ----------------------------
    stats_now = sb.stats()
    pks_lists = ("GET /apisiasn/1.0/siapp/asn", "GET /apisiasn/1.0/siapp/status-usulan")
    by_id = route_count(stats_now, "GET /apisiasn/1.0/pns/kp-instansi-byId")
    if public:
        assert [route_count(stats_now, r) for r in pks_lists] == [0, 0]
        pks_calls = {
            route: n["count"]
            for route, n in stats_now["routes"].get("siasn", {}).items()
            if "/apisiasn/1.0/siapp/" in route and n.get("count")
        }
        assert pks_calls == {}, pks_calls
        assert by_id > 0
        for route in ("list-kp-instansi", "list-pensiun-instansi"):
            assert route_count(stats_now, f"GET /apisiasn/1.0/pns/{route}") > 0
        check_public_lists(hub)
    else:
        assert all(route_count(stats_now, r) > 0 for r in pks_lists) and by_id == 0

    # ---- lineage and logs carry no personal data --------------------------------------------
    assert {r.flow for r in hub.lineage} == {"F5-F8", "F3-F4"}
    pushed = sum(r.counts.sent for r in hub.lineage if r.task_id.startswith("push"))
    assert pushed == sum(n.get("sent", 0) for n in stats.values())
    text = json.dumps([r.to_xcom() for r in hub.lineage]) + caplog.text
    nips = {u["nip"] for u in truth}
    assert not [nip for nip in nips if nip in text]

    if public:
        # ---- back to pks: what public mode held is sent, once ----------------------------
        hub.mode = "pks"
        hub.push("siasn")
        ver_rx = Counter(
            e["payload"]["id_verifikasi_siapp"] for e in sb.received("siapp.verifikasi-setneg")
        )
        assert ver_rx == dict.fromkeys((u["verifikasi_id"] for u in verified), 1)
        pic_rx = Counter(
            (e["payload"]["id_pic_siapp"], int(e["payload"]["versi"]))
            for e in sb.received("siapp.pic")
        )
        assert sum(pic_rx.values()) == collected["pic"] and set(pic_rx.values()) == {1}
        after = store.outbox.stats()
        assert after["verifikasi-setneg"] == {"sent": len(verified)}
        assert after["pic"] == {"sent": collected["pic"]}
