"""SIASN PKS endpoints (siasn_pks router) over real HTTP: auth, SIASN envelopes, validation,
document upload/download, idempotent POSTs."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from siapp_sandbox.testing import RunningSandbox

pytestmark = pytest.mark.integration

P = "/apisiasn/1.0"


@pytest.fixture(scope="module")
def sb(sandbox_module_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    sandbox = sandbox_module_factory(employees=3000, seed=5)
    sandbox.advance(5)
    return sandbox


@pytest.fixture(scope="module")
def siasn(sb: RunningSandbox) -> httpx.Client:
    return httpx.Client(base_url=sb.siasn_url, headers=sb.siasn_headers(), timeout=30)


@pytest.fixture(scope="module")
def siapp(sb: RunningSandbox) -> httpx.Client:
    headers = {"Authorization": f"Bearer {sb.siapp_token()}"}
    return httpx.Client(base_url=sb.siapp_url, headers=headers, timeout=30)


def upload(siasn: httpx.Client, data: bytes, ref: str) -> dict[str, Any]:
    r = siasn.post(
        f"{P}/upload-dok",
        files={"file": ("dok.pdf", data, "application/pdf")},
        data={"id_ref_dokumen": ref},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 1
    return body["data"]


def usulan_body(siasn: httpx.Client, siapp: httpx.Client, rec: dict[str, Any]) -> dict[str, Any]:
    docs = []
    for d in rec["dokumen"]:
        data = siapp.get(f"/api/v1/dokumen/{d['id']}").content
        up = upload(siasn, data, d["id_ref_dokumen"])
        docs.append(
            {
                "id_ref_dokumen": d["id_ref_dokumen"],
                "dok_id": up["dok_id"],
                "dok_uri": up["dok_uri"],
                "sha256": d["sha256"],
                "size": d["size"],
            }
        )
    return {
        "id_usulan_siapp": rec["id"],
        "nip": rec["nip"],
        "jenis_usulan": rec["jenis"],
        "kategori_jabatan": rec["kategori_jabatan"],
        "versi": rec["version"],
        "instansi_id": rec["instansi_id"],
        "golongan_baru_id": rec["golongan_baru_id"],
        "dokumen": docs,
    }


def test_pks_endpoints_need_both_tokens(sb: RunningSandbox, siasn: httpx.Client) -> None:
    g, _ = sb.siasn_tokens()
    for method, path in (
        ("GET", "/siapp/status-usulan"),
        ("GET", "/siapp/dokumen"),
        ("POST", "/siapp/usulan"),
        ("POST", "/upload-dok"),
        ("GET", "/download-dok?filePath=x"),
    ):
        r = httpx.request(method, f"{sb.siasn_url}{P}{path}")
        assert r.status_code == 401 and r.json()["Error"] == "Unauthorized", path
        only_gw = {"Authorization": f"Bearer {g}"}
        r = httpx.request(method, f"{sb.siasn_url}{P}{path}", headers=only_gw)
        assert r.status_code == 401, path
    r = siasn.get(f"{P}/siapp/status-usulan")
    assert r.status_code == 404 and r.json() == {"code": 0, "data": "Data tidak ditemukan"}


def test_post_validation_is_siasn_400(siasn: httpx.Client) -> None:
    r = siasn.post(f"{P}/siapp/usulan", json={"nip": "1"})
    assert r.status_code == 400
    body = r.json()
    assert body["Error"] == "Bad Request" and "id_usulan_siapp" in body["Message"]
    assert siasn.post(f"{P}/siapp/usulan", content=b"[1,").status_code == 400
    for path, required in (
        ("/siapp/verifikasi-setneg", "hasil"),
        ("/siapp/keppres", "no_keppres"),
        ("/siapp/pic", "aksi"),
    ):
        r = siasn.post(f"{P}{path}", json={})
        assert r.status_code == 400 and required in r.json()["Message"], path
    r = siasn.post(f"{P}/upload-dok", data={"id_ref_dokumen": "876"})
    assert r.status_code == 400 and "file" in r.json()["Message"]
    r = siasn.post(f"{P}/upload-dok", files={"file": ("a.pdf", b"%PDF-1.4", "application/pdf")})
    assert r.status_code == 400 and "id_ref_dokumen" in r.json()["Message"]


def test_usulan_with_unknown_dok_id_is_400(siasn: httpx.Client, siapp: httpx.Client) -> None:
    rec = siapp.get("/api/v1/usulan", params={"limit": 1}).json()["data"][0]
    body = usulan_body(siasn, siapp, rec)
    body["dokumen"][0]["dok_id"] = str(uuid.uuid4())
    r = siasn.post(f"{P}/siapp/usulan", json=body)
    assert r.status_code == 400 and "tidak ditemukan" in r.json()["Message"]
    body = usulan_body(siasn, siapp, rec)
    body["dokumen"][0]["sha256"] = "0" * 64
    r = siasn.post(f"{P}/siapp/usulan", json=body)
    assert r.status_code == 400 and "sha256" in r.json()["Message"]


def test_usulan_post_idempotent_replay_and_409(
    sb: RunningSandbox, siasn: httpx.Client, siapp: httpx.Client
) -> None:
    rec = siapp.get("/api/v1/usulan", params={"limit": 2}).json()["data"][1]
    body = usulan_body(siasn, siapp, rec)
    key = f"F5:{rec['id']}:{rec['version']}"
    first = siasn.post(f"{P}/siapp/usulan", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data["status"] == "diterima" and len(data["id"]) == 32
    again = siasn.post(f"{P}/siapp/usulan", json=body, headers={"Idempotency-Key": key})
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    changed = {**body, "instansi_id": "CHANGED"}
    clash = siasn.post(f"{P}/siapp/usulan", json=changed, headers={"Idempotency-Key": key})
    assert clash.status_code == 409
    got = [e for e in sb.received("siapp.usulan") if e["idempotency_key"] == key]
    assert len(got) == 1 and got[0]["replays"] == 1 and got[0]["app"] == "siasn"
    rows = siasn.get(f"{P}/siapp/status-usulan").json()["data"]["list"]
    row = next(r for r in rows if r["id_usulan_siapp"] == rec["id"])
    assert row["statusUsulan"] == "1" and row["statusUsulanNama"] == "Usulan Diterima"
    assert row["id"] == data["id"] and row["nipBaru"] == rec["nip"]
    assert all(isinstance(v, str | dict) for v in row.values())
    assert row["updated"].count("-") == 2 and len(row["updated"]) == 10  # dd-mm-yyyy


def test_status_list_paging_and_updated_since(
    sb: RunningSandbox, siasn: httpx.Client, siapp: httpx.Client
) -> None:
    for rec in siapp.get("/api/v1/usulan", params={"limit": 6}).json()["data"][2:6]:
        assert siasn.post(f"{P}/siapp/usulan", json=usulan_body(siasn, siapp, rec)).is_success
    full = siasn.get(f"{P}/siapp/status-usulan", params={"limit": 100}).json()["data"]
    n = int(full["total"])
    assert n >= 5 and len(full["list"]) == n
    pages = []
    for offset in range(0, n, 2):
        r = siasn.get(f"{P}/siapp/status-usulan", params={"limit": 2, "offset": offset})
        pages.extend(r.json()["data"]["list"])
    assert pages == full["list"]
    r = siasn.get(f"{P}/siapp/status-usulan", params={"limit": 2, "offset": n})
    assert r.status_code == 404
    today = sb.clock()["date"]
    dmy = f"{today[8:10]}-{today[5:7]}-{today[:4]}"
    since = siasn.get(f"{P}/siapp/status-usulan", params={"updatedSince": dmy}).json()
    assert since["data"]["total"] == str(n)
    assert (
        siasn.get(f"{P}/siapp/status-usulan", params={"updatedSince": "01-01-2030"}).status_code
        == 404
    )
    assert (
        siasn.get(f"{P}/siapp/status-usulan", params={"updatedSince": "2026-01-01"}).status_code
        == 400
    )


def test_dokumen_list_and_download_match_sha256(siasn: httpx.Client, siapp: httpx.Client) -> None:
    rec = siapp.get("/api/v1/usulan", params={"limit": 7}).json()["data"][6]
    body = usulan_body(siasn, siapp, rec)
    assert siasn.post(f"{P}/siapp/usulan", json=body).status_code == 200
    r = siasn.get(f"{P}/siapp/dokumen", params={"idUsulan": rec["id"]})
    held = r.json()["data"]["list"]
    assert {d["sha256"] for d in held} == {d["sha256"] for d in rec["dokumen"]}
    for d in held:
        assert d["id_usulan_siapp"] == rec["id"] and d["size"].isdigit()
        pdf = siasn.get(f"{P}/download-dok", params={"filePath": d["dok_uri"]})
        assert pdf.headers["content-type"] == "application/pdf"
        assert hashlib.sha256(pdf.content).hexdigest() == d["sha256"]
    assert siasn.get(f"{P}/siapp/dokumen", params={"idUsulan": "none"}).status_code == 404
    assert siasn.get(f"{P}/download-dok", params={"filePath": "no/such.pdf"}).status_code == 404


def test_pic_and_sk_upload(siasn: httpx.Client, siapp: httpx.Client) -> None:
    pic = siapp.get("/api/v1/pic", params={"limit": 1}).json()["data"][0]
    body = {
        "id_pic_siapp": pic["id"],
        "nip": pic["nip"],
        "instansi_id": pic["instansi_id"],
        "aksi": pic["aksi"],
        "versi": pic["version"],
    }
    key = f"F8:{pic['id']}:{pic['version']}"
    r = siasn.post(f"{P}/siapp/pic", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 200 and r.json()["data"]["status"] == "diterima"
    assert (
        siasn.post(f"{P}/siapp/pic", json={**body, "nip": "199901012020011001"}).status_code == 400
    )
    # SK upload needs a usulan SIASN knows
    r = siasn.post(
        f"{P}/upload-dok-sk-kp",
        files={"file": ("sk.pdf", b"%PDF-1.4 sk", "application/pdf")},
        data={"id_usulan": "unknown", "no_sk": "1/KP/2026", "tgl_sk": "05-01-2026"},
    )
    assert r.status_code == 400
