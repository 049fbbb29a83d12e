"""Fault injection over real HTTP (a dedicated sandbox subprocess for this module)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import orjson
import pytest

from siapp_sandbox.testing import RunningSandbox, run_sandbox
from tests.fixtures.sandbox import SandboxFactory

pytestmark = pytest.mark.integration

UTAMA = "/apisiasn/1.0/pns/data-utama/{}"


@pytest.fixture(scope="module")
def sb(sandbox_module_factory: SandboxFactory) -> RunningSandbox:
    return sandbox_module_factory(employees=2000, seed=21)


@pytest.fixture
def c(sb: RunningSandbox) -> Iterator[httpx.Client]:
    headers = sb.siasn_headers()
    with httpx.Client(base_url=sb.siasn_url, headers=headers, timeout=30) as client:
        yield client
    sb.set_faults({})


@pytest.fixture(scope="module")
def nips(sb: RunningSandbox) -> list[str]:
    return sb.truth("asn", min_gol=11)["nips"]


def _statuses(c: httpx.Client, nips: list[str], n: int) -> Counter[int]:
    return Counter(c.get(UTAMA.format(nips[i % len(nips)])).status_code for i in range(n))


def test_5xx_rate_is_roughly_as_configured(
    sb: RunningSandbox, c: httpx.Client, nips: list[str]
) -> None:
    sb.set_faults({"error_5xx_rate": 0.3, "seed": 1})
    st = _statuses(c, nips, 600)
    errors = sum(v for k, v in st.items() if k >= 500)
    assert set(st) <= {200, 500, 502, 503, 504}
    assert 0.22 < errors / 600 < 0.38
    r = next(r for r in (c.get(UTAMA.format(nips[0])) for _ in range(50)) if r.status_code >= 500)
    assert set(r.json()) == {"Error", "Message"}
    assert sb.stats()["faults"]["5xx"] >= errors


def test_429_rate_carries_retry_after(sb: RunningSandbox, c: httpx.Client, nips: list[str]) -> None:
    sb.set_faults({"error_429_rate": 0.25, "retry_after_s": 3, "seed": 2})
    rs = [c.get(UTAMA.format(nips[i])) for i in range(400)]
    limited = [r for r in rs if r.status_code == 429]
    assert 0.17 < len(limited) / 400 < 0.33
    assert all(r.headers["retry-after"] == "3" for r in limited)
    assert {r.status_code for r in rs} == {200, 429}


def test_control_routes_are_never_faulted(sb: RunningSandbox, c: httpx.Client) -> None:
    sb.set_faults({"error_5xx_rate": 1.0, "truncated_rate": 1.0, "rate_limit_rps": 1})
    for _ in range(20):
        assert c.get("/_sandbox/clock").status_code == 200
    assert c.get("/apisiasn/1.0/pns/data-utama/199001012015011999").status_code >= 429


def test_rate_limit_is_enforced(sb: RunningSandbox, nips: list[str]) -> None:
    sb.set_faults({"rate_limit_rps": 40})
    headers = sb.siasn_headers()

    async def burst() -> tuple[list[httpx.Response], float]:
        async with httpx.AsyncClient(base_url=sb.siasn_url, headers=headers, timeout=30) as ac:
            t0 = time.monotonic()
            rs = []
            for _ in range(6):  # ~1.5 s of concurrent bursts
                rs += await asyncio.gather(*(ac.get(UTAMA.format(n)) for n in nips[:50]))
                await asyncio.sleep(0.25)
            return rs, time.monotonic() - t0

    try:
        rs, elapsed = asyncio.run(burst())
    finally:
        sb.set_faults({})
    ok = sum(r.status_code == 200 for r in rs)
    limited = [r for r in rs if r.status_code == 429]
    assert ok <= 40 + 40 * elapsed + 5, (ok, elapsed)
    assert ok >= 40
    assert limited and all(int(r.headers["retry-after"]) >= 1 for r in limited)


def test_latency_and_jitter(sb: RunningSandbox, c: httpx.Client, nips: list[str]) -> None:
    sb.set_faults({"latency_ms": 80, "latency_jitter_ms": 40})
    times = []
    for n in nips[:15]:
        t = time.perf_counter()
        assert c.get(UTAMA.format(n)).status_code == 200
        times.append(time.perf_counter() - t)
    assert min(times) >= 0.08
    assert max(times) < 0.4
    assert max(times) - min(times) > 0.005, "jitter varies the delay"


def test_hang_first_holds_the_first_answers_of_each_route_after_acting(
    sb: RunningSandbox, c: httpx.Client, nips: list[str]
) -> None:
    """``hang_first`` requests per route template are processed, then held ``hang_ms``: the
    client times out, a retry gets the answer at once, and a held POST was stored first (its
    retry under the same Idempotency-Key is a replay, not a second receipt)."""
    sb.set_faults({"hang_ms": 3000, "hang_first": 1})
    sb.reset_stats()
    quick = httpx.Timeout(0.5)
    with pytest.raises(httpx.ReadTimeout):
        c.get(UTAMA.format(nips[0]), timeout=quick)
    # the same template is held once only, whatever the path parameter
    assert c.get(UTAMA.format(nips[1]), timeout=quick).status_code == 200
    assert c.get(UTAMA.format(nips[0]), timeout=quick).status_code == 200
    pic = {"id_pic_siapp": "pic-hang-1", "nip": nips[0], "instansi_id": "i-1", "aksi": "GRANT"}
    idem = {"Idempotency-Key": "hang-test-pic-1"}
    with pytest.raises(httpx.ReadTimeout):
        c.post("/apisiasn/1.0/siapp/pic", json=pic, headers=idem, timeout=quick)
    retry = c.post("/apisiasn/1.0/siapp/pic", json=pic, headers=idem, timeout=quick)
    assert retry.headers.get("idempotent-replayed") == "true"
    [entry] = [
        e for e in sb.received("siapp.pic") if e["idempotency_key"] == idem["Idempotency-Key"]
    ]
    assert entry["replays"] == 1
    assert sb.stats()["faults"]["hang"] == 2
    # control routes are never held; new faults start the count again
    assert c.get("/_sandbox/clock", timeout=quick).status_code == 200
    sb.set_faults({"hang_ms": 3000, "hang_first": 1})
    with pytest.raises(httpx.ReadTimeout):
        c.get(UTAMA.format(nips[2]), timeout=quick)


def test_malformed_records_are_stable_and_reported(
    sb: RunningSandbox, c: httpx.Client, nips: list[str]
) -> None:
    sb.set_faults({"malformed_rate": 0.2, "seed": 7})
    sample = nips[:300]
    clean = {}
    sb.set_faults({})
    for n in sample:
        clean[n] = c.get(UTAMA.format(n)).json()
    sb.set_faults({"malformed_rate": 0.2, "seed": 7})
    first = {n: c.get(UTAMA.format(n)).json() for n in sample}
    second = {n: c.get(UTAMA.format(n)).json() for n in sample}
    assert first == second, "the same records stay malformed"
    bad = [n for n in sample if first[n] != clean[n]]
    assert 0.12 < len(bad) / len(sample) < 0.28
    served = {m["path"]: m for m in sb.truth("malformed")["served"]}
    assert {UTAMA.format(n) for n in bad} == set(served)
    for n in bad:
        m = served[UTAMA.format(n)]
        v = first[n]["data"][m["field"]]
        if m["mutation"] == "impossible_date":
            assert v.startswith("31-02-")
        elif m["mutation"] == "non_numeric_golongan":
            assert not v.isdigit()
        else:
            assert m["mutation"] == "bad_nip" and v != n
        assert sb.truth("malformed", path=UTAMA.format(n))["malformed"] is True
    good = next(n for n in sample if n not in bad)
    assert sb.truth("malformed", path=UTAMA.format(good))["malformed"] is False


def test_truncated_bodies_do_not_parse(
    sb: RunningSandbox, c: httpx.Client, nips: list[str]
) -> None:
    sb.set_faults({"truncated_rate": 1.0})
    for n in nips[:10]:
        r = c.get(UTAMA.format(n))
        assert r.status_code == 200
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(r.content)
    sb.set_faults({"truncated_rate": 0.5, "seed": 3})
    broken = 0
    for n in nips[:200]:
        try:
            orjson.loads(c.get(UTAMA.format(n)).content)
        except orjson.JSONDecodeError:
            broken += 1
    assert 70 < broken < 130


def test_schema_drift_renames_retypes_and_adds(
    sb: RunningSandbox, c: httpx.Client, nips: list[str]
) -> None:
    sb.set_faults(
        {
            "schema_drift": {
                "rename": {"tglLahir": "tanggalLahir"},
                "retype": {"golRuangAkhirId": "int"},
                "add": {"flagIkd": "1"},
                "drop": ["nipLama"],
            }
        }
    )
    d = c.get(UTAMA.format(nips[0])).json()["data"]
    assert "tglLahir" not in d and "tanggalLahir" in d
    assert isinstance(d["golRuangAkhirId"], int)
    assert d["flagIkd"] == "1" and "nipLama" not in d
    page = c.get("/apisiasn/1.0/siapp/asn", params={"limit": 5}).json()["data"]["list"]
    assert all(isinstance(it["golRuangAkhirId"], int) for it in page)
    sb.set_faults("drift")
    d = c.get(UTAMA.format(nips[0])).json()["data"]
    assert "namaUnor" in d and "unorNama" not in d


def _pages(c: httpx.Client, limit: int) -> list[list[str]]:
    out, off = [], 0
    while True:
        r = c.get("/apisiasn/1.0/siapp/asn", params={"limit": limit, "offset": off})
        if r.status_code == 404:
            return out
        out.append([it["nipBaru"] for it in r.json()["data"]["list"]])
        off += limit


def test_duplicate_and_reordered_pages(sb: RunningSandbox, c: httpx.Client) -> None:
    clean = _pages(c, 30)
    flat = [n for p in clean for n in p]
    sb.set_faults({"duplicate_page_rate": 1.0})
    dup = _pages(c, 30)
    assert sum(map(len, dup)) > len(flat)
    assert dup[1][: len(dup[1]) - 30] == clean[0][-(len(dup[1]) - 30) :]
    assert sorted(set(n for p in dup for n in p)) == flat, "nothing lost, only duplicated"
    sb.set_faults({"reorder_pages": True, "seed": 4})
    re1, re2 = _pages(c, 30), _pages(c, 30)
    assert re1 == re2, "reordering is deterministic for a fault seed"
    assert re1 != clean and [sorted(p) for p in re1] == clean


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_5xx_rate": 2}, "error_5xx_rate"),
        ({"latency_ms": "slow"}, "latency_ms"),
        ({"no_such_knob": 1}, "no_such_knob"),
        ({"schema_drift": {"retype": {"x": "decimal"}}}, "schema_drift.retype.x"),
        ({"rate_limit_rps": 0}, "rate_limit_rps"),
    ],
)
def test_invalid_faults_are_a_422_naming_the_field(
    sb: RunningSandbox, c: httpx.Client, body: dict[str, object], field: str
) -> None:
    r = c.put("/_sandbox/faults", content=orjson.dumps(body))
    assert r.status_code == 422
    assert r.json()["Message"].startswith(field + ":")
    assert sb.faults() == sb.set_faults({})


def test_fault_profiles_from_the_command_line() -> None:
    with run_sandbox(employees=200, faults="flaky") as s:
        f = s.faults()
        assert (f["error_5xx_rate"], f["error_429_rate"], f["malformed_rate"]) == (
            0.05,
            0.02,
            0.005,
        )
        assert f["gateway_token_ttl_s"] == f["sso_token_ttl_s"] == 30
        assert s.set_faults("slow")["rate_limit_rps"] == 500
        assert s.set_faults("slow")["latency_ms"] == 20
        g = httpx.post(
            f"{s.siasn_url}/oauth2/token",
            auth=("siapp-hub", "sandbox-secret"),
            data={"grant_type": "client_credentials"},
        )
        assert g.json()["expires_in"] == 3600
