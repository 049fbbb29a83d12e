"""Run the store's Alembic migrations programmatically (no ini file; the version table is
the store's own, apart from Airflow's)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine

from siapp_siasn.store.engine import make_engine
from siapp_siasn.store.tables import VERSION_TABLE

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# any constant: serialises concurrent migrations of one PostgreSQL database
_PG_MIGRATION_LOCK = 0x51A55A


def alembic_config() -> Config:
    """An Alembic config pointing at the store's migrations (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _engine(target: str | URL | Path | Engine) -> tuple[Engine, bool]:
    if isinstance(target, Engine):
        return target, False
    return make_engine(target), True


def _run(
    target: str | URL | Path | Engine, command_: Callable[[Config, str], None], revision: str
) -> str | None:
    """Run an Alembic command in one transaction (DDL is transactional on PostgreSQL and,
    through the engine settings, on SQLite); on PostgreSQL an advisory lock serialises
    concurrent callers. Returns the revision then current."""
    engine, owned = _engine(target)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command_(cfg, revision)
        return current_revision(engine)
    finally:
        if owned:
            engine.dispose()


def migrate(target: str | URL | Path | Engine, revision: str = "head") -> str | None:
    """Upgrade the store at ``target`` (URL, SQLite path or engine) to ``revision``.

    Idempotent: an up-to-date database is left as it is. Returns the revision now current.
    """
    current = _run(target, command.upgrade, revision)
    log.info("store schema at revision %s", current)
    return current


def downgrade(target: str | URL | Path | Engine, revision: str) -> str | None:
    """Downgrade the store to ``revision`` (``"base"`` drops everything the store created)."""
    return _run(target, command.downgrade, revision)


def current_revision(target: str | URL | Path | Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine, owned = _engine(target)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return ctx.get_current_revision()
    finally:
        if owned:
            engine.dispose()
