"""The sandbox's document faults and SIAPP NV's document inventory, over HTTP.

Every knob of ``document_faults`` damages what it says on the wire (SIASN's ``siapp/dokumen``
list and ``download-dok``, SIAPP NV's ``GET /api/v1/dokumen`` and its downloads), the truth
endpoint lists exactly that, and the repairs the sandbox recognises undo exactly that.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from siapp_sandbox.testing import RunningSandbox
from tests.flows._usulan import WORLD
from tests.reconciliation.test_sources import new_store, traffic

pytestmark = pytest.mark.integration

PKS_DOKUMEN = "/apisiasn/1.0/siapp/dokumen"


class Wire:
    """Plain HTTP on both apps with fresh tokens."""

    def __init__(self, sb: RunningSandbox) -> None:
        self.siasn = httpx.Client(base_url=sb.siasn_url, headers=sb.siasn_headers(), timeout=30)
        self.siapp = httpx.Client(
            base_url=sb.siapp_url,
            headers={"Authorization": f"Bearer {sb.siapp_token()}"},
            timeout=30,
        )

    def siasn_list(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            r = self.siasn.get(PKS_DOKUMEN, params={"limit": 500, "offset": offset})
            if r.status_code == 404:
                return out
            rows = r.json()["data"]["list"]
            out.update((row["dok_id"], row) for row in rows)
            offset += 500

    def download(self, path: str) -> httpx.Response:
        return self.siasn.get("/apisiasn/1.0/download-dok", params={"filePath": path})

    def siapp_inventory(self, limit: int = 1000) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            r = self.siapp.get("/api/v1/dokumen", params=params)
            r.raise_for_status()
            body = r.json()
            rows += body["data"]
            cursor = body["next_cursor"]
            if not cursor:
                return rows


@pytest.fixture(scope="module")
def scene(sandbox_module_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> RunningSandbox:
    sb = sandbox_module_factory(**WORLD)
    traffic(sb, new_store(tmp_path_factory.mktemp("docfaults")), days=7)
    return sb


def test_invalid_knobs_are_refused(sandbox: RunningSandbox) -> None:
    for bad in ({"missing_at_siasn": -1}, {"lost_everything": 1}, {"orphan_at_siasn": 5000}):
        r = sandbox.client.put("/_sandbox/faults", json={"document_faults": bad})
        assert r.status_code == 422
        assert r.json()["Message"].startswith("document_faults.")
    assert sandbox.faults()["document_faults"]["missing_at_siasn"] == 0


def test_siapp_inventory_lists_every_document_siapp_holds(scene: RunningSandbox) -> None:
    wire = Wire(scene)
    rows = wire.siapp_inventory()
    small = wire.siapp_inventory(limit=7)
    assert small == rows
    assert [(r["updated_at"], r["id"]) for r in rows] == sorted(
        (r["updated_at"], r["id"]) for r in rows
    )
    truth = scene.truth("documents")["siapp"]
    assert {(r["id"], r["usulan_id"], r["sha256"], r["size"]) for r in rows} == {
        (d["dok_id"], d["usulan_id"], d["sha256"], d["size"]) for d in truth
    }
    assert {r["jenis"] for r in rows} >= {"SURAT_PENGANTAR", "PERTEK"}
    assert set(rows[0]) == {
        "usulan_id",
        "id",
        "jenis",
        "id_ref_dokumen",
        "sha256",
        "size",
        "updated_at",
    }
    assert wire.siapp.get("/api/v1/dokumen", params={"limit": 0}).status_code == 400
    assert wire.siapp.get("/api/v1/dokumen", params={"cursor": "nope"}).status_code == 400
    other = wire.siapp.get("/api/v1/usulan", params={"limit": 1}).json()["next_cursor"]
    assert wire.siapp.get("/api/v1/dokumen", params={"cursor": other}).status_code == 400
    assert httpx.get(f"{scene.siapp_url}/api/v1/dokumen").status_code == 401


def test_each_fault_shows_on_the_wire_and_its_repair_undoes_it(scene: RunningSandbox) -> None:
    wire = Wire(scene)
    before = wire.siasn_list()
    inventory = {r["id"]: r for r in wire.siapp_inventory()}
    knobs = {
        "missing_at_siasn": 1,
        "corrupt_at_siasn": 1,
        "resized_at_siasn": 1,
        "orphan_at_siasn": 1,
        "missing_at_siapp": 1,
        "source_missing": 1,
    }
    scene.set_faults({"document_faults": knobs, "seed": 2})
    truth = scene.truth("dokumen-faults")
    faults = {f["kind"]: f for f in truth["faults"]}
    assert set(faults) == set(knobs) and truth["active"] == 6
    assert truth["expected"] == {
        "missing_at_siasn": 1,
        "hash_mismatch": 1,
        "size_mismatch": 1,
        "orphan": 1,
        "missing_at_siapp": 1,
        "source_missing": 1,
    }
    after = wire.siasn_list()
    siapp_after = {r["id"] for r in wire.siapp_inventory()}

    missing = faults["missing_at_siasn"]
    assert missing["dok_id"] in before and missing["dok_id"] not in after
    assert wire.download(before[missing["dok_id"]]["dok_uri"]).status_code == 404

    corrupt = faults["corrupt_at_siasn"]
    listed = after[corrupt["dok_id"]]
    served = wire.download(listed["dok_uri"]).content
    assert (
        listed["sha256"]
        == hashlib.sha256(served).hexdigest()
        != before[corrupt["dok_id"]]["sha256"]
    )
    assert listed["size"] == before[corrupt["dok_id"]]["size"] == str(len(served))

    resized = faults["resized_at_siasn"]
    listed = after[resized["dok_id"]]
    assert int(listed["size"]) == int(before[resized["dok_id"]]["size"]) + 512
    assert len(wire.download(listed["dok_uri"]).content) == int(listed["size"])

    orphan = faults["orphan_at_siasn"]
    assert orphan["dok_id"] not in before
    assert after[orphan["dok_id"]]["id_usulan_siapp"] == orphan["usulan_id"]
    assert orphan["ref"] == f"siasn:{orphan['dok_id']}"
    assert wire.download(after[orphan["dok_id"]]["dok_uri"]).status_code == 200

    lost = faults["missing_at_siapp"]
    assert lost["dok_id"] in inventory and lost["dok_id"] not in siapp_after
    assert inventory[lost["dok_id"]]["jenis"] in ("PERTEK", "RALAT_PERTEK")

    gone = faults["source_missing"]
    assert gone["ref"] in inventory and gone["ref"] not in siapp_after
    assert wire.siapp.get(f"/api/v1/dokumen/{gone['ref']}").status_code == 404
    assert gone["dok_id"] in after  # SIASN still holds the copy

    # zero counts repair nothing; counts again damage other documents
    scene.set_faults({})
    assert scene.truth("dokumen-faults")["active"] == 6
    scene.set_faults({"document_faults": {"corrupt_at_siasn": 1}, "seed": 2})
    again = scene.truth("dokumen-faults")["faults"]
    assert len(again) == 7 and again[-1]["dok_id"] not in {f["dok_id"] for f in faults.values()}
    scene.set_faults({})

    # the re-upload of the original bytes restores the very copy SIASN lost
    data = wire.siapp.get(f"/api/v1/dokumen/{missing['ref']}").content
    ref_id = before[missing["dok_id"]]["id_ref_dokumen"]
    r = wire.siasn.post(
        "/apisiasn/1.0/upload-dok",
        data={"id_ref_dokumen": ref_id},
        files={"file": ("x.pdf", data, "application/pdf")},
    )
    assert r.json()["data"]["dok_id"] == missing["dok_id"]
    assert wire.siasn_list()[missing["dok_id"]] == before[missing["dok_id"]]
    assert wire.download(before[missing["dok_id"]]["dok_uri"]).content == data
    # an ordinary upload of other bytes is not a repair
    r = wire.siasn.post(
        "/apisiasn/1.0/upload-dok",
        data={"id_ref_dokumen": ref_id},
        files={"file": ("y.pdf", data + b"\n", "application/pdf")},
    )
    assert r.json()["data"]["dok_id"] != missing["dok_id"]
    states = {f["kind"]: f["active"] for f in scene.truth("dokumen-faults")["faults"][:6]}
    assert states == {k: k != "missing_at_siasn" for k in knobs}


def test_truth_is_served_before_any_fault(sandbox: RunningSandbox) -> None:
    truth = sandbox.truth("dokumen-faults")
    assert truth is not None and truth["faults"] == [] and truth["expected"] == {}
