"""The UI's way in: a run triggered through Airflow's REST API (what the trigger form calls)
with a selection id leaves no NIP in Airflow's metadata (run conf, audit log, anything); a
``selection`` that is not an id is refused before a run exists."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from siapp_siasn.store import Store
from tests.distributed.runner import Api
from tests.ui._server import api_server

pytestmark = pytest.mark.e2e

NIPS = ["197203151998031002", "196502091995041754"]


def _rows(home: Path, table: str) -> list[str]:
    with sqlite3.connect(home / "airflow.db") as db:
        return [" ".join(map(str, row)) for row in db.execute(f'select * from "{table}"')]


def _all_rows(home: Path) -> dict[str, list[str]]:
    with sqlite3.connect(home / "airflow.db") as db:
        names = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
    return {name: _rows(home, name) for name in names}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Path, Store]]:
    """A migrated Airflow home with the DAGs serialized, its api-server on loopback (simple
    auth manager, one admin) and the hub's store the DAGs would read."""
    home = tmp_path_factory.mktemp("airflow-rest")
    store_url = f"sqlite:///{home / 'store.sqlite'}"
    store = Store(store_url)
    store.migrate()
    try:
        with api_server(home, store_url, reserialize=True) as server:
            yield server.api, home, store
    finally:
        store.close()


def _trigger(api: Api, conf: dict[str, Any]) -> httpx.Response:
    """POST a run as the trigger form does; the response as it is (errors included)."""
    token = api.http.post("/auth/token", json=api._login).json()["access_token"]
    return api.http.post(
        "/api/v2/dags/siasn_asn_daily/dagRuns",
        json={"logical_date": None, "conf": conf},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_selection_triggered_over_rest_leaves_no_nip_in_airflow(
    api: tuple[Api, Path, Store],
) -> None:
    client, home, store = api
    selection = store.selection.create(NIPS, "REST trigger test")
    r = _trigger(client, {"selection": selection.id})
    assert r.status_code == 200, r.text
    run_id = r.json()["dag_run_id"]
    assert client.get(f"dags/siasn_asn_daily/dagRuns/{run_id}")["conf"] == {
        "selection": selection.id
    }
    trigger_events = [row for row in _rows(home, "log") if "trigger_dag_run" in row]
    assert trigger_events and selection.id in trigger_events[-1]
    leaks = {
        table: [row for row in rows if any(nip in row for nip in NIPS)]
        for table, rows in _all_rows(home).items()
    }
    assert {t: rows for t, rows in leaks.items() if rows} == {}


@pytest.mark.parametrize("value", [NIPS, NIPS[0], "SEL-20261130-AB12CD"])
def test_a_selection_that_is_no_id_is_refused_before_a_run_exists(
    api: tuple[Api, Path, Store], value: Any
) -> None:
    client, home, _ = api
    runs_before = _rows(home, "dag_run")
    r = _trigger(client, {"selection": value})
    assert r.status_code == 400, r.text
    assert "selection" in r.text
    assert _rows(home, "dag_run") == runs_before
