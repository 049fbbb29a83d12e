"""Wiring of the fault matrix: the flow tests' store factory, and a fault the sandbox cannot
inject, the store's PostgreSQL backend terminated in the middle of a batch."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import sqlalchemy as sa

from siapp_siasn.store import Store
from tests.flows.conftest import store_factory

__all__ = ["BackendKiller", "store_factory"]


class BackendKiller:
    """Terminate the store connection's PostgreSQL backend, from a second connection
    (``pg_terminate_backend``, waiting until it is gone), just before the ``nth`` statement
    that contains ``marker`` runs: that statement and the rest of its transaction meet a
    dead connection, as after a server restart, a failover or an idle-session kill."""

    def __init__(self, store: Store, marker: str, nth: int) -> None:
        self.marker, self.nth = marker, nth
        self.seen = 0
        self.killed: list[int] = []
        self._lock = threading.Lock()
        url = store.engine.url.set(drivername="postgresql")
        self._admin_dsn = url.render_as_string(hide_password=False)
        sa.event.listen(store.engine, "before_cursor_execute", self._before)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.marker not in statement:
            return
        with self._lock:
            self.seen += 1
            if self.seen != self.nth:
                return
        pid = conn.connection.driver_connection.info.backend_pid
        with psycopg.connect(self._admin_dsn, autocommit=True) as admin:
            row = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()
        assert row is not None and row[0] is True, "the backend was not terminated"
        self.killed.append(pid)
