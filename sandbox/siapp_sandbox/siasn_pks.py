"""SIASN endpoints of the PKS for usulan and documents (F3–F8), included by ``siasn_app``.

All routes live under ``/apisiasn/1.0``; the SIASN app's auth hook (:func:`.siasn_app.siasn_auth`)
demands both tokens there, and the sandbox middleware gives every POST Idempotency-Key replay.
Shapes follow SIASN: success ``{"code": 1, "data": ...}``, empty/unknown ``404 {"code": 0, "data":
"Data tidak ditemukan"}``, errors ``{"Error": ..., "Message": ...}``, strings everywhere, dates
``dd-mm-yyyy``, snake_case bodies of our PKS endpoints.

``install(app, state)`` attaches the usulan world to the state (truth endpoints, clock hook) and
includes :data:`router`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from . import refdata
from .common import (
    SandboxState,
    envelope,
    error_response,
    get_state,
    json_response,
    not_found,
    page_faults,
    parse_dmy,
    record_received,
)
from .documents import PDF_MEDIA_TYPE
from .usulan import EPOCH, JENIS, REF_SK, SiasnDoc, UsulanError, UsulanWorld, attach

__all__ = ["PREFIX", "install", "router"]

PREFIX = "/apisiasn/1.0"
MAX_LIMIT = 500

router = APIRouter(prefix=PREFIX, tags=["pks"])


class _SiasnError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _bad(message: str) -> _SiasnError:
    return _SiasnError(400, message)


def _world(request: Request) -> UsulanWorld:
    state = get_state(request)
    w = attach(state)
    w.sync(state.day)
    return w


def _error(exc: _SiasnError | UsulanError) -> Response:
    short = {400: "Bad Request", 404: "Not Found", 409: "Conflict"}.get(exc.status, "Error")
    return error_response(exc.status, short, exc.message)


async def _json(request: Request, required: tuple[str, ...]) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad("Body harus JSON") from exc
    if not isinstance(body, dict):
        raise _bad("Body harus objek JSON")
    missing = [f for f in required if body.get(f) in (None, "", [])]
    if missing:
        raise _bad("Field wajib tidak ada: " + ", ".join(missing))
    return body


def _int_query(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        v = int(raw)
    except ValueError as exc:
        raise _bad(f"{name} harus bilangan bulat") from exc
    if not lo <= v <= hi:
        raise _bad(f"{name} harus di antara {lo} dan {hi}")
    return v


def _page(
    request: Request, rows: list[dict[str, Any]], key: str, offset: int, limit: int
) -> Response:
    page = rows[offset : offset + limit]
    if not page:
        return not_found()
    prev = rows[max(0, offset - limit) : offset] if offset else None
    data = page_faults(get_state(request), page, prev, key=f"{key}:{offset}:{limit}")
    return json_response({"code": 1, "data": {"total": str(len(rows)), "list": data}})


def _doc_data(doc: SiasnDoc) -> dict[str, Any]:
    return {
        "dok_id": doc.dok_id,
        "dok_nama": doc.nama,
        "dok_uri": doc.dok_uri,
        "object": doc.dok_uri,
        "slug": doc.id_ref_dokumen,
    }


async def _form_file(
    request: Request, fields: tuple[str, ...]
) -> tuple[bytes, str, dict[str, str]]:
    try:
        form = await request.form()
    except Exception as exc:  # malformed multipart
        raise _bad("Body harus multipart/form-data") from exc
    upload = form.get("file")
    values = {f: str(form.get(f) or "") for f in fields}
    missing = [f for f in fields if not values[f]]
    if not isinstance(upload, UploadFile):
        missing.insert(0, "file")
    if missing:
        raise _bad("Field wajib tidak ada: " + ", ".join(missing))
    assert isinstance(upload, UploadFile)
    data = await upload.read()
    if not data:
        raise _bad("File kosong")
    return data, upload.filename or "dokumen.pdf", values


# --------------------------------------------------------------------------- POST (F5–F8)


@router.post("/siapp/usulan", summary="Receive a usulan version from SIAPP NV (F5)")
async def post_usulan(request: Request) -> Response:
    try:
        body = await _json(
            request,
            ("id_usulan_siapp", "nip", "jenis_usulan", "kategori_jabatan", "versi", "dokumen"),
        )
        if str(body["jenis_usulan"]) not in JENIS:
            raise _bad("jenis_usulan harus salah satu dari " + ", ".join(JENIS))
        result = _world(request).siasn_receive_usulan(body)
    except (_SiasnError, UsulanError) as exc:
        return _error(exc)
    await record_received(request, "siapp.usulan", body)
    return envelope(result)


@router.post("/siapp/verifikasi-setneg", summary="Receive Setneg's verification result (F6)")
async def post_verifikasi(request: Request) -> Response:
    try:
        body = await _json(request, ("id_verifikasi_siapp", "id_usulan_siapp", "versi", "hasil"))
        if str(body["hasil"]) not in ("DISETUJUI", "DITOLAK"):
            raise _bad("hasil harus DISETUJUI atau DITOLAK")
        result = _world(request).siasn_receive_verifikasi(body)
    except (_SiasnError, UsulanError) as exc:
        return _error(exc)
    await record_received(request, "siapp.verifikasi-setneg", body)
    return envelope(result)


@router.post("/siapp/keppres", summary="Receive an issued Keppres (F7)")
async def post_keppres(request: Request) -> Response:
    try:
        body = await _json(
            request,
            (
                "id_keppres_siapp",
                "id_usulan_siapp",
                "nip",
                "no_keppres",
                "tgl_keppres",
                "tmt",
                "dokumen",
            ),
        )
        for f in ("tgl_keppres", "tmt"):
            try:
                if parse_dmy(str(body[f])) is None:
                    raise ValueError
            except ValueError as exc:
                raise _bad(f"{f} harus dd-mm-yyyy") from exc
        result = _world(request).siasn_receive_keppres(body)
    except (_SiasnError, UsulanError) as exc:
        return _error(exc)
    await record_received(request, "siapp.keppres", body)
    return envelope(result)


@router.post("/siapp/pic", summary="Receive a PIC Instansi grant or revoke (F8)")
async def post_pic(request: Request) -> Response:
    try:
        body = await _json(request, ("id_pic_siapp", "nip", "instansi_id", "aksi"))
        if str(body["aksi"]) not in ("GRANT", "REVOKE"):
            raise _bad("aksi harus GRANT atau REVOKE")
        w = _world(request)
        if w.employees.profile(str(body["nip"]), w.day) is None:
            raise _bad("nip tidak ditemukan")
        result = w.siasn_receive_pic(body)
    except (_SiasnError, UsulanError) as exc:
        return _error(exc)
    await record_received(request, "siapp.pic", body)
    return envelope(result)


# --------------------------------------------------------------------------- lists (F3/F4, F7)


@router.get("/siapp/status-usulan", summary="BKN verification status, pertek, ralat (F3/F4)")
async def status_usulan(request: Request) -> Response:
    try:
        since_raw = request.query_params.get("updatedSince") or ""
        try:
            since = parse_dmy(since_raw) if since_raw else None
        except ValueError as exc:
            raise _bad("updatedSince harus dd-mm-yyyy") from exc
        limit = _int_query(request, "limit", 100, 1, MAX_LIMIT)
        offset = _int_query(request, "offset", 0, 0, 10**9)
    except _SiasnError as exc:
        return _error(exc)
    w = _world(request)
    since_day = (since - EPOCH).days if since else None
    rows = []
    for r in w.siasn_status_rows():
        day = r.pop("_day")
        if since_day is None or day >= since_day:
            rows.append(r)
    return _page(request, rows, f"status:{since_raw}", offset, limit)


@router.get("/siapp/dokumen", summary="Documents SIASN holds for SIAPP usulan (reconciliation)")
async def dokumen_list(request: Request) -> Response:
    try:
        limit = _int_query(request, "limit", 100, 1, MAX_LIMIT)
        offset = _int_query(request, "offset", 0, 0, 10**9)
    except _SiasnError as exc:
        return _error(exc)
    ref = request.query_params.get("idUsulan") or None
    rows = _world(request).siasn_documents(ref)
    return _page(request, rows, f"dokumen:{ref or ''}", offset, limit)


# --------------------------------------------------------------------------- documents


@router.post("/upload-dok", summary="Upload a document (multipart file, id_ref_dokumen)")
async def upload_dok(request: Request) -> Response:
    try:
        data, name, values = await _form_file(request, ("id_ref_dokumen",))
        if values["id_ref_dokumen"] not in refdata.REF_DOKUMEN:
            raise _bad("id_ref_dokumen tidak dikenal")
        # Document-fault hook (doc_faults.py, the reconciliation's repair): re-uploading the
        # original bytes of a copy a fault lost or damaged restores that copy (same dok_id/uri).
        from .doc_faults import restore_upload

        doc = restore_upload(get_state(request), data, values["id_ref_dokumen"])
        doc = doc or _world(request).siasn_upload(data, values["id_ref_dokumen"], name)
    except (_SiasnError, UsulanError) as exc:
        return _error(exc)
    await record_received(
        request,
        "upload-dok",
        {**values, "dok_id": doc.dok_id, "sha256": doc.sha256, "size": doc.size},
    )
    return envelope(_doc_data(doc))


@router.post("/upload-dok-sk-kp", summary="Upload the SK (Keppres) of a usulan")
async def upload_dok_sk_kp(request: Request) -> Response:
    try:
        data, name, values = await _form_file(request, ("id_usulan", "no_sk", "tgl_sk"))
        try:
            if parse_dmy(values["tgl_sk"]) is None:
                raise ValueError
        except ValueError as exc:
            raise _bad("tgl_sk harus dd-mm-yyyy") from exc
        sk = {"no_sk": values["no_sk"], "tgl_sk": values["tgl_sk"]}
        doc = _world(request).siasn_upload(data, REF_SK, name, sk_for=values["id_usulan"], sk=sk)
    except (_SiasnError, UsulanError) as exc:
        return _error(exc)
    await record_received(
        request,
        "upload-dok-sk-kp",
        {**values, "dok_id": doc.dok_id, "sha256": doc.sha256, "size": doc.size},
    )
    return envelope(_doc_data(doc))


@router.get("/download-dok", summary="Download a document by its path")
async def download_dok(request: Request) -> Response:
    path = (request.query_params.get("filePath") or "").strip()
    if not path:
        return error_response(400, "Bad Request", "filePath wajib diisi")
    doc = _world(request).siasn_file(path)
    if doc is not None:
        data = doc.bytes()
    else:
        held = get_state(request).documents.get(path.lstrip("/"))
        if held is None:
            return not_found()
        data = held[0]
    return Response(data, media_type=PDF_MEDIA_TYPE)


# --------------------------------------------------------------------------- wiring


def install(app: FastAPI, state: SandboxState) -> None:
    """Attach the usulan world to ``state`` and include :data:`router` in the SIASN ``app``."""
    attach(state)
    app.include_router(router)
