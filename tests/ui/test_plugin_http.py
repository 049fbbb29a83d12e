"""The plugin in a real ``airflow api-server`` over HTTP, behind Airflow's own auth
(SimpleAuthManager): listed by ``GET /api/v2/plugins``, 401 without a token, 403 with a forged
one, 200 with a bearer token and with the UI's ``_token`` cookie (what the UI's iframe sends).
One server for the module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ._server import ApiServer, api_server
from .conftest import USULAN_DAG, USULAN_RUN, AuditedStore

pytestmark = pytest.mark.timeout(600)

RUN = {"dag_id": USULAN_DAG, "run_id": USULAN_RUN}


@pytest.fixture(scope="module")
def server(audited: AuditedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(tmp_path_factory.mktemp("airflow"), audited.url) as running:
        yield running


def test_the_plugin_is_listed_with_its_app_and_views(server: ApiServer) -> None:
    plugins = server.api.get("plugins")["plugins"]
    ours = [p for p in plugins if p["name"] == "siapp_siasn_hub_audit"]
    assert len(ours) == 1, [p["name"] for p in plugins]
    assert [a["url_prefix"] for a in ours[0]["fastapi_apps"]] == ["/hub-audit"]
    views = {v["destination"]: v["href"] for v in ours[0]["external_views"]}
    assert views == {
        "nav": "/hub-audit/",
        "dag_run": "/hub-audit/run?dag_id={DAG_ID}&run_id={RUN_ID}",
    }


@pytest.mark.parametrize("path", ["/hub-audit/", "/hub-audit/run", "/hub-audit/report"])
def test_without_a_token_every_page_is_401(server: ApiServer, path: str) -> None:
    r = httpx.get(server.url + path, params=RUN | {"n": 0})
    assert r.status_code == 401, r.text[:300]


def test_a_forged_token_is_refused(server: ApiServer) -> None:
    r = httpx.get(
        f"{server.url}/hub-audit/run", params=RUN, headers={"Authorization": "Bearer x.y.z"}
    )
    assert r.status_code in (401, 403)
    r = httpx.get(f"{server.url}/hub-audit/run", params=RUN, cookies={"_token": "x.y.z"})
    assert r.status_code in (401, 403)


def test_a_logged_in_user_sees_the_page_by_bearer_and_by_cookie(
    server: ApiServer, audited: AuditedStore
) -> None:
    token = server.token()
    by_bearer = httpx.get(
        f"{server.url}/hub-audit/run", params=RUN, headers={"Authorization": f"Bearer {token}"}
    )
    assert by_bearer.status_code == 200, by_bearer.text[:500]
    assert audited.records["collect"]["lineage_id"] in by_bearer.text
    by_cookie = httpx.get(f"{server.url}/hub-audit/", cookies={"_token": token})
    assert by_cookie.status_code == 200 and USULAN_RUN in by_cookie.text
    css = httpx.get(f"{server.url}/hub-audit/static/hub_audit.css", cookies={"_token": token})
    assert css.status_code == 200
    assert not [v for v in audited.personal if v in by_bearer.text + by_cookie.text]


def test_write_methods_do_not_exist(server: ApiServer) -> None:
    token = server.token()
    r = httpx.post(
        f"{server.url}/hub-audit/run", params=RUN, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 405
