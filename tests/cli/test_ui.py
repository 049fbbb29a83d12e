"""`make ui` (`siapp-siasn ui`) as a user runs it: started in a subprocess until it prints the
URL and the login, checked over Airflow's REST API (health, login, the hub's DAGs listed and
unpaused, the connections, the connection forms), then stopped like Ctrl-C: nothing it started
is left running.

The connection-form part saves each form as the UI would: the values the form is pre-filled
with (``/ui/connections/hook_meta``, i.e. provider_info's ``conn-fields``) plus what a user
types, through ``POST /api/v2/connections``; reads it back; saves it again unchanged (what the
edit form sends: secrets masked as ``***``); and has Airflow build the hook from the stored
connection and test it against the sandbox (``POST /api/v2/connections/test``, enabled by
``[core] test_connection = Enabled``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from siapp_siasn.airflow_env import SANDBOX_CREDENTIALS
from siapp_siasn.clients.config import MASKED_VALUE
from siapp_siasn.demo import hub_dags
from tests.distributed.runner import Api, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

HUB_DAGS = set(hub_dags())
URL_LINE = re.compile(r"Airflow UI: (http://127\.0\.0\.1:\d+)\s+login: (\S+) / (\S+)")
SANDBOX_LINE = re.compile(r"(SIASN|SIAPP NV) sandbox: (http://127\.0\.0\.1:\d+)")


class Launcher:
    """The `siapp-siasn ui` process and what it printed."""

    def __init__(self, workdir: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("siapp-siasn")),
                "ui",
                "--port",
                "0",
                "--employees",
                "300",
                "--workdir",
                str(workdir / ".airflow"),
            ],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def find(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return [m for line in list(self.lines) if (m := pattern.search(line))]

    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("make-ui")
    launcher = Launcher(workdir)
    try:

        def printed_url() -> re.Match[str] | None:
            if launcher.proc.poll() is not None:
                raise RuntimeError(f"make ui exited:\n{launcher.output()}")
            found = launcher.find(URL_LINE)
            return found[0] if found else None

        match = wait_for("the URL line of make ui", printed_url, 600, 1.0)
        base_url, user, password = match.groups()
        sandboxes = {m.group(1): m.group(2) for m in launcher.find(SANDBOX_LINE)}
        api = Api(base_url, user, password)
        # every process make ui started, to check that Ctrl-C stops them all
        family = psutil.Process(launcher.proc.pid).children(recursive=True)
        yield {
            "api": api,
            "base_url": base_url,
            "launcher": launcher,
            "family": family,
            "sandboxes": sandboxes,
            "workdir": workdir,
        }
        api.close()
    finally:
        if launcher.proc.poll() is None:
            launcher.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                launcher.proc.wait(120)
            except subprocess.TimeoutExpired:
                launcher.proc.kill()


def test_make_ui_serves_the_hub_on_loopback_with_a_login(ui: dict[str, Any]) -> None:
    import httpx

    api: Api = ui["api"]
    health = httpx.get(f"{ui['base_url']}/api/v2/monitor/health", timeout=10).json()
    for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[part]["status"] == "healthy", health
    # the printed login works (POST /auth/token) and an unauthenticated call does not
    assert httpx.get(f"{ui['base_url']}/api/v2/dags", timeout=10).status_code == 401
    dags = {d["dag_id"]: d for d in api.get("dags", limit=100)["dags"]}
    assert set(dags) >= HUB_DAGS
    assert not any(dags[d]["is_paused"] for d in HUB_DAGS)
    # schedules in Asia/Jakarta (the UI's own display zone is chosen per browser: README)
    assert api.get("dags/siasn_asn_daily/details")["timezone"] == "Asia/Jakarta"
    # the connections are in the metadata database (listed, editable and testable in the UI),
    # pointing at the sandbox this run started
    conns = {c["connection_id"]: c for c in api.get("connections", limit=100)["connections"]}
    assert {"siasn_api", "siapp_api", "siapp_siasn_store"} <= set(conns)
    assert conns["siasn_api"]["host"] == ui["sandboxes"]["SIASN"]
    assert conns["siapp_api"]["host"] == ui["sandboxes"]["SIAPP NV"]
    siasn_extra = json.loads(conns["siasn_api"]["extra"])
    assert siasn_extra["sso_password"] == MASKED_VALUE  # a secret stays masked
    assert siasn_extra["gateway_auth_url"].startswith(ui["sandboxes"]["SIASN"])  # not masked
    store_extra = json.loads(conns["siapp_siasn_store"]["extra"])
    assert store_extra["hash_key"] == MASKED_VALUE  # [core] sensitive_var_conn_names
    # the Test button: Airflow builds our hook from the stored connection and calls the sandbox
    for conn_id in ("siasn_api", "siapp_api"):
        body = {k: conns[conn_id][k] for k in ("connection_id", "conn_type", "host", "login")}
        result = api.request("POST", "connections/test", json=body | {"password": MASKED_VALUE})
        assert result["status"] is True, (conn_id, result)
    # the sandbox's credentials are printed, not only in code
    out = ui["launcher"].output()
    for login, secret in (SANDBOX_CREDENTIALS["siasn_client"], SANDBOX_CREDENTIALS["sso_user"]):
        assert f"{login}/{secret}" in out


def _form_fields(api: Api, conn_type: str) -> dict[str, Any]:
    """What the UI's connection form of ``conn_type`` is pre-filled with."""
    r = api.http.get("/ui/connections/hook_meta", headers=api._headers())
    r.raise_for_status()
    meta = next(m for m in r.json() if m["connection_type"] == conn_type)
    return meta["extra_fields"]


