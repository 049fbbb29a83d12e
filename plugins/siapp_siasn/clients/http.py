"""Async HTTP transport shared by the SIASN and SIAPP NV clients (pure: no Airflow).

Both APIs need the same care, so it is written once. One :class:`ApiClient` (one
``aiohttp.ClientSession`` for a run) gives

- bounded concurrency (a semaphore; the connection pool is sized to match, plus two
  connections for token calls, which take no slot),
- a shared client-side rate limiter (:class:`~siapp_siasn.clients.ratelimit.RateLimiter`),
- retries with exponential backoff and full jitter (tenacity) on connection errors, timeouts,
  5xx, 429 and truncated or unparseable JSON bodies, honouring ``Retry-After`` (seconds or an
  HTTP date); 429s beyond a sporadic few also slow the shared limiter down to what the server
  accepts,
- bearer tokens from a :class:`~siapp_siasn.clients.auth.TokenAuth`, refreshed once on a 401,
- counters for lineage (:meth:`ApiClient.metrics`).

:meth:`ApiClient.request` builds one :class:`Request` and hands it to each attempt.
Callers pass an endpoint TEMPLATE plus path parameters
(``get("/apisiasn/1.0/pns/data-utama/{nip}", nip=nip)``); logs, errors and metrics only ever
show the template. :class:`ServiceClient` is the base of the two API clients.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import logging
import random
import re
import ssl
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar
from urllib.parse import quote

import aiohttp
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from siapp_siasn.clients.auth import TokenAuth, TokenSource
from siapp_siasn.clients.errors import ApiError, redact
from siapp_siasn.clients.metrics import ClientMetrics
from siapp_siasn.clients.ratelimit import RateLimiter

__all__ = [
    "ApiClient",
    "ApiResponse",
    "FilePart",
    "Request",
    "bounded_map",
    "build_ssl_context",
    "parse_retry_after",
]

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "siapp-siasn-hub/0.1"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_LOGGED_RETRIES = 50


class _Failure(NamedTuple):
    """What an exception of the HTTP stack means."""

    types: tuple[type[Exception], ...]
    kind: str  # the metrics' error counter
    message: str  # may name the exception class ({name}) and the timeout ({timeout})
    retryable: bool
    sent: bool = True  # False: the request certainly never reached the server


# The first match wins, so subclasses come before their bases (ClientSSLError is a
# ClientConnectorError). A request that was never sent may be retried even if not idempotent.
_TRANSPORT_FAILURES = (
    _Failure(
        (aiohttp.ClientSSLError,), "tls", "TLS handshake or certificate verification failed", False
    ),
    _Failure(
        (aiohttp.ClientConnectorError,), "connection", "cannot connect ({name})", True, sent=False
    ),
    _Failure((TimeoutError,), "timeout", "timed out after {timeout:g} s", True),
    _Failure((aiohttp.ClientPayloadError,), "truncated", "response body truncated", True),
    _Failure((aiohttp.InvalidURL,), "invalid_url", "invalid URL", False),
    _Failure(
        (aiohttp.ClientConnectionError, aiohttp.ClientResponseError),
        "connection",
        "connection error ({name})",
        True,
    ),
)
_TRANSPORT_ERRORS = tuple(t for f in _TRANSPORT_FAILURES for t in f.types)
# OpenSSL verify codes meaning "the issuer is not trusted here": the fix is the CA bundle.
_UNTRUSTED_ISSUER = frozenset({2, 18, 19, 20, 21})


def _tls_text(exc: aiohttp.ClientSSLError) -> str:
    """What failed in the TLS setup with which host, in OpenSSL's words: one line, no path,
    query or traceback (the certificate's own names are public)."""
    where = f"{exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        reason = getattr(cert_error, "verify_message", None) or type(cert_error).__name__
        text = f"TLS certificate verify failed for {where}: {reason}"
        if getattr(cert_error, "verify_code", None) in _UNTRUSTED_ISSUER:
            text += " (name the server's CA bundle in the connection's verify setting)"
        return text
    reason = getattr(exc.os_error, "reason", None) or type(exc.os_error).__name__
    return f"TLS handshake with {where} failed: {reason}"


@dataclass(frozen=True, slots=True)
class FilePart:
    """One file of a multipart body."""

    filename: str
    content: bytes
    content_type: str = "application/pdf"


@dataclass(slots=True)
class ApiResponse:
    """A response read in full: status, headers, body and the parsed JSON (if any)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    endpoint: str
    data: Any = None
    is_json: bool = False
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, repr=False)
class Request:
    """One logical request as :meth:`ApiClient.request` built it, handed to every attempt.

    ``headers`` already hold the caller's headers, the JSON content type and HTTP Basic
    credentials (bearer tokens are added per attempt: they may be refreshed in between).
    ``url``, ``query``, the bodies and ``secrets`` are never logged; the repr shows the method
    and the template only.

    ``bounded=False`` marks a token call: it takes no concurrency slot and does not pass the
    rate limiter. A refresh that queued behind requests holding every slot (each slow, or
    waiting in the limiter) would stall every request that needs the token; token calls are
    rare (one per source and token lifetime, coalesced by the source's lock) and go to token
    endpoints, not to the API whose rate the limiter protects. They still use the session's
    connection pool, which keeps two connections beyond ``concurrency`` for them (SIASN has
    two token sources, each fetching at most once at a time).
    """

    method: str
    template: str
    url: str
    query: Mapping[str, object] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    files: Mapping[str, FilePart] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticate: bool = True
    bounded: bool = True
    ok: frozenset[int] = frozenset({200, 201, 202, 204})
    allow_404: bool = False
    parse_json: bool = True
    check: Callable[[ApiResponse], None] | None = None
    idempotent: bool = False
    timeout: float = 30.0
    secrets: tuple[object, ...] = ()

    def __repr__(self) -> str:
        return f"Request({self.method} {self.template})"


def _body(req: Request) -> tuple[Any, int]:
    """The body of one attempt and its size in bytes. Multipart bodies are single-use, so
    every attempt builds its own."""
    if req.files:
        fd = aiohttp.FormData()
        out_bytes = 0
        for key, value in (req.form or {}).items():
            fd.add_field(key, str(value))
            out_bytes += len(str(value))
        for key, part in req.files.items():
            fd.add_field(key, part.content, filename=part.filename, content_type=part.content_type)
            out_bytes += len(part.content)
        return fd, out_bytes
    if req.form is not None:
        return dict(req.form), 0
    if req.json is not None:
        data = orjson.dumps(req.json)
        return data, len(data)
    return None, 0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def build_ssl_context(verify: bool | str | Path) -> ssl.SSLContext | bool:
    """``True`` → the system trust store; a path → that CA bundle (file or directory);
    ``False`` → no verification (only for development)."""
    if verify is False:
        return False
    if verify is True:
        return ssl.create_default_context()
    path = Path(verify)
    if path.is_dir():
        return ssl.create_default_context(capath=str(path))
    if path.is_file():
        return ssl.create_default_context(cafile=str(path))
    raise ValueError("verify: CA bundle path does not exist")


async def bounded_map(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    limit: int,
) -> AsyncIterator[tuple[T, R | Exception]]:
    """Run ``fn`` over ``items`` with at most ``limit`` tasks pending; yield ``(item, result)``
    in completion order. An exception is yielded as the result (one bad item never stops the
    batch); cancellation propagates and leaving the loop early cancels what is pending."""
    if limit < 1:
        raise ValueError("limit must be >= 1")
    pending: dict[asyncio.Task[R], T] = {}
    if isinstance(items, AsyncIterable):
        aiter_ = items.__aiter__()
        it = None
    else:
        aiter_ = None
        it = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    item = await anext(aiter_) if aiter_ is not None else next(it)  # type: ignore[arg-type]
                except (StopIteration, StopAsyncIteration):
                    exhausted = True
                    break
                pending[asyncio.ensure_future(fn(item))] = item
            if not pending:
                return
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                item = pending.pop(task)
                exc = task.exception()
                if exc is not None:
                    if not isinstance(exc, Exception):
                        raise exc
                    yield item, exc
                else:
                    yield item, task.result()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def _error_text(data: Any, body: bytes) -> str:
    """Short server message from an error body, whatever the API's error shape."""
    if isinstance(data, dict):
        parts = []
        for key in ("Error", "error", "Message", "message", "error_description", "detail"):
            val = data.get(key)
            if isinstance(val, str | int | float) and str(val):
                parts.append(str(val))
        if "code" in data and not parts:
            parts.append(f"code={data.get('code')}")
        if parts:
            return ": ".join(dict.fromkeys(parts))
    if body:
        return body[:120].decode("utf-8", "replace")
    return "empty body"


class ApiClient:
    """Async HTTP client core. Use as ``async with ApiClient(...) as c:`` (one session per run).

    :param base_url: scheme + host (+ optional path prefix); templates are appended to it.
    :param name: label in logs and metrics (``siasn``, ``siapp``).
    :param auth: which tokens to send on which templates; ``None`` sends none.
    :param verify: TLS verification: ``True`` (default), ``False``, or a CA bundle path.
    :param timeout: seconds per attempt (connect + send + read of the whole body).
    :param concurrency: requests in flight at most; the connection pool gets the same size
        (+2 for token calls, which do not count against it: see :class:`Request`).
    :param rate_limit_rps: client-side ceiling in requests per second (``None``: none, but 429s
        still slow the client down).
    :param max_retries: retries after the first attempt (so ``max_retries + 1`` attempts).
    :param backoff_base_s, backoff_max_s: full-jitter exponential backoff: the n-th retry
        waits ``uniform(0, min(max, base * 2**(n-1)))`` unless the server sent Retry-After.
    :param max_retry_after_s: a Retry-After longer than this fails the call instead of
        blocking the run.
    :param proxy: HTTP(S) proxy URL, if the network needs one.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "api",
        auth: TokenAuth | None = None,
        verify: bool | str | Path = True,
        timeout: float = 30.0,
        concurrency: int = 32,
        rate_limit_rps: float | None = None,
        rate_limit_burst: int = 1,
        max_retries: int = 8,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_retry_after_s: float = 300.0,
        proxy: str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        limiter: RateLimiter | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.auth = auth
        self.verify = verify
        self.timeout = timeout
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self.proxy = proxy
        self.user_agent = user_agent
        self.limiter = limiter or RateLimiter(rate_limit_rps, burst=rate_limit_burst)
        self.stats = ClientMetrics(name)
        self._ssl = build_ssl_context(verify)
        self._session: aiohttp.ClientSession | None = None
        self._sem: asyncio.Semaphore | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the session (done lazily by the first request, or by ``async with``)."""
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(
            limit=self.concurrency + 2,
            limit_per_host=0,
            ssl=self._ssl,
            ttl_dns_cache=300,
            keepalive_timeout=30,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
            raise_for_status=False,
            trust_env=False,
        )
        self._sem = asyncio.Semaphore(self.concurrency)

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def metrics(self) -> dict[str, Any]:
        """Counters of this client so far, as a plain JSON-able dict (for lineage)."""
        out = self.stats.as_dict(self.limiter.stats())
        out["concurrency"] = {"limit": self.concurrency, "max_in_flight": self.max_in_flight}
        return out

    # -- helpers ---------------------------------------------------------------------------

    def url_for(self, template: str, path: Mapping[str, object] | None = None) -> str:
        """Concrete URL of ``template`` with ``path`` values URL-quoted. Never log the result."""
        params = dict(path or {})
        names = _PLACEHOLDER.findall(template)
        missing = [n for n in names if n not in params]
        extra = [n for n in params if n not in names]
        if missing or extra:
            raise ValueError(
                f"{template}: path parameters do not match (missing {missing}, unexpected {extra})"
            )
        concrete = _PLACEHOLDER.sub(lambda m: quote(str(params[m.group(1)]), safe=""), template)
        return self.base_url + concrete

    def _wait(self, rs: RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (rs.attempt_number - 1))
        backoff = random.uniform(0.0, ceiling)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            # Honour the server: never earlier than asked; a little jitter spreads the herd.
            return retry_after + random.uniform(0.0, min(1.0, 0.1 * retry_after + 0.05))
        return backoff

    # -- the request -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        template: str,
        *,
        path: Mapping[str, object] | None = None,
        query: Mapping[str, object] | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        files: Mapping[str, FilePart] | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        authenticate: bool = True,
        bounded: bool = True,
        ok: Collection[int] = (200, 201, 202, 204),
        allow_404: bool = False,
        parse_json: bool = True,
        check: Callable[[ApiResponse], None] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
        sensitive: Iterable[object] = (),
    ) -> ApiResponse:
        """Send one logical request with retries; return the response read in full.

        :param template: endpoint template, the only thing logs/errors/metrics show.
        :param path: values for the template's ``{placeholders}``.
        :param query: query string parameters (values are never logged).
        :param json, form, files: body: JSON, form-urlencoded, or multipart (``files`` plus
            ``form`` fields). Rebuilt for every attempt.
        :param url: absolute URL overriding ``base_url + template`` (token endpoints).
        :param basic_auth: ``(user, password)`` sent as HTTP Basic (token endpoints).
        :param authenticate: send the bearer tokens that :attr:`auth` names for ``template``.
        :param bounded: take a concurrency slot and pass the rate limiter. ``False`` is for
            token calls only (see :class:`Request`).
        :param ok: statuses that are success.
        :param allow_404: return 404 responses instead of raising (the caller decides).
        :param parse_json: parse the body as JSON (unparseable success bodies are retried as
            truncated).
        :param check: extra validation of a successful response; raise a retryable
            :class:`ApiError` to retry (e.g. checksum mismatch).
        :param idempotent: whether retrying after the request may have been processed is safe
            (default: safe methods, or an ``Idempotency-Key`` header is present).
        :param sensitive: extra values to mask in error text (path values are always masked).
        """
        method = method.upper()
        hdrs = dict(headers or {})
        if json is not None and not files and form is None:
            hdrs.setdefault("Content-Type", "application/json")
        if basic_auth:
            pair = f"{basic_auth[0]}:{basic_auth[1]}".encode()
            hdrs["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS or any(
                k.lower() == "idempotency-key" for k in hdrs
            )
        req = Request(
            method,
            template,
            url or self.url_for(template, path),
            query=query,
            json=json,
            form=form,
            files=files,
            headers=hdrs,
            authenticate=authenticate,
            bounded=bounded,
            ok=frozenset(ok),
            allow_404=allow_404,
            parse_json=parse_json,
            check=check,
            idempotent=idempotent,
            timeout=timeout or self.timeout,
            secrets=(
                *(path or {}).values(),
                *(v for v in (query or {}).values() if isinstance(v, str)),
                *sensitive,
            ),
        )
        self.stats.calls += 1
        attempts = 0
        try:
            async for attempt in self._retrying(req):
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return await self._attempt(req)
        except ApiError as exc:
            exc.attempts = max(attempts, 1)
            self.stats.failures += 1
            raise exc from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _retrying(self, req: Request) -> AsyncRetrying:
        """The retry policy of one request: retryable errors, and only when resending is safe."""

        def may_retry(exc: BaseException) -> bool:
            if not isinstance(exc, ApiError) or not exc.retryable:
                return False
            return req.idempotent or not exc.sent or exc.status == 429

        def before_sleep(rs: RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome else None
            wait = rs.next_action.sleep if rs.next_action else 0.0
            self.stats.retries += 1
            self.stats.retry_wait_s += wait
            status = getattr(exc, "status", None)
            reason = getattr(exc, "message", type(exc).__name__)
            # The first retries are logged; after that the metrics tell the story.
            level = logging.INFO if self.stats.retries <= _LOGGED_RETRIES else logging.DEBUG
            if self.stats.retries == _LOGGED_RETRIES:
                log.info("%s: further retries are logged at DEBUG only", self.name)
            log.log(
                level,
                "%s: %s %s → %s (%s); retry %d/%d in %.2f s",
                self.name,
                req.method,
                req.template,
                status if status is not None else "no response",
                reason,
                rs.attempt_number,
                self.max_retries,
                wait,
            )

        return AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(may_retry),
            before_sleep=before_sleep,
            reraise=True,
        )

    async def _attempt(self, req: Request) -> ApiResponse:
        """One attempt (plus one more after a 401 that a token refresh may cure)."""
        refreshed = False
        while True:
            authenticate = req.authenticate and self.auth is not None
            if authenticate:
                assert self.auth is not None
                # Tokens before the request's slot: a token call itself is unbounded (it
                # takes no slot), so a refresh never waits behind requests holding slots.
                await self.auth.headers(self, req.template)
            resp, used = await self._send(req, authenticate)
            if (
                resp.status == 401
                and used
                and not refreshed
                and self.auth is not None
                and self.auth.invalidate(used)
            ):
                refreshed = True
                log.info("%s: %s %s → 401; refreshing tokens", self.name, req.method, req.template)
                continue
            return self._judge(req, resp, refreshed)

    @contextlib.asynccontextmanager
    async def _slot(self, bounded: bool) -> AsyncIterator[None]:
        """A concurrency slot, then a rate-limiter slot; nothing for an unbounded call."""
        if not bounded:
            yield
            return
        assert self._sem is not None
        async with self._sem:
            await self.limiter.acquire()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1

    async def _send(
        self, req: Request, authenticate: bool
    ) -> tuple[ApiResponse, list[tuple[TokenSource, str]]]:
        """One HTTP exchange, body read in full; transport failures become :class:`ApiError`.
        Returns the response and the (source, token) pairs sent."""
        if self._session is None or self._session.closed:
            await self.open()
        assert self._session is not None
        data, out_bytes = _body(req)
        params = None
        if req.query:
            params = {k: str(v) for k, v in req.query.items() if v is not None}
        async with self._slot(req.bounded):
            headers: Mapping[str, str] = req.headers
            used: list[tuple[TokenSource, str]] = []
            if authenticate:
                assert self.auth is not None
                # Read the tokens again once the slot is ours (a cache hit unless they expired
                # meanwhile): a token valid when the request began to queue can expire while it
                # waits for a slot or the limiter, and would come back 401 (short lifetimes,
                # a throttled limiter, a loaded host).
                auth_headers, used = await self.auth.headers(self, req.template)
                headers = {**headers, **auth_headers}
            t0 = time.perf_counter()
            try:
                async with self._session.request(
                    req.method,
                    req.url,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=req.timeout),
                    proxy=self.proxy,
                    allow_redirects=False,
                ) as r:
                    body = await r.read()
                    status = r.status
                    resp_headers = r.headers
            except _TRANSPORT_ERRORS as exc:
                raise self._transport_error(req, exc) from None
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if req.bounded and status != 429:
            self.limiter.record_accepted()
        self.stats.record_response(req.method, req.template, status, elapsed_ms, len(body))
        self.stats.bytes_out += out_bytes
        return (
            ApiResponse(status, resp_headers, body, req.template, elapsed_ms=elapsed_ms),
            used,
        )

    def _transport_error(self, req: Request, exc: BaseException) -> ApiError:
        """The :class:`ApiError` for an exception of the HTTP stack (counted in the metrics)."""
        failure = next(f for f in _TRANSPORT_FAILURES if isinstance(exc, f.types))
        self.stats.record_error(req.method, req.template, failure.kind)
        if isinstance(exc, aiohttp.ClientSSLError):
            text = redact(_tls_text(exc))
        else:
            text = failure.message.format(name=type(exc).__name__, timeout=req.timeout)
        return ApiError(None, req.template, text, retryable=failure.retryable, sent=failure.sent)

    def _judge(self, req: Request, resp: ApiResponse, refreshed: bool) -> ApiResponse:
        """Return a successful response or raise the :class:`ApiError` its status means."""
        status = resp.status
        template = req.template
        content_type = resp.headers.get("Content-Type", "")
        success = status in req.ok or (req.allow_404 and status == 404)
        if resp.body and (req.parse_json or not success):
            try:
                resp.data = orjson.loads(resp.body)
                resp.is_json = True
            except orjson.JSONDecodeError:
                if success and req.parse_json and (status in req.ok or "json" in content_type):
                    self.stats.errors["unparseable"] += 1
                    raise ApiError(
                        status, template, "unparseable JSON body (truncated?)", retryable=True
                    ) from None
        elif success and req.parse_json and status in req.ok and status != 204 and not resp.body:
            self.stats.errors["unparseable"] += 1
            raise ApiError(status, template, "empty body where JSON was expected", retryable=True)
        if success:
            if req.check is not None:
                req.check(resp)
            return resp

        text = redact(_error_text(resp.data, resp.body), req.secrets)
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        # Only bounded requests feed the limiter: a token endpoint's 429 says nothing about
        # the API's rate.
        if status == 429 and req.bounded and self.limiter.penalize(retry_after):
            log.warning(
                "%s: 429 on %s %s; client rate lowered to %s rps",
                self.name,
                req.method,
                template,
                round(self.limiter.current_rate() or 0.0, 1),
            )
        if status in _RETRY_STATUSES or status >= 500:
            if retry_after is not None and retry_after > self.max_retry_after_s:
                raise ApiError(
                    status,
                    template,
                    f"{text}; server asked to wait {retry_after:.0f} s "
                    f"(more than max_retry_after_s={self.max_retry_after_s:g})",
                )
            raise ApiError(status, template, text, retryable=True, retry_after=retry_after)
        if status == 401:
            hint = " after a token refresh" if refreshed else ""
            raise ApiError(status, template, f"{text} (unauthorized{hint})")
        raise ApiError(status, template, text)

    # -- conveniences ----------------------------------------------------------------------

    def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T] | AsyncIterable[T],
        *,
        limit: int | None = None,
    ) -> AsyncIterator[tuple[T, R | Exception]]:
        """:func:`bounded_map` with a default limit of twice the concurrency (keeps the
        semaphore busy without creating one task per item up front)."""
        return bounded_map(fn, items, limit=limit or self.concurrency * 2)

    async def get(
        self, template: str, /, *, query: Mapping[str, object] | None = None, **path: object
    ) -> Any:
        """GET ``template`` with ``path`` values; return the parsed JSON body."""
        resp = await self.request("GET", template, path=path, query=query)
        return resp.data

    async def post(
        self,
        template: str,
        /,
        *,
        json: Any = None,
        idempotency_key: str | None = None,
        **path: object,
    ) -> Any:
        """POST JSON to ``template`` (with an ``Idempotency-Key`` if given); return the JSON."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        resp = await self.request("POST", template, path=path, json=json, headers=headers)
        return resp.data


class ServiceClient:
    """What the SIASN and SIAPP NV clients share: one :class:`ApiClient`, used ``async with``.

    Subclasses set ``name`` and ``build_auth`` (the token scheme of their API).
    """

    name: str = "api"
    #: (config, on_token) -> the token scheme of the API; set by each subclass
    build_auth: Callable[[Any, Callable[[str], None] | None], Any]

    def __init__(self, api: ApiClient, *, download_timeout: float = 300.0) -> None:
        self.api = api
        self.download_timeout = download_timeout

    @classmethod
    def from_config(cls, config: Any, *, on_token: Callable[[str], None] | None = None) -> Self:
        """Client built from validated settings (``SiasnConfig`` / ``SiappConfig``)."""
        api = ApiClient(
            config.base_url,
            name=cls.name,
            auth=cls.build_auth(config, on_token),
            **config.client_kwargs(),
        )
        return cls(api, download_timeout=config.download_timeout)

    async def __aenter__(self) -> Self:
        await self.api.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.api.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.api.close()

    def metrics(self) -> dict[str, Any]:
        """Counters for lineage (templates and numbers only)."""
        return self.api.metrics()

    async def _download(
        self,
        template: str,
        *,
        check: Callable[[ApiResponse], None],
        path: Mapping[str, object] | None = None,
        query: Mapping[str, object] | None = None,
        allow_404: bool = False,
    ) -> ApiResponse:
        """GET a document: the raw body (no JSON), the download timeout, and ``check`` run on
        every answer (a retryable :class:`ApiError` from it retries the download)."""
        return await self.api.request(
            "GET",
            template,
            path=path,
            query=query,
            parse_json=False,
            allow_404=allow_404,
            check=check,
            timeout=self.download_timeout,
            headers={"Accept": "application/pdf, application/octet-stream, */*"},
        )

    async def check_tokens(self) -> dict[str, str]:
        """Fetch the tokens now (connection test)."""
        assert self.api.auth is not None
        return await self.api.auth.warm(self.api)
