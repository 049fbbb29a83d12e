"""The SIASN emulator (FastAPI): tokens, employee data, reference data, PKS enumeration.

``create_app(state)`` builds the app. Auth (CONTRACT.md) is enforced by :func:`siasn_auth`,
which the sandbox middleware calls for every request after fault injection and before
idempotency: ``/apisiasn/**`` needs the gateway token (``Authorization: Bearer``) and the SSO
token (``Auth: bearer``), ``/referensi_siasn/**`` the gateway token only. Routers added later
under those prefixes (the PKS usulan/dokumen endpoints of ``siasn_pks``) are protected the same
way without doing anything.

The PKS POST/document endpoints live in ``siapp_sandbox.siasn_pks`` (the SIAPP side of the
sandbox). ``create_app`` includes them when that module is importable: it calls
``siasn_pks.install(app, state)`` if defined, else ``app.include_router(siasn_pks.router)``.

Rendering (:func:`raw_data_utama` and friends) turns the typed world records into SIASN's wire
shape: every value a string, ``dd-mm-yyyy`` dates, null spelled ``01-01-0001`` / ``""`` /
``"undefined"`` / ``"null"`` / JSON null (chosen per record and field by a stable hash), ``M``/``F``
sometimes lower case, ``gelarBlk`` instead of ``gelarBelakang`` in some records, extra fields
(``tmtEselon``, ``isValidNik``, ``status_cpns_pns``, ``path`` = ``{"": ""}``). Same seed and day
-> byte-identical bodies.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import importlib.util
from collections import OrderedDict
from datetime import date
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from . import refdata
from .common import (
    SandboxState,
    error_response,
    fmt_dmy,
    install_sandbox,
    json_response,
    not_found,
    page_faults,
    parse_dmy,
)
from .world import World, date_to_day, day_to_date

__all__ = [
    "PKS_PREFIX",
    "create_app",
    "raw_anak",
    "raw_data_utama",
    "raw_ortu",
    "raw_pasangan",
    "raw_rw_golongan",
    "siasn_auth",
]

API = "/apisiasn/1.0"
PKS_PREFIX = f"{API}/siapp"
GATEWAY_TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path
SSO_TOKEN_PATH = "/auth/realms/public-siasn/protocol/openid-connect/token"  # noqa: S105
MAX_LIMIT = 5000
_NULLS: tuple[Any, ...] = ("", "undefined", "null", None)
_DATE_KEYS = frozenset(
    {"tglLahir", "tmtJabatan", "tmtGolAkhir", "tmtCpns", "tmtPns", "tmtPensiun", "tmtEselon"}
)


# ============================================================================ rendering
def _null(w: World, i: int, key: str, is_date: bool) -> Any:
    hv = w.hash64(i, "null", key)
    if is_date:
        return "01-01-0001" if hv % 5 else ""
    return _NULLS[hv % len(_NULLS)]


def _s(w: World, i: int, key: str, v: Any) -> Any:
    """Typed value -> SIASN wire value."""
    if v is None:
        return _null(w, i, key, key in _DATE_KEYS or key.startswith(("tgl", "tmt", "tggl")))
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, date):
        return fmt_dmy(v)
    return str(v)


def raw_data_utama(w: World, i: int, day: int) -> dict[str, Any]:
    """data-utama ``data`` object as SIASN serves it."""
    rec = w.record(i, day)
    out: dict[str, Any] = {}
    gelar_key = "gelarBlk" if w.hash64(i, "q", "gelarBlk") % 4 == 0 else "gelarBelakang"
    lower_jk = w.hash64(i, "q", "jk") % 10 == 0
    for k, v in rec.items():
        if k == "gelarBelakang":
            out[gelar_key] = _s(w, i, k, v)
        elif k == "jenisKelamin":
            out[k] = v.lower() if lower_jk else v
        else:
            out[k] = _s(w, i, k, v)
    out["tmtEselon"] = fmt_dmy(rec["tmtJabatan"]) if rec["eselonId"] else "01-01-0001"
    out["isValidNik"] = "true" if w.hash64(i, "q", "nik") % 20 else "false"
    out["status_cpns_pns"] = "P" if rec["statusPegawai"] == "PNS" else "C"
    out["path"] = {"": ""}
    return out


def _raw_orang(w: World, i: int, o: dict[str, Any], tag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in o.items():
        if k == "StatusHidup":
            out[k] = "1" if v else "0"
        elif k == "jenisKelamin" or v is not None:
            out[k] = _s(w, i, k, v)
        else:
            out[k] = _null(w, i, f"{tag}:{k}", k.startswith("tgl"))
    return out


def raw_pasangan(w: World, i: int, day: int) -> list[dict[str, Any]]:
    """``listPasangan`` as SIASN serves it (may be empty)."""
    out = []
    for n, sp in enumerate(w.pasangan(i, day)):
        dp = sp["dataPernikahan"]
        out.append(
            {
                "orang": _raw_orang(w, i, sp["orang"], f"sp{n}"),
                "statusNikah": str(sp["statusNikah"]),
                "dataPernikahan": {
                    "tgglMenikah": fmt_dmy(dp["tgglMenikah"]),
                    "aktaMenikah": dp["aktaMenikah"] or "",
                    "tgglCerai": fmt_dmy(dp["tgglCerai"]),
                    "aktaCerai": dp["aktaCerai"] or "",
                    "isPns": "true" if dp["isPns"] else "false",
                    "posisi": str(dp["posisi"]),
                },
            }
        )
    return out


def raw_anak(w: World, i: int, day: int) -> list[dict[str, Any]]:
    """``listAnak`` as SIASN serves it (may be empty)."""
    out = []
    for n, ch in enumerate(w.anak(i, day)):
        o = _raw_orang(w, i, ch, f"ch{n}")
        o["statusAnak"] = str(ch["statusAnak"])
        o["orangTuaId"] = ch["orangTuaId"] or ""
        out.append(o)
    return out


def raw_ortu(w: World, i: int, day: int) -> dict[str, Any]:
    """``{"ayah": ..., "ibu": ...}`` as SIASN serves it (a missing parent is null)."""
    o = w.ortu(i, day)
    return {
        "ayah": _raw_orang(w, i, o["ayah"], "ayah") if o["ayah"] else None,
        "ibu": _raw_orang(w, i, o["ibu"], "ibu") if o["ibu"] else None,
    }


def raw_rw_golongan(w: World, i: int, day: int) -> list[dict[str, Any]]:
    """rw-golongan rows as SIASN serves them, oldest first."""
    out = []
    for row in w.rw_golongan(i, day):
        r: dict[str, Any] = {}
        for k, v in row.items():
            if v is None:
                r[k] = "01-01-0001" if k.startswith(("tgl", "tmt", "sk")) and k != "skNomor" else ""
            else:
                r[k] = _s(w, i, k, v)
        out.append(r)
    return out


# ============================================================================ auth
def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    parts = value.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1].strip()


def _unauthorized(message: str) -> Response:
    return error_response(
        401, "Unauthorized", message, {"WWW-Authenticate": 'Bearer realm="siasn"'}
    )


def siasn_auth(scope: dict[str, Any], state: SandboxState) -> Response | None:
    """401 response if the request lacks the tokens its path needs, else None."""
    path: str = scope["path"]
    if path.startswith(API):
        need_sso = True
    elif path.startswith("/referensi_siasn"):
        need_sso = False
    else:
        return None
    headers = {k: v for k, v in scope["headers"] if k in (b"authorization", b"auth")}
    gw = headers.get(b"authorization")
    why = state.tokens.check("gateway", _bearer(gw.decode("latin-1")) if gw else None)
    if why:
        return _unauthorized(f"Gateway token (Authorization: Bearer) {why}")
    if need_sso:
        sso = headers.get(b"auth")
        why = state.tokens.check("sso", _bearer(sso.decode("latin-1")) if sso else None)
        if why:
            return _unauthorized(f"SSO token (Auth: bearer) {why}")
    return None


# ============================================================================ app
class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.d: OrderedDict[Any, bytes] = OrderedDict()

    def get(self, key: Any) -> bytes | None:
        v = self.d.get(key)
        if v is not None:
            self.d.move_to_end(key)
        return v

    def put(self, key: Any, value: bytes) -> None:
        self.d[key] = value
        if len(self.d) > self.size:
            self.d.popitem(last=False)


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int | Response:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        return error_response(400, "Bad Request", f"{name}: expected an integer")
    if not lo <= v <= hi:
        return error_response(400, "Bad Request", f"{name}: must be within {lo}..{hi}")
    return v


def create_app(state: SandboxState, cache_size: int = 20_000) -> FastAPI:
    """The SIASN app over ``state`` (see the module docstring)."""
    app = FastAPI(
        title="SIASN sandbox",
        version="1.0",
        description="Emulator of the SIASN API (BKN) for the SIAPP NV integration hub.",
    )
    w = state.world
    cache = _LRU(cache_size)

    def _ok(data: Any) -> bytes:
        return orjson.dumps({"code": 1, "data": data})

    def employee(kind: str, nip: str, build: Any) -> Response:
        i = w.index_of(nip)
        if i is None:
            return not_found()
        d = state.day
        key = (kind, i, d, w.overlay_version(i))
        body = cache.get(key)
        if body is None:
            data = build(i, d)
            body = b"" if data is None else _ok(data)
            cache.put(key, body)
        if not body:
            return not_found()
        return Response(body, media_type="application/json")

    # ------------------------------------------------------------------ tokens
    @app.post(GATEWAY_TOKEN_PATH, tags=["auth"])
    async def gateway_token(request: Request) -> Response:
        """WSO2 client_credentials grant (HTTP Basic client id and secret)."""
        form = await request.form()
        cid = secret = None
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(basic[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                cid = secret = None
        if cid is None:
            cid, secret = form.get("client_id"), form.get("client_secret")
        c = state.credentials
        if form.get("grant_type") != "client_credentials":
            return json_response(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"},
                400,
            )
        if cid != c.siasn_client_id or secret != c.siasn_client_secret:
            return json_response(
                {"error": "invalid_client", "error_description": "Client Authentication failed."},
                401,
            )
        tok, ttl = state.tokens.issue("gateway")
        return json_response(
            {"access_token": tok, "scope": "default", "token_type": "Bearer", "expires_in": ttl}
        )

    @app.post(SSO_TOKEN_PATH, tags=["auth"])
    async def sso_token(request: Request) -> Response:
        """Keycloak password grant (public client, no secret); refresh_token grant too."""
        form = await request.form()
        c = state.credentials
        grant = form.get("grant_type")
        if form.get("client_id") != c.sso_client_id:
            return json_response(
                {"error": "unauthorized_client", "error_description": "Invalid client"}, 401
            )
        if grant == "password":
            if form.get("username") != c.sso_username or form.get("password") != c.sso_password:
                return json_response(
                    {"error": "invalid_grant", "error_description": "Invalid user credentials"},
                    401,
                )
        elif grant == "refresh_token":
            if state.tokens.check("sso_refresh", str(form.get("refresh_token") or "")):
                return json_response(
                    {"error": "invalid_grant", "error_description": "Invalid refresh token"}, 400
                )
        else:
            return json_response(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant"},
                400,
            )
        tok, ttl = state.tokens.issue("sso")
        refresh, rttl = state.tokens.issue("sso_refresh", 2 * state.faults.sso_token_ttl_s)
        return json_response(
            {
                "access_token": tok,
                "expires_in": ttl,
                "refresh_expires_in": rttl,
                "refresh_token": refresh,
                "token_type": "Bearer",
                "not-before-policy": 0,
                "session_state": refdata.guid("session", tok).lower(),
                "scope": "profile email",
            }
        )

    # ------------------------------------------------------------------ employees
    @app.get(f"{API}/pns/data-utama/{{nipBaru}}", tags=["pns"])
    async def data_utama(nipBaru: str) -> Response:
        """Main data of one PNS (404 envelope for an unknown NIP)."""
        return employee("utama", nipBaru, lambda i, d: raw_data_utama(w, i, d))

    @app.get(f"{API}/pns/data-pasangan/{{nipBaru}}", tags=["pns"])
    async def data_pasangan(nipBaru: str) -> Response:
        """Spouses (404 when there is none)."""

        def build(i: int, d: int) -> Any:
            lst = raw_pasangan(w, i, d)
            return {"listPasangan": lst} if lst else None

        return employee("pasangan", nipBaru, build)

    @app.get(f"{API}/pns/data-anak/{{nipBaru}}", tags=["pns"])
    async def data_anak(nipBaru: str) -> Response:
        """Children (404 when there is none)."""

        def build(i: int, d: int) -> Any:
            lst = raw_anak(w, i, d)
            return {"listAnak": lst} if lst else None

        return employee("anak", nipBaru, build)

    @app.get(f"{API}/pns/data-ortu/{{nipBaru}}", tags=["pns"])
    async def data_ortu(nipBaru: str) -> Response:
        """Parents (a missing parent is null; 404 when both are missing)."""

        def build(i: int, d: int) -> Any:
            o = raw_ortu(w, i, d)
            return o if (o["ayah"] or o["ibu"]) else None

        return employee("ortu", nipBaru, build)

    @app.get(f"{API}/pns/rw-golongan/{{nipBaru}}", tags=["pns"])
    async def rw_golongan(nipBaru: str) -> Response:
        """Golongan history, oldest first."""
        return employee("rwgol", nipBaru, lambda i, d: raw_rw_golongan(w, i, d) or None)

    # ------------------------------------------------------------------ reference data
    @app.get("/referensi_siasn/1/{ref}/search", tags=["referensi"])
    async def referensi(ref: str, request: Request) -> Response:
        """Reference table page ``{"results": [...]}`` (no envelope; gateway token only)."""
        rows = refdata.referensi(ref)
        if rows is None:
            return not_found()
        limit = _int_param(request, "limit", 100, 1, MAX_LIMIT)
        if isinstance(limit, Response):
            return limit
        offset = _int_param(request, "offset", 0, 0, 10**9)
        if isinstance(offset, Response):
            return offset
        nama = request.query_params.get("nama")
        if nama:
            rows = [r for r in rows if nama.lower() in r["nama"].lower()]
        page = rows[offset : offset + limit]
        prev = rows[max(0, offset - limit) : offset]
        page = page_faults(state, page, prev, key=f"{ref}:{offset}:{limit}")
        return json_response({"results": page})

    # ------------------------------------------------------------------ PKS enumeration
    @app.get(f"{PKS_PREFIX}/asn", tags=["pks"])
    async def enumerate_asn(request: Request) -> Response:
        """ASN golongan >= IV/b: full sweep, or changed since ``updatedSince`` (dd-mm-yyyy)."""
        limit = _int_param(request, "limit", 100, 1, MAX_LIMIT)
        if isinstance(limit, Response):
            return limit
        offset = _int_param(request, "offset", 0, 0, 10**9)
        if isinstance(offset, Response):
            return offset
        since_raw = request.query_params.get("updatedSince")
        since: int | None = None
        if since_raw:
            try:
                sd = parse_dmy(since_raw)
            except ValueError:
                return error_response(400, "Bad Request", "updatedSince: expected dd-mm-yyyy")
            since = date_to_day(sd) if sd else None
        d = state.day
        idx, upd = w.enumerate_asn(d, since)
        total = int(idx.size)
        lo, hi = offset, min(total, offset + limit)
        if lo >= hi:
            return not_found()
        sel = idx[max(0, lo - limit) : hi]
        gol = w.golongan(d)[sel].tolist()
        ked = w.kedudukan(d)[sel].tolist()
        nips = w.nips(sel).tolist()
        updd = upd[max(0, lo - limit) : hi].tolist()
        items = [
            {
                "nipBaru": f"{nips[p]:018d}",
                "golRuangAkhirId": str(gol[p]),
                "kedudukanPnsId": f"{ked[p]:02d}",
                "updated": fmt_dmy(day_to_date(updd[p])),
            }
            for p in range(len(sel))
        ]
        cut = lo - max(0, lo - limit)
        page = page_faults(state, items[cut:], items[:cut], key=f"asn:{since_raw}:{offset}")
        return json_response({"code": 1, "data": {"total": str(total), "list": page}})

    _include_pks(app, state)
    install_sandbox(app, state, "siasn", auth=siasn_auth)
    return app


def _include_pks(app: FastAPI, state: SandboxState) -> None:
    """Include the SIAPP-side PKS routes (``siasn_pks``) when that module exists."""
    if importlib.util.find_spec(f"{__package__}.siasn_pks") is None:
        return
    siasn_pks = importlib.import_module(f"{__package__}.siasn_pks")
    install = getattr(siasn_pks, "install", None)
    if callable(install):
        install(app, state)
    elif getattr(siasn_pks, "router", None) is not None:
        app.include_router(siasn_pks.router)
