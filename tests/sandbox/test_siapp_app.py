"""SIAPP NV emulator over real HTTP (loopback, sandbox subprocess): auth, lists, documents,
faults and idempotency of the inbound endpoints."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from siapp_sandbox.testing import RunningSandbox

pytestmark = pytest.mark.integration

CREDS = {"client_id": "siapp-hub", "client_secret": "sandbox-secret"}


@pytest.fixture(scope="module")
def sb(sandbox_module_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    sandbox = sandbox_module_factory(employees=3000, seed=11)
    sandbox.advance(12)
    return sandbox


@pytest.fixture
def api(sb: RunningSandbox) -> Iterator[httpx.Client]:
    sb.set_faults({})
    headers = {"Authorization": f"Bearer {sb.siapp_token()}"}
    with httpx.Client(base_url=sb.siapp_url, headers=headers, timeout=30) as client:
        yield client
    sb.set_faults({})


def all_pages(api: httpx.Client, kind: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        q = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        r = api.get(f"/api/v1/{kind}", params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= limit
        out.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("pagination did not end")


# --------------------------------------------------------------------------- auth


def test_token_client_credentials_form_and_basic(sb: RunningSandbox) -> None:
    r = httpx.post(
        f"{sb.siapp_url}/oauth/token", data={"grant_type": "client_credentials", **CREDS}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    basic = base64.b64encode(b"siapp-hub:sandbox-secret").decode()
    r = httpx.post(
        f"{sb.siapp_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200 and r.json()["access_token"] != body["access_token"]


def test_token_wrong_secret_or_grant_is_refused(sb: RunningSandbox) -> None:
    wrong = {"grant_type": "client_credentials", "client_id": "siapp-hub", "client_secret": "x"}
    r = httpx.post(f"{sb.siapp_url}/oauth/token", data=wrong)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = httpx.post(f"{sb.siapp_url}/oauth/token", data={"grant_type": "password", **CREDS})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_api_401_missing_wrong_and_expired_token(sb: RunningSandbox) -> None:
    url = f"{sb.siapp_url}/api/v1/usulan"
    r = httpx.get(url)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert "missing" in r.json()["error_description"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    # a SIASN gateway token is not a SIAPP token
    g, _ = sb.siasn_tokens()
    assert httpx.get(url, headers={"Authorization": f"Bearer {g}"}).status_code == 401
    sb.set_faults({"siapp_token_ttl_s": 0.3})
    try:
        tok = sb.siapp_token()
        assert httpx.get(url, headers={"Authorization": f"Bearer {tok}"}).status_code == 200
        time.sleep(0.45)
        r = httpx.get(url, headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 401 and r.json()["error_description"] == "token expired"
    finally:
        sb.set_faults({})


def test_openapi_is_served(sb: RunningSandbox) -> None:
    spec = httpx.get(f"{sb.siapp_url}/openapi.json").json()
    for path in (
        "/oauth/token",
        "/api/v1/usulan",
        "/api/v1/verifikasi",
        "/api/v1/keppres",
        "/api/v1/pic",
        "/api/v1/dokumen/{dok_id}",
        "/api/v1/inbound/status-usulan",
        "/api/v1/inbound/pertek",
        "/api/v1/inbound/ralat-pertek",
        "/api/v1/inbound/penolakan",
    ):
        assert path in spec["paths"], path


# --------------------------------------------------------------------------- lists


def test_cursor_pagination_walks_every_record_once_in_order(api: httpx.Client) -> None:
    full = api.get("/api/v1/usulan", params={"limit": 1000}).json()
    assert full["next_cursor"] is None and len(full["data"]) >= 24  # 12 days x 2..4
    paged = all_pages(api, "usulan", limit=7)
    assert paged == full["data"]
    keys = [(r["updated_at"], r["id"]) for r in paged]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    rec = paged[0]
    assert set(rec) >= {"id", "version", "updated_at", "jenis", "kategori_jabatan", "nip"}
    assert rec["jenis"] in ("KP", "PEMBERHENTIAN", "PENGANGKATAN")
    assert {"id", "jenis", "id_ref_dokumen", "sha256", "size"} <= set(rec["dokumen"][0])
    pics = all_pages(api, "pic", limit=2)
    assert pics and all(p["aksi"] in ("GRANT", "REVOKE") for p in pics)


def test_updated_since_filters_inclusively(api: httpx.Client) -> None:
    rows = all_pages(api, "usulan", limit=1000)
    mid = rows[len(rows) // 2]["updated_at"]
    since = all_pages(api, "usulan", limit=5, updated_since=mid)
    assert since == [r for r in rows if r["updated_at"] >= mid]
    day = mid[:10]
    by_date = all_pages(api, "usulan", limit=1000, updated_since=day)
    assert by_date == [r for r in rows if r["updated_at"][:10] >= day]
    future = api.get("/api/v1/usulan", params={"updated_since": "2030-01-01T00:00:00Z"}).json()
    assert future == {"data": [], "next_cursor": None}


def test_bad_cursor_since_or_limit_is_400(api: httpx.Client) -> None:
    for params in ({"cursor": "%%%"}, {"updated_since": "yesterday"}, {"limit": 0}):
        r = api.get("/api/v1/usulan", params=params)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    cur = api.get("/api/v1/usulan", params={"limit": 1}).json()["next_cursor"]
    r = api.get("/api/v1/pic", params={"cursor": cur})
    assert r.status_code == 400, "a cursor belongs to its list"


# --------------------------------------------------------------------------- documents


def test_document_bytes_match_metadata(api: httpx.Client) -> None:
    rec = api.get("/api/v1/usulan", params={"limit": 3}).json()["data"]
    for meta in (d for r in rec for d in r["dokumen"]):
        r = api.get(f"/api/v1/dokumen/{meta['id']}")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF-") and r.content.endswith(b"%%EOF\n")
        assert int(r.headers["content-length"]) == len(r.content) == meta["size"]
        assert 50_000 <= meta["size"] <= 300_000
        assert hashlib.sha256(r.content).hexdigest() == meta["sha256"]
        assert r.headers["x-checksum-sha256"] == meta["sha256"]
    assert api.get("/api/v1/dokumen/unknown").status_code == 404


def test_corrupt_document_fault_breaks_bytes_not_header(
    sb: RunningSandbox, api: httpx.Client
) -> None:
    meta = api.get("/api/v1/usulan", params={"limit": 1}).json()["data"][0]["dokumen"][0]
    sb.set_faults({"corrupt_document_rate": 1.0})
    r = api.get(f"/api/v1/dokumen/{meta['id']}")
    assert r.status_code == 200 and len(r.content) == meta["size"]
    assert r.headers["x-checksum-sha256"] == meta["sha256"]
    assert hashlib.sha256(r.content).hexdigest() != meta["sha256"]
    sb.set_faults({})
    r = api.get(f"/api/v1/dokumen/{meta['id']}")
    assert hashlib.sha256(r.content).hexdigest() == meta["sha256"], "a retry passes"


# --------------------------------------------------------------------------- inbound


def test_inbound_json_idempotent_replay_and_409(sb: RunningSandbox, api: httpx.Client) -> None:
    rec = api.get("/api/v1/usulan", params={"limit": 1}).json()["data"][0]
    key = f"status-{uuid.uuid4()}"
    body = {"usulan_id": rec["id"], "version": rec["version"], "status_bkn": "1"}
    first = api.post("/api/v1/inbound/status-usulan", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    again = api.post("/api/v1/inbound/status-usulan", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 200 and again.content == first.content
    assert again.headers.get("idempotent-replayed") == "true"
    other = {**body, "status_bkn": "13"}
    clash = api.post("/api/v1/inbound/status-usulan", json=other, headers={"Idempotency-Key": key})
    assert clash.status_code == 409
    mine = [e for e in sb.received("inbound.status-usulan") if e["idempotency_key"] == key]
    assert len(mine) == 1 and mine[0]["replays"] == 1 and mine[0]["app"] == "siapp"


def test_inbound_validation_and_unknown_usulan(api: httpx.Client) -> None:
    r = api.post("/api/v1/inbound/status-usulan", json={"usulan_id": "x"})
    assert r.status_code == 422 and "status_bkn" in r.json()["error_description"]
    r = api.post("/api/v1/inbound/penolakan", json={"usulan_id": "nope", "alasan_kode": "X"})
    assert r.status_code == 404
    r = api.post("/api/v1/inbound/status-usulan", content=b"{not json")
    assert r.status_code == 400


def test_inbound_pertek_multipart_replay_and_checksum(
    sb: RunningSandbox, api: httpx.Client
) -> None:
    rec = api.get("/api/v1/usulan", params={"limit": 1}).json()["data"][0]
    pdf = b"%PDF-1.4\n% a pertek as the hub would forward it\n%%EOF\n"
    meta = {
        "usulan_id": rec["id"],
        "no_pertek": "PERTEK-1/KP/2026",
        "tgl_pertek": "2026-01-10",
        "sha256": hashlib.sha256(pdf).hexdigest(),
    }
    key = f"pertek-{uuid.uuid4()}"

    def post(m: dict[str, Any], k: str) -> httpx.Response:
        return api.post(
            "/api/v1/inbound/pertek",
            files={"file": ("pertek.pdf", pdf, "application/pdf")},
            data={"metadata": orjson.dumps(m).decode()},
            headers={"Idempotency-Key": k},
        )

    first = post(meta, key)
    assert first.status_code == 200, first.text
    again = post(meta, key)
    assert again.status_code == 200 and again.json() == first.json()
    assert post({**meta, "no_pertek": "OTHER"}, key).status_code == 409
    entries = [e for e in sb.received("inbound.pertek") if e["idempotency_key"] == key]
    assert len(entries) == 1 and entries[0]["replays"] == 1
    assert entries[0]["payload"]["sha256"] == meta["sha256"]
    bad = post({**meta, "sha256": "0" * 64}, f"pertek-{uuid.uuid4()}")
    assert bad.status_code == 422 and bad.json()["error"] == "checksum_mismatch"
    held = sb.truth("documents", usulan_id=rec["id"])["siapp"]
    inbound = [d for d in held if d["source"] == "INBOUND"]
    assert len(inbound) == 1 and inbound[0]["ok"] is False, "not the pertek SIASN signed"


def test_inbound_ralat_pertek_needs_its_number(sb: RunningSandbox, api: httpx.Client) -> None:
    rec = api.get("/api/v1/usulan", params={"limit": 1}).json()["data"][0]
    pdf = b"%PDF-1.4\n% ralat\n%%EOF\n"
    files = {"file": ("ralat.pdf", pdf, "application/pdf")}
    meta = {"usulan_id": rec["id"], "no_pertek": "P-1"}
    r = api.post(
        "/api/v1/inbound/ralat-pertek", files=files, data={"metadata": orjson.dumps(meta).decode()}
    )
    assert r.status_code == 422 and "no_ralat_pertek" in r.json()["error_description"]
    meta = {"usulan_id": rec["id"], "no_ralat_pertek": "R-1", "tgl_ralat_pertek": "2026-01-12"}
    r = api.post(
        "/api/v1/inbound/ralat-pertek", files=files, data={"metadata": orjson.dumps(meta).decode()}
    )
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    got = [e for e in sb.received("inbound.ralat-pertek") if e["payload"]["metadata"] == meta]
    assert len(got) == 1 and got[0]["payload"]["size"] == len(pdf)
