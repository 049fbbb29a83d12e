"""Engine creation: URL normalisation and per-dialect connection settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from siapp_siasn.store.types import json_dumps, json_loads

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str | URL | Path) -> URL:
    """Turn a path, ``postgres://`` or ``postgresql://`` URL into the URL this store uses.

    PostgreSQL always goes through psycopg 3; a bare filesystem path means a SQLite file.
    """
    if isinstance(url, Path):
        return URL.create("sqlite", database=str(url))
    if isinstance(url, str) and "://" not in url:
        return URL.create("sqlite", database=url)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    else:
        raise ValueError(f"unsupported store backend {backend!r}: use sqlite or postgresql")
    return parsed


def make_engine(url: str | URL | Path, **kwargs: Any) -> Engine:
    """Create an engine with the settings the store relies on.

    SQLite: the file's folder is created, WAL journal, ``synchronous=NORMAL``, foreign keys on,
    a busy timeout, and real transactions (``BEGIN IMMEDIATE``; pysqlite's own implicit
    transaction handling is switched off so DDL is transactional too).
    Every dialect: parameters are hidden from error messages (they may hold personal data).
    """
    parsed = normalize_url(url)
    options: dict[str, Any] = {
        "hide_parameters": True,
        "json_serializer": json_dumps,
        "json_deserializer": json_loads,
        "future": True,
    }
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        options["pool_pre_ping"] = True
        options["connect_args"] = {"application_name": "siapp-siasn-store"}
    options.update(kwargs)
    engine = sa.create_engine(parsed, **options)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
