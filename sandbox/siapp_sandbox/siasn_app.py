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
shape with exactly the fields of the contract (``include/contract/siasn.json``, BKN's swagger):
strings except the swagger integers (``bupPensiun``, ``mkTahun``, ``mkBulan``,
``dataPernikahan.posisi``) and booleans (``dataPernikahan.isPns``, ``validNik``), ``dd-mm-yyyy``
dates, null spelled ``01-01-0001`` / ``""`` / ``"undefined"`` / ``"null"`` / JSON null (chosen per
record and field by a stable hash), ``M``/``F`` sometimes lower case, ``gelarBlk`` for
``gelarBelakang`` and ``StatusHidup``/``JenisKawinId`` for a spouse's ``statusHidup``/
``jenisKawinId`` in some records, ``path`` = ``{ref-dokumen id: {dok_id, dok_nama, dok_uri,
object, slug}}``. Reads use the ``model.Result`` envelope ``{"code", "count", "data",
"message"}``. Same seed and day -> byte-identical bodies.
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
    not_found_result,
    page_faults,
    parse_dmy,
    result_body,
)
from .world import World, date_to_day, day_to_date, rw_golongan_doc

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
#: data-utama fields SIASN types as integers (swagger); every other scalar is a string
_INT_KEYS = frozenset({"bupPensiun", "mkTahun", "mkBulan"})


# ============================================================================ rendering
def _null(w: World, i: int, key: str, is_date: bool) -> Any:
    hv = w.hash64(i, "null", key)
    if is_date:
        return "01-01-0001" if hv % 5 else ""
    return _NULLS[hv % len(_NULLS)]


def _is_date_key(key: str) -> bool:
    return key in _DATE_KEYS or key.startswith(("tgl", "tmt", "tggl"))


def _s(w: World, i: int, key: str, v: Any) -> Any:
    """Typed value -> SIASN wire value (a string; null forms for None)."""
    if v is None:
        return _null(w, i, key, _is_date_key(key))
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, date):
        return fmt_dmy(v)
    return str(v)


def _docs(stems: dict[str, tuple[str, str]], folder: str) -> dict[str, dict[str, str]]:
    """``path`` JSON: ref-dokumen id -> ``{dok_id, dok_nama, dok_uri, object, slug}``."""
    out = {}
    for dok_id, (name, stem) in stems.items():
        uri = f"{folder}/{stem}.pdf"
        out[dok_id] = {
            "dok_id": dok_id,
            "dok_nama": name,
            "dok_uri": uri,
            "object": uri,
            "slug": dok_id,
        }
    return out


def raw_data_utama(w: World, i: int, day: int) -> dict[str, Any]:
    """data-utama ``data`` object as SIASN serves it: every field of ``pns.DataUtamaResponse``
    plus ``validNik``, ``path``, ``tglSpmt``."""
    rec = w.record(i, day)
    extra = w.record_extra(i, day, rec)
    out: dict[str, Any] = {}
    gelar_key = "gelarBlk" if w.hash64(i, "q", "gelarBlk") % 4 == 0 else "gelarBelakang"
    lower_jk = w.hash64(i, "q", "jk") % 10 == 0
    for k, v in (rec | extra).items():
        if k == "gelarBelakang":
            out[gelar_key] = _s(w, i, k, v)
        elif k == "jenisKelamin":
            out[k] = v.lower() if lower_jk else v
        elif k in _INT_KEYS or k == "validNik":
            out[k] = v
        elif k == "path":
            out[k] = _docs(v, "peremajaan/pns")
        else:
            out[k] = _s(w, i, k, v)
    return out


