"""An Airflow api-server on loopback under a temporary AIRFLOW_HOME (SimpleAuthManager with one
admin user and a passwords file), the hub's store connection pointing at a given store.

Used by test_plugin_http.py and, by hand, for the page's screenshot::

    python -m tests.ui._server sqlite:////path/to/store.sqlite
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from siapp_siasn.airflow_env import AirflowEnv, airflow_bin
from tests.distributed.runner import ADMIN_USER, Api, Proc, _stop, free_port, wait_for


@dataclass
class ApiServer:
    url: str
    api: Api
    password: str
    proc: Proc

    def token(self) -> str:
        r = httpx.post(
            f"{self.url}/auth/token", json={"username": ADMIN_USER, "password": self.password}
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


@contextlib.contextmanager
def api_server(home: Path, store_url: str, *, reserialize: bool = False) -> Iterator[ApiServer]:
    """``airflow db migrate`` (and, with ``reserialize``, the DAGs serialized so that runs can
    be triggered) then ``airflow api-server`` (one worker); stopped on exit."""
    env = AirflowEnv(
        home,
        {"siapp_siasn_store": {"conn_type": "generic", "extra": {"sqlalchemy_url": store_url}}},
    )
    env.migrate(log_path=home / "migrate.log")
    if reserialize and env.run("dags", "reserialize", log_path=home / "reserialize.log") != 0:
        raise RuntimeError(f"airflow dags reserialize failed: see {home / 'reserialize.log'}")
    port = free_port()
    password = secrets.token_urlsafe(16)
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
    api = Api(url, ADMIN_USER, password)
    try:
        wait_for("api-server", lambda: _healthy(proc, url), 120, 1.0)
        yield ApiServer(url, api, password, proc)
    finally:
        api.close()
        _stop(proc)


def _healthy(proc: Proc, url: str) -> bool:
    if not proc.alive():  # no point waiting for a server that died
        raise RuntimeError(f"api-server exited:\n{proc.tail()}")
    return httpx.get(f"{url}/api/v2/monitor/health").status_code == 200


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":  # a server for a screenshot, until Ctrl-C or SIGTERM
    import signal
    import tempfile
    import time

    signal.signal(signal.SIGTERM, _interrupt)  # stop the api-server too (the finally above)

    home = Path(tempfile.mkdtemp(prefix="hub-audit-airflow-"))
    with api_server(home, sys.argv[1]) as server:
        print(json.dumps({"url": server.url, "token": server.token(), "home": str(home)}))
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            while server.proc.alive():
                time.sleep(1)
    os._exit(0)
