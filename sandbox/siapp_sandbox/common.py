"""Shared framework of the two sandbox apps (SIASN and SIAPP NV): state, faults, controls.

Both FastAPI apps of one sandbox process share ONE :class:`SandboxState`. An app becomes a sandbox
app by calling :func:`install_sandbox` once after its routes are declared::

    app = FastAPI(default_response_class=ORJSONBytes)
    ...routes...
    install_sandbox(app, state, app_name="siapp", auth=my_auth)  # /_sandbox/* + middleware
    # my_auth(scope, state) -> Response | None: e.g. a 401 when the bearer token is not valid

Public API (stable; the SIAPP side imports it)
----------------------------------------------
State::

    state = SandboxState(world, faults=None, credentials=None)
    state.world            # world.World
    state.day, state.date  # simulated clock (world day, calendar date)
    state.advance(days)    # moves the clock, then calls every hook added with on_advance()
    state.on_advance(fn)   # fn(state, old_day, new_day) -> None
    state.faults           # Faults (pydantic); assign a new Faults to change them
    state.credentials      # Credentials (client ids, secrets, static SSO token)
    state.tokens           # TokenRegistry: issue(kind) -> (token, expires_in);
                           #   check(kind, token) -> None | "missing" | "invalid" | "expired"
    state.idempotency      # IdempotencyStore (used by the middleware; nothing to call)
    state.received         # ReceivedLog: entries(kind)
    state.stats            # RequestStats: snapshot(), reset()
    state.documents        # DocumentStore: put(path, data, **meta) / get(path) / items()
    state.ext              # dict for app-specific state (e.g. state.ext["usulan"] = ...)
    state.register_truth(name, fn)   # GET /_sandbox/truth/{name} -> fn(query_params: dict)
    # built in: GET /_sandbox/truth/issued-tokens -> every bearer token issued, per kind

Responses (orjson; keys keep insertion order, so same data -> same bytes)::

    json_response(obj, status=200, headers=None) -> Response
    envelope(data) -> Response                 # 200 {"code": 1, "data": data}
    not_found() -> Response                    # 404 {"code": 0, "data": "Data tidak ditemukan"}
    result_body(data) -> dict                  # {"code": 1, "count", "data", "message"}
    not_found_result() -> Response             # 404 of model.Result reads (pns/* endpoints)
    error_response(status, short, message, headers=None)   # {"Error": short, "Message": message}
    fmt_dmy(date | None, null="01-01-0001") -> str;  parse_dmy(str) -> date | None

Helpers for route handlers::

    await record_received(request, kind, payload) -> dict   # first receipt of a POST (see below)
    page_faults(state, page, previous=None, key="") -> list  # duplicate/reorder faults on a page
    make_pdf(title: str, body_lines=()) -> bytes             # a small valid synthetic PDF
    get_state(request) -> SandboxState

Middleware (installed by :func:`install_sandbox`, outermost first): request stats per route
template and status; faults (API routes only, never ``/_sandbox``, ``/openapi.json``, ``/docs``):
rate limit, latency, 5xx, 429, then on the response malformed records, schema drift, truncation
and corrupted documents; idempotency of every POST carrying ``Idempotency-Key``: the first
answer (2xx, 400, 404, 422) is stored and replayed byte for byte, a different body with the
same key gets 409. Replays increment the ``replays`` counter of the matching received entry.

``record_received`` is what a POST handler calls once it accepted something: it appends
``{"seq", "app", "kind", "idempotency_key", "day", "payload", "replays"}`` to the log that
``GET /_sandbox/received?kind=`` lists, so tests can assert exactly-once delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import re
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import refdata
from .doc_faults import DocFaultSpec, restored_by_replay
from .doc_faults import inject as inject_document_faults
from .world import CHANGE_KINDS, World, date_to_day, day_to_date

__all__ = [
    "PROFILES",
    "Credentials",
    "DocumentStore",
    "Faults",
    "IdempotencyStore",
    "ORJSONBytes",
    "ReceivedLog",
    "RequestStats",
    "SandboxState",
    "SchemaDrift",
    "TokenRegistry",
    "date_to_day",
    "day_to_date",
    "envelope",
    "error_response",
    "fmt_dmy",
    "get_state",
    "install_sandbox",
    "json_response",
    "make_pdf",
    "not_found",
    "not_found_result",
    "page_faults",
    "parse_dmy",
    "parse_faults",
    "record_received",
    "result_body",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
AuthFn = Callable[[Scope, "SandboxState"], Response | None]

NULL_DATE = "01-01-0001"


# ============================================================================ responses
class ORJSONBytes(Response):
    """JSON response rendered with orjson (dates as ISO 8601, insertion order kept)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (orjson, deterministic bytes for the same object)."""
    return Response(
        orjson.dumps(obj), status_code=status, headers=headers, media_type="application/json"
    )


_ENV_404 = orjson.dumps({"code": 0, "data": "Data tidak ditemukan"})
NOT_FOUND_TEXT = "Data tidak ditemukan"
_RESULT_404 = orjson.dumps(
    {"code": 0, "count": 0, "data": NOT_FOUND_TEXT, "message": NOT_FOUND_TEXT}
)


def result_body(data: Any, message: str = "success") -> dict[str, Any]:
    """SIASN read envelope (swagger ``model.Result``) ``{"code": 1, "count", "data",
    "message"}``; ``count`` = items of a list ``data`` (or of its one ``list*`` member), else 1."""
    if isinstance(data, list):
        count = len(data)
    else:
        lists = [v for k, v in data.items() if k.startswith("list") and isinstance(v, list)]
        count = len(lists[0]) if len(lists) == 1 else 1
    return {"code": 1, "count": count, "data": data, "message": message}


def not_found_result() -> Response:
    """Not found (and empty) in the ``model.Result`` keys, HTTP 404: ``{"code": 0, "count": 0,
    "data": "Data tidak ditemukan", "message": "Data tidak ditemukan"}``."""
    return Response(_RESULT_404, status_code=404, media_type="application/json")


def envelope(data: Any) -> Response:
    """SIASN success envelope ``{"code": 1, "data": data}``."""
    return Response(orjson.dumps({"code": 1, "data": data}), media_type="application/json")


def not_found() -> Response:
    """SIASN not-found (and empty) envelope, HTTP 404."""
    return Response(_ENV_404, status_code=404, media_type="application/json")


def error_response(
    status: int, short: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """SIASN-style error ``{"Error": short, "Message": message}``."""
    return json_response({"Error": short, "Message": message}, status, headers)


def fmt_dmy(d: date | None, null: str = NULL_DATE) -> str:
    """``date`` -> ``dd-mm-yyyy``; None -> ``null`` (default ``01-01-0001``)."""
    if d is None:
        return null
    return f"{d.day:02d}-{d.month:02d}-{d.year:04d}"


def parse_dmy(s: str | None) -> date | None:
    """``dd-mm-yyyy`` -> date; the null forms (``01-01-0001``, ``""``, ``undefined``) -> None.
    Raises ValueError on anything else."""
    if s is None or s in ("", "undefined", "null", NULL_DATE):
        return None
    m = re.fullmatch(r"(\d{2})-(\d{2})-(\d{4})", s.strip())
    if not m:
        raise ValueError("expected a dd-mm-yyyy date")
    return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))


# ============================================================================ faults
class SchemaDrift(BaseModel):
    """Schema drift applied to every JSON object inside a response's data: ``rename`` old key ->
    new key, ``retype`` key -> one of int, float, bool, list, str; ``add`` new key -> value;
    ``drop`` keys removed."""

    model_config = ConfigDict(extra="forbid")

    rename: dict[str, str] = Field(default_factory=dict)
    retype: dict[str, Literal["int", "float", "bool", "list", "str"]] = Field(default_factory=dict)
    add: dict[str, Any] = Field(default_factory=dict)
    drop: list[str] = Field(default_factory=list)

    def active(self) -> bool:
        return bool(self.rename or self.retype or self.add or self.drop)


Rate = Field(default=0.0, ge=0.0, le=1.0)


class Faults(BaseModel):
    """Fault settings (``PUT /_sandbox/faults`` replaces all of them; missing = default)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0.0, le=60_000)
    latency_jitter_ms: float = Field(default=0.0, ge=0.0, le=60_000)
    error_5xx_rate: float = Rate
    error_429_rate: float = Rate
    retry_after_s: int = Field(default=1, ge=0, le=3600)
    rate_limit_rps: float | None = Field(default=None, gt=0.0)
    gateway_token_ttl_s: float = Field(default=3600.0, gt=0.0)
    sso_token_ttl_s: float = Field(default=43200.0, gt=0.0)  # 12 h, as clients observe
    siapp_token_ttl_s: float = Field(default=3600.0, gt=0.0)
    malformed_rate: float = Rate
    truncated_rate: float = Rate
    schema_drift: SchemaDrift = Field(default_factory=SchemaDrift)
    duplicate_page_rate: float = Rate
    reorder_pages: bool = False
    corrupt_document_rate: float = Rate
    #: share of delivered Keppres KP / pemberhentian SIASN accepts (status 32) but never applies
    #: to the employee (golongan, rw-golongan, kedudukan hukum unchanged); stable per usulan id
    keppres_withhold_rate: float = Rate
    #: SIAPP NV usulan ids whose Keppres SIASN accepts but never applies (besides the rate)
    keppres_withhold: list[str] = Field(default_factory=list, max_length=10_000)
    #: documents to damage now, per kind (events, not rates: see :mod:`.doc_faults`)
    document_faults: DocFaultSpec = Field(default_factory=DocFaultSpec)
    #: the first ``hang_first`` requests of each route template (per app) are processed, then
    #: held ``hang_ms`` before the answer is sent: a client timeout after the server acted (a
    #: POST is stored, so its retry must be an Idempotency-Key replay); counted per route, so
    #: deterministic whatever the concurrency
    hang_ms: float = Field(default=0.0, ge=0.0, le=60_000)
    hang_first: int = Field(default=0, ge=0, le=1_000_000)
    seed: int = 0

    @field_validator("schema_drift", mode="before")
    @classmethod
    def _none_drift(cls, v: Any) -> Any:
        return {} if v is None else v

    def body_faults(self) -> bool:
        """True when a response body may need rewriting."""
        return bool(
            self.malformed_rate
            or self.truncated_rate
            or self.corrupt_document_rate
            or self.schema_drift.active()
        )


