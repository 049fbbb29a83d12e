"""Every connection the README, .env.example and deploy/sandbox.env show is read by the hooks as
documented (the README's store example once raised ``ValueError``; the UI's form once saved
``***``): parsed from the files themselves, so the documents cannot drift from the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.clients.config import RENAMED_EXTRAS, SiappConfig, SiasnConfig

ROOT = Path(__file__).resolve().parents[2]
EXPORT = re.compile(r"export (AIRFLOW_CONN_\w+)='(.*?)'\s*$", re.S | re.M)
ENV_LINE = re.compile(r"^(AIRFLOW_CONN_\w+)='(.*)'$", re.M)
CONN_JSON = re.compile(r"airflow connections add (\w+) --conn-json '(.*?)'\s*$", re.S | re.M)
# the shell the README's manual commands use inside their JSON
SHELL = {"'\"$AIRFLOW_HOME\"'": "/srv/airflow", "'\"$(openssl rand -hex 32)\"'": "k" * 64}


def _documented() -> list[tuple[str, str, dict[str, Any]]]:
    """(where, conn_id, connection) of every example."""
    readme = (ROOT / "README.md").read_text()
    found = [("README.md", m.group(1), m.group(2)) for m in EXPORT.finditer(readme)]
    manual = readme
    for snippet, value in SHELL.items():
        manual = manual.replace(snippet, value)
    found += [
        ("README.md", f"AIRFLOW_CONN_{m.group(1).upper()}", m.group(2))
        for m in CONN_JSON.finditer(manual)
    ]
    for name in (".env.example", "deploy/sandbox.env"):
        text = (ROOT / name).read_text()
        found += [(name, m.group(1), m.group(2)) for m in ENV_LINE.finditer(text)]
    return [
        (where, var.removeprefix("AIRFLOW_CONN_").lower(), json.loads(raw))
        for where, var, raw in found
    ]


DOCUMENTED = _documented()


def test_the_documents_show_every_connection() -> None:
    where = {(w, c) for w, c, _ in DOCUMENTED}
    for conn_id in ("siasn_api", "siapp_api", "siapp_siasn_store"):
        assert ("README.md", conn_id) in where
    assert (".env.example", "siasn_api") in where and ("deploy/sandbox.env", "siapp_api") in where
    # the manual way of "Run it in the Airflow UI" adds all three too
    assert sum(1 for w, c, _ in DOCUMENTED if w == "README.md" and c == "siasn_api") == 2


@pytest.mark.parametrize(
    ("where", "conn_id", "conn"),
    DOCUMENTED,
    ids=[f"{w}:{c}:{i}" for i, (w, c, _) in enumerate(DOCUMENTED)],
)
def test_documented_connection_works_with_the_hooks(
    where: str, conn_id: str, conn: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    extra = conn.get("extra") or {}
    assert not set(extra) & set(RENAMED_EXTRAS), f"{where} uses an earlier extra name"
    if conn_id == "siasn_api":
        from siapp_siasn.hooks.siasn_hook import SiasnHook

        cfg = SiasnHook(conn_id).get_config()
        assert isinstance(cfg, SiasnConfig) and cfg.base_url == conn["host"].rstrip("/")
        assert cfg.sso_mode == "password" and cfg.sso_username == extra["sso_username"]
        for name in ("gateway_auth_url", "sso_auth_url"):
            if name in extra:
                assert getattr(cfg, name) == extra[name]
    elif conn_id == "siapp_api":
        from siapp_siasn.hooks.siapp_hook import SiappHook

        cfg = SiappHook(conn_id).get_config()
        assert isinstance(cfg, SiappConfig) and cfg.base_url == conn["host"].rstrip("/")
        assert cfg.auth_url == extra.get("auth_url", "/oauth/token")
    else:
        from siapp_siasn.hooks.store import StoreHook

        hook = StoreHook(conn_id)
        url = hook.sqlalchemy_url
        if conn["conn_type"] == "postgres":
            assert url.drivername == "postgresql+psycopg"
            assert (url.host, url.port, url.database) == (
                conn["host"],
                conn.get("port"),
                conn["schema"],  # the database name goes in schema
            )
            assert url.query.get("sslmode") == extra.get("sslmode")
            assert "hash_key" not in url.query  # the secret is not a libpq option
        else:
            assert url.drivername == "sqlite" and url.database == conn["host"]
        assert hook.get_hash_key() == extra["hash_key"].encode()


def test_a_store_connection_airflow_cannot_read_is_an_error_not_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``database`` instead of ``schema``: Airflow reports the variable as not defined; the hook
    says why instead of quietly using the default SQLite file."""
    from siapp_siasn.hooks.store import StoreConnectionError, StoreHook

    conn = {"conn_type": "postgres", "host": "db.internal", "database": "siapp_siasn"}
    monkeypatch.setenv("AIRFLOW_CONN_SIAPP_SIASN_STORE", json.dumps(conn))
    with pytest.raises(StoreConnectionError, match="the database name goes in schema"):
        _ = StoreHook().sqlalchemy_url
    monkeypatch.setenv("AIRFLOW_CONN_SIAPP_SIASN_STORE", '{"conn_type": "postgres", "host": ')
    with pytest.raises(StoreConnectionError, match="not valid JSON"):
        _ = StoreHook().sqlalchemy_url
    # the test button says the same, and no secret of the variable
    conn = {"conn_type": "postgres", "password": "pw-XYZ", "database": "d"}
    monkeypatch.setenv("AIRFLOW_CONN_SIAPP_SIASN_STORE", json.dumps(conn))
    ok, message = StoreHook().test_connection()
    assert not ok and "the database name goes in schema" in message
    assert "pw-XYZ" not in message
