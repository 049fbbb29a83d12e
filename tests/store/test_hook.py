"""StoreHook: the store's location and hash key from the Airflow connection, with the SQLite
fallback; and the store package itself free of Airflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from siapp_siasn.hooks.store import StoreHook
from siapp_siasn.models.redact import keyed_hash
from siapp_siasn.store import (
    QuarantineItem,
    Store,
    StoreError,
    default_sqlite_path,
    url_from_connection,
)

ENV = "AIRFLOW_CONN_SIAPP_SIASN_STORE"


def test_fallback_when_connection_absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV, raising=False)
    url = StoreHook(default_url=tmp_path / "hub.sqlite").sqlalchemy_url
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / "hub.sqlite")

    monkeypatch.setenv("SIAPP_SIASN_STORE_PATH", str(tmp_path / "env.sqlite"))
    assert default_sqlite_path() == tmp_path / "env.sqlite"
    assert StoreHook().sqlalchemy_url.database == str(tmp_path / "env.sqlite")


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
    hook = StoreHook()
    url = hook.sqlalchemy_url
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.username, url.database) == (
        "db.internal",
        5432,
        "hub",
        "siapp_hub",
    )
    assert url.password == "s3cret/with:chars"
    assert dict(url.query) == {"sslmode": "require"}
    # the URI carries the password (engines need it); nothing printed does
    assert "s3cret" in hook.get_uri()
    assert hook.get_hash_key() == b"not-for-libpq"
    for text in (repr(hook), repr(url), str(url)):
        assert "s3cret" not in text


def test_sqlite_and_explicit_url_connections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "a.db")}))
    assert StoreHook().sqlalchemy_url.database == str(tmp_path / "a.db")
    monkeypatch.setenv(
        ENV, json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": "postgresql://u@h/d"}})
    )
    assert StoreHook().sqlalchemy_url.drivername == "postgresql+psycopg"
    # the pure rule, for any object with a connection's attributes
    conn = SimpleNamespace(
        conn_type="generic",
        extra_dejson={"sqlalchemy_url": f"sqlite:///{tmp_path}/b.db"},
        host=None,
        schema=None,
    )
    assert url_from_connection(conn).database == f"{tmp_path}/b.db"
    with pytest.raises(ValueError, match="'generic' not supported"):
        url_from_connection(SimpleNamespace(conn_type="generic", extra_dejson={}))


def test_store_from_hook_on_real_postgres(
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
    store = StoreHook().get_store()
    try:
        assert store.dialect == "postgresql"
        store.migrate()
        assert store.is_current()
        other = Store(postgres_db_url, hash_key="key-from-connection")
        assert store.quarantine.key_hash("x") == other.quarantine.key_hash("x")
        other.close()
        ok, message = StoreHook().test_connection()
        assert ok, message
    finally:
        store.close()


def test_hash_key_comes_from_the_connection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The store the hook builds hashes quarantine keys under the connection's key (over the
    environment variable), not under any built-in key."""
    nip = "197203151998031002"
    monkeypatch.setenv("SIAPP_SIASN_HASH_KEY", "key-from-environment")
    conn = {
        "conn_type": "sqlite",
        "host": str(tmp_path / "hub.sqlite"),
        "extra": {"hash_key": "key-from-connection"},
    }
    monkeypatch.setenv(ENV, json.dumps(conn))
    with StoreHook().get_store() as store:
        store.migrate()
        assert store.quarantine.key_hash(nip) == keyed_hash(nip, secret=b"key-from-connection")
        store.quarantine.add([QuarantineItem("F1", "asn", nip, "invalid", None)], run_id="r")
        (stored,) = store.quarantine.list(run_id="r")
        assert stored["key_hash"] == keyed_hash(nip, secret=b"key-from-connection")
    # no key in the connection: the environment's
    monkeypatch.setenv(ENV, json.dumps({**conn, "extra": {}}))
    with StoreHook().get_store() as store:
        assert store.quarantine.key_hash(nip) == keyed_hash(nip, secret=b"key-from-environment")


def test_no_hash_key_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SIAPP_SIASN_HASH_KEY", raising=False)
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "h.db")}))
    nip = "197203151998031002"
    with StoreHook().get_store() as store:
        store.migrate()
        with pytest.raises(StoreError, match=r"hash_key.*SIAPP_SIASN_HASH_KEY") as err:
            store.quarantine.key_hash(nip)
        assert nip not in str(err.value)
        with pytest.raises(StoreError, match="no hash key"):
            store.quarantine.add([QuarantineItem("F1", "asn", nip, "invalid", None)])
        assert store.quarantine.list() == []
    with Store(tmp_path / "plain.sqlite") as plain, pytest.raises(StoreError, match="no hash"):
        plain.quarantine.key_hash(nip)


def test_store_package_imports_no_airflow() -> None:
    code = (
        "import sys, siapp_siasn.store, siapp_siasn.store.api, siapp_siasn.store.config; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