PROFILES: dict[str, dict[str, Any]] = {
    "none": {},
    "flaky": {
        "error_5xx_rate": 0.05,
        "error_429_rate": 0.02,
        "gateway_token_ttl_s": 30,
        "sso_token_ttl_s": 30,
        "siapp_token_ttl_s": 30,
        "malformed_rate": 0.005,
    },
    "slow": {"latency_ms": 20, "rate_limit_rps": 500},
    "drift": {
        "schema_drift": {
            "rename": {"unorNama": "namaUnor", "tglLahir": "tanggalLahir"},
            "retype": {"golRuangAkhirId": "int", "jumlahAnak": "int"},
            "add": {"flagIkd": "1"},
        }
    },
    # the names this sandbox served before it followed BKN's definition (never SIASN's): a
    # rename drift of real fields, to test that a client quarantines on a missing field
    "legacy_names": {
        "schema_drift": {
            "rename": {
                "validNik": "isValidNik",
                "masaKerjaGolonganTahun": "mkGolonganTahun",
                "masaKerjaGolonganBulan": "mkGolonganBulan",
                "jenisAnak": "statusAnak",
            }
        }
    },
}


def parse_faults(spec: str | dict[str, Any] | None) -> Faults:
    """Faults from a profile name (``none``, ``flaky``, ``slow``, ``drift``), a JSON object
    string, a ``profile+{json}`` combination is not supported: pass JSON with explicit fields."""
    if spec is None or spec == "":
        return Faults()
    if isinstance(spec, dict):
        return Faults.model_validate(spec)
    s = spec.strip()
    if s in PROFILES:
        return Faults.model_validate(PROFILES[s])
    if s.startswith("{"):
        return Faults.model_validate(orjson.loads(s))
    raise ValueError(f"unknown fault profile {s!r}; expected one of {sorted(PROFILES)} or JSON")


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "(body)"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _unit(*parts: object) -> float:
    """A stable uniform number in [0, 1) from ``parts``."""
    raw = ":".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little") / 2.0**64


