"""SIASN and SIAPP NV clients against the sandbox emulators over loopback (real HTTP)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from siapp_siasn.clients.config import SiappConfig, SiasnConfig
from siapp_siasn.clients.errors import ApiError
from siapp_siasn.clients.ratelimit import RateLimiter
from siapp_siasn.clients.siapp import SiappClient
from siapp_siasn.clients.siasn import DATA_ANAK, DATA_UTAMA, SiasnClient
from tests.clients._support import max_in_window

pytestmark = pytest.mark.integration

UNKNOWN_NIP = "199901012020011999"


def siasn_config(sb: Any, **kw: Any) -> SiasnConfig:
    fields: dict[str, Any] = {
        "base_url": sb.siasn_url,
        "client_id": "siapp-hub",
        "client_secret": "sandbox-secret",
        "sso_username": "siapp",
        "sso_password": "sandbox-password",
        "rate_limit_rps": None,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.5,
    }
    fields.update(kw)
    return SiasnConfig(**fields)


def siapp_config(sb: Any, **kw: Any) -> SiappConfig:
    fields: dict[str, Any] = {
        "base_url": sb.siapp_url,
        "client_id": "siapp-hub",
        "client_secret": "sandbox-secret",
        "rate_limit_rps": None,
        "backoff_base_s": 0.05,
    }
    fields.update(kw)
    return SiappConfig(**fields)


@pytest.fixture
def faults(sandbox: Any) -> Iterator[Any]:
    """Set faults on the shared sandbox for one test; restored afterwards."""
    yield lambda spec: sandbox.set_faults(spec)
    sandbox.set_faults({})


@pytest.fixture(scope="module")
def nips(sandbox: Any) -> list[str]:
    return sandbox.truth("asn")["nips"]


# ------------------------------------------------------------------------------- tokens, 404


def test_password_grant_and_static_sso_token_both_work(sandbox: Any, nips: list[str]) -> None:
    async def main() -> None:
        for cfg in (
            siasn_config(sandbox),
            siasn_config(
                sandbox, sso_username=None, sso_password=None, sso_token="sandbox-static-sso-token"
            ),
        ):
            async with SiasnClient.from_config(cfg) as c:
                data = await c.get_data(DATA_UTAMA, nip=nips[0])
                assert data["nipBaru"] == nips[0]
                refreshes = c.metrics()["token_refreshes"]
            assert refreshes == (
                {"gateway": 1, "sso": 1} if cfg.sso_mode == "password" else {"gateway": 1}
            )

    asyncio.run(main())


def test_rejected_static_sso_token_is_a_clean_401(sandbox: Any, nips: list[str]) -> None:
    cfg = siasn_config(
        sandbox, sso_username=None, sso_password=None, sso_token="stale-pasted-token"
    )

    async def main() -> ApiError:
        async with SiasnClient.from_config(cfg) as c:
            with pytest.raises(ApiError) as err:
                await c.get_data(DATA_UTAMA, nip=nips[0])
            # the gateway token alone is enough for reference data
            assert [r async for r in c.iter_referensi("agama")]
        return err.value

    err = asyncio.run(main())
    assert err.status == 401 and err.endpoint == DATA_UTAMA
    assert "stale-pasted-token" not in str(err) and nips[0] not in str(err)


def test_not_found_and_empty_are_none(sandbox: Any, nips: list[str]) -> None:
    async def main() -> None:
        async with SiasnClient.from_config(siasn_config(sandbox)) as c:
            assert await c.get_data(DATA_UTAMA, nip=UNKNOWN_NIP) is None
            children = [await c.get_data(DATA_ANAK, nip=n) for n in nips[:30]]
            assert any(x is None for x in children)  # no child: 404 envelope → None
            assert any(x and x["listAnak"] for x in children)
            with pytest.raises(ApiError) as err:  # unknown reference table: an error, not []
                [r async for r in c.iter_referensi("no-such-table")]
            assert err.value.status == 404

    asyncio.run(main())


def test_tokens_refresh_on_expiry_and_on_401_mid_run(
    sandbox: Any, nips: list[str], faults: Any
) -> None:
    """Tokens live 1.2 s on the server, which announces ``expires_in: 2`` (rounded up): with no
    skew the client keeps using a dead token for 0.8 s, gets 401, refreshes once and retries.
    Nothing fails over a 3 s run with 8 concurrent callers."""
    faults({"gateway_token_ttl_s": 1.2, "sso_token_ttl_s": 1.2})

    async def main() -> dict[str, Any]:
        async with SiasnClient.from_config(siasn_config(sandbox, token_skew_s=0)) as c:
            deadline = time.monotonic() + 3.0

            async def worker(k: int) -> None:
                i = k
                while time.monotonic() < deadline:
                    data = await c.get_data(DATA_UTAMA, nip=nips[i % len(nips)])
                    assert data["nipBaru"] == nips[i % len(nips)]
                    i += 8
                    await asyncio.sleep(0.01)

            await asyncio.gather(*(worker(k) for k in range(8)))
            return c.metrics()

    m = asyncio.run(main())
    assert m["failures"] == 0
    assert m["unauthorized_401"] >= 1
    assert m["token_refreshes"]["gateway"] >= 2 and m["token_refreshes"]["sso"] >= 2
    # refreshes coalesce: far fewer token calls than 401s would suggest without the lock
    assert m["token_refreshes"]["gateway"] <= 6


# ------------------------------------------------------------------------------- pagination


def test_enumeration_deduplicates_duplicated_and_reordered_pages(
    sandbox: Any, nips: list[str], faults: Any
) -> None:
    faults({"duplicate_page_rate": 0.7, "reorder_pages": True, "seed": 3})

    async def main() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with SiasnClient.from_config(siasn_config(sandbox)) as c:
            rows = [r async for r in c.iter_asn(page_size=25)]
            return rows, c.metrics()

    rows, m = asyncio.run(main())
    got = [r["nipBaru"] for r in rows]
    assert len(got) == len(set(got))
    assert set(got) == set(nips)
    assert m["pagination"]["duplicates_dropped"] > 0
    assert sandbox.stats()["faults"]["duplicate_page"] > 0


def test_referensi_offset_pagination_stops_on_a_short_page(sandbox: Any) -> None:
    truth = sandbox.truth("referensi/golongan")
    expected = truth["results"] if isinstance(truth, dict) else truth

    async def main() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with SiasnClient.from_config(siasn_config(sandbox)) as c:
            rows = [r async for r in c.iter_referensi("golongan", page_size=5)]
            return rows, c.metrics()

    rows, m = asyncio.run(main())
    assert rows == expected
    assert m["pagination"]["pages"] == len(expected) // 5 + 1


# --------------------------------------------------------------------------------- faults


def test_5xx_429_and_truncated_bodies_are_retried(
    sandbox: Any, nips: list[str], faults: Any
) -> None:
    faults(
        {
            "error_5xx_rate": 0.1,
            "error_429_rate": 0.05,
            "retry_after_s": 1,
            "truncated_rate": 0.1,
            "seed": 5,
        }
    )

    async def main() -> dict[str, Any]:
        async with SiasnClient.from_config(siasn_config(sandbox, concurrency=16)) as c:

            async def one(nip: str) -> Any:
                return await c.get_data(DATA_UTAMA, nip=nip)

            async for nip, data in c.api.map(one, nips[:100]):
                assert not isinstance(data, Exception), data
                assert data["nipBaru"] == nip
            return c.metrics()

    m = asyncio.run(main())
    assert m["failures"] == 0 and m["retries"] > 0
    assert m["throttled_429"] > 0
    assert any(code.startswith("5") for code in m["status"])
    assert m["errors"].get("unparseable", 0) > 0  # truncated JSON retried


class StampingLimiter(RateLimiter):
    """The real limiter on the real clock, keeping the stamp of every release: the last clock
    reading of ``acquire``, the very one its hard ceiling counts (nothing awaits in between)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.last = 0.0
        self.released: list[float] = []
        super().__init__(rate, burst=burst, clock=self._stamp)

    def _stamp(self) -> float:
        self.last = time.monotonic()
        return self.last

    async def acquire(self) -> None:
        await super().acquire()
        self.released.append(self.last)


