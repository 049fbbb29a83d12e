"""Migrations: up from empty, idempotent, down and up again, and in step with tables.py."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from siapp_siasn.store import (
    OPERATOR_VIEWS,
    VIEWS,
    Store,
    current_revision,
    downgrade,
    head_revision,
    metadata,
)
from siapp_siasn.store.tables import VERSION_TABLE

TABLES = {t.name for t in metadata.sorted_tables}


def _tables_and_views(s: Store) -> tuple[set[str], set[str]]:
    insp = sa.inspect(s.engine)
    return set(insp.get_table_names()), set(insp.get_view_names())


def test_up_from_empty_then_idempotent(store_url: str) -> None:
    s = Store(store_url)
    try:
        assert s.revision() is None
        assert s.migrate() == head_revision()
        tables, views = _tables_and_views(s)
        assert tables == TABLES | {VERSION_TABLE}
        assert views == set(VIEWS) | set(OPERATOR_VIEWS)
        # second run: nothing to do, nothing changes
        assert s.migrate() == head_revision()
        assert _tables_and_views(s) == (tables, views)
        assert s.is_current()
    finally:
        s.close()


def test_down_to_base_and_up_again(store_url: str) -> None:
    s = Store(store_url)
    try:
        s.migrate()
        assert downgrade(s.engine, "base") is None
        tables, views = _tables_and_views(s)
        assert tables & TABLES == set()
        assert views == set()
        s.migrate()
        assert current_revision(s.engine) == head_revision()
    finally:
        s.close()


def test_tables_module_matches_migrations(store: Store) -> None:
    """Autogenerate finds no difference between the migrated database and tables.py."""
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "version_table": VERSION_TABLE},
        )
        diff = compare_metadata(ctx, metadata)
    assert diff == []