# ============================================================================ state parts
@dataclass
class Credentials:
    """Sandbox credentials (CONTRACT.md defaults)."""

    siasn_client_id: str = "siapp-hub"
    siasn_client_secret: str = "sandbox-secret"  # noqa: S105 - sandbox default
    sso_client_id: str = "siapp-hub"
    sso_username: str = "siapp"
    sso_password: str = "sandbox-password"  # noqa: S105 - sandbox default
    static_sso_token: str | None = "sandbox-static-sso-token"  # noqa: S105 - sandbox default
    siapp_client_id: str = "siapp-hub"
    siapp_client_secret: str = "sandbox-secret"  # noqa: S105 - sandbox default


class TokenRegistry:
    """Opaque bearer tokens per kind (``gateway``, ``sso``, ``siapp``) with a lifetime taken from
    the faults (``<kind>_token_ttl_s``) at issue time."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._tokens: dict[str, tuple[str, float]] = {}
        self._rng = random.SystemRandom()
        # every token ever issued, kept past expiry and revocation, so that a leak audit can
        # look for each in what the hub wrote (``GET /_sandbox/truth/issued-tokens``)
        self._issued: deque[tuple[str, str]] = deque(maxlen=100_000)

    def issue(self, kind: str, ttl_s: float | None = None) -> tuple[str, int]:
        """A new token of ``kind``; returns (token, expires_in seconds)."""
        ttl = float(
            ttl_s if ttl_s is not None else getattr(self._state.faults, f"{kind}_token_ttl_s")
        )
        tok = f"{self._rng.getrandbits(128):032x}"
        now = time.monotonic()
        self._tokens[tok] = (kind, now + ttl)
        self._issued.append((kind, tok))
        if len(self._tokens) > 100_000:  # keep expired ones a while so "expired" is reported
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now - 3600}
        return tok, max(1, math.ceil(ttl))

    def check(self, kind: str, token: str | None) -> str | None:
        """None if ``token`` is a live token of ``kind``, else why not: ``"missing"``,
        ``"invalid"`` or ``"expired"``. The static SSO token (credentials) is always live."""
        if not token:
            return "missing"
        if kind == "sso" and token == self._state.credentials.static_sso_token:
            return None
        v = self._tokens.get(token)
        if v is None or v[0] != kind:
            return "invalid"
        if v[1] <= time.monotonic():
            return "expired"
        return None

    def valid(self, kind: str, token: str | None) -> bool:
        """True if ``token`` was issued for ``kind`` and has not expired."""
        return self.check(kind, token) is None

    def issued(self) -> dict[str, Any]:
        """Every token issued so far (expired and revoked ones too) per kind, and the static
        SSO token the credentials accept."""
        by_kind: dict[str, list[str]] = {}
        for kind, tok in self._issued:
            by_kind.setdefault(kind, []).append(tok)
        return {"issued": by_kind, "static_sso": self._state.credentials.static_sso_token}

    def revoke_all(self, kind: str | None = None) -> None:
        """Forget every issued token (of ``kind``)."""
        self._tokens = {t: v for t, v in self._tokens.items() if kind is not None and v[0] != kind}


@dataclass
class _IdemEntry:
    fingerprint: bytes
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    replays: int = 0


class IdempotencyStore:
    """Stored first answers keyed by (app, Idempotency-Key)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], _IdemEntry] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lk = self._locks.get(key)
        if lk is None:
            lk = self._locks[key] = asyncio.Lock()
        return lk


