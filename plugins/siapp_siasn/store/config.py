"""Where the store lives: the Airflow connection ``siapp_siasn_store`` or a SQLite file.

Airflow is imported lazily, inside the functions, so the store stays usable without it.
Connection forms understood:

* ``conn_type`` ``postgres``/``postgresql``: host, port, login, password, schema (= database);
  extras become libpq options (``sslmode``, ``sslrootcert``, ...); extra ``hash_key`` is the
  secret for keyed hashes and is not passed to libpq.
* ``conn_type`` ``sqlite``: ``host`` (or ``schema``) is the file path.
* any type with extra ``sqlalchemy_url`` (or ``url``): used as is.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from siapp_siasn.store.engine import normalize_url

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "siapp_siasn_store"
#: Environment variable naming the default SQLite file.
STORE_PATH_ENV = "SIAPP_SIASN_STORE_PATH"
#: Environment variable holding the secret for keyed hashes when no connection gives one.
HASH_KEY_ENV = "SIAPP_SIASN_HASH_KEY"
_NON_LIBPQ_EXTRAS = frozenset({"hash_key", "sqlalchemy_url", "url"})


def default_sqlite_path() -> Path:
    """``$SIAPP_SIASN_STORE_PATH``, else ``$AIRFLOW_HOME/siapp_siasn/store.sqlite``."""
    explicit = os.environ.get(STORE_PATH_ENV)
    if explicit:
        return Path(explicit).expanduser()
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()
    return airflow_home / "siapp_siasn" / "store.sqlite"


def _get_connection(conn_id: str) -> Any | None:
    from airflow.sdk import BaseHook

    not_found: tuple[type[BaseException], ...]
    try:
        from airflow.sdk.exceptions import AirflowNotFoundException as SdkNotFound

        not_found = (SdkNotFound,)
    except ImportError:  # pragma: no cover - older SDK layouts
        not_found = ()
    try:
        from airflow.exceptions import AirflowNotFoundException as CoreNotFound

        not_found = (*not_found, CoreNotFound)
    except ImportError:  # pragma: no cover
        pass
    try:
        return BaseHook.get_connection(conn_id)
    except not_found:
        return None


def url_from_connection(conn: Any) -> URL:
    """Translate an Airflow Connection into the store's SQLAlchemy URL."""
    extra: dict[str, Any] = dict(conn.extra_dejson or {})
    explicit = extra.get("sqlalchemy_url") or extra.get("url")
    if explicit:
        return normalize_url(str(explicit))
    conn_type = (conn.conn_type or "").lower()
    if conn_type in ("postgres", "postgresql"):
        query = {
            str(k): str(v)
            for k, v in extra.items()
            if k not in _NON_LIBPQ_EXTRAS and v is not None and not isinstance(v, dict | list)
        }
        return URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
            query=query,
        )
    if conn_type == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise ValueError("sqlite store connection needs the file path in host")
        return normalize_url(Path(path))
    raise ValueError(
        f"store connection type {conn_type!r} not supported: use postgres or sqlite, "
        "or give extra sqlalchemy_url"
    )


def store_url_from_airflow(
    conn_id: str = DEFAULT_CONN_ID, default: str | Path | URL | None = None
) -> URL:
    """The store URL from Airflow connection ``conn_id``.

    Falls back to ``default`` (a URL or a SQLite path), else to :func:`default_sqlite_path`,
    when the connection is not defined.
    """
    conn = _get_connection(conn_id)
    if conn is None:
        fallback = default if default is not None else default_sqlite_path()
        log.info("connection %s not defined: using the default SQLite store", conn_id)
        return normalize_url(fallback)
    return url_from_connection(conn)


def hash_key_from_airflow(conn_id: str = DEFAULT_CONN_ID) -> bytes | None:
    """The keyed-hash secret: extra ``hash_key`` of the store connection, else the env var."""
    conn = _get_connection(conn_id)
    if conn is not None:
        key = (conn.extra_dejson or {}).get("hash_key")
        if key:
            return str(key).encode()
    env = os.environ.get(HASH_KEY_ENV)
    return env.encode() if env else None
