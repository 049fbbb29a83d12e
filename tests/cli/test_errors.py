"""Command-line mistakes a user can make end in one line saying what to do, exit code 1, and no
traceback: no store, a store not migrated, a host that cannot be reached, a connection that is
not valid JSON or misses a field. The store commands say which store they read, and find the
store `make demo` / `make ui` made in this checkout."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from siapp_siasn.store import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder to run in, with no store connection and Airflow's home inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow-home"))
    for name in list(os.environ):
        if name.startswith("AIRFLOW_CONN_") or name == "SIAPP_SIASN_STORE_PATH":
            monkeypatch.delenv(name)
    return tmp_path


def _run(*args: str) -> tuple[int, str, str]:
    """The installed command in a real process (its own stdout, stderr and logging), in the
    current folder and environment."""
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("siapp-siasn")), *args],
        cwd=Path.cwd(),
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _one_error_line(stderr: str, *expected: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def _migrated(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Store(path).migrate()
    return path


def test_no_store_says_what_to_run(checkout: Path) -> None:
    """The README's command where nothing was run yet."""
    code, out, err = _run("store", "stats", "--json")
    assert code == 1
    assert out.strip() == ""  # nothing on stdout that a --json reader would parse
    _one_error_line(err, "no store at", "make demo", "siapp-siasn store migrate")


def test_stats_finds_the_demo_store_and_names_it(checkout: Path) -> None:
    _migrated(checkout / ".demo" / "store.sqlite")
    code, out, err = _run("store", "stats", "--json")
    assert code == 0, err
    assert "tables" in json.loads(out)  # stdout is the JSON only
    assert f"store: sqlite:///{checkout / '.demo' / 'store.sqlite'}" in err
    assert "make demo" in err
    # with make ui's store newer, that one is read (and named)
    ui_store = _migrated(checkout / ".airflow" / "store.sqlite")
    os.utime(ui_store, (ui_store.stat().st_atime, ui_store.stat().st_mtime + 10))
    code, out, err = _run("store", "stats", "--json")
    assert code == 0 and "make ui" in err and str(ui_store) in err


def test_unmigrated_store_says_to_migrate(checkout: Path) -> None:
    empty = checkout / "empty.sqlite"
    empty.touch()
    code, _, err = _run("store", "stats", "--url", f"sqlite:///{empty}")
    assert code == 1
    _one_error_line(err, "not the newest", f"siapp-siasn store migrate --url sqlite:///{empty}")
    # and the command it names works
    assert _run("store", "migrate", "--url", f"sqlite:///{empty}")[0] == 0
    assert _run("store", "stats", "--url", f"sqlite:///{empty}")[0] == 0


def test_unreachable_store_database(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()  # nothing listens there
    conn = {"conn_type": "postgres", "host": "127.0.0.1", "port": port, "schema": "hub"}
    monkeypatch.setenv("AIRFLOW_CONN_SIAPP_SIASN_STORE", json.dumps(conn))
    for command in (["store", "stats"], ["store", "migrate"]):
        code, _, err = _run(*command)
        assert code == 1, command
        _one_error_line(err, f"cannot reach the store database at 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"conn_type": "postgres", "host": "db"', "is not valid JSON"),
        ('{"conn_type": "postgres", "host": "db", "database": "hub"}', "goes in schema"),
        ('{"conn_type": "mysql", "host": "db"}', "not supported"),
    ],
)
def test_bad_store_connection(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIAPP_SIASN_STORE", value)
    code, _, err = _run("store", "stats")
    assert code == 1
    line = _one_error_line(err, "connection siapp_siasn_store", expected)
    assert "db.internal" not in line


def _api_conns(monkeypatch: pytest.MonkeyPatch, siasn: dict, siapp_host: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIASN_API", json.dumps(siasn))
    siapp = {
        "conn_type": "siapp",
        "host": siapp_host,
        "login": "c",
        "password": "s",
        "extra": {"max_retries": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SIAPP_API", json.dumps(siapp))


def test_bad_api_connection_and_unreachable_api(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _migrated(checkout / "hub.sqlite")
    down = f"http://127.0.0.1:{_free_port()}"
    # a field missing: SIASN needs an SSO account or token
    _api_conns(
        monkeypatch,
        {"conn_type": "siasn", "host": down, "login": "c", "password": "secret-XYZ"},
        down,
    )
    code, _, err = _run("reconcile", "--dry-run", "--url", f"sqlite:///{store}")
    assert code == 1
    line = _one_error_line(err, "invalid connection", "sso_username + sso_password or sso_token")
    assert "secret-XYZ" not in line
    # a host nobody answers on
    siasn = {
        "conn_type": "siasn",
        "host": down,
        "login": "c",
        "password": "s",
        "extra": {"sso_token": "t", "max_retries": 0},
    }
    _api_conns(monkeypatch, siasn, down)
    code, _, err = _run("reconcile", "--dry-run", "--url", f"sqlite:///{store}")
    assert code == 1
    _one_error_line(err, "reachable")