class ReceivedLog:
    """What the POST endpoints accepted (first receipts), with replay counts."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._by_key: dict[tuple[str, str], dict[str, Any]] = {}

    def record(
        self, app: str, kind: str, payload: Any, idempotency_key: str | None, day: int
    ) -> dict[str, Any]:
        entry = {
            "seq": len(self._entries) + 1,
            "app": app,
            "kind": kind,
            "idempotency_key": idempotency_key,
            "day": day,
            "payload": payload,
            "replays": 0,
        }
        self._entries.append(entry)
        if idempotency_key:
            self._by_key[(app, idempotency_key)] = entry
        return entry

    def count_replay(self, app: str, idempotency_key: str) -> None:
        e = self._by_key.get((app, idempotency_key))
        if e is not None:
            e["replays"] += 1

    def entries(self, kind: str | None = None, app: str | None = None) -> list[dict[str, Any]]:
        """Entries, optionally filtered by ``kind`` and ``app``, in arrival order."""
        return [
            e
            for e in self._entries
            if (kind is None or e["kind"] == kind) and (app is None or e["app"] == app)
        ]


class RequestStats:
    """Request counts per app, route template and status, plus injected-fault counters."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.counts: dict[str, dict[str, dict[int, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        self.seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.faults: dict[str, int] = defaultdict(int)
        self.started = time.time()

    def add(self, app: str, template: str, status: int, seconds: float) -> None:
        self.counts[app][template][status] += 1
        self.seconds[app][template] += seconds

    def snapshot(self) -> dict[str, Any]:
        routes: dict[str, Any] = {}
        total = 0
        for app, tmpls in sorted(self.counts.items()):
            routes[app] = {}
            for tmpl, by_status in sorted(tmpls.items()):
                n = sum(by_status.values())
                total += n
                routes[app][tmpl] = {
                    "count": n,
                    "status": {str(k): v for k, v in sorted(by_status.items())},
                    "mean_ms": round(1000 * self.seconds[app][tmpl] / n, 3) if n else 0.0,
                }
        return {
            "total": total,
            "since": self.started,
            "routes": routes,
            "faults": dict(sorted(self.faults.items())),
        }


class DocumentStore:
    """Documents held by a side (path -> bytes + metadata). Keys are free-form paths."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[bytes, dict[str, Any]]] = {}

    def put(self, path: str, data: bytes, **meta: Any) -> dict[str, Any]:
        meta = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), **meta}
        self._docs[path] = (data, meta)
        return meta

    def get(self, path: str) -> tuple[bytes, dict[str, Any]] | None:
        return self._docs.get(path)

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        return [(p, m) for p, (_d, m) in self._docs.items()]

    def __contains__(self, path: object) -> bool:
        return path in self._docs

    def __len__(self) -> int:
        return len(self._docs)


class _Bucket:
    def __init__(self, rps: float) -> None:
        self.rps = rps
        self.capacity = max(1.0, rps)
        self.tokens = self.capacity
        self.t = time.monotonic()

    def take(self) -> float:
        """0 if a token was taken, else seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.t) * self.rps)
        self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rps