def test_client_holds_the_rate_against_the_sandbox(sandbox: Any, nips: list[str]) -> None:
    """Counts and bounds that hold however loaded the machine is (a loaded machine only slows
    the run down; the rate a run achieves is a speed figure: bench/pull_bench.py prints it).
    Every call passes the limiter once and reaches the sandbox once, nothing is throttled or
    retried, the answers are the NIPs asked for, and no one-second window holds more than
    ``rate + burst - 1`` releases."""
    rate, calls = 200.0, 400
    route = "GET /apisiasn/1.0/pns/data-utama/{nipBaru}"
    wanted = (nips * 3)[:calls]

    def served() -> int:
        return int(sandbox.stats()["routes"]["siasn"].get(route, {}).get("count", 0))

    async def main() -> tuple[StampingLimiter, list[tuple[str, str]], int, dict[str, Any]]:
        cfg = siasn_config(sandbox, rate_limit_rps=rate, concurrency=16)
        async with SiasnClient.from_config(cfg) as c:
            limiter = StampingLimiter(rate, cfg.rate_limit_burst)
            c.api.limiter = limiter
            await c.check_tokens()  # token calls bypass the limiter
            served_before = served()
            got = []
            async for nip, data in c.api.map(lambda n: c.get_data(DATA_UTAMA, nip=n), wanted):
                assert not isinstance(data, Exception), data
                got.append((nip, data["nipBaru"]))
            return limiter, got, served() - served_before, c.metrics()

    limiter, got, at_sandbox, m = asyncio.run(main())
    assert sorted(got) == sorted((nip, nip) for nip in wanted)
    assert len(limiter.released) == at_sandbox == calls
    assert m["failures"] == m["retries"] == m["throttled_429"] == 0
    utama = m["endpoints"][f"GET {DATA_UTAMA}"]
    assert (utama["requests"], utama["200"]) == (calls, calls)
    assert set(m["status"]) == {"200"} and m["limiter"]["configured_rps"] == rate
    assert max_in_window(limiter.released, 1.0) <= rate + limiter.burst - 1


