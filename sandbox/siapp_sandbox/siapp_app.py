"""SIAPP NV emulator (FastAPI): OAuth2 client credentials, ``/api/v1`` lists with cursor
pagination, document download, and the inbound endpoints the hub delivers to (F3, F4).

Built on the shared sandbox framework (:mod:`.common`: faults, idempotency, received log,
stats, ``/_sandbox`` controls) and the usulan world (:mod:`.usulan`). Errors follow OAuth2 /
clean-JSON style: ``{"error": "<code>", "error_description": "<text>"}``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from .common import (
    ORJSONBytes,
    SandboxState,
    get_state,
    install_sandbox,
    json_response,
    page_faults,
    record_received,
)
from .doc_faults import hidden_at_siapp, restored_by_receipt
from .doc_faults import install as install_doc_faults
from .documents import PDF_MEDIA_TYPE, sha256_hex
from .usulan import REF_PERTEK, REF_RALAT_PERTEK, UsulanError, UsulanWorld, attach, iso_ts

__all__ = [
    "API_PREFIX",
    "LIST_KINDS",
    "create_app",
    "decode_cursor",
    "dokumen_inventory",
    "encode_cursor",
    "siapp_auth",
]

API_PREFIX = "/api/v1"
LIST_KINDS = ("usulan", "verifikasi", "keppres", "pic")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


# --------------------------------------------------------------------------- helpers


def _err(status: int, code: str, description: str, headers: dict[str, str] | None = None) -> Any:
    return json_response({"error": code, "error_description": description}, status, headers)


class _ApiError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def _world(request: Request) -> UsulanWorld:
    state = get_state(request)
    w = attach(state)
    w.sync(state.day)
    return w


def encode_cursor(kind: str, updated_at: str, rec_id: str) -> str:
    """Opaque cursor: the (updated_at, id) position of the last record of a page."""
    raw = orjson.dumps({"k": kind, "u": updated_at, "i": rec_id})
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(kind: str, cursor: str) -> tuple[str, str]:
    """(updated_at, id) of a cursor made by :func:`encode_cursor` (ValueError when invalid)."""
    try:
        pad = "=" * (-len(cursor) % 4)
        obj = orjson.loads(base64.urlsafe_b64decode(cursor + pad))
        if obj["k"] != kind:
            raise ValueError("cursor belongs to another list")
        return str(obj["u"]), str(obj["i"])
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError("cursor is not valid") from exc


def dokumen_inventory(state: SandboxState) -> list[dict[str, Any]]:
    """Every document SIAPP NV holds, by (updated_at, id): the usulan documents of every version,
    the Keppres copies and the pertek / ralat pertek copies the hub delivered (inbound), less
    those a document fault lost (:mod:`.doc_faults`)."""
    w = attach(state)
    w.sync(state.day)
    hidden = hidden_at_siapp(state)
    rows: dict[str, dict[str, Any]] = {}
    with w.lock:
        for u in w.usulan.values():
            for v in u.versions:
                for d in v.dokumen:
                    rows.setdefault(
                        d.id,
                        {
                            "usulan_id": u.id,
                            "id": d.id,
                            "jenis": d.jenis,
                            "id_ref_dokumen": d.id_ref_dokumen,
                            "sha256": d.sha256,
                            "size": d.size,
                            "updated_at": iso_ts(v.created_day, 3600),
                        },
                    )
        for rec in w.records["keppres"].values():
            dok = rec.data["dokumen"]
            held = w.siapp_document(dok["id"])
            rows.setdefault(
                dok["id"],
                {
                    "usulan_id": rec.data["usulan_id"],
                    "id": dok["id"],
                    "jenis": dok["jenis"],
                    "id_ref_dokumen": held.id_ref_dokumen if held is not None else None,
                    "sha256": dok["sha256"],
                    "size": dok["size"],
                    "updated_at": rec.updated_at,
                },
            )
        for e in w.siapp_held:
            ref = REF_RALAT_PERTEK if e["kind"] == "RALAT_PERTEK" else REF_PERTEK
            rows.setdefault(
                e["id"],
                {
                    "usulan_id": e["usulan_id"],
                    "id": e["id"],
                    "jenis": e["kind"],
                    "id_ref_dokumen": ref,
                    "sha256": e["sha256"],
                    "size": e["size"],
                    "updated_at": iso_ts(e["day"], 7200),
                },
            )
    out = [r for r in rows.values() if r["id"] not in hidden]
    out.sort(key=lambda r: (r["updated_at"], r["id"]))
    return out


def _parse_since(text: str) -> str:
    """ISO 8601 date or datetime (naive = UTC) → canonical ``YYYY-MM-DDTHH:MM:SSZ``."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError as exc:
        raise ValueError("updated_since must be an ISO 8601 date or datetime") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _ApiError(400, "invalid_request", "body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise _ApiError(400, "invalid_request", "body must be a JSON object")
    return body


def _require(body: dict[str, Any], *fields: str) -> None:
    missing = [f for f in fields if body.get(f) in (None, "")]
    if missing:
        raise _ApiError(422, "invalid_request", "missing field(s): " + ", ".join(missing))


# --------------------------------------------------------------------------- auth


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    try:
        user, _, pw = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, pw


def siapp_auth(scope: dict[str, Any], state: SandboxState) -> Response | None:
    """Auth hook for :func:`~.common.install_sandbox`: ``/api/v1/**`` needs a live SIAPP bearer
    token; otherwise 401 ``invalid_token`` (before idempotency, so a 401 is never replayed)."""
    if not scope["path"].startswith(API_PREFIX):
        return None
    raw = next((v for k, v in scope["headers"] if k == b"authorization"), b"").decode("latin-1")
    parts = raw.split(None, 1)
    token = parts[1].strip() if len(parts) == 2 and parts[0].lower() == "bearer" else None
    why = state.tokens.check("siapp", token)
    if why is None:
        return None
    desc = {"missing": "missing bearer token", "expired": "token expired"}.get(why, "invalid token")
    return _err(401, "invalid_token", desc, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


# --------------------------------------------------------------------------- routes


def _routes(app: FastAPI) -> None:
    @app.exception_handler(_ApiError)
    async def _api_error(_request: Request, exc: _ApiError) -> Response:
        headers = (
            {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
        )
        return _err(exc.status, exc.code, exc.description, headers)

    @app.post("/oauth/token", tags=["auth"], summary="OAuth2 client credentials token")
    async def token(request: Request) -> Response:
        state = get_state(request)
        form = await request.form()
        grant = str(form.get("grant_type") or "")
        creds = _basic_credentials(request) or (
            str(form.get("client_id") or ""),
            str(form.get("client_secret") or ""),
        )
        if grant != "client_credentials":
            return _err(400, "unsupported_grant_type", "grant_type must be client_credentials")
        c = state.credentials
        ok = hmac.compare_digest(creds[0], c.siapp_client_id) and hmac.compare_digest(
            creds[1], c.siapp_client_secret
        )
        if not ok:
            return _err(401, "invalid_client", "client authentication failed")
        tok, ttl = state.tokens.issue("siapp")
        return json_response({"access_token": tok, "token_type": "Bearer", "expires_in": ttl})

    api = APIRouter(prefix=API_PREFIX)

    for kind in LIST_KINDS:
        _add_list_route(api, kind)

    @api.get("/dokumen", tags=["dokumen"], summary="Inventory of every document SIAPP NV holds")
    async def dokumen_list(
        request: Request, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Response:
        if not 1 <= limit <= MAX_LIMIT:
            raise _ApiError(400, "invalid_request", f"limit must be within 1..{MAX_LIMIT}")
        try:
            after = decode_cursor("dokumen", cursor) if cursor else None
        except ValueError as exc:
            raise _ApiError(400, "invalid_request", str(exc)) from exc
        state: SandboxState = get_state(request)
        page, prev, nxt = _cursor_page("dokumen", dokumen_inventory(state), after, limit)
        data = page_faults(state, page, prev, key=f"dokumen:{cursor or ''}")
        return json_response({"data": data, "next_cursor": nxt})

    @api.get("/dokumen/{dok_id}", tags=["dokumen"], summary="Download a document (PDF)")
    async def dokumen(dok_id: str, request: Request) -> Response:
        doc = _world(request).siapp_document(dok_id)
        if doc is not None and doc.id in hidden_at_siapp(get_state(request)):
            doc = None  # lost by a document fault (doc_faults.source_missing)
        if doc is None:
            raise _ApiError(404, "not_found", "document not found")
        data = doc.spec.bytes()
        return Response(
            data,
            media_type=PDF_MEDIA_TYPE,
            headers={
                "X-Checksum-SHA256": doc.sha256,
                "Content-Disposition": f'attachment; filename="{doc.id}.pdf"',
            },
        )

    @api.post("/inbound/status-usulan", tags=["inbound"], summary="BKN verification status (F3)")
    async def inbound_status(request: Request) -> Response:
        body = await _json_body(request)
        _require(body, "usulan_id", "status_bkn")
        w = _world(request)
        try:
            iid = w.siapp_receive_status(body)
        except UsulanError as exc:
            code = "not_found" if exc.status == 404 else "invalid_request"
            raise _ApiError(exc.status, code, exc.message) from exc
        await record_received(request, "inbound.status-usulan", body)
        return json_response({"status": "accepted", "id": iid})

    async def _pertek(request: Request, ralat: bool) -> Response:
        kind = "ralat-pertek" if ralat else "pertek"
        form = await request.form()
        upload = form.get("file")
        meta_raw = form.get("metadata")
        if not isinstance(upload, UploadFile) or meta_raw is None:
            raise _ApiError(422, "invalid_request", "multipart fields 'file' and 'metadata'")
        try:
            meta = orjson.loads(meta_raw if isinstance(meta_raw, str) else await meta_raw.read())
        except orjson.JSONDecodeError as exc:
            raise _ApiError(422, "invalid_request", "metadata must be a JSON object") from exc
        if not isinstance(meta, dict):
            raise _ApiError(422, "invalid_request", "metadata must be a JSON object")
        nomor = "no_ralat_pertek" if ralat else "no_pertek"
        _require(meta, "usulan_id", nomor)
        data = await upload.read()
        sha = sha256_hex(data)
        claimed = str(meta.get("sha256") or "").lower()
        if claimed and claimed != sha:
            raise _ApiError(422, "checksum_mismatch", "sha256 of file does not match metadata")
        w = _world(request)
        try:
            iid = w.siapp_receive_pertek(meta, data, ralat=ralat)
        except UsulanError as exc:
            raise _ApiError(exc.status, "not_found", exc.message) from exc
        restored_by_receipt(
            get_state(request), str(meta["usulan_id"]), kind.upper().replace("-", "_"), sha
        )
        payload = {"metadata": meta, "sha256": sha, "size": len(data)}
        await record_received(request, f"inbound.{kind}", payload)
        return json_response({"status": "accepted", "id": iid})

    @api.post("/inbound/pertek", tags=["inbound"], summary="Pertek PDF + metadata (F4)")
    async def inbound_pertek(request: Request) -> Response:
        return await _pertek(request, ralat=False)

    @api.post("/inbound/ralat-pertek", tags=["inbound"], summary="Ralat pertek PDF (F4)")
    async def inbound_ralat(request: Request) -> Response:
        return await _pertek(request, ralat=True)

    @api.post("/inbound/penolakan", tags=["inbound"], summary="Usulan refused by the hub")
    async def inbound_penolakan(request: Request) -> Response:
        body = await _json_body(request)
        _require(body, "usulan_id", "alasan_kode")
        w = _world(request)
        try:
            iid = w.siapp_receive_penolakan(body)
        except UsulanError as exc:
            raise _ApiError(exc.status, "not_found", exc.message) from exc
        await record_received(request, "inbound.penolakan", body)
        return json_response({"status": "accepted", "id": iid})

    app.include_router(api)


def _cursor_page(
    kind: str, rows: list[dict[str, Any]], after: Any, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, str | None]:
    """(page, previous page or None, next cursor) of ``rows`` ordered by (updated_at, id)."""
    pos = 0
    if after is not None:
        pos = next((n for n, r in enumerate(rows) if (r["updated_at"], r["id"]) > after), len(rows))
    page = rows[pos : pos + limit]
    more = pos + limit < len(rows)
    nxt = encode_cursor(kind, page[-1]["updated_at"], page[-1]["id"]) if more else None
    return page, (rows[max(0, pos - limit) : pos] if pos else None), nxt


def _add_list_route(api: APIRouter, kind: str) -> None:
    async def list_records(
        request: Request,
        updated_since: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Response:
        if not 1 <= limit <= MAX_LIMIT:
            raise _ApiError(400, "invalid_request", f"limit must be within 1..{MAX_LIMIT}")
        try:
            since = _parse_since(updated_since) if updated_since else ""
            after = decode_cursor(kind, cursor) if cursor else None
        except ValueError as exc:
            raise _ApiError(400, "invalid_request", str(exc)) from exc
        rows = [r for r in _world(request).siapp_list(kind) if r["updated_at"] >= since]
        page, prev, next_cursor = _cursor_page(kind, rows, after, limit)
        state: SandboxState = get_state(request)
        data = page_faults(state, page, prev, key=f"{kind}:{cursor or ''}:{since}")
        return json_response({"data": data, "next_cursor": next_cursor})

    list_records.__name__ = f"list_{kind}"
    api.add_api_route(
        f"/{kind}",
        list_records,
        methods=["GET"],
        tags=[kind],
        summary=f"List {kind} changed since updated_since (cursor pagination)",
    )


def create_app(state: SandboxState) -> FastAPI:
    """The SIAPP NV app bound to ``state`` (shared with the SIASN app of the same sandbox)."""
    app = FastAPI(
        title="SIAPP NV (sandbox)",
        version="1.0",
        description="Emulated SIAPP NV API of Kemensetneg (see docs/CONTRACT.md).",
        default_response_class=ORJSONBytes,
    )
    _routes(app)
    attach(state)
    install_doc_faults(state)
    install_sandbox(app, state, app_name="siapp", malform_skip=("/oauth",), auth=siapp_auth)
    return app
