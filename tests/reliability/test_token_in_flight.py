"""A token can expire while its request waits for a concurrency slot (short token lifetimes,
a throttled limiter, a loaded host). The client reads its tokens again once it holds the
slot, so a request never goes out with a token that expired while it queued.

Before this, the token was read before the wait only: a request queued behind slow ones went
out with an expired token, got a 401, refreshed, queued again behind the others and went out
expired once more: "401 (unauthorized after a token refresh)", an employee lost to the run
(tests/flows/test_asn_faults.py failed so under CPU load).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from siapp_siasn.clients.auth import HeaderToken, OAuth2TokenSource, TokenAuth
from siapp_siasn.clients.http import ApiClient
from tests.clients._support import loopback

TTL_S = 1.0  # the server's token lifetime (the client refreshes 20 % early)
SLOW_S = 1.1  # each request holds the only slot longer than a token lives
REQUESTS = 4


def _routes(app: web.Application, state: dict[str, Any]) -> None:
    state.update(issued={}, n=0, rejected=0, served=0)

    async def token(request: web.Request) -> web.Response:
        state["n"] += 1
        value = f"T{state['n']}"
        state["issued"][value] = time.monotonic()
        return web.json_response({"access_token": value, "expires_in": TTL_S})

    async def api(request: web.Request) -> web.Response:
        value = request.headers.get("Authorization", "").removeprefix("Bearer ")
        issued = state["issued"].get(value)
        if issued is None or time.monotonic() - issued > TTL_S:
            state["rejected"] += 1
            return web.json_response({"Error": "Unauthorized", "Message": "expired"}, status=401)
        await asyncio.sleep(SLOW_S)
        state["served"] += 1
        return web.json_response({"code": 1, "data": {"ok": True}})

    app.router.add_post("/oauth/token", token)
    app.router.add_get("/api/{i}", api)


def test_a_token_expired_while_queued_is_refreshed_before_sending() -> None:
    async def main() -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
        async with loopback(_routes) as srv:
            source = OAuth2TokenSource(
                "t", f"{srv.url}/oauth/token", {"grant_type": "client_credentials"}
            )
            auth = TokenAuth([HeaderToken("Authorization", "Bearer", source)])
            client = ApiClient(
                srv.url, auth=auth, concurrency=1, rate_limit_rps=None, max_retries=0
            )
            async with client as c:
                results = await asyncio.gather(
                    *(c.get("/api/{i}", i=i) for i in range(REQUESTS)), return_exceptions=True
                )
                metrics = c.metrics()
            return results, metrics, srv.state

    results, metrics, state = asyncio.run(main())
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert state["served"] == REQUESTS
    # every request waited longer than a token lives: each needed a token of its own
    assert metrics["token_refreshes"]["t"] == state["n"] >= REQUESTS