# ------------------------------------------------------------------------------ documents


def test_upload_then_download_checksum_and_truncation(sandbox: Any, faults: Any) -> None:
    pdf = b"%PDF-1.4\n% hub test document\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"

    async def main() -> dict[str, Any]:
        async with SiasnClient.from_config(siasn_config(sandbox)) as c:
            refs = [r async for r in c.iter_referensi("ref-dokumen")]
            ref = refs[0]["id"]
            up = await c.upload_dok(pdf, "pertek.pdf", ref, idempotency_key="t-pertek")
            assert up["slug"] == ref
            got = await c.download(up["dok_uri"], expected_sha256=hashlib.sha256(pdf).hexdigest())
            assert got == pdf
            with pytest.raises(ApiError) as err:
                await c.download("peremajaan/usulan/does-not-exist.pdf")
            assert err.value.status == 404
            # bodies cut in half with a matching Content-Length: caught by the missing %%EOF
            faults({"truncated_rate": 0.5, "seed": 2})
            for _ in range(6):
                assert await c.download(up["dok_uri"]) == pdf
            return c.metrics()

    m = asyncio.run(main())
    assert m["errors"]["truncated_pdf"] > 0 and m["failures"] == 0


def test_an_upload_repeated_under_its_key_is_one_document(sandbox: Any) -> None:
    """Uploads carry an Idempotency-Key: a retry after a lost answer gets the first copy back
    instead of leaving an orphan at SIASN; another key is another upload."""
    pdf = b"%PDF-1.4\n% twice\n%%EOF\n"

    async def main() -> tuple[dict[str, Any], ...]:
        async with SiasnClient.from_config(siasn_config(sandbox)) as c:
            refs = [r async for r in c.iter_referensi("ref-dokumen")]
            ref = refs[0]["id"]
            first = await c.upload_dok(pdf, "a.pdf", ref, idempotency_key="k-1")
            again = await c.upload_dok(pdf, "a.pdf", ref, idempotency_key="k-1")
            other = await c.upload_dok(pdf, "a.pdf", ref, idempotency_key="k-2")
            with pytest.raises(ValueError, match="idempotency_key"):
                await c.upload_dok(pdf, "a.pdf", ref, idempotency_key="")
            return first, again, other

    first, again, other = asyncio.run(main())
    assert again["dok_id"] == first["dok_id"] and again["dok_uri"] == first["dok_uri"]
    assert other["dok_id"] != first["dok_id"]


def test_siapp_document_checksum_is_verified_and_corruption_retried(
    sandbox: Any, faults: Any
) -> None:
    docs = sandbox.truth("documents")["siapp"][:6]
    faults({"corrupt_document_rate": 0.5, "seed": 11})

    async def main() -> dict[str, Any]:
        async with SiappClient.from_config(siapp_config(sandbox)) as c:
            for doc in docs:
                body, announced = await c.download_dokumen(doc["dok_id"])
                assert hashlib.sha256(body).hexdigest() == announced == doc["sha256"]
                assert len(body) == doc["size"]
            return c.metrics()

    m = asyncio.run(main())
    assert m["retries"] > 0 and m["failures"] == 0


# ---------------------------------------------------------------------------- SIAPP lists


def test_siapp_cursor_pagination(sandbox: Any) -> None:
    truth = sandbox.truth("usulan")

    async def main() -> list[dict[str, Any]]:
        async with SiappClient.from_config(siapp_config(sandbox)) as c:
            return [r async for r in c.iter_list("usulan", page_size=1)]

    rows = asyncio.run(main())
    assert len(rows) >= 1
    assert {r["id"] for r in rows} <= {u["id"] for u in truth["usulan"]}
    assert len({(r["id"], r["version"]) for r in rows}) == len(rows)


# ------------------------------------------------------------------------------------ posts


