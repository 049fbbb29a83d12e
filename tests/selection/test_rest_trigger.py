"""The UI's way in: a run triggered through Airflow's REST API (what the trigger form calls)
with a selection id leaves no NIP in Airflow's metadata (run conf, audit log, anything); a
``selection`` that is not an id is refused before a run exists."""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from siapp_siasn.airflow_env import AirflowEnv, airflow_bin
from siapp_siasn.store import Store
from tests.distributed.runner import ADMIN_USER, Api, Proc, _stop, free_port, wait_for

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
    env = AirflowEnv(
        home,
        {"siapp_siasn_store": {"conn_type": "generic", "extra": {"sqlalchemy_url": store_url}}},
    )
    env.migrate(log_path=home / "migrate.log")
    assert env.run("dags", "reserialize", log_path=home / "reserialize.log") == 0
    port, password = free_port(), secrets.token_urlsafe(16)
    (home / "passwords.json").write_text(json.dumps({ADMIN_USER: password}))
    environ = {
        **env.environ(),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
    }
    log = home / "api-server.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [
                airflow_bin(),
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc = Proc("api-server", popen, log)
    url = f"http://127.0.0.1:{port}"
    client = Api(url, ADMIN_USER, password)

    def healthy() -> bool:
        if not proc.alive():
            raise RuntimeError(f"api-server exited:\n{proc.tail()}")
        return httpx.get(f"{url}/api/v2/monitor/health").status_code == 200

    try:
        wait_for("api-server", healthy, 120, 1.0)
        yield client, home, store
    finally:
        client.close()
        _stop(proc)
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
