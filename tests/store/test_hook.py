"""Store location from the Airflow connection, with the SQLite fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from siapp_siasn.store import Store, default_sqlite_path, store_url_from_airflow

ENV = "AIRFLOW_CONN_SIAPP_SIASN_STORE"


def test_fallback_when_connection_absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV, raising=False)
    url = store_url_from_airflow(default=tmp_path / "hub.sqlite")
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / "hub.sqlite")

    monkeypatch.setenv("SIAPP_SIASN_STORE_PATH", str(tmp_path / "env.sqlite"))
    assert default_sqlite_path() == tmp_path / "env.sqlite"
    assert store_url_from_airflow().database == str(tmp_path / "env.sqlite")


def test_postgres_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {
        "conn_type": "postgres",
        "host": "db.internal",
        "port": 5432,
        "login": "hub",
        "password": "s3cret/with:chars",
        "schema": "siapp_hub",
        "extra": {"sslmode": "require", "hash_key": "not-for-libpq"},
    }
    monkeypatch.setenv(ENV, json.dumps(conn))
    url = store_url_from_airflow()
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.username, url.database) == (
        "db.internal",
        5432,
        "hub",
        "siapp_hub",
    )
    assert url.password == "s3cret/with:chars"
    assert dict(url.query) == {"sslmode": "require"}


def test_sqlite_and_explicit_url_connections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "a.db")}))
    assert store_url_from_airflow().database == str(tmp_path / "a.db")
    monkeypatch.setenv(
        ENV, json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": "postgresql://u@h/d"}})
    )
    assert store_url_from_airflow().drivername == "postgresql+psycopg"


def test_store_from_airflow_on_real_postgres(
    monkeypatch: pytest.MonkeyPatch, postgres_db_url: str
) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_db_url)
    conn = {
        "conn_type": "postgres",
        "host": url.host,
        "port": url.port,
        "login": url.username,
        "schema": url.database,
        "extra": {"hash_key": "key-from-connection"},
    }
    monkeypatch.setenv(ENV, json.dumps(conn))
    store = Store.from_airflow()
    try:
        assert store.dialect == "postgresql"
        store.migrate()
        assert store.is_current()
        other = Store(postgres_db_url, hash_key="key-from-connection")
        assert store.quarantine.key_hash("x") == other.quarantine.key_hash("x")
        other.close()
    finally:
        store.close()
