"""The async API client core against real loopback HTTP servers (no mocked client)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import json
import logging
import math
import socket
import ssl
import time
import traceback
from typing import Any

import pytest
from aiohttp import web

from siapp_siasn.clients.auth import HeaderToken, OAuth2TokenSource, TokenAuth
from siapp_siasn.clients.errors import ApiError, redact
from siapp_siasn.clients.http import ApiClient, bounded_map, parse_retry_after
from siapp_siasn.clients.metrics import LatencyHistogram
from tests.clients._support import loopback, raw_tcp, self_signed_cert

NIP = "197203151998031002"
TEMPLATE = "/apisiasn/1.0/pns/data-utama/{nip}"


def fast_client(url: str, **kw: Any) -> ApiClient:
    kw.setdefault("rate_limit_rps", None)
    kw.setdefault("backoff_base_s", 0.01)
    kw.setdefault("backoff_max_s", 0.05)
    kw.setdefault("max_retries", 3)
    return ApiClient(url, **kw)


def scripted(responses: list[Any]):
    """Routes where the n-th API request gets responses[n] (last one repeats)."""

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        state["n"] = 0

        async def handler(request: web.Request) -> web.StreamResponse:
            i = min(state["n"], len(responses) - 1)
            state["n"] += 1
            r = responses[i]
            return r() if callable(r) else r

        app.router.add_route("*", "/{tail:.*}", handler)

    return routes


def ok_json() -> web.Response:
    return web.json_response({"code": 1, "data": {"ok": True}})


# --------------------------------------------------------------------- retries, Retry-After


def test_retry_after_seconds_is_honoured() -> None:
    responses = [
        lambda: web.json_response(
            {"Error": "Too Many Requests"}, status=429, headers={"Retry-After": "1"}
        ),
        ok_json,
    ]

    async def main() -> None:
        async with loopback(scripted(responses)) as srv:
            async with fast_client(srv.url, rate_limit_rps=200) as c:
                data = await c.get(TEMPLATE, nip=NIP)
                assert data == {"code": 1, "data": {"ok": True}}
                m = c.metrics()
            gap = srv.rec.hits[1].t - srv.rec.hits[0].t
            assert gap >= 1.0, gap
            assert m["throttled_429"] == 1 and m["retries"] == 1
            # one 429 is sporadic: only this request waited; the shared pace is unchanged
            assert m["limiter"]["penalties"] == 0 and m["limiter"]["current_rps"] == 200

    asyncio.run(main())


def test_retry_after_http_date_is_honoured() -> None:
    target: dict[str, float] = {}

    def busy() -> web.Response:
        when = math.floor(time.time()) + 2  # HTTP dates have one-second resolution
        target["t"] = when
        return web.json_response(
            {"Error": "Service Unavailable"},
            status=503,
            headers={"Retry-After": email.utils.formatdate(when, usegmt=True)},
        )

    async def main() -> None:
        async with loopback(scripted([busy, ok_json])) as srv:
            async with fast_client(srv.url) as c:
                await c.get(TEMPLATE, nip=NIP)
            assert srv.rec.hits[1].wall >= target["t"] - 0.01

    asyncio.run(main())


def test_parse_retry_after() -> None:
    now = email.utils.parsedate_to_datetime("Wed, 25 Nov 2026 10:00:00 GMT")
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 25 Nov 2026 10:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("Wed, 25 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_gives_up_after_max_retries_naming_the_template_only() -> None:
    def down() -> web.Response:
        return web.json_response(
            {"Error": "Bad Gateway", "Message": f"upstream failed for {NIP}"}, status=502
        )

    async def main() -> None:
        async with loopback(scripted([down])) as srv:
            async with fast_client(srv.url, max_retries=3) as c:
                with pytest.raises(ApiError) as err:
                    await c.get(TEMPLATE, nip=NIP)
                assert c.metrics()["failures"] == 1
            assert len(srv.rec.hits) == 4  # 1 + max_retries
        e = err.value
        assert (e.status, e.endpoint, e.attempts) == (502, TEMPLATE, 4)
        text = str(e) + "".join(traceback.format_exception(e))
        assert TEMPLATE in str(e)
        assert NIP not in text
        assert "upstream failed for <redacted>" in str(e)

    asyncio.run(main())


def test_5xx_statuses_are_retried_with_jittered_backoff() -> None:
    def err(code: int):
        return lambda: web.json_response({"Error": "x"}, status=code)

    async def main() -> None:
        routes = scripted([err(500), err(503), err(504), ok_json])
        async with (
            loopback(routes) as srv,
            fast_client(srv.url, backoff_base_s=0.05, backoff_max_s=0.2) as c,
        ):
            await c.get(TEMPLATE, nip=NIP)
            m = c.metrics()
        assert m["retries"] == 3
        assert m["status"] == {"200": 1, "500": 1, "503": 1, "504": 1}
        assert 0 <= m["retry_wait_s"] <= 0.05 + 0.1 + 0.2 + 0.01

    asyncio.run(main())


def test_client_errors_are_not_retried() -> None:
    async def main() -> None:
        bad = lambda: web.json_response({"Error": "Bad Request", "Message": "x"}, status=400)  # noqa: E731
        async with loopback(scripted([bad])) as srv:
            async with fast_client(srv.url) as c:
                with pytest.raises(ApiError) as err:
                    await c.get(TEMPLATE, nip=NIP)
            assert len(srv.rec.hits) == 1
        assert err.value.status == 400 and err.value.attempts == 1

    asyncio.run(main())


# ------------------------------------------------------------------- truncated bodies, timeouts


def test_truncated_json_body_is_retried() -> None:
    full = json.dumps({"code": 1, "data": {"nipBaru": "x" * 50}}).encode()

    def truncated() -> web.Response:
        return web.Response(body=full[: len(full) // 2], content_type="application/json")

    async def main() -> None:
        async with loopback(scripted([truncated, truncated, ok_json])) as srv:
            async with fast_client(srv.url) as c:
                assert (await c.get(TEMPLATE, nip=NIP))["code"] == 1
                m = c.metrics()
            assert len(srv.rec.hits) == 3
        assert m["errors"] == {"unparseable": 2} and m["retries"] == 2

    asyncio.run(main())


def test_body_shorter_than_content_length_is_retried() -> None:
    good = b'{"code": 1, "data": {"ok": true}}'

    def respond(n: int) -> bytes:
        if n == 0:  # announces 200 bytes, sends 10, closes the connection
            return (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 200\r\nConnection: close\r\n\r\n" + good[:10]
            )
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(good)}\r\nConnection: close\r\n\r\n".encode()
            + good
        )

    async def main() -> None:
        async with raw_tcp(respond) as (url, count):
            async with fast_client(url) as c:
                assert await c.get(TEMPLATE, nip=NIP) == {"code": 1, "data": {"ok": True}}
                m = c.metrics()
            assert count[0] == 2
        assert m["retries"] == 1
        assert sum(m["errors"].values()) == 1  # reported as truncated/connection

    asyncio.run(main())


def test_timeout_is_retried() -> None:
    async def slow() -> web.Response:
        await asyncio.sleep(0.6)
        return ok_json()

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        state["n"] = 0

        async def handler(request: web.Request) -> web.Response:
            state["n"] += 1
            return await slow() if state["n"] == 1 else ok_json()

        app.router.add_get("/{tail:.*}", handler)

    async def main() -> None:
        async with loopback(routes) as srv:
            async with fast_client(srv.url, timeout=0.2) as c:
                await c.get(TEMPLATE, nip=NIP)
                m = c.metrics()
            assert len(srv.rec.hits) == 2
        assert m["errors"] == {"timeout": 1}

    asyncio.run(main())


def test_connection_refused_is_retried_then_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there

    async def main() -> None:
        async with fast_client(f"http://127.0.0.1:{port}", max_retries=2) as c:
            with pytest.raises(ApiError) as err:
                await c.get(TEMPLATE, nip=NIP)
            assert c.metrics()["errors"] == {"connection": 3}
        e = err.value
        assert e.status is None and e.sent is False and e.attempts == 3
        assert NIP not in str(e)

    asyncio.run(main())


def test_post_is_retried_only_with_an_idempotency_key() -> None:
    busy = lambda: web.json_response({"Error": "x"}, status=503)  # noqa: E731

    async def main() -> None:
        async with loopback(scripted([busy, ok_json])) as srv:
            async with fast_client(srv.url) as c:
                with pytest.raises(ApiError):
                    await c.post("/apisiasn/1.0/siapp/usulan", json={"a": 1})
            assert len(srv.rec.hits) == 1
        async with loopback(scripted([busy, ok_json])) as srv:
            async with fast_client(srv.url) as c:
                await c.post("/apisiasn/1.0/siapp/usulan", json={"a": 1}, idempotency_key="k-1")
            assert [h.headers["Idempotency-Key"] for h in srv.rec.hits] == ["k-1", "k-1"]

    asyncio.run(main())


# ----------------------------------------------------------------------------- concurrency


def test_concurrency_bound_is_respected_and_reached() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.03)
        return ok_json()

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        app.router.add_get("/x/{i}", slow)

    async def main() -> None:
        async with loopback(routes) as srv:
            async with fast_client(srv.url, concurrency=8) as c:

                async def one(i: int) -> Any:
                    return await c.get("/x/{i}", i=i)

                results = [r async for r in c.map(one, range(80))]
                assert c.max_in_flight == 8
            assert srv.rec.max_in_flight == 8
            assert len(srv.rec.hits) == 80
        assert all(not isinstance(r, Exception) for _, r in results)

    asyncio.run(main())


def test_bounded_map_limits_pending_and_yields_exceptions() -> None:
    running = {"now": 0, "max": 0}

    async def work(i: int) -> int:
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        await asyncio.sleep(0.001 * (i % 3))
        running["now"] -= 1
        if i % 10 == 0:
            raise ValueError(f"bad {i}")
        return i * 2

    async def main() -> list[tuple[int, Any]]:
        return [r async for r in bounded_map(work, range(50), limit=5)]

    out = asyncio.run(main())
    assert running["max"] == 5
    assert sorted(i for i, _ in out) == list(range(50))
    errors = {i for i, r in out if isinstance(r, ValueError)}
    assert errors == {0, 10, 20, 30, 40}
    assert all(r == i * 2 for i, r in out if i not in errors)


# ---------------------------------------------------------------------------------- tokens


def token_server(ttl: int = 3600, revoke_after: int | None = None):
    """Token endpoint + an API that accepts only the tokens issued since the last revocation;
    ``revoke_after=N`` revokes every token when the N-th API request arrives."""

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        state.update(issued=0, valid={}, api=0)

        async def token(request: web.Request) -> web.Response:
            state["issued"] += 1
            value = f"tok-{state['issued']}-secretvalue"
            state["valid"][value] = time.monotonic() + ttl
            return web.json_response({"access_token": value, "expires_in": ttl})

        async def api(request: web.Request) -> web.Response:
            state["api"] += 1
            if revoke_after is not None and state["api"] == revoke_after:
                state["valid"].clear()
            await asyncio.sleep(0.005)
            auth = request.headers.get("Authorization", "")
            value = auth.removeprefix("Bearer ")
            if state["valid"].get(value, 0) <= time.monotonic():
                return web.json_response(
                    {"error": "invalid_token", "error_description": "expired"}, status=401
                )
            return ok_json()

        app.router.add_post("/oauth/token", token)
        app.router.add_get("/api/{i}", api)

    return routes


def bearer_client(url: str, **kw: Any) -> ApiClient:
    source = OAuth2TokenSource(
        "t",
        f"{url}/oauth/token",
        {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s3cr3t-value"},
        skew_s=kw.pop("skew_s", 60.0),
    )
    return fast_client(url, auth=TokenAuth([HeaderToken("Authorization", "Bearer", source)]), **kw)


def test_token_fetch_is_coalesced_and_401_mid_run_refreshes_once() -> None:
    async def main() -> None:
        async with (
            loopback(token_server(revoke_after=30)) as srv,
            bearer_client(srv.url, concurrency=16) as c,
        ):

            async def one(i: int) -> Any:
                return await c.get("/api/{i}", i=i)

            results = [r async for r in c.map(one, range(100))]
            m = c.metrics()
        assert not [r for _, r in results if isinstance(r, Exception)]
        # one token at start for 16 concurrent callers, one after the revocation
        assert srv.state["issued"] == 2
        assert m["token_refreshes"] == {"t": 2}
        assert m["unauthorized_401"] >= 1
        assert m["failures"] == 0

    asyncio.run(main())


def test_token_is_refreshed_before_expiry() -> None:
    async def main() -> None:
        async with loopback(token_server(ttl=1)) as srv, bearer_client(srv.url) as c:
            t_end = time.monotonic() + 2.3
            i = 0
            while time.monotonic() < t_end:
                await c.get("/api/{i}", i=i)
                i += 1
                await asyncio.sleep(0.02)
            m = c.metrics()
        assert m["unauthorized_401"] == 0  # refreshed ahead of expiry (skew), never rejected
        assert m["token_refreshes"]["t"] >= 3

    asyncio.run(main())


def test_persistent_401_fails_after_one_refresh() -> None:
    def routes(app: web.Application, state: dict[str, Any]) -> None:
        state["issued"] = 0

        async def token(request: web.Request) -> web.Response:
            state["issued"] += 1
            return web.json_response({"access_token": f"t{state['issued']}", "expires_in": 60})

        async def api(request: web.Request) -> web.Response:
            return web.json_response({"Error": "Unauthorized", "Message": "nope"}, status=401)

        app.router.add_post("/oauth/token", token)
        app.router.add_get("/api/{i}", api)

    async def main() -> None:
        async with loopback(routes) as srv:
            async with bearer_client(srv.url) as c:
                with pytest.raises(ApiError) as err:
                    await c.get("/api/{i}", i=1)
            assert srv.state["issued"] == 2
            assert len(srv.rec.paths("/api")) == 2
        assert err.value.status == 401
        assert "after a token refresh" in str(err.value)

    asyncio.run(main())


def _bearer_except(base_url: str, open_prefix: str) -> TokenAuth:
    """A client-credentials bearer token on every template but those under ``open_prefix``."""
    source = OAuth2TokenSource("t", f"{base_url}/oauth/token", {"grant_type": "client_credentials"})
    return TokenAuth([HeaderToken("Authorization", "Bearer", source)], {open_prefix: []})


def test_token_refresh_does_not_wait_for_a_concurrency_slot() -> None:
    """Every slot is held by a request the server answers only after a token was fetched:
    the token call must get through without a slot (it once queued behind them)."""

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        state.update(order=[], slow=0)
        both_in, release = asyncio.Event(), asyncio.Event()
        state["both_in"] = both_in

        async def token(request: web.Request) -> web.Response:
            state["order"].append("token")
            release.set()
            return web.json_response({"access_token": "T", "expires_in": 3600})

        async def slow(request: web.Request) -> web.Response:
            state["slow"] += 1
            if state["slow"] == 2:
                both_in.set()
            # Bounded wait so that a regression fails on the order below instead of hanging.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), timeout=5)
            state["order"].append("slow answered")
            return ok_json()

        async def api(request: web.Request) -> web.Response:
            state["order"].append("api")
            return ok_json()

        app.router.add_post("/oauth/token", token)
        app.router.add_get("/slow/{i}", slow)
        app.router.add_get("/api/{i}", api)

    async def main() -> None:
        async with loopback(routes) as srv:
            # /slow needs no token; /api needs one, fetched while both slots are taken
            auth = _bearer_except(srv.url, "/slow")
            async with fast_client(srv.url, auth=auth, concurrency=2) as c:
                held = [asyncio.create_task(c.get("/slow/{i}", i=i)) for i in range(2)]
                await asyncio.wait_for(srv.state["both_in"].wait(), timeout=5)
                assert await c.get("/api/{i}", i=1) == {"code": 1, "data": {"ok": True}}
                await asyncio.gather(*held)
                assert c.max_in_flight == 2  # the token call took no slot
            order = srv.state["order"]
        assert order == ["token", "slow answered", "slow answered", "api"], order

    asyncio.run(main())


def test_token_calls_bypass_the_rate_limiter() -> None:
    """A token call neither waits behind requests queued in the limiter nor spends a slot of
    the API's rate: token endpoints are not what the limit protects, and a refresh that waited
    would stall every request needing the token."""

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        async def token(request: web.Request) -> web.Response:
            return web.json_response({"access_token": "T", "expires_in": 3600})

        async def api(request: web.Request) -> web.Response:
            return ok_json()

        app.router.add_post("/oauth/token", token)
        app.router.add_get("/{kind}/{i}", api)

    async def main() -> None:
        async with loopback(routes) as srv:
            # /open needs no token; /api needs one
            auth = _bearer_except(srv.url, "/open")
            async with fast_client(srv.url, auth=auth, concurrency=1, rate_limit_rps=1) as c:
                await c.get("/open/{i}", i=0)
                queued = asyncio.create_task(c.get("/open/{i}", i=1))
                while c.limiter.acquired < 2:  # the second request now waits in the limiter
                    await asyncio.sleep(0.005)
                await c.get("/api/{i}", i=1)
                await queued
                m = c.metrics()
            order = [h.path for h in srv.rec.hits]
        assert order == ["/open/0", "/oauth/token", "/open/1", "/api/1"], order
        assert m["limiter"]["acquired"] == 3  # the three API requests, not the token call

    asyncio.run(main())


def test_token_endpoint_outage_is_retried_once_not_multiplied() -> None:
    def routes(app: web.Application, state: dict[str, Any]) -> None:
        async def token(request: web.Request) -> web.Response:
            return web.json_response({"error": "temporarily_unavailable"}, status=503)

        async def api(request: web.Request) -> web.Response:
            return ok_json()

        app.router.add_post("/oauth/token", token)
        app.router.add_get("/api/{i}", api)

    async def main() -> None:
        async with loopback(routes) as srv, bearer_client(srv.url, max_retries=3) as c:
            with pytest.raises(ApiError) as err:
                await c.get("/api/{i}", i=1)
            assert len(srv.rec.paths("/oauth/token")) == 4  # 1 + max_retries, not 4 x 4
            assert not srv.rec.paths("/api")
        assert err.value.status == 503 and err.value.endpoint == "/oauth/token"
        assert "s3cr3t-value" not in str(err.value)

    asyncio.run(main())


def test_siasn_token_flows_and_header_policy() -> None:
    """Gateway: HTTP Basic + client_credentials → ``Authorization: Bearer``; SSO: password grant
    without secret → ``Auth: bearer``; /referensi_siasn carries the gateway token only."""
    from siapp_siasn.clients.config import SiasnConfig
    from siapp_siasn.clients.siasn import SiasnClient

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        state["forms"] = {}

        async def gateway(request: web.Request) -> web.Response:
            state["forms"]["gateway"] = (dict(await request.post()), request.headers.copy())
            return web.json_response({"access_token": "GW", "expires_in": 3600})

        async def sso(request: web.Request) -> web.Response:
            state["forms"]["sso"] = (dict(await request.post()), request.headers.copy())
            return web.json_response({"access_token": "SSO", "expires_in": 3600})

        async def api(request: web.Request) -> web.Response:
            return web.json_response({"code": 1, "data": {"ok": True}})

        async def ref(request: web.Request) -> web.Response:
            return web.json_response({"results": [{"id": "1"}]})

        app.router.add_post("/oauth2/token", gateway)
        app.router.add_post("/auth/realms/public-siasn/protocol/openid-connect/token", sso)
        app.router.add_get("/apisiasn/1.0/pns/data-utama/{nip}", api)
        app.router.add_get("/referensi_siasn/1/{ref}/search", ref)

    async def main() -> None:
        async with loopback(routes) as srv:
            cfg = SiasnConfig(
                base_url=srv.url,
                client_id="cid",
                client_secret="csecret",
                sso_username="user",
                sso_password="upass",
                rate_limit_rps=None,
            )
            async with SiasnClient.from_config(cfg) as c:
                assert await c.get_data(TEMPLATE, nip=NIP) == {"ok": True}
                assert [r async for r in c.iter_referensi("agama")] == [{"id": "1"}]
            gw_form, gw_headers = srv.state["forms"]["gateway"]
            sso_form, sso_headers = srv.state["forms"]["sso"]
            api_hit = srv.rec.paths("/apisiasn")[0]
            ref_hit = srv.rec.paths("/referensi_siasn")[0]
        assert gw_form == {"grant_type": "client_credentials"}
        assert gw_headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
        assert sso_form == {
            "grant_type": "password",
            "client_id": "cid",
            "username": "user",
            "password": "upass",
        }
        assert "Authorization" not in sso_headers and "client_secret" not in sso_form
        assert api_hit.headers["Authorization"] == "Bearer GW"
        assert api_hit.headers["Auth"] == "bearer SSO"
        assert ref_hit.headers["Authorization"] == "Bearer GW"
        assert "Auth" not in ref_hit.headers

    asyncio.run(main())


# ------------------------------------------------------------------------------------- TLS


def test_tls_is_verified_by_default(tmp_path) -> None:
    from siapp_siasn.clients.config import SiappConfig

    assert SiappConfig.model_fields["verify"].default is True
    cert, key = self_signed_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        async def handler(request: web.Request) -> web.Response:
            return ok_json()

        app.router.add_get("/{tail:.*}", handler)

    async def main() -> None:
        async with loopback(routes, ssl_context=server_ctx) as srv:
            assert srv.url.startswith("https://")
            async with fast_client(srv.url) as c:  # default: verify=True
                with pytest.raises(ApiError) as err:
                    await c.get(TEMPLATE, nip=NIP)
                assert c.metrics()["errors"] == {"tls": 1}  # not retried: pointless
            assert "TLS" in str(err.value) and err.value.attempts == 1
            async with fast_client(srv.url, verify=str(cert)) as c:  # our CA bundle: trusted
                assert (await c.get(TEMPLATE, nip=NIP))["code"] == 1
            async with fast_client(srv.url, verify=False) as c:  # explicit opt-out
                assert (await c.get(TEMPLATE, nip=NIP))["code"] == 1

    asyncio.run(main())


# ------------------------------------------------------------------------- no personal data


def test_no_secret_token_or_personal_value_in_errors_or_logs(caplog) -> None:
    secret = "very-secret-client-value"
    email_addr = "budi.santoso@example.org"

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        state["n"] = 0

        async def token(request: web.Request) -> web.Response:
            state["n"] += 1
            if state["n"] == 1:
                return web.json_response({"access_token": "TOKEN-abcdef-123", "expires_in": 60})
            form = await request.post()
            return web.json_response(
                {"error": "invalid_client", "error_description": f"{form['client_secret']} bad"},
                status=401,
            )

        async def api(request: web.Request) -> web.Response:
            nip = request.match_info["nip"]
            if request.headers.get("Authorization") == "Bearer TOKEN-abcdef-123" and nip == NIP:
                return web.json_response(
                    {"Error": "Internal", "Message": f"{nip} ({email_addr}) crashed"}, status=500
                )
            return web.json_response({"Error": "Unauthorized", "Message": "bad token"}, status=401)

        app.router.add_post("/oauth/token", token)
        app.router.add_get("/apisiasn/1.0/pns/data-utama/{nip}", api)

    async def main() -> list[ApiError]:
        errors = []
        async with loopback(routes) as srv:
            source = OAuth2TokenSource(
                "gw",
                f"{srv.url}/oauth/token",
                {"grant_type": "client_credentials", "client_id": "c", "client_secret": secret},
            )
            auth = TokenAuth([HeaderToken("Authorization", "Bearer", source)])
            async with fast_client(srv.url, auth=auth, max_retries=2) as c:
                for nip in (NIP, "199001012015011001"):  # 500 with echo; then 401 + bad refresh
                    try:
                        await c.get(TEMPLATE, nip=nip)
                    except ApiError as exc:
                        errors.append(exc)
                metrics = json.dumps(c.metrics())
            errors.append(ApiError(0, "x", metrics))
        return errors

    with caplog.at_level(logging.DEBUG):
        errors = asyncio.run(main())
    assert len(errors) == 3 and errors[0].status == 500 and errors[1].status == 401
    texts = [caplog.text] + [str(e) + "".join(traceback.format_exception(e)) for e in errors]
    for text in texts:
        for forbidden in (NIP, "199001012015011001", secret, email_addr, "TOKEN-abcdef-123"):
            assert forbidden not in text
    assert TEMPLATE in caplog.text  # the template is what logs show


def test_api_error_pickles() -> None:
    import pickle

    e = ApiError(503, TEMPLATE, "busy", retryable=True, retry_after=2.0, attempts=3)
    back = pickle.loads(pickle.dumps(e))  # noqa: S301 - our own bytes
    assert (back.status, back.endpoint, back.retry_after, back.attempts) == (503, TEMPLATE, 2.0, 3)
    assert str(back) == str(e) == f"{TEMPLATE}: HTTP 503: busy (after 3 attempts)"


def test_redact() -> None:
    out = redact(f"NIP {NIP} / 3273011503720004 mail a.b@c.go.id Bearer abc.def tok", ["tok"])
    assert out == "NIP <digits> / <digits> mail <email> Bearer <redacted> <redacted>"
    assert len(redact("x" * 1000)) <= 240


def test_latency_histogram_percentiles() -> None:
    h = LatencyHistogram()
    for ms in range(1, 1001):
        h.add(float(ms))
    for q, true in ((50, 500), (90, 900), (99, 990)):
        assert abs(h.percentile(q) - true) / true <= 0.05
    assert h.summary()["max"] == 1000.0
    assert sum(h.coarse().values()) == 1000