def _request(api: Api, method: str, path: str, **kw: Any) -> Any:
    """A REST call, again when Airflow answers 500 "Database error": `make ui` keeps Airflow's
    metadata in SQLite, where the scheduler or dag-processor may hold the write lock for a
    moment (a development setup's known limit; the compose deployment uses PostgreSQL)."""
    for attempt in range(5):
        try:
            return api.request(method, path, **kw)
        except RuntimeError as exc:
            if '"Database error"' not in str(exc) or attempt == 4:
                raise
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


@pytest.mark.parametrize("conn_type", ["siasn", "siapp"])
def test_each_connection_form_saved_with_its_defaults_works(
    ui: dict[str, Any], conn_type: str
) -> None:
    api: Api = ui["api"]
    fields = _form_fields(api, conn_type)
    # no field of the form is pre-filled with the mask, and numbers are numbers
    assert not [name for name, f in fields.items() if f.get("value") == MASKED_VALUE]
    for name, f in fields.items():
        kind = f["schema"]["type"][0]
        if kind in ("integer", "number") and f.get("value") is not None:
            assert isinstance(f["value"], int | float) and not isinstance(f["value"], bool), name
    extra = {name: f["value"] for name, f in fields.items() if f.get("value") is not None}
    assert extra, fields
    # what the user types: the host, the client credentials (and SIASN's SSO account)
    user, secret = SANDBOX_CREDENTIALS["siasn_client" if conn_type == "siasn" else "siapp_client"]
    if conn_type == "siasn":
        sso_user, sso_password = SANDBOX_CREDENTIALS["sso_user"]
        extra |= {"sso_username": sso_user, "sso_password": sso_password}
        extra["sso_client_id"] = SANDBOX_CREDENTIALS["sso_client_id"]
    host = ui["sandboxes"]["SIASN" if conn_type == "siasn" else "SIAPP NV"]
    conn_id = f"form_{conn_type}"
    body = {
        "connection_id": conn_id,
        "conn_type": conn_type,
        "host": host,
        "login": user,
        "password": secret,
        "extra": json.dumps(extra),
    }
    _request(api, "POST", "connections", json=body)
    try:
        stored = api.get(f"connections/{conn_id}")
        stored_extra = json.loads(stored["extra"])
        # read back: every non-secret setting as saved; secrets masked
        for name, value in extra.items():
            secret_field = fields.get(name, {}).get("schema", {}).get("format") == "password"
            if secret_field or name == "sso_password":
                assert stored_extra[name] == MASKED_VALUE
            else:
                assert stored_extra[name] == value, name
        # the edit form saved unchanged sends the masked values back: Airflow keeps the secrets
        edit = body | {"password": MASKED_VALUE, "extra": stored["extra"]}
        _request(api, "PATCH", f"connections/{conn_id}", json=edit)
        # Airflow builds our hook from the stored connection and tests it against the sandbox
        result = _request(
            api,
            "POST",
            "connections/test",
            json={k: edit[k] for k in ("connection_id", "conn_type", "host", "login", "password")},
        )
        assert result["status"] is True, result
        assert "token ok" in result["message"]
    finally:
        _request(api, "DELETE", f"connections/{conn_id}")


def test_ctrl_c_stops_everything_make_ui_started(ui: dict[str, Any]) -> None:
    launcher: Launcher = ui["launcher"]
    family: list[psutil.Process] = ui["family"]
    assert len(family) >= 5  # the sandbox and Airflow's four components at least
    launcher.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert launcher.proc.wait(180) == 0, launcher.output()
    deadline = time.monotonic() + 30
    alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    while alive and time.monotonic() < deadline:
        time.sleep(1)
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [(p.pid, p.name()) for p in alive]
    assert "stopped: Airflow and the sandbox" in launcher.output()