def _orang_extra(w: World, i: int, tag: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """Fields of a family member SIASN serves that the world does not model (null forms)."""
    return {k: _null(w, i, f"{tag}:{k}", _is_date_key(k)) for k in keys}


def raw_pasangan(w: World, i: int, day: int) -> list[dict[str, Any]]:
    """``listPasangan`` as SIASN serves it (may be empty). ``orang`` spells ``statusHidup`` and
    ``jenisKawinId`` as ``StatusHidup`` / ``JenisKawinId`` in some records (a casing SIASN
    serves: kanekescom/laravel-siasn-simpeg stores those columns)."""
    out = []
    pns_id = w.identity(i)["idPns"]
    for n, sp in enumerate(w.pasangan(i, day)):
        o, dp = sp["orang"], sp["dataPernikahan"]
        tag = f"sp{n}"
        pascal = w.hash64(i, "q", "StatusHidup", n) % 3 == 0
        status = sp["statusNikah"]
        married: date = dp["tgglMenikah"]
        orang = {
            "id": o["id"],
            "nama": o["nama"],
            "namaKtp": o["nama"],
            "tglLahir": fmt_dmy(o["tglLahir"]),
            "tempatLahir": o["tempatLahir"],
            "jenisKelamin": o["jenisKelamin"],
            "StatusHidup" if pascal else "statusHidup": "1" if o["statusHidup"] else "0",
            "tglMeninggal": _s(w, i, f"{tag}:tglMeninggal", o["tglMeninggal"]),
            "aktaMeninggal": (
                f"{w.hash64(i, 'akm', n) % 10**6:06d}/AKM/{o['tglMeninggal'].year}"
                if o["tglMeninggal"]
                else _null(w, i, f"{tag}:aktaMeninggal", False)
            ),
            "JenisKawinId" if pascal else "jenisKawinId": {1: "2", 2: "3", 3: "4"}[status],
            "karisKarsu": (
                f"KARIS-{w.hash64(i, 'karis', n) % 10**7:07d}"
                if status == 1 and w.hash64(i, "karis2", n) % 2
                else _null(w, i, f"{tag}:karisKarsu", False)
            ),
            "created_at": f"{married.year + 1 + w.hash64(i, 'cr', n) % 5}-"
            f"{w.hash64(i, 'crm', n) % 12 + 1:02d}-{w.hash64(i, 'crd', n) % 28 + 1:02d}"
            f"T{w.hash64(i, 'crh', n) % 24:02d}:{w.hash64(i, 'crmi', n) % 60:02d}:00Z",
            **_orang_extra(w, i, tag, ("gelarDepan", "gelarBlk", "ayahId", "ibuId", "jenisAnak")),
        }
        out.append(
            {
                "orang": orang,
                "statusNikah": str(status),
                "dataPernikahan": {
                    "id": dp["id"],
                    "orangId": o["id"],
                    "pnsOrangId": pns_id,
                    "status": str(status),
                    "tgglMenikah": fmt_dmy(married),
                    "aktaMenikah": dp["aktaMenikah"] or "",
                    "tgglCerai": fmt_dmy(dp["tgglCerai"]),
                    "aktaCerai": dp["aktaCerai"] or "",
                    "noSkPensiun": _null(w, i, f"{tag}:noSkPensiun", False),
                    "isPns": dp["isPns"],
                    "posisi": dp["posisi"],
                },
            }
        )
    return out


def raw_anak(w: World, i: int, day: int) -> list[dict[str, Any]]:
    """``listAnak`` as SIASN serves it (may be empty)."""
    out = []
    for n, ch in enumerate(w.anak(i, day)):
        out.append(
            {k: (_s(w, i, f"ch{n}:{k}", v) if k != "jenisKelamin" else v) for k, v in ch.items()}
        )
    return out


def _raw_parent(w: World, i: int, p: dict[str, Any], who: str) -> dict[str, Any]:
    out = {k: _s(w, i, f"{who}:{k}", v) for k, v in p.items()}
    if p["tglMeninggal"] is not None:
        out["aktaMeninggal"] = f"{w.hash64(i, 'akm', who) % 10**6:06d}/AKM/{p['tglMeninggal'].year}"
    else:
        out["aktaMeninggal"] = _null(w, i, f"{who}:aktaMeninggal", False)
    # the parent's own parent id and its jenisAnak: not modelled, served as null forms
    out.update(_orang_extra(w, i, who, (f"{who}Id", "jenisAnak")))
    return out


def raw_ortu(w: World, i: int, day: int) -> dict[str, Any]:
    """``{"ayah": ..., "ibu": ...}`` as SIASN serves it (a missing parent is null)."""
    o = w.ortu(i, day)
    return {
        "ayah": _raw_parent(w, i, o["ayah"], "ayah") if o["ayah"] else None,
        "ibu": _raw_parent(w, i, o["ibu"], "ibu") if o["ibu"] else None,
    }


def raw_rw_golongan(w: World, i: int, day: int) -> list[dict[str, Any]]:
    """rw-golongan rows as SIASN serves them, oldest first. A null string is ``""``, a null
    date ``01-01-0001``; ``path`` holds the SK KP (``{}`` on the CPNS row or when none)."""
    dok_id, dok_name = rw_golongan_doc()
    out = []
    for row in w.rw_golongan(i, day):
        r: dict[str, Any] = {}
        for k, v in row.items():
            if v is None:
                r[k] = "01-01-0001" if k.startswith(("tgl", "tmt", "sk")) and k != "skNomor" else ""
            else:
                r[k] = _s(w, i, k, v)
        jenis = row["jenisKPId"]
        r["jenisKPNama"] = refdata.JENIS_KP.get(jenis, "") if jenis else ""
        kredit = jenis == "202"
        r["jumlahKreditUtama"] = str(w.hash64(i, "aku", row["id"]) % 300 + 100) if kredit else ""
        r["jumlahKreditTambahan"] = str(w.hash64(i, "akt", row["id"]) % 40) if kredit else ""
        has_doc = jenis is not None and w.hash64(i, "rwdok", row["id"]) % 10 < 7
        stem = f"{row['nipBaru']}_{dok_id}_{w.hash64(i, 'rwdoks', row['id']) % 10**8:08d}"
        r["path"] = _docs({dok_id: (dok_name, stem)}, "peremajaan/golongan") if has_doc else {}
        out.append(r)
    return out


def _wrapped(w: World, i: int, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"idPns", "nipBaru", "nipLama", key: items}`` (data-anak, data-pasangan)."""
    ident = w.identity(i)
    return {
        "idPns": ident["idPns"],
        "nipBaru": ident["nipBaru"],
        "nipLama": _s(w, i, "nipLama", ident["nipLama"]),
        key: items,
    }


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
        return orjson.dumps(result_body(data))

    def employee(kind: str, nip: str, build: Any) -> Response:
        i = w.index_of(nip)
        if i is None:
            return not_found_result()
        d = state.day
        key = (kind, i, d, w.overlay_version(i))
        body = cache.get(key)
        if body is None:
            data = build(i, d)
            body = b"" if data is None else _ok(data)
            cache.put(key, body)
        if not body:
            return not_found_result()
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
            return _wrapped(w, i, "listPasangan", lst) if lst else None

        return employee("pasangan", nipBaru, build)

    @app.get(f"{API}/pns/data-anak/{{nipBaru}}", tags=["pns"])
    async def data_anak(nipBaru: str) -> Response:
        """Children (404 when there is none)."""

        def build(i: int, d: int) -> Any:
            lst = raw_anak(w, i, d)
            return _wrapped(w, i, "listAnak", lst) if lst else None

        return employee("anak", nipBaru, build)

    @app.get(f"{API}/pns/data-ortu/{{nipBaru}}", tags=["pns"])
    async def data_ortu(nipBaru: str) -> Response:
        """Parents (a missing parent is null; 404 when both are missing)."""

        def build(i: int, d: int) -> Any:
            o = raw_ortu(w, i, d)
            if not (o["ayah"] or o["ibu"]):
                return None
            ident = _wrapped(w, i, "ayah", o["ayah"])
            ident["ibu"] = o["ibu"]
            return ident

        return employee("ortu", nipBaru, build)

    @app.get(f"{API}/pns/rw-golongan/{{nipBaru}}", tags=["pns"])
    async def rw_golongan(nipBaru: str) -> Response:
        """Golongan history, oldest first."""
        return employee("rwgol", nipBaru, lambda i, d: raw_rw_golongan(w, i, d) or None)

    # ------------------------------------------------------------------ reference data
    @app.get("/referensi_siasn/1/{ref}/search", tags=["referensi"])
    async def referensi(ref: str, request: Request) -> Response:
        """Reference table page ``{"results": [...]}`` (no envelope; gateway token only)."""
        rows = refdata.served_referensi(ref)
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
            rows = [r for r in rows if nama.lower() in (r.get("nama") or "").lower()]
        page = rows[offset : offset + limit]
        prev = rows[max(0, offset - limit) : offset]
        page = page_faults(state, page, prev, key=f"{ref}:{offset}:{limit}")
        return json_response({"results": page})

    unor_body = orjson.dumps(result_body(refdata.unor_rows()))

    @app.get(f"{API}/referensi/ref-unor", tags=["referensi"])
    async def ref_unor() -> Response:
        """Every UNOR (``referensi.UnorResponse``) in one ``model.Result``; both tokens."""
        return Response(unor_body, media_type="application/json")

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
    importlib.import_module(f"{__package__}.siasn_public").install(app, state)
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