def test_post_with_idempotency_key_is_delivered_once(sandbox: Any, nips: list[str]) -> None:
    body = {
        "id_pic_siapp": "pic-hooks-test-1",
        "nip": nips[1],
        "instansi_id": "X1",
        "aksi": "GRANT",
    }

    async def main() -> tuple[Any, Any]:
        async with SiasnClient.from_config(siasn_config(sandbox)) as c:
            first = await c.post_pks("pic", body, "pic:pic-hooks-test-1:v1")
            again = await c.post_pks("pic", body, "pic:pic-hooks-test-1:v1")
            return first, again

    first, again = asyncio.run(main())
    assert first == again and first["status"]
    entries = [e for e in sandbox.received("siapp.pic") if e["payload"] == body]
    assert len(entries) == 1 and entries[0]["replays"] == 1


def test_siapp_inbound_multipart_and_json(sandbox: Any) -> None:
    usulan_id = sandbox.truth("usulan")["usulan"][0]["id"]
    pdf = b"%PDF-1.4\n% pertek\n"

    async def main() -> tuple[Any, Any]:
        async with SiappClient.from_config(siapp_config(sandbox)) as c:
            pertek = await c.post_inbound(
                "pertek",
                {
                    "usulan_id": usulan_id,
                    "no_pertek": "PTK-HOOKS-1",
                    "sha256": hashlib.sha256(pdf).hexdigest(),
                },
                "pertek:hooks-1",
                file=pdf,
                filename="pertek.pdf",
            )
            refused = await c.post_inbound(
                "penolakan", {"usulan_id": usulan_id, "alasan_kode": "X"}, "penolakan:hooks-1"
            )
            return pertek, refused

    pertek, refused = asyncio.run(main())
    assert pertek["status"] == "accepted" and refused["status"] == "accepted"
    got = [
        e for e in sandbox.received("inbound.pertek") if e["idempotency_key"] == "pertek:hooks-1"
    ]
    assert got and got[0]["payload"]["size"] == len(pdf)


# ------------------------------------------------------------------ a usulan's whole trip


def test_usulan_round_trip_status_documents_and_sk(sandbox_module_factory: Any) -> None:
    """SIAPP documents → SIASN upload → PKS usulan (Idempotency-Key) → BKN status with pertek
    → pertek download → SIASN document inventory → SK upload; on a dedicated small sandbox
    whose clock this test may move."""
    sb = sandbox_module_factory(employees=500, seed=1)

    async def main() -> None:
        async with (
            SiasnClient.from_config(siasn_config(sb)) as c,
            SiappClient.from_config(siapp_config(sb)) as s,
        ):
            usulan = [u async for u in s.iter_list("usulan")]
            u = usulan[0]
            sent = []
            for d in u["dokumen"]:
                body, sha = await s.download_dokumen(d["id"])
                up = await c.upload_dok(
                    body, f"{d['id']}.pdf", d["id_ref_dokumen"], idempotency_key=f"t-{d['id']}"
                )
                sent.append(
                    {
                        "id_ref_dokumen": d["id_ref_dokumen"],
                        "dok_id": up["dok_id"],
                        "dok_uri": up["dok_uri"],
                        "sha256": sha,
                        "size": len(body),
                    }
                )
            body = {
                "id_usulan_siapp": u["id"],
                "nip": u["nip"],
                "jenis_usulan": u["jenis"],
                "kategori_jabatan": u["kategori_jabatan"],
                "versi": u["version"],
                "dokumen": sent,
            }
            key = f"usulan:{u['id']}:{u['version']}"
            accepted = await c.post_pks("usulan", body, key)
            assert accepted["status"] == "diterima"
            assert await c.post_json("/apisiasn/1.0/siapp/usulan", body, key) == accepted

            sb.advance(5)
            status = [r async for r in c.iter_status_usulan(page_size=1)]
            mine = [r for r in status if r["id_usulan_siapp"] == u["id"]]
            assert len(mine) == 1 and mine[0]["statusUsulan"]
            path = mine[0]["path_ttd_pertek"]
            path = path.get("") if isinstance(path, dict) else path
            assert mine[0]["statusUsulan"] == "22" and path  # pertek signed by day 5
            assert (await c.download(path)).startswith(b"%PDF-")

            held = [d async for d in c.iter_dokumen(u["id"])]
            assert {d["sha256"] for d in held} >= {d["sha256"] for d in sent}

            sk = await c.upload_dok_sk_kp(
                b"%PDF-1.4\n% SK\n%%EOF\n",
                "sk.pdf",
                mine[0]["id"],
                "KEP-1/2026",
                "10-01-2026",
                idempotency_key="t-sk",
            )
            assert sk["dok_uri"]

    asyncio.run(main())
    assert len(sb.received("siapp.usulan")) == 1
