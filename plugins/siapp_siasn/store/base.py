"""What every repository of the store shares: the engine and the unit of work.

A repository method takes an optional ``conn``: the connection of ``store.transaction()`` to
join a larger transaction; without it the call runs in a transaction of its own. Every
database error leaves as :class:`~siapp_siasn.store.errors.StoreError`.

Per-row calls (the push writes a few rows per usulan) reuse statements built once
(:meth:`Repository._statement`): building and compiling a statement costs several times more
than running it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.engine import Engine

from siapp_siasn.store.errors import StoreError, guard

__all__ = ["IN_CHUNK", "Repository", "as_text", "binds", "unit_of_work", "where_given"]

#: Ids per ``IN (...)`` list: well under every dialect's bind-parameter limit.
IN_CHUNK = 900

#: Per dialect, the compiler of :func:`as_text`: plain ``:name`` parameters (psycopg's dialect
#: would append ``::TYPE`` casts, which ``text()`` cannot read; it adds them when it runs the text).
_TEXT_DIALECTS = {"postgresql": PGDialect, "sqlite": SQLiteDialect}


@contextmanager
def unit_of_work(engine: Engine, conn: Connection | None, operation: str) -> Iterator[Connection]:
    """``conn`` when given (the caller's transaction), else a new transaction on ``engine``;
    database errors become :class:`StoreError` naming ``operation``."""
    with guard(operation):
        if conn is not None:
            yield conn
        else:
            with engine.begin() as own:
                yield own


def where_given(query: sa.Select[Any], filters: Iterable[tuple[Any, Any]]) -> sa.Select[Any]:
    """``query`` restricted to ``column == value`` for each ``(column, value)`` whose value is
    given (not None): the optional filters of the ``list`` methods."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


def binds(table: sa.Table, names: Iterable[str]) -> dict[str, sa.BindParameter[Any]]:
    """One bind parameter per column of ``table`` in ``names``, named and typed as the column."""
    return {name: sa.bindparam(name, type_=table.c[name].type) for name in names}


def as_text(stmt: sa.Executable, dialect: str) -> sa.TextClause:
    """``stmt`` (built with named :func:`~sqlalchemy.bindparam`) written out once as the SQL text
    of ``dialect``, with its parameters typed as in ``stmt``.

    SQLAlchemy caches the compiled form of a ``text()`` but not of the dialects'
    ``INSERT … ON CONFLICT`` constructs (they are marked uncacheable), which it would otherwise
    compile again at every execution.
    """
    compiled = stmt.compile(dialect=_TEXT_DIALECTS[dialect](paramstyle="named"))
    text = sa.text(compiled.string).bindparams(
        *(sa.bindparam(bind.key, type_=bind.type) for bind in compiled.binds.values())
    )
    returned = getattr(stmt, "exported_columns", ())
    return text.columns(*returned) if len(returned) else text


class Repository:
    """Base of the store's repositories: one engine, one way to open or join a transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self._statements: dict[Hashable, sa.Executable] = {}

    def _tx(self, conn: Connection | None, operation: str) -> AbstractContextManager[Connection]:
        return unit_of_work(self.engine, conn, operation)

    def _statement(self, key: Hashable, build: Callable[[], sa.Executable]) -> sa.Executable:
        """The statement ``key``: ``build()`` the first time, the same object after.

        ``build`` takes its values as named :func:`~sqlalchemy.bindparam` (given at execution),
        so one statement serves every call and SQLAlchemy compiles it once; a dialect
        ``INSERT … ON CONFLICT`` is kept as :func:`as_text` for that. ``key`` names the
        statement's shape (e.g. which columns it sets): a finite set per repository.
        """
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = build()
            if isinstance(stmt, postgresql.Insert | sqlite.Insert):
                stmt = as_text(stmt, self.dialect)
            # two threads may build the same statement at once: either copy serves
            self._statements[key] = stmt
        return stmt

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's ``INSERT`` (with ``on_conflict_do_*``)."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        if self.dialect == "sqlite":
            return sqlite.insert(table)
        raise StoreError(f"unsupported dialect {self.dialect}")
