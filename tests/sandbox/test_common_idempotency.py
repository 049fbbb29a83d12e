"""Idempotency-Key replay, 409, the received log and corrupted documents: in-process on a tiny
app using the shared framework, and over real HTTP on the SIASN document endpoints."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from siapp_sandbox.common import (
    PROFILES,
    Faults,
    SandboxState,
    fmt_dmy,
    install_sandbox,
    json_response,
    make_pdf,
    page_faults,
    parse_dmy,
    parse_faults,
    record_received,
)
from siapp_sandbox.testing import RunningSandbox
from siapp_sandbox.world import World


def _app() -> tuple[FastAPI, SandboxState, list[Any]]:
    state = SandboxState(World(seed=1, employees=50))
    app = FastAPI()
    calls: list[Any] = []

    @app.post("/api/thing")
    async def thing(request: Request) -> Response:
        body = await request.json()
        calls.append(body)
        await asyncio.sleep(0.01)
        if body.get("fail"):
            return json_response({"error": "boom"}, 503)
        entry = await record_received(request, "thing", body)
        return json_response({"id": uuid.uuid4().hex, "seq": entry["seq"]})

    install_sandbox(app, state, "test")
    return app, state, calls


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def test_replay_returns_the_first_answer_byte_for_byte() -> None:
    app, state, calls = _app()

    async def go() -> list[httpx.Response]:
        async with await _client(app) as c:
            h = {"Idempotency-Key": "k1", "Content-Type": "application/json"}
            a = await c.post("/api/thing", content=b'{"a": 1, "b": [1, 2]}', headers=h)
            b = await c.post("/api/thing", content=b'{"b":[1,2],"a":1}', headers=h)
            x = await c.post("/api/thing", json={"a": 1}, headers={"Idempotency-Key": "k2"})
            n1 = await c.post("/api/thing", json={"a": 9})
            n2 = await c.post("/api/thing", json={"a": 9})
            return [a, b, x, n1, n2]

    a, b, x, n1, n2 = _run(go())
    assert a.status_code == b.status_code == 200
    assert a.content == b.content, "JSON key order does not change the request identity"
    assert b.headers["idempotent-replayed"] == "true"
    assert x.content != a.content
    assert n1.content != n2.content, "without a key every POST is processed"
    assert len(calls) == 4
    entries = state.received.entries("thing")
    assert [e["idempotency_key"] for e in entries] == ["k1", "k2", None, None]
    assert [e["replays"] for e in entries] == [1, 0, 0, 0]


def test_same_key_different_body_is_409_and_not_processed() -> None:
    app, state, calls = _app()

    async def go() -> tuple[httpx.Response, httpx.Response]:
        async with await _client(app) as c:
            h = {"Idempotency-Key": "same"}
            a = await c.post("/api/thing", json={"v": 1}, headers=h)
            b = await c.post("/api/thing", json={"v": 2}, headers=h)
            return a, b

    a, b = _run(go())
    assert a.status_code == 200 and b.status_code == 409
    assert b.json()["Error"] == "Conflict"
    assert len(calls) == 1 and len(state.received.entries()) == 1


def test_server_errors_are_not_stored_and_concurrent_duplicates_run_once() -> None:
    app, state, calls = _app()

    async def go() -> list[httpx.Response]:
        async with await _client(app) as c:
            f1 = await c.post("/api/thing", json={"fail": True}, headers={"Idempotency-Key": "f"})
            f2 = await c.post("/api/thing", json={"fail": True}, headers={"Idempotency-Key": "f"})
            h = {"Idempotency-Key": "conc"}
            many = await asyncio.gather(
                *(c.post("/api/thing", json={"v": 1}, headers=h) for _ in range(5))
            )
            return [f1, f2, *many]

    f1, f2, *many = _run(go())
    assert f1.status_code == f2.status_code == 503
    assert len({r.content for r in many}) == 1
    assert len(calls) == 3, "two failed attempts + one real execution"
    assert state.received.entries("thing")[0]["replays"] == 4


def test_page_faults_duplicate_and_reorder() -> None:
    state = SandboxState(World(seed=1, employees=10), Faults(duplicate_page_rate=1.0))
    assert page_faults(state, [5, 6, 7, 8], [1, 2, 3, 4]) == [4, 5, 6, 7, 8]
    assert page_faults(state, [1, 2, 3], None) == [1, 2, 3, 1]
    state.faults = Faults(reorder_pages=True, seed=3)
    page = list(range(20))
    shuffled = page_faults(state, page, None, key="k")
    assert sorted(shuffled) == page and shuffled != page
    assert page_faults(state, page, None, key="k") == shuffled
    state.faults = Faults()
    assert page_faults(state, page, [0], key="k") == page


def test_dates_pdf_and_profiles() -> None:
    assert fmt_dmy(date(2026, 1, 5)) == "05-01-2026" and fmt_dmy(None) == "01-01-0001"
    assert parse_dmy("05-01-2026") == date(2026, 1, 5)
    assert (
        parse_dmy("01-01-0001") is None and parse_dmy("") is None and parse_dmy("undefined") is None
    )
    with pytest.raises(ValueError):
        parse_dmy("2026-01-05")
    pdf = make_pdf("Pertek", ["Nomor 1"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert make_pdf("Pertek", ["Nomor 1"]) == pdf
    for name in PROFILES:
        assert isinstance(parse_faults(name), Faults)
    assert parse_faults('{"latency_ms": 5}').latency_ms == 5
    with pytest.raises(ValueError):
        parse_faults("chaotic")


# ------------------------------------------------------------------------ real HTTP (SIASN)
def _upload(c: httpx.Client, data: bytes, key: str | None, ref: str = "874") -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return c.post(
        "/apisiasn/1.0/upload-dok",
        files={"file": ("dok.pdf", data, "application/pdf")},
        data={"id_ref_dokumen": ref},
        headers=headers,
    )


@pytest.mark.integration
def test_upload_idempotency_over_http(sandbox: RunningSandbox) -> None:
    key = f"test-upload-{uuid.uuid4()}"
    pdf = make_pdf("SK Kenaikan Pangkat", [key])
    with httpx.Client(base_url=sandbox.siasn_url, headers=sandbox.siasn_headers(), timeout=30) as c:
        first = _upload(c, pdf, key)
        assert first.status_code == 200
        again = [_upload(c, pdf, key) for _ in range(2)]  # new multipart boundary each time
        assert all(r.content == first.content for r in again)
        conflict = _upload(c, pdf + b"\n% changed", key)
        assert conflict.status_code == 409
        mine = [e for e in sandbox.received("upload-dok") if e["idempotency_key"] == key]
        assert len(mine) == 1 and mine[0]["replays"] == 2
        assert mine[0]["payload"]["sha256"] == hashlib.sha256(pdf).hexdigest()


@pytest.mark.integration
def test_corrupt_documents_per_request(sandbox: RunningSandbox) -> None:
    pdf = make_pdf("Pertek BKN", [str(uuid.uuid4())])
    with httpx.Client(base_url=sandbox.siasn_url, headers=sandbox.siasn_headers(), timeout=30) as c:
        uri = _upload(c, pdf, None).json()["data"]["dok_uri"]
        clean = c.get("/apisiasn/1.0/download-dok", params={"filePath": uri})
        assert clean.status_code == 200 and clean.content == pdf
        sandbox.set_faults({"corrupt_document_rate": 1.0})
        try:
            bad = c.get("/apisiasn/1.0/download-dok", params={"filePath": uri})
            sandbox.set_faults({"corrupt_document_rate": 0.5, "seed": 9})
            mixed = [
                c.get("/apisiasn/1.0/download-dok", params={"filePath": uri}).content
                for _ in range(60)
            ]
        finally:
            sandbox.set_faults({})
    assert bad.status_code == 200 and len(bad.content) == len(pdf) and bad.content != pdf
    assert hashlib.sha256(bad.content).hexdigest() != hashlib.sha256(pdf).hexdigest()
    n_bad = sum(m != pdf for m in mixed)
    assert 15 < n_bad < 45
