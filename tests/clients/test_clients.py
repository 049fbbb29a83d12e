"""SIASN / SIAPP client edge cases the sandbox does not produce, on loopback servers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from siapp_siasn.clients.config import SiappConfig, SiasnConfig
from siapp_siasn.clients.errors import ApiError
from siapp_siasn.clients.siapp import SiappClient
from siapp_siasn.clients.siasn import DATA_UTAMA, PKS_ASN, SiasnClient
from tests.clients._support import loopback


def with_tokens(app: web.Application) -> None:
    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "T", "expires_in": 3600})

    for path in (
        "/oauth2/token",
        "/auth/realms/public-siasn/protocol/openid-connect/token",
        "/oauth/token",
    ):
        app.router.add_post(path, token)


def siasn(url: str) -> SiasnClient:
    cfg = SiasnConfig(
        base_url=url,
        client_id="c",
        client_secret="s",
        sso_token="static",
        rate_limit_rps=None,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    return SiasnClient.from_config(cfg)


def siapp(url: str) -> SiappClient:
    cfg = SiappConfig(
        base_url=url,
        client_id="c",
        client_secret="s",
        rate_limit_rps=None,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    return SiappClient.from_config(cfg)


def test_envelopes() -> None:
    def routes(app: web.Application, state: dict[str, Any]) -> None:
        with_tokens(app)

        async def utama(request: web.Request) -> web.Response:
            kind = request.match_info["nip"]
            if kind == "1":
                return web.json_response({"code": 1, "data": {"a": "1"}})
            if kind == "2":  # some SIASN endpoints answer 200 with code 0 for "nothing"
                return web.json_response({"code": 0, "data": "Data tidak ditemukan"})
            if kind == "3":  # a gateway's own 404 page: a wrong URL, not "no data"
                return web.Response(status=404, text="<html>no such API</html>")
            return web.json_response({"unexpected": True})

        app.router.add_get("/apisiasn/1.0/pns/data-utama/{nip}", utama)

    async def main() -> None:
        async with loopback(routes) as srv, siasn(srv.url) as c:
            assert await c.get_data(DATA_UTAMA, nip="1") == {"a": "1"}
            assert await c.get_data(DATA_UTAMA, nip="2") is None
            with pytest.raises(ApiError, match="no SIASN envelope") as err:
                await c.get_data(DATA_UTAMA, nip="3")
            assert err.value.status == 404
            with pytest.raises(ApiError, match="not a SIASN envelope"):
                await c.get_data(DATA_UTAMA, nip="4")

    asyncio.run(main())


def test_offset_enumeration_refetches_a_page_that_only_repeats_and_sweeps_for_missing() -> None:
    """Page 2 first comes back as a copy of page 1 (hiding page 2): refetched. One row is
    missing from its page on the first sweep: ``total`` says so and a second sweep finds it."""
    nips = [f"{i:018d}" for i in range(1, 11)]
    page = 4

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        with_tokens(app)
        state.update(calls=0, dup_done=False, hidden=True)

        async def asn(request: web.Request) -> web.Response:
            state["calls"] += 1
            offset = int(request.query["offset"])
            rows = nips[offset : offset + page]
            if offset == page and not state["dup_done"]:
                state["dup_done"] = True
                rows = nips[:page]
            if offset == 2 * page and state["hidden"]:
                state["hidden"] = False
                rows = rows[1:]  # the first row of the last page goes missing once
            if not rows:
                return web.json_response({"code": 0, "data": "Data tidak ditemukan"}, status=404)
            items = [{"nipBaru": n, "updated": "01-01-2026"} for n in rows]
            return web.json_response({"code": 1, "data": {"total": str(len(nips)), "list": items}})

        app.router.add_get(PKS_ASN, asn)

    async def main() -> tuple[list[str], dict[str, Any]]:
        async with loopback(routes) as srv, siasn(srv.url) as c:
            got = [r["nipBaru"] async for r in c.iter_asn(page_size=page)]
            return got, c.metrics()["pagination"]

    got, stats = asyncio.run(main())
    assert sorted(got) == nips and len(got) == len(set(got))
    assert stats["duplicate_pages_refetched"] == 1
    assert stats["repair_sweeps"] == 1


def test_iter_asn_sends_updated_since_as_dd_mm_yyyy() -> None:
    import datetime as dt

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        with_tokens(app)

        async def asn(request: web.Request) -> web.Response:
            state["query"] = dict(request.query)
            return web.json_response({"code": 0, "data": "Data tidak ditemukan"}, status=404)

        app.router.add_get(PKS_ASN, asn)

    async def main() -> dict[str, str]:
        async with loopback(routes) as srv, siasn(srv.url) as c:
            assert [r async for r in c.iter_asn(dt.date(2026, 1, 5), page_size=50)] == []
            return srv.state["query"]

    assert asyncio.run(main()) == {"updatedSince": "05-01-2026", "limit": "50", "offset": "0"}


def test_cursor_pagination_dedupes_and_detects_loops() -> None:
    pages = {
        None: ({"data": [{"id": "a", "version": 1, "updated_at": "t1"}], "next_cursor": "c1"}),
        "c1": (
            {
                "data": [
                    {"id": "a", "version": 1, "updated_at": "t1"},  # repeated row
                    {"id": "b", "version": 1, "updated_at": "t2"},
                ],
                "next_cursor": "c2",
            }
        ),
        "c2": ({"data": [{"id": "c", "version": 2, "updated_at": "t3"}], "next_cursor": None}),
        "loop": ({"data": [], "next_cursor": "loop"}),
    }

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        with_tokens(app)

        async def usulan(request: web.Request) -> web.Response:
            cursor = request.query.get("cursor")
            if request.query.get("updated_since") == "loop":
                cursor = "loop"
            return web.json_response(pages[cursor])

        app.router.add_get("/api/v1/usulan", usulan)

    async def main() -> None:
        async with loopback(routes) as srv, siapp(srv.url) as c:
            rows = [r["id"] async for r in c.iter_list("usulan")]
            assert rows == ["a", "b", "c"]
            assert c.metrics()["pagination"]["duplicates_dropped"] == 1
            with pytest.raises(ApiError, match="next_cursor repeats"):
                [r async for r in c.iter_list("usulan", updated_since="loop")]
            with pytest.raises(ValueError, match="unknown SIAPP resource"):
                [r async for r in c.iter_list("users")]

    asyncio.run(main())


def test_siapp_checksum_mismatch_that_persists_raises() -> None:
    def routes(app: web.Application, state: dict[str, Any]) -> None:
        with_tokens(app)

        async def dokumen(request: web.Request) -> web.Response:
            return web.Response(
                body=b"%PDF-1.4 corrupt",
                content_type="application/pdf",
                headers={"X-Checksum-SHA256": "0" * 64},
            )

        app.router.add_get("/api/v1/dokumen/{id}", dokumen)

    async def main() -> None:
        async with loopback(routes) as srv, siapp(srv.url) as c:
            from siapp_siasn.clients.errors import ChecksumMismatchError

            with pytest.raises(ChecksumMismatchError) as err:
                await c.download_dokumen("d-1")
            assert err.value.attempts == 9  # 1 + max_retries (8)
            body, announced = await c.download_dokumen("d-1", verify_sha256=False)
            assert body == b"%PDF-1.4 corrupt" and announced == "0" * 64

    asyncio.run(main())


# ------------------------------------------------------------------------------ auth as operated
SSO_PATH = "/auth/realms/public-siasn/protocol/openid-connect/token"


def test_sso_password_grant_uses_its_own_client_id_and_ref_unor_gets_both_tokens() -> None:
    unor = [{"id": "A5EB03E2" * 4, "namaUnor": "Biro Umum", "diatasanId": None}]

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        async def gateway(request: web.Request) -> web.Response:
            return web.json_response({"access_token": "GW", "expires_in": 3600})

        async def sso(request: web.Request) -> web.Response:
            state["sso_form"] = dict(await request.post())
            return web.json_response({"access_token": "SSO", "expires_in": 43200})

        async def ref_unor(request: web.Request) -> web.Response:
            rows = state.get("unor", unor)
            body = {"code": 1, "count": len(rows), "data": rows, "message": "success"}
            return web.json_response(body)

        app.router.add_post("/oauth2/token", gateway)
        app.router.add_post(SSO_PATH, sso)
        app.router.add_get("/apisiasn/1.0/referensi/ref-unor", ref_unor)

    async def main() -> None:
        async with loopback(routes) as srv:
            cfg = SiasnConfig(
                base_url=srv.url,
                client_id="gateway-consumer-key",
                client_secret="s",
                sso_client_id="siasn-sso-client",
                sso_username="u",
                sso_password="p",
                rate_limit_rps=None,
            )
            async with SiasnClient.from_config(cfg) as c:
                assert await c.get_ref_unor() == unor
                srv.state["unor"] = []
                with pytest.raises(ApiError, match="no UNOR rows"):
                    await c.get_ref_unor()
            hit = srv.rec.paths("/apisiasn/1.0/referensi/ref-unor")[0]
            assert hit.headers["Authorization"] == "Bearer GW"
            assert hit.headers["Auth"] == "bearer SSO"
            assert srv.state["sso_form"]["client_id"] == "siasn-sso-client"

    asyncio.run(main())


def test_every_request_goes_through_the_configured_proxy() -> None:
    """BKN admits whitelisted source IPs only: with ``proxy`` set, tokens and API calls all
    leave through the proxy (here a loopback server answering as the proxied host)."""

    def routes(app: web.Application, state: dict[str, Any]) -> None:
        with_tokens(app)

        async def utama(request: web.Request) -> web.Response:
            return web.json_response({"code": 1, "data": {"nipBaru": request.match_info["nip"]}})

        app.router.add_get("/apisiasn/1.0/pns/data-utama/{nip}", utama)

    async def main() -> None:
        async with loopback(routes) as proxy:
            cfg = SiasnConfig(
                base_url="http://siasn.invalid:8243",
                client_id="c",
                client_secret="s",
                sso_client_id="kc",
                sso_username="u",
                sso_password="p",
                proxy=proxy.url,
                rate_limit_rps=None,
                max_retries=0,
            )
            async with SiasnClient.from_config(cfg) as c:
                assert await c.get_data(DATA_UTAMA, nip="1") == {"nipBaru": "1"}
            hosts = {h.headers.get("Host") for h in proxy.rec.hits}
            paths = {h.path for h in proxy.rec.hits}
        assert hosts == {"siasn.invalid:8243"}
        assert {"/oauth2/token", SSO_PATH, "/apisiasn/1.0/pns/data-utama/1"} <= paths

    asyncio.run(main())
