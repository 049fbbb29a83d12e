"""Where the store lives, as pure functions (no Airflow: the Airflow side is
:class:`siapp_siasn.hooks.store.StoreHook`).

Connection forms understood by :func:`url_from_connection` (any object with the attributes of
an Airflow ``Connection``):

* ``conn_type`` ``postgres``/``postgresql``: host, port, login, password, schema (= database);
  extras become libpq options (``sslmode``, ``sslrootcert``, ...); extras ``hash_key`` (the
  secret for keyed hashes) and ``hash_key_previous`` (the one a rotation replaces) are not
  passed to libpq.
* ``conn_type`` ``sqlite``: ``host`` (or ``schema``) is the file path.
* any type (e.g. ``generic``) with extra ``sqlalchemy_url`` (or ``url``): used as is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from siapp_siasn.store.engine import normalize_url

DEFAULT_CONN_ID = "siapp_siasn_store"
#: Environment variable naming the default SQLite file.
STORE_PATH_ENV = "SIAPP_SIASN_STORE_PATH"
#: Environment variable holding the secret for keyed hashes when no connection gives one.
HASH_KEY_ENV = "SIAPP_SIASN_HASH_KEY"
#: Extra of the store connection holding the secret for keyed hashes.
HASH_KEY_EXTRA = "hash_key"
#: The key a rotation replaces (extra and environment variable): tokens and keyed hashes made
#: with it still match until the rows are rewritten under ``hash_key``.
HASH_KEY_PREVIOUS_EXTRA = "hash_key_previous"
HASH_KEY_PREVIOUS_ENV = "SIAPP_SIASN_HASH_KEY_PREVIOUS"
_NON_LIBPQ_EXTRAS = frozenset({HASH_KEY_EXTRA, HASH_KEY_PREVIOUS_EXTRA, "sqlalchemy_url", "url"})


def default_sqlite_path() -> Path:
    """``$SIAPP_SIASN_STORE_PATH``, else ``$AIRFLOW_HOME/siapp_siasn/store.sqlite``."""
    explicit = os.environ.get(STORE_PATH_ENV)
    if explicit:
        return Path(explicit).expanduser()
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()
    return airflow_home / "siapp_siasn" / "store.sqlite"


def url_from_connection(conn: Any) -> URL:
    """Translate a connection (``conn_type``, ``host``, ``port``, ``login``, ``password``,
    ``schema``, ``extra_dejson``) into the store's SQLAlchemy URL."""
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