class SandboxState:
    """Everything both apps share (see the module docstring)."""

    def __init__(
        self,
        world: World,
        faults: Faults | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.world = world
        self.credentials = credentials or Credentials()
        self.tokens = TokenRegistry(self)
        self.idempotency = IdempotencyStore()
        self.received = ReceivedLog()
        self.stats = RequestStats()
        self.documents = DocumentStore()
        self.ext: dict[str, Any] = {}
        self.malformed_served: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._hooks: list[Callable[[SandboxState, int, int], None]] = []
        self._truth: dict[str, Callable[[dict[str, str]], Any]] = {}
        self.register_truth("issued-tokens", lambda _q: self.tokens.issued())
        self.faults = faults or Faults()

    # faults ------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value
        self.fault_rng = random.Random(value.seed)
        self.world.set_keppres_withhold(
            value.keppres_withhold_rate, value.keppres_withhold, value.seed
        )
        inject_document_faults(self, value.document_faults, value.seed)
        self.buckets: dict[str, _Bucket] = {}
        #: requests seen per (app, route template) while ``hang_first`` is set
        self.hang_seen: dict[tuple[str, str], int] = defaultdict(int)

    def bucket(self, app_name: str) -> _Bucket | None:
        """The rate-limit token bucket of one app (port), or None without a limit."""
        rps = self._faults.rate_limit_rps
        if not rps:
            return None
        b = self.buckets.get(app_name)
        if b is None:
            b = self.buckets[app_name] = _Bucket(rps)
        return b

    # clock -------------------------------------------------------------------
    @property
    def day(self) -> int:
        return self.world.day

    @property
    def date(self) -> date:
        return self.world.date

    def advance(self, days: int) -> int:
        """Advance the clock by ``days`` and run the advance hooks; returns the new day."""
        old = self.world.day
        new = self.world.advance(days)
        for fn in list(self._hooks):
            fn(self, old, new)
        return new

    def on_advance(self, fn: Callable[[SandboxState, int, int], None]) -> None:
        """Call ``fn(state, old_day, new_day)`` after every clock advance."""
        self._hooks.append(fn)

    # truth -------------------------------------------------------------------
    def register_truth(self, name: str, fn: Callable[[dict[str, str]], Any]) -> None:
        """Serve ``fn(query_params)`` as JSON at ``GET /_sandbox/truth/{name}``."""
        self._truth[name] = fn


def get_state(request: Request) -> SandboxState:
    """The shared state of the app serving ``request``."""
    return request.app.state.sandbox


async def record_received(request: Request, kind: str, payload: Any) -> dict[str, Any]:
    """Log the first receipt of a POST (``GET /_sandbox/received?kind=``)."""
    state = get_state(request)
    return state.received.record(
        request.app.state.sandbox_app_name,
        kind,
        payload,
        request.headers.get("idempotency-key"),
        state.day,
    )


def page_faults(
    state: SandboxState, page: list[Any], previous: list[Any] | None = None, key: str = ""
) -> list[Any]:
    """Apply list faults to one page: with ``duplicate_page_rate`` (per request) the page also
    repeats items: the last quarter (at least one) of ``previous`` (the page before) is
    prepended, or on the first page its first item is appended again; with ``reorder_pages``
    the page is shuffled (deterministically from the fault seed and ``key``). Items are never
    lost, only duplicated or moved."""
    f = state.faults
    out = list(page)
    if f.duplicate_page_rate and out and state.fault_rng.random() < f.duplicate_page_rate:
        state.stats.faults["duplicate_page"] += 1
        if previous:
            k = max(1, len(previous) // 4)
            out = list(previous[-k:]) + out
        else:
            out.append(out[0])
    if f.reorder_pages and len(out) > 1:
        state.stats.faults["reordered_page"] += 1
        random.Random(f"{f.seed}:{key}").shuffle(out)
    return out


def make_pdf(title: str, body_lines: Iterable[str] = ()) -> bytes:
    """A small, valid single-page PDF with ``title`` and text lines (deterministic bytes)."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    lines = [title, *body_lines]
    text = "BT /F1 12 Tf 50 780 Td 14 TL " + " ".join(f"({esc(x)}) '" for x in lines) + " ET"
    stream = text.encode("latin-1", "replace")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, o in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


# ============================================================================ body faults
_DMY = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_GOL_KEYS = ("golRuangAkhirId", "golRuangAwalId", "golonganId", "golongan_baru_id", "golongan_id")
_NIP_KEYS = ("nipBaru", "nip", "nip_baru")
_ID_KEYS = ("nipBaru", "nip", "id_usulan_siapp", "dok_id", "id")


def _find(obj: Any, pred: Callable[[str, Any], bool]) -> tuple[Any, str] | None:
    """Depth-first first (container, key) whose (key, value) satisfies ``pred``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict | list):
                hit = _find(v, pred)
                if hit:
                    return hit
            elif pred(k, v):
                return obj, k
    elif isinstance(obj, list):
        for v in obj:
            hit = _find(v, pred)
            if hit:
                return hit
    return None


def _is_date(_k: str, v: Any) -> bool:
    return isinstance(v, str) and v != NULL_DATE and bool(_DMY.match(v) or _ISO.match(v))


def _mutate(record: Any, which: int) -> tuple[str, str] | None:
    """Make ``record`` semantically invalid in place; returns (field, mutation) or None."""
    for m in range(3):
        kind = (which + m) % 3
        if kind == 0:
            hit = _find(record, _is_date)
            if hit:
                obj, k = hit
                v = obj[k]
                mm = _DMY.match(v)
                obj[k] = f"31-02-{mm.group(3)}" if mm else f"{v[:4]}-02-30{v[10:]}"
                return k, "impossible_date"
        elif kind == 1:
            hit = _find(record, lambda k, v: k in _GOL_KEYS and v not in (None, ""))
            if hit:
                obj, k = hit
                try:
                    obj[k] = refdata.GOLONGAN[int(obj[k])][0]
                except (TypeError, ValueError, KeyError):
                    obj[k] = "IV/x"
                return k, "non_numeric_golongan"
        else:
            hit = _find(record, lambda k, v: k in _NIP_KEYS and isinstance(v, str) and v)
            if hit:
                obj, k = hit
                v = obj[k]
                obj[k] = v[:4] + "13" + v[6:-1] if len(v) == 18 else v + "X"
                return k, "bad_nip"
    return None


def _records_of(body: Any) -> list[tuple[Any, Any]]:
    """(record, identity-suffix) pairs of a response body: list items (by their id) or the
    whole data object (suffix None)."""
    if not isinstance(body, dict):
        return []
    data = body.get("data", body.get("results"))
    items = None
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict) and isinstance(data.get("list"), list):
        items = data["list"]
    if items is not None:
        out = []
        for pos, it in enumerate(items):
            ident = None
            if isinstance(it, dict):
                ident = next((it[k] for k in _ID_KEYS if isinstance(it.get(k), str)), None)
            out.append((it, ident if ident is not None else f"@{pos}"))
        return out
    if isinstance(data, dict):
        return [(data, None)]
    return []


