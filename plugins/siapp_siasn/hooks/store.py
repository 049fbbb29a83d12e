"""Airflow hook of the hub's own database: connection → SQLAlchemy URL → :class:`Store`.

In the manner of providers' ``PostgresHook``/``DbApiHook``: the one place that reads the store
connection (default ``siapp_siasn_store``), so that :mod:`siapp_siasn.store` imports no
Airflow. The connection gives the URL (rules of
:func:`~siapp_siasn.store.config.url_from_connection`: ``postgres``/``sqlite`` types, or any
type such as ``generic`` with extra ``sqlalchemy_url``) and the secret of the store's keyed
hashes (extra ``hash_key``, else ``$SIAPP_SIASN_HASH_KEY``; during a rotation also
``hash_key_previous`` / ``$SIAPP_SIASN_HASH_KEY_PREVIOUS``). An absent connection means the
default SQLite file (:func:`~siapp_siasn.store.config.default_sqlite_path`); a connection that
is set but cannot be read (``AIRFLOW_CONN_SIAPP_SIASN_STORE`` that is not JSON, or has a key
Airflow does not know, such as ``database`` for ``schema``) is an error, never a silent
fallback to that file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from siapp_siasn.store.config import (
    DEFAULT_CONN_ID,
    HASH_KEY_ENV,
    HASH_KEY_EXTRA,
    HASH_KEY_PREVIOUS_ENV,
    HASH_KEY_PREVIOUS_EXTRA,
    default_sqlite_path,
    url_from_connection,
)
from siapp_siasn.store.engine import normalize_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from siapp_siasn.store import Store

__all__ = ["StoreHook"]

_UNSET: Any = object()
#: The keys of a connection in ``AIRFLOW_CONN_*`` JSON (Airflow rejects any other).
CONNECTION_KEYS = (
    "conn_type",
    "description",
    "host",
    "login",
    "password",
    "schema",
    "port",
    "extra",
)


class StoreConnectionError(ValueError):
    """The store connection is defined but unusable (the message says what to fix)."""


def env_connection_problem(conn_id: str) -> str | None:
    """Why ``AIRFLOW_CONN_<ID>`` is set but not a connection Airflow can read, or None.

    Airflow reports such a variable as "not defined"; this names the actual mistake (never a
    value: the variable holds secrets)."""
    var = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not text.startswith("{"):
        return None  # the URI form: Airflow parses it, or says why
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"{var} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if not isinstance(data, dict):
        return f"{var} must be a JSON object"
    unknown = sorted(set(data) - set(CONNECTION_KEYS))
    if unknown:
        hint = " (the database name goes in schema)" if "database" in unknown else ""
        return (
            f"{var} has keys Airflow does not know: {', '.join(unknown)}{hint}; "
            f"use {', '.join(CONNECTION_KEYS)}"
        )
    if not data.get("conn_type"):
        return f"{var} has no conn_type (postgres, sqlite, or generic with extra sqlalchemy_url)"
    if not isinstance(data.get("extra", {}), dict | str | None):
        return f"{var}: extra must be a JSON object"
    return None


def _not_found_errors() -> tuple[type[BaseException], ...]:
    """The "no such connection" exceptions of the SDK and of core (either may be raised)."""
    errors: tuple[type[BaseException], ...] = ()
    try:
        from airflow.sdk.exceptions import AirflowNotFoundException as SdkNotFound

        errors = (SdkNotFound,)
    except ImportError:  # pragma: no cover - older SDK layouts
        pass
    try:
        from airflow.exceptions import AirflowNotFoundException as CoreNotFound

        errors = (*errors, CoreNotFound)
    except ImportError:  # pragma: no cover
        pass
    return errors


def _mask(secret: str) -> None:
    """Register the hash key with Airflow's secrets masker: ``hash_key`` is not a name the
    masker recognises by itself (best effort, like the API hooks' tokens)."""
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    except Exception:  # noqa: S110 - masking is defence in depth; never fail for it
        pass


class StoreHook(BaseHook):
    """The store connection: ``StoreHook().get_store()`` is how Airflow code gets a store.

    :param store_conn_id: the connection id.
    :param default_url: URL or SQLite path used when the connection is not defined (default:
        :func:`~siapp_siasn.store.config.default_sqlite_path`).
    :param store_kwargs: passed to :class:`Store` (e.g. ``durable_batches=True``).
    """

    conn_name_attr = "store_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    hook_name = "SIAPP SIASN store"

    def __init__(
        self,
        store_conn_id: str = DEFAULT_CONN_ID,
        *,
        default_url: str | Path | URL | None = None,
        **store_kwargs: Any,
    ) -> None:
        super().__init__()
        self.store_conn_id = store_conn_id
        self.default_url = default_url
        self.store_kwargs = store_kwargs
        self._connection: Any = _UNSET

    def __repr__(self) -> str:
        return f"StoreHook({self.store_conn_id!r})"

    def get_connection_or_none(self) -> Any | None:
        """The Airflow connection, or None when it is not defined (cached per hook)."""
        if self._connection is _UNSET:
            try:
                self._connection = self.get_connection(self.store_conn_id)
            except _not_found_errors():
                problem = env_connection_problem(self.store_conn_id)
                if problem:
                    raise StoreConnectionError(
                        f"connection {self.store_conn_id}: {problem}"
                    ) from None
                self._connection = None
        return self._connection

    @property
    def source(self) -> str:
        """Where the store comes from, for messages: the connection or the fallback file."""
        if self.get_connection_or_none() is not None:
            return f"connection {self.store_conn_id}"
        return f"connection {self.store_conn_id} not defined: default SQLite file"

    @property
    def sqlalchemy_url(self) -> URL:
        """The store's SQLAlchemy URL (its ``repr`` hides the password)."""
        conn = self.get_connection_or_none()
        if conn is not None:
            try:
                return url_from_connection(conn)
            except ValueError as exc:
                raise StoreConnectionError(f"connection {self.store_conn_id}: {exc}") from None
        fallback = self.default_url if self.default_url is not None else default_sqlite_path()
        url = normalize_url(fallback)
        self.log.info(
            "connection %s not defined: using the SQLite store %s", self.store_conn_id, url.database
        )
        return url

    def get_uri(self) -> str:
        """The URL as a string, password included (for engines; never log it)."""
        return self.sqlalchemy_url.render_as_string(hide_password=False)

    def _secret(self, extra_name: str, env_name: str) -> bytes | None:
        conn = self.get_connection_or_none()
        if conn is not None:
            key = (conn.extra_dejson or {}).get(extra_name)
            if key:
                _mask(str(key))
                return str(key).encode()
        env = os.environ.get(env_name)
        if env:
            _mask(env)
        return env.encode() if env else None

    def get_hash_key(self) -> bytes | None:
        """The keyed-hash secret: the connection's extra ``hash_key``, else the env var."""
        return self._secret(HASH_KEY_EXTRA, HASH_KEY_ENV)

    def get_hash_key_previous(self) -> bytes | None:
        """The key a rotation replaces: extra ``hash_key_previous``, else
        ``$SIAPP_SIASN_HASH_KEY_PREVIOUS``; None outside a rotation."""
        return self._secret(HASH_KEY_PREVIOUS_EXTRA, HASH_KEY_PREVIOUS_ENV)

    def get_store(self) -> Store:
        """A new :class:`Store` on the connection's database, hashing with its key (and
        matching tokens of the previous one during a rotation)."""
        from siapp_siasn.store import Store

        return Store(
            self.sqlalchemy_url,
            hash_key=self.get_hash_key(),
            hash_key_previous=self.get_hash_key_previous(),
            **self.store_kwargs,
        )

    def get_conn(self) -> Store:
        """Same as :meth:`get_store` (Airflow's conventional name)."""
        return self.get_store()

    def test_connection(self) -> tuple[bool, str]:
        """Connect and read the schema revision (no personal data involved)."""
        from siapp_siasn.store import StoreError

        try:
            with self.get_store() as store:
                current = store.is_current()
        except (StoreError, ValueError) as exc:
            return False, str(exc)
        state = "current" if current else "not migrated to the newest revision"
        return True, f"Connection successfully tested (schema {state})"
