"""Fixtures of the retention tests: a migrated store on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from siapp_siasn.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/store.sqlite"
    else:
        url = request.getfixturevalue("postgres_db_url")
    s = Store(url, hash_key=b"retention-test-key")
    s.migrate()
    try:
        yield s
    finally:
        s.close()
