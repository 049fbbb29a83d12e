"""Two sandbox processes with the same seed serve byte-identical bodies; the clock changes
records exactly as the truth says."""

from __future__ import annotations

import httpx
import pytest

from siapp_sandbox.testing import RunningSandbox
from tests.fixtures.sandbox import SandboxFactory

pytestmark = pytest.mark.integration


def _bodies(sb: RunningSandbox, nips: list[str]) -> list[bytes]:
    h = sb.siasn_headers()
    out: list[bytes] = []
    with httpx.Client(base_url=sb.siasn_url, headers=h, timeout=30) as c:
        for nip in nips:
            for ep in ("data-utama", "data-pasangan", "data-anak", "data-ortu", "rw-golongan"):
                out.append(c.get(f"/apisiasn/1.0/pns/{ep}/{nip}").content)
        for off in (0, 50, 100):
            out.append(
                c.get("/apisiasn/1.0/siapp/asn", params={"limit": 50, "offset": off}).content
            )
        out.append(c.get("/apisiasn/1.0/siapp/asn", params={"updatedSince": "01-01-2026"}).content)
        out.append(c.get("/referensi_siasn/1/unor/search", params={"limit": 300}).content)
    return out


def test_same_seed_gives_byte_identical_responses(sandbox_factory: SandboxFactory) -> None:
    a = sandbox_factory(employees=2000, seed=5)
    b = sandbox_factory(employees=2000, seed=5)
    c = sandbox_factory(employees=2000, seed=6)
    nips = a.truth("asn")["nips"][:20]
    assert b.truth("asn")["nips"][:20] == nips
    assert _bodies(a, nips) == _bodies(b, nips)
    assert c.truth("asn")["nips"][:20] != nips
    for sb in (a, b):
        sb.advance(40)
    assert _bodies(a, nips) == _bodies(b, nips)


def test_clock_advance_changes_records_as_truth_says(sandbox_factory: SandboxFactory) -> None:
    sb = sandbox_factory(employees=4000, seed=8)
    h = sb.siasn_headers()
    with httpx.Client(base_url=sb.siasn_url, headers=h, timeout=30) as c:
        watched = sb.truth("asn")["nips"]
        before = {n: c.get(f"/apisiasn/1.0/pns/data-utama/{n}").content for n in watched}
        assert sb.advance(60) == {"day": 60, "date": "2026-03-06"}
        changed = {x["nip"]: x for x in sb.truth("changes", since=1)["changes"]}
        after = {n: c.get(f"/apisiasn/1.0/pns/data-utama/{n}").content for n in watched}
        utama_kinds = {"golongan", "kedudukan", "kontak", "unor", "jabatan", "keluarga"}
        n_changed = 0
        for n in watched:
            if n not in changed:
                assert before[n] == after[n], "a record changed without being reported"
            elif set(changed[n]["kinds"]) & (utama_kinds - {"keluarga"}):
                n_changed += 1
                assert before[n] != after[n]
        assert n_changed > 0
        # the incremental enumeration reports the same NIPs (golongan >= IV/b)
        inc = c.get("/apisiasn/1.0/siapp/asn", params={"updatedSince": "06-01-2026", "limit": 5000})
        truth42 = sb.truth("changes", since=1, min_gol=42)["changes"]
        assert [x["nipBaru"] for x in inc.json()["data"]["list"]] == [x["nip"] for x in truth42]
        # departures show up with their new kedudukan, and leave the full sweep
        gone = [x for x in inc.json()["data"]["list"] if x["kedudukanPnsId"] != "01"]
        full = set(sb.truth("asn")["nips"])
        for x in gone:
            assert x["nipBaru"] not in full
            t = sb.truth(f"asn/{x['nipBaru']}")
            assert t["kedudukanPnsId"] == x["kedudukanPnsId"]
