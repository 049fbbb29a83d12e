"""SIASN sandbox over real HTTP (session sandbox subprocess): auth, envelopes, quirks, paging,
and agreement between the served records and the truth endpoints."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx
import orjson
import pytest

from siapp_sandbox.testing import RunningSandbox

pytestmark = pytest.mark.integration

SSO_PATH = "/auth/realms/public-siasn/protocol/openid-connect/token"
NOT_FOUND = b'{"code":0,"data":"Data tidak ditemukan"}'
#: not found of the model.Result reads (pns/* endpoints): the same 404 in the envelope's keys
NOT_FOUND_RESULT = (
    b'{"code":0,"count":0,"data":"Data tidak ditemukan","message":"Data tidak ditemukan"}'
)
NULLS = {"", "undefined", "null", "01-01-0001", None}
EMPLOYEE_ENDPOINTS = ["data-utama", "data-pasangan", "data-anak", "data-ortu", "rw-golongan"]


@pytest.fixture(scope="module")
def client(sandbox: RunningSandbox) -> httpx.Client:
    with httpx.Client(base_url=sandbox.siasn_url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(sandbox: RunningSandbox) -> tuple[str, str]:
    return sandbox.siasn_tokens()


@pytest.fixture(scope="module")
def auth(tokens: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[0]}", "Auth": f"bearer {tokens[1]}"}


@pytest.fixture(scope="module")
def nips(sandbox: RunningSandbox) -> list[str]:
    return sandbox.truth("asn")["nips"]


def _dmy(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}-{m}-{y}"


def _assert_nip_parses(nip: str) -> None:
    assert len(nip) == 18 and nip.isdigit()
    birth = date(int(nip[:4]), int(nip[4:6]), int(nip[6:8]))
    tmt = date(int(nip[8:12]), int(nip[12:14]), 1)
    assert tmt.year - birth.year >= 18
    assert nip[14] in "12" and 1 <= int(nip[15:]) <= 999


def _sso(client: httpx.Client, **form: str) -> httpx.Response:
    base = {"grant_type": "password", "client_id": "siapp-hub", "username": "siapp"}
    return client.post(SSO_PATH, data={**base, "password": "sandbox-password", **form})


# ------------------------------------------------------------------------------------ auth
def test_gateway_token_client_credentials_basic(client: httpx.Client) -> None:
    r = client.post(
        "/oauth2/token",
        auth=("siapp-hub", "sandbox-secret"),
        data={"grant_type": "client_credentials"},
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "scope", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    bad = client.post(
        "/oauth2/token", auth=("siapp-hub", "nope"), data={"grant_type": "client_credentials"}
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    missing = client.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert missing.status_code == 401


def test_sso_token_password_grant_and_refresh(client: httpx.Client) -> None:
    r = _sso(client)
    assert r.status_code == 200
    body = r.json()
    for k in (
        "access_token",
        "expires_in",
        "refresh_expires_in",
        "refresh_token",
        "token_type",
        "not-before-policy",
        "session_state",
        "scope",
    ):
        assert k in body
    assert _sso(client, password="wrong").status_code == 401
    assert _sso(client, username="someone").status_code == 401
    ref = client.post(
        SSO_PATH,
        data={
            "grant_type": "refresh_token",
            "client_id": "siapp-hub",
            "refresh_token": body["refresh_token"],
        },
    )
    assert ref.status_code == 200 and ref.json()["access_token"] != body["access_token"]


@pytest.mark.parametrize(
    ("gateway", "sso", "why"),
    [
        (None, None, "Gateway token (Authorization: Bearer) missing"),
        ("ok", None, "SSO token (Auth: bearer) missing"),
        (None, "ok", "Gateway token (Authorization: Bearer) missing"),
        ("wrong", "ok", "Gateway token (Authorization: Bearer) invalid"),
        ("ok", "wrong", "SSO token (Auth: bearer) invalid"),
        ("sso-as-gateway", "ok", "Gateway token (Authorization: Bearer) invalid"),
    ],
)
def test_apisiasn_needs_both_tokens(
    client: httpx.Client,
    tokens: tuple[str, str],
    nips: list[str],
    gateway: str | None,
    sso: str | None,
    why: str,
) -> None:
    values = {"ok": None, "wrong": "0" * 32, "sso-as-gateway": tokens[1]}
    headers = {}
    if gateway:
        headers["Authorization"] = f"Bearer {values[gateway] or tokens[0]}"
    if sso:
        headers["Auth"] = f"bearer {values[sso] or tokens[1]}"
    r = client.get(f"/apisiasn/1.0/pns/data-utama/{nips[0]}", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"Error": "Unauthorized", "Message": why}


def test_both_tokens_and_static_sso_token_pass(
    client: httpx.Client, tokens: tuple[str, str], nips: list[str]
) -> None:
    url = f"/apisiasn/1.0/pns/data-utama/{nips[0]}"
    ok = client.get(
        url, headers={"Authorization": f"Bearer {tokens[0]}", "Auth": f"bearer {tokens[1]}"}
    )
    assert ok.status_code == 200
    static = client.get(
        url,
        headers={"Authorization": f"Bearer {tokens[0]}", "Auth": "bearer sandbox-static-sso-token"},
    )
    assert static.status_code == 200 and static.content == ok.content


def test_referensi_needs_the_gateway_token_only(
    client: httpx.Client, tokens: tuple[str, str]
) -> None:
    url = "/referensi_siasn/1/agama/search"
    assert client.get(url, headers={"Authorization": f"Bearer {tokens[0]}"}).status_code == 200
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Auth": f"bearer {tokens[1]}"}).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_expired_tokens_are_rejected(
    sandbox: RunningSandbox, client: httpx.Client, nips: list[str]
) -> None:
    sandbox.set_faults({"gateway_token_ttl_s": 1, "sso_token_ttl_s": 1})
    try:
        short_g, short_s = sandbox.siasn_tokens()
    finally:
        sandbox.set_faults({})
    long_g, long_s = sandbox.siasn_tokens()
    url = f"/apisiasn/1.0/pns/data-utama/{nips[0]}"
    assert (
        client.get(
            url, headers={"Authorization": f"Bearer {short_g}", "Auth": f"bearer {short_s}"}
        ).status_code
        == 200
    )
    time.sleep(1.2)
    r = client.get(url, headers={"Authorization": f"Bearer {short_g}", "Auth": f"bearer {long_s}"})
    assert r.status_code == 401 and r.json()["Message"].endswith("expired")
    r = client.get(url, headers={"Authorization": f"Bearer {long_g}", "Auth": f"bearer {short_s}"})
    assert r.status_code == 401 and r.json()["Message"] == "SSO token (Auth: bearer) expired"
    r = client.get(
        "/referensi_siasn/1/agama/search", headers={"Authorization": f"Bearer {short_g}"}
    )
    assert r.status_code == 401


# ------------------------------------------------------------------------------- envelopes
@pytest.mark.parametrize("endpoint", EMPLOYEE_ENDPOINTS)
def test_unknown_nip_is_a_404_envelope(
    client: httpx.Client, auth: dict[str, str], endpoint: str
) -> None:
    for nip in ("199001012015011999", "not-a-nip"):
        r = client.get(f"/apisiasn/1.0/pns/{endpoint}/{nip}", headers=auth)
        assert r.status_code == 404 and r.content == NOT_FOUND_RESULT


def test_empty_family_is_a_404_envelope(
    sandbox: RunningSandbox, client: httpx.Client, auth: dict[str, str], nips: list[str]
) -> None:
    found = {"pasangan": False, "anak": False}
    for nip in nips[:200]:
        t = sandbox.truth(f"asn/{nip}")
        for part, ep in (("pasangan", "data-pasangan"), ("anak", "data-anak")):
            r = client.get(f"/apisiasn/1.0/pns/{ep}/{nip}", headers=auth)
            if t[part]:
                assert r.status_code == 200
            else:
                found[part] = True
                assert r.status_code == 404 and r.content == NOT_FOUND_RESULT
        if all(found.values()):
            break
    assert all(found.values())


# ---------------------------------------------------------------------------------- quirks
def test_data_utama_quirks(client: httpx.Client, auth: dict[str, str], nips: list[str]) -> None:
    keys_seen: set[str] = set()
    values_seen: set[Any] = set()
    for nip in nips[:150]:
        r = client.get(f"/apisiasn/1.0/pns/data-utama/{nip}", headers=auth)
        body = r.json()
        assert set(body) == {"code", "count", "data", "message"}
        assert body["code"] == 1 and body["count"] == 1
        d = body["data"]
        for dok_id, dok in d["path"].items():
            assert set(dok) == {"dok_id", "dok_nama", "dok_uri", "object", "slug"}
            assert dok["dok_id"] == dok["slug"] == dok_id and dok["dok_uri"].endswith(".pdf")
        for k, v in d.items():
            if k in ("bupPensiun", "mkTahun", "mkBulan"):
                assert isinstance(v, int), k
            elif k == "validNik":
                assert isinstance(v, bool)
            elif k != "path":
                assert v is None or isinstance(v, str), k
        for k in ("tglLahir", "tmtCpns", "tmtGolAkhir"):
            assert len(d[k]) == 10 and d[k][2] == "-" and d[k][5] == "-"
        keys_seen |= set(d)
        values_seen |= {v for v in d.values() if not isinstance(v, dict)}
        values_seen.add(d["jenisKelamin"])
    assert {"gelarBlk", "gelarBelakang"} <= keys_seen
    assert {"01-01-0001", "", "undefined", "null", None} <= values_seen
    assert values_seen & {"m", "f"} and values_seen & {"M", "F"}


def test_family_quirks(client: httpx.Client, auth: dict[str, str], nips: list[str]) -> None:
    for nip in nips:
        r = client.get(f"/apisiasn/1.0/pns/data-pasangan/{nip}", headers=auth)
        if r.status_code == 200:
            sp = r.json()["data"]["listPasangan"][0]
            assert set(sp) == {"orang", "statusNikah", "dataPernikahan"}
            assert {"statusHidup", "StatusHidup"} & set(sp["orang"])
            assert "tgglMenikah" in sp["dataPernikahan"]
            assert isinstance(sp["dataPernikahan"]["posisi"], int)
            assert isinstance(sp["dataPernikahan"]["isPns"], bool)
            assert sp["dataPernikahan"]["tgglCerai"] in ("01-01-0001",) or sp["statusNikah"] == "2"
            break
    else:
        pytest.fail("no employee with a spouse")


# ---------------------------------------------------------------------- truth agreement
def _check_value(key: str, raw: Any, typed: Any) -> None:
    if typed is None:
        assert raw in NULLS, key
    elif isinstance(typed, bool):
        assert raw == ("1" if key == "statusHidup" else "true") if typed else raw in ("0", "false")
    elif isinstance(typed, int):
        assert raw in (typed, str(typed)), key
    elif isinstance(typed, str) and len(typed) == 10 and typed[4] == "-" and typed[7] == "-":
        assert raw == _dmy(typed), key
    elif key == "jenisKelamin":
        assert raw.upper() == typed
    else:
        assert raw == typed, key


def test_served_records_agree_with_truth(
    sandbox: RunningSandbox, client: httpx.Client, auth: dict[str, str], nips: list[str]
) -> None:
    for nip in nips[::15][:25]:
        t = sandbox.truth(f"asn/{nip}")
        raw = client.get(f"/apisiasn/1.0/pns/data-utama/{nip}", headers=auth).json()["data"]
        for key, typed in t.items():
            if key in ("pasangan", "anak", "ortu", "rwGolongan"):
                continue
            rk = "gelarBlk" if key == "gelarBelakang" and "gelarBlk" in raw else key
            _check_value(key, raw[rk], typed)
        rw = client.get(f"/apisiasn/1.0/pns/rw-golongan/{nip}", headers=auth).json()["data"]
        assert [r["golonganId"] for r in rw] == [str(r["golonganId"]) for r in t["rwGolongan"]]
        assert rw[-1]["tmtGolongan"] == raw["tmtGolAkhir"]
        for rr, tr in zip(rw, t["rwGolongan"], strict=True):
            for k in ("id", "skNomor", "tmtGolongan", "masaKerjaGolonganTahun"):
                _check_value(k, rr[k], tr[k])
        if t["anak"]:
            anak = client.get(f"/apisiasn/1.0/pns/data-anak/{nip}", headers=auth).json()
            assert anak["count"] == len(t["anak"]) and anak["data"]["idPns"] == t["id"]
            for ra, ta in zip(anak["data"]["listAnak"], t["anak"], strict=True):
                for k in ("id", "nama", "tglLahir", "jenisAnak", "ayahId", "ibuId"):
                    _check_value(k, ra[k], ta[k])
        ortu = client.get(f"/apisiasn/1.0/pns/data-ortu/{nip}", headers=auth)
        if t["ortu"]["ayah"] is None and t["ortu"]["ibu"] is None:
            assert ortu.status_code == 404
        else:
            data = ortu.json()["data"]
            for who in ("ayah", "ibu"):
                if t["ortu"][who] is None:
                    assert data[who] is None
                else:
                    _check_value("tglLahir", data[who]["tglLahir"], t["ortu"][who]["tglLahir"])


# ------------------------------------------------------------------------------ pagination
def test_enumeration_full_sweep_pages(
    sandbox: RunningSandbox, client: httpx.Client, auth: dict[str, str], nips: list[str]
) -> None:
    got: list[str] = []
    offset = 0
    while True:
        r = client.get(
            "/apisiasn/1.0/siapp/asn", params={"limit": 40, "offset": offset}, headers=auth
        )
        if r.status_code == 404:
            assert r.content == NOT_FOUND
            break
        body = r.json()["data"]
        assert body["total"] == str(len(nips))
        for it in body["list"]:
            assert set(it) == {"nipBaru", "golRuangAkhirId", "kedudukanPnsId", "updated"}
            assert int(it["golRuangAkhirId"]) >= 42 and it["kedudukanPnsId"] == "01"
            _assert_nip_parses(it["nipBaru"])
        got += [it["nipBaru"] for it in body["list"]]
        offset += 40
    assert got == nips == sorted(nips)


def test_enumeration_updated_since_matches_truth(
    sandbox: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    clock = sandbox.clock()
    since_day = clock["day"] - 200
    since = date.fromordinal(date.fromisoformat(clock["date"]).toordinal() - 200)
    r = client.get(
        "/apisiasn/1.0/siapp/asn",
        params={"updatedSince": since.strftime("%d-%m-%Y"), "limit": 5000},
        headers=auth,
    )
    assert r.status_code == 200
    items = r.json()["data"]["list"]
    truth = sandbox.truth("changes", since=since_day, min_gol=42)
    assert [it["nipBaru"] for it in items] == [c["nip"] for c in truth["changes"]]
    for it in items:
        upd = date(int(it["updated"][6:]), int(it["updated"][3:5]), int(it["updated"][:2]))
        assert since <= upd <= date.fromisoformat(clock["date"])
    bad = client.get("/apisiasn/1.0/siapp/asn", params={"updatedSince": "2026-01-01"}, headers=auth)
    assert bad.status_code == 400 and "updatedSince" in bad.json()["Message"]


def test_referensi_pages_and_truth(
    sandbox: RunningSandbox, client: httpx.Client, tokens: tuple[str, str], auth: dict[str, str]
) -> None:
    h = {"Authorization": f"Bearer {tokens[0]}"}
    # UNOR: where SIASN serves it, GET /apisiasn/1.0/referensi/ref-unor (both tokens), whole
    truth = sandbox.truth("referensi/unor")["results"]
    body = client.get("/apisiasn/1.0/referensi/ref-unor", headers=auth).json()
    assert body["code"] == 1 and body["count"] == len(body["data"])
    assert body["data"] == truth and len(truth) > 1000
    got: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = client.get(
            "/referensi_siasn/1/agama/search", params={"limit": 3, "offset": offset}, headers=h
        ).json()["results"]
        got += page
        if len(page) < 3:
            break
        offset += 3
    assert got == sandbox.truth("referensi/agama")["results"]
    for ref in (
        "golongan",
        "agama",
        "instansi",
        "eselon",
        "jenis-jabatan",
        "kedudukan-hukum",
        "jabatan-fungsional",
        "tingkat-pendidikan",
        "ref-dokumen",
    ):
        r = client.get(f"/referensi_siasn/1/{ref}/search", params={"limit": 1000}, headers=h)
        assert r.status_code == 200
        assert r.json()["results"] == sandbox.truth(f"referensi/{ref}")["results"]
        assert all(isinstance(row["id"], str) for row in r.json()["results"])
    # served elsewhere (unor) or nowhere (jenis-kp: BKN's static table the hub ships)
    for ref in ("unor", "jenis-kp"):
        r = client.get(f"/referensi_siasn/1/{ref}/search", headers=h)
        assert r.status_code == 404 and r.content == NOT_FOUND
    assert client.get("/referensi_siasn/1/nope/search", headers=h).content == NOT_FOUND
    assert (
        client.get("/referensi_siasn/1/agama/search", params={"limit": "x"}, headers=h).status_code
        == 400
    )


def test_openapi_is_served(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert "/apisiasn/1.0/pns/data-utama/{nipBaru}" in paths
    assert "/apisiasn/1.0/siapp/asn" in paths and "/oauth2/token" in paths


def test_stats_count_routes_and_statuses(
    sandbox: RunningSandbox, client: httpx.Client, auth: dict[str, str], nips: list[str]
) -> None:
    sandbox.reset_stats()
    for nip in nips[:3]:
        client.get(f"/apisiasn/1.0/pns/data-utama/{nip}", headers=auth)
    client.get("/apisiasn/1.0/pns/data-utama/199001012015011999", headers=auth)
    client.get(f"/apisiasn/1.0/pns/data-utama/{nips[0]}")
    st = sandbox.stats()
    row = st["routes"]["siasn"]["GET /apisiasn/1.0/pns/data-utama/{nipBaru}"]
    assert row["count"] == 5 and row["status"] == {"200": 3, "401": 1, "404": 1}
    assert st["total"] == 5
    body = orjson.loads(client.get("/_sandbox/stats").content)
    assert body["total"] == 5, "control routes are not counted"
