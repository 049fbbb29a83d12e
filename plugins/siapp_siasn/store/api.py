"""The store: the hub's own database as one engine, one unit of work and its repositories.

``Store(url)`` owns the engine and the schema (migrations) and builds one repository per
concern, all on that engine: ``referensi``, ``asn``, ``state``, ``quarantine``, ``lineage``,
``quality``, ``outbox``, ``documents``, ``usulan``, ``reconciliation``. Every write takes an
optional ``conn``: pass the connection of ``with store.transaction() as conn:`` to group
writes of several repositories into one transaction. Pure Python, no Airflow (Airflow code
gets a store from :class:`siapp_siasn.hooks.store.StoreHook`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import URL, Engine

from siapp_siasn.models.nik import NikKey
from siapp_siasn.store.asn import AsnRepository
from siapp_siasn.store.audit import AuditRepository
from siapp_siasn.store.base import unit_of_work
from siapp_siasn.store.config import HASH_KEY_ENV, HASH_KEY_PREVIOUS_ENV
from siapp_siasn.store.documents import DocumentRepository
from siapp_siasn.store.engine import make_engine, normalize_url
from siapp_siasn.store.errors import guard
from siapp_siasn.store.findings import FindingsRepository
from siapp_siasn.store.lineage import LineageRepository
from siapp_siasn.store.migrate import current_revision, head_revision, migrate
from siapp_siasn.store.monitoring import MonitoringRepository
from siapp_siasn.store.outbox import OutboxRepository
from siapp_siasn.store.quality import QualityRepository
from siapp_siasn.store.quarantine import QuarantineRepository
from siapp_siasn.store.reconciliation import ReconciliationRepository
from siapp_siasn.store.referensi import ReferensiRepository
from siapp_siasn.store.retention import RetentionRepository
from siapp_siasn.store.roles import require_migrator
from siapp_siasn.store.selection import SelectionRepository
from siapp_siasn.store.state import StateRepository
from siapp_siasn.store.tables import (
    asn,
    asn_family,
    asn_history,
    document_ledger,
    metadata,
    outbox,
    quarantine,
    referensi,
    usulan_lifecycle,
)
from siapp_siasn.store.usulan import UsulanRepository

__all__ = ["Store"]


def _secret(given: bytes | str | None, env: str) -> bytes | None:
    key = given or os.environ.get(env)
    return key.encode() if isinstance(key, str) else key


class Store:
    """The hub's own database (SQLite file or PostgreSQL).

    ``Store(url)`` takes a SQLAlchemy URL (``postgresql://``, ``postgresql+psycopg://``,
    ``sqlite:///file``) or a filesystem path (SQLite). ``hash_key`` is the secret of the keyed
    hashes in quarantine and of the NIK tokens in ASN payloads (default
    ``$SIAPP_SIASN_HASH_KEY``; without one, hashing a key or storing a NIK raises
    :class:`StoreError`); ``hash_key_previous`` (default ``$SIAPP_SIASN_HASH_KEY_PREVIOUS``)
    is the key a rotation replaces: lookups accept its hashes and tokens too.
    ``durable_batches``: see :class:`AsnRepository`.
    """

    def __init__(
        self,
        url: str | URL | Path,
        *,
        hash_key: bytes | str | None = None,
        hash_key_previous: bytes | str | None = None,
        durable_batches: bool = False,
        **engine_kwargs: Any,
    ) -> None:
        self.url: URL = normalize_url(url)
        self.engine: Engine = make_engine(self.url, **engine_kwargs)
        self.dialect: str = self.engine.dialect.name
        secret = _secret(hash_key, HASH_KEY_ENV)
        previous = _secret(hash_key_previous, HASH_KEY_PREVIOUS_ENV)
        if previous == secret:
            previous = None  # a "rotation" to the same key: nothing to match twice
        #: the NIK tokens' keys (None without a hash key: NIKs cannot be stored then)
        self.nik_key: NikKey | None = NikKey(secret) if secret else None
        self.nik_key_previous: NikKey | None = NikKey(previous) if previous else None
        self.referensi = ReferensiRepository(self.engine)
        self.state = StateRepository(self.engine)
        self.quarantine = QuarantineRepository(self.engine, secret, previous)
        self.asn = AsnRepository(
            self.engine,
            quarantine=self.quarantine,
            state=self.state,
            durable_batches=durable_batches,
            nik_key=self.nik_key,
            nik_key_previous=self.nik_key_previous,
        )
        self.lineage = LineageRepository(self.engine)
        self.quality = QualityRepository(self.engine)
        self.outbox = OutboxRepository(self.engine)
        self.documents = DocumentRepository(self.engine)
        self.usulan = UsulanRepository(self.engine)
        self.reconciliation = ReconciliationRepository(
            self.engine, key_hash=self.quarantine.key_hash
        )
        self.audit = AuditRepository(self.engine)  # read-only: the UI's "Hub audit" page
        self.selection = SelectionRepository(self.engine)  # NIP lists re-pulled by id
        self.findings = FindingsRepository(self.engine)  # API monitor: drift, outages
        self.monitoring = MonitoringRepository(self.engine)  # read-only: the M&E report
        self.retention = RetentionRepository(self.engine)  # PKS art. 11 purge

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction for several writes: commits at the end, rolls back on error."""
        with unit_of_work(self.engine, None, "transaction") as conn:
            yield conn

    # ------------------------------------------------------------------ schema

    def migrate(self, revision: str = "head") -> str | None:
        """Apply the Alembic migrations up to ``revision`` (idempotent); returns the revision.

        On PostgreSQL a role that does not own the store (the DAGs' runtime role) gets a
        one-line :class:`StoreError` saying to migrate as the owner (``store/roles.py``)."""
        with guard("migrate"):
            if self.dialect == "postgresql":
                with self.engine.connect() as conn:
                    require_migrator(conn)
            return migrate(self.engine, revision)

    def revision(self) -> str | None:
        """The schema revision of the database (None when empty)."""
        with guard("revision"):
            return current_revision(self.engine)

    def is_current(self) -> bool:
        """Whether the database is at the newest migration shipped with the package."""
        return self.revision() == head_revision()

    # ------------------------------------------------------------------ statistics

    def stats(self) -> dict[str, Any]:
        """Counts for reports and checks (no personal data)."""

        def grouped(c: Connection, column: sa.Column[Any]) -> dict[Any, int]:
            return dict(c.execute(sa.select(column, sa.func.count()).group_by(column)).all())

        with unit_of_work(self.engine, None, "stats") as c:
            per_table = {
                t.name: c.scalar(sa.select(sa.func.count()).select_from(t))
                for t in metadata.sorted_tables
            }
            active = grouped(c, asn.c.is_active)
            open_versions = c.scalar(
                sa.select(sa.func.count())
                .select_from(asn_history)
                .where(asn_history.c.valid_to.is_(None))
            )
            refs: dict[str, dict[str, int]] = {}
            for ref, is_active, count in c.execute(
                sa.select(referensi.c.ref, referensi.c.is_active, sa.func.count()).group_by(
                    referensi.c.ref, referensi.c.is_active
                )
            ):
                refs.setdefault(ref, {"active": 0, "inactive": 0})[
                    "active" if is_active else "inactive"
                ] = count
            return {
                "tables": per_table,
                "asn": {"active": active.get(True, 0), "inactive": active.get(False, 0)},
                "asn_history": {"rows": per_table["asn_history"], "open": open_versions},
                "asn_family": grouped(c, asn_family.c.relation),
                "referensi": refs,
                "quarantine": {
                    "total": per_table["quarantine"],
                    "by_reason": grouped(c, quarantine.c.reason),
                },
                "outbox": grouped(c, outbox.c.status),
                "document_ledger": grouped(c, document_ledger.c.status),
                "usulan_lifecycle": grouped(c, usulan_lifecycle.c.status),
            }