def _retype(v: Any, t: str) -> Any:
    if t == "list":
        return [v]
    if t == "str":
        return "" if v is None else str(v)
    if t == "bool":
        return v not in (None, "", "0", "false", "False", 0, False)
    try:
        return int(v) if t == "int" else float(v)
    except (TypeError, ValueError):
        return v


def _drift(obj: Any, d: SchemaDrift) -> Any:
    if isinstance(obj, list):
        return [_drift(v, d) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if k in d.drop:
            continue
        v = _drift(v, d)
        if k in d.retype and not isinstance(v, dict | list):
            v = _retype(v, d.retype[k])
        out[d.rename.get(k, k)] = v
    if any(k in obj for k in ("nipBaru", "nip", "id")):
        out.update(d.add)
    return out


# ============================================================================ middleware
_SKIP_FAULTS = ("/_sandbox", "/openapi.json", "/docs", "/redoc")


def _route_template(app: FastAPI, scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        for r in app.router.routes:
            match, _child = r.matches(scope)
            if match.name == "FULL":
                route = r
                break
    path = getattr(route, "path", None) or "<unmatched>"
    return f"{scope.get('method', '')} {path}"


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


async def _send_bytes(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    hdrs = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    hdrs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


def _json_bytes(obj: Any) -> bytes:
    return orjson.dumps(obj)


class SandboxMiddleware:
    """Stats, faults and idempotency in one pure-ASGI layer (cheap when no fault is set)."""

    def __init__(
        self,
        app: ASGIApp,
        fastapi_app: FastAPI,
        state: SandboxState,
        name: str,
        malform_skip: tuple[str, ...],
        auth: AuthFn | None = None,
    ) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.state = state
        self.name = name
        self.malform_skip = malform_skip
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status_box = [500]

        async def send_counting(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status_box[0] = msg["status"]
            await send(msg)

        try:
            path: str = scope["path"]
            if path.startswith(_SKIP_FAULTS):
                await self.app(scope, receive, send_counting)
            else:
                await self._api(scope, receive, send_counting)
        finally:
            if not scope["path"].startswith("/_sandbox"):
                self.state.stats.add(
                    self.name,
                    _route_template(self.fastapi_app, scope),
                    status_box[0],
                    time.perf_counter() - t0,
                )

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        st = self.state
        f = st.faults
        if f.hang_ms and f.hang_first:
            key = (self.name, _route_template(self.fastapi_app, scope))
            st.hang_seen[key] += 1
            if st.hang_seen[key] <= f.hang_first:
                # hold the whole answer outside the idempotency lock: a retry meanwhile is
                # served (replayed) at once instead of waiting behind the held request
                held: list[Message] = []

                async def hold(msg: Message) -> None:
                    held.append(msg)

                await self._api_faults(scope, receive, hold)
                st.stats.faults["hang"] += 1
                await asyncio.sleep(f.hang_ms / 1000.0)
                for msg in held:
                    await send(msg)
                return
        await self._api_faults(scope, receive, send)

    async def _api_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        st = self.state
        f = st.faults
        rng = st.fault_rng
        bucket = st.bucket(self.name)
        if bucket is not None:
            wait = bucket.take()
            if wait > 0:
                st.stats.faults["rate_limited"] += 1
                ra = str(max(1, math.ceil(wait)))
                body = _json_bytes({"Error": "Too Many Requests", "Message": "Rate limit exceeded"})
                await _send_bytes(
                    send,
                    429,
                    body,
                    [(b"content-type", b"application/json"), (b"retry-after", ra.encode())],
                )
                return
        if f.latency_ms or f.latency_jitter_ms:
            delay = f.latency_ms + (
                rng.random() * f.latency_jitter_ms if f.latency_jitter_ms else 0
            )
            await asyncio.sleep(delay / 1000.0)
        if f.error_5xx_rate and rng.random() < f.error_5xx_rate:
            st.stats.faults["5xx"] += 1
            code = (500, 502, 503, 504)[rng.randrange(4)]
            body = _json_bytes({"Error": "Server Error", "Message": f"Injected fault {code}"})
            await _send_bytes(send, code, body, [(b"content-type", b"application/json")])
            return
        if f.error_429_rate and rng.random() < f.error_429_rate:
            st.stats.faults["429"] += 1
            body = _json_bytes({"Error": "Too Many Requests", "Message": "Throttled"})
            await _send_bytes(
                send,
                429,
                body,
                [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(f.retry_after_s).encode()),
                ],
            )
            return
        if self.auth is not None:
            denied = self.auth(scope, st)
            if denied is not None:
                await denied(scope, receive, send)
                return
        inner = self._idempotent if scope["method"] == "POST" else self.app
        if not f.body_faults():
            await inner(scope, receive, send)
            return
        # buffer the response, rewrite its body
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                start.update(msg)
            elif msg["type"] == "http.response.body":
                chunks.append(msg.get("body", b""))

        await inner(scope, receive, capture)
        body = b"".join(chunks)
        status = start.get("status", 500)
        headers = list(start.get("headers", []))
        ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if status == 200 and ctype.startswith(b"application/json"):
            body = self._rewrite_json(scope, body)
        if (
            f.corrupt_document_rate
            and status == 200
            and (ctype.startswith(b"application/pdf") or ctype.startswith(b"application/octet"))
            and body
            and rng.random() < f.corrupt_document_rate
        ):
            st.stats.faults["corrupt_document"] += 1
            b = bytearray(body)
            for _ in range(max(1, len(b) // 512)):
                p = rng.randrange(len(b))
                b[p] ^= 0x5A
            body = bytes(b)
        if f.truncated_rate and len(body) > 1 and rng.random() < f.truncated_rate:
            st.stats.faults["truncated"] += 1
            body = body[: max(1, len(body) // 2)]
        await _send_bytes(send, status, body, headers)

    def _rewrite_json(self, scope: Scope, body: bytes) -> bytes:
        f = self.state.faults
        path: str = scope["path"]
        if not (f.malformed_rate or f.schema_drift.active()):
            return body
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        changed = False
        if f.malformed_rate and scope["method"] == "GET" and not path.startswith(self.malform_skip):
            for rec, suffix in _records_of(obj):
                ident = path if suffix is None else f"{path}#{suffix}"
                u = _unit(f.seed, ident)
                if u < f.malformed_rate:
                    res = _mutate(rec, int(u * 2**40) % 3)
                    if res:
                        changed = True
                        self.state.stats.faults["malformed"] += 1
                        ms = self.state.malformed_served
                        ms[ident] = {
                            "app": self.name,
                            "record": ident,
                            "path": path,
                            "field": res[0],
                            "mutation": res[1],
                        }
                        while len(ms) > 10_000:
                            ms.popitem(last=False)
        if f.schema_drift.active() and isinstance(obj, dict):
            for key in ("data", "results"):
                if key in obj:
                    obj[key] = _drift(obj[key], f.schema_drift)
                    changed = True
        return orjson.dumps(obj) if changed else body

    async def _idempotent(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key")
        if not key:
            await self.app(scope, receive, send)
            return
        # buffer the request body
        parts: list[bytes] = []
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            parts.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        body = b"".join(parts)
        fp = _fingerprint(scope, body)
        st = self.state
        k = (self.name, key)
        async with st.idempotency.lock(k):
            entry = st.idempotency.entries.get(k)
            if entry is not None:
                if entry.fingerprint != fp:
                    msg409 = _json_bytes(
                        {
                            "Error": "Conflict",
                            "Message": "Idempotency-Key reused with a different request",
                        }
                    )
                    await _send_bytes(send, 409, msg409, [(b"content-type", b"application/json")])
                    return
                entry.replays += 1
                st.received.count_replay(self.name, key)
                restored_by_replay(st, self.name, key)
                st.stats.faults["idempotent_replay"] += 1
                await _send_bytes(
                    send,
                    entry.status,
                    entry.body,
                    [*entry.headers, (b"idempotent-replayed", b"true")],
                )
                return
            sent = False

            async def replay_receive() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            start: dict[str, Any] = {}
            chunks: list[bytes] = []

            async def capture(msg: Message) -> None:
                if msg["type"] == "http.response.start":
                    start.update(msg)
                elif msg["type"] == "http.response.body":
                    chunks.append(msg.get("body", b""))

            await self.app(scope, replay_receive, capture)
            status = start.get("status", 500)
            out = b"".join(chunks)
            headers = [
                (a, b) for a, b in start.get("headers", []) if a.lower() != b"content-length"
            ]
            if 200 <= status < 300 or status in (400, 404, 422):
                st.idempotency.entries[k] = _IdemEntry(fp, status, headers, out)
            await _send_bytes(send, status, out, headers)


def _fingerprint(scope: Scope, body: bytes) -> bytes:
    """Request identity for idempotency: path + canonical body (JSON key order, multipart
    boundary and form field order do not matter)."""
    ctype = (_header(scope, b"content-type") or "").lower()
    canon = body
    if ctype.startswith("application/json"):
        try:
            canon = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
        except orjson.JSONDecodeError:
            canon = body
    elif ctype.startswith("multipart/"):
        m = re.search(r"boundary=\"?([^\";]+)\"?", _header(scope, b"content-type") or "")
        if m:
            sep = b"--" + m.group(1).encode()
            parts = sorted(p.strip(b"\r\n-") for p in body.split(sep) if p.strip(b"\r\n-"))
            canon = b"\x00".join(parts)
    elif ctype.startswith("application/x-www-form-urlencoded"):
        canon = b"&".join(sorted(body.split(b"&")))
    h = hashlib.sha256()
    h.update(scope["path"].encode())
    h.update(b"?" + scope.get("query_string", b""))
    h.update(b"\x00" + canon)
    return h.digest()


# ============================================================================ control routes
def _truth_asn(world: World, index: int, day: int) -> dict[str, Any]:
    rec = world.record(index, day)
    rec["pasangan"] = world.pasangan(index, day)
    rec["anak"] = world.anak(index, day)
    rec["ortu"] = world.ortu(index, day)
    rec["rwGolongan"] = world.rw_golongan(index, day)
    return rec


def control_router(state: SandboxState) -> APIRouter:
    """The ``/_sandbox`` routes (same on both apps; never faulted, no auth)."""
    r = APIRouter(prefix="/_sandbox", include_in_schema=True, tags=["sandbox"])
    w = state.world

    def clock() -> dict[str, Any]:
        return {"day": state.day, "date": state.date.isoformat()}

    @r.get("/health")
    async def health() -> Response:
        return json_response(
            {"ok": True, "employees": w.n, "seed": w.seed, "ivb_share": w.ivb_share, **clock()}
        )

    @r.get("/clock")
    async def get_clock() -> Response:
        return json_response(clock())

    @r.post("/clock/advance")
    async def advance(days: int = 1) -> Response:
        if days < 0:
            return error_response(422, "Invalid", "days: must be >= 0")
        state.advance(days)
        return json_response(clock())

    @r.get("/faults")
    async def get_faults() -> Response:
        return json_response(state.faults.model_dump(mode="json"))

    @r.put("/faults")
    async def put_faults(request: Request) -> Response:
        raw = await request.body()
        try:
            data = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            return error_response(422, "Invalid faults", "(body): not valid JSON")
        if isinstance(data, str):
            data = PROFILES.get(data, data)
        try:
            faults = Faults.model_validate(data)
        except ValidationError as exc:
            msg = _validation_message(exc)
            return json_response(
                {
                    "Error": "Invalid faults",
                    "Message": msg,
                    "detail": orjson.loads(exc.json(include_url=False, include_input=False)),
                },
                422,
            )
        state.faults = faults
        return json_response(faults.model_dump(mode="json"))

    @r.get("/received")
    async def received(kind: str | None = None, app: str | None = None) -> Response:
        es = state.received.entries(kind, app)
        return json_response({"count": len(es), "entries": es})

    @r.get("/stats")
    async def stats() -> Response:
        return json_response(state.stats.snapshot())

    @r.post("/stats/reset")
    async def stats_reset() -> Response:
        state.stats.reset()
        return json_response({"ok": True})

    @r.get("/truth/asn")
    async def truth_asn(min_gol: int = 42) -> Response:
        nips = w.active_nips(None, min_gol)
        return json_response({**clock(), "min_gol": min_gol, "count": len(nips), "nips": nips})

    @r.get("/truth/asn/{nip}")
    async def truth_asn_one(nip: str) -> Response:
        i = w.index_of(nip)
        if i is None:
            return not_found()
        return json_response(_truth_asn(w, i, state.day))

    @r.get("/truth/changes")
    async def truth_changes(
        day: int | None = None, since: int | None = None, min_gol: int | None = None
    ) -> Response:
        if day is None and since is None:
            day = state.day
        start = since if since is not None else day
        end = state.day if since is not None else day
        assert start is not None and end is not None
        ch = w.changes(start, end)
        idx = ch.indices
        keep = np.ones(idx.size, dtype=bool)
        if min_gol is not None:
            keep = (w.golongan(end)[idx] >= min_gol) | (w.golongan(start - 1)[idx] >= min_gol)
        nips = w.nips(idx).tolist()
        out = []
        for p in np.flatnonzero(keep).tolist():
            out.append(
                {"nip": f"{nips[p]:018d}", "kinds": ch.kind_names(p), "day": int(ch.last_day[p])}
            )
        return json_response(
            {
                "from": start,
                "to": end,
                "count": len(out),
                "changes": out,
                "kinds": list(CHANGE_KINDS),
            }
        )

    @r.get("/truth/malformed")
    async def truth_malformed(path: str | None = None) -> Response:
        f = state.faults
        body: dict[str, Any] = {
            "rate": f.malformed_rate,
            "seed": f.seed,
            "served": list(state.malformed_served.values()),
        }
        if path is not None:
            body["path"] = path
            body["malformed"] = bool(f.malformed_rate) and _unit(f.seed, path) < f.malformed_rate
        return json_response(body)

    @r.get("/truth/referensi/{ref}")
    async def truth_ref(ref: str) -> Response:
        rows = refdata.referensi(ref)
        if rows is None:
            return not_found()
        return json_response({"ref": ref, "count": len(rows), "results": rows})

    @r.get("/truth/keppres-withheld")
    async def truth_keppres_withheld() -> Response:
        rows = state.world.withheld_keppres()
        body = {**clock(), "count": len(rows), "withheld": rows}
        return json_response(body)

    @r.get("/truth/{name}")
    async def truth_other(name: str, request: Request) -> Response:
        fn = state._truth.get(name)
        if fn is None:
            return not_found()
        return json_response(fn(dict(request.query_params)))

    return r


def install_sandbox(
    app: FastAPI,
    state: SandboxState,
    app_name: str,
    malform_skip: tuple[str, ...] = ("/referensi_siasn", "/oauth", "/auth/"),
    auth: AuthFn | None = None,
) -> FastAPI:
    """Attach ``state``, the ``/_sandbox`` routes and the sandbox middleware to ``app``.
    ``malform_skip``: path prefixes whose responses are never made malformed. ``auth(scope,
    state)`` returns a Response (e.g. 401) to send instead of calling the app, or None; it runs
    after fault injection and before idempotency replay, on API routes only."""
    app.state.sandbox = state
    app.state.sandbox_app_name = app_name
    app.include_router(control_router(state))
    app.add_middleware(
        SandboxMiddleware,
        fastapi_app=app,
        state=state,
        name=app_name,
        malform_skip=malform_skip,
        auth=auth,
    )
    return app
