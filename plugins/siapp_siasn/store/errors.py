"""The store's one error type and the guard that turns database errors into it.

Database messages may quote row values (PostgreSQL's message and DETAIL do), so a
:class:`StoreError` names only the operation, the error class, SQLSTATE, table, column and
constraint, and never chains the original exception (tracebacks would print it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa

__all__ = ["StoreError", "describe", "guard"]


class StoreError(RuntimeError):
    """A database operation of the store failed (message free of personal values)."""


def describe(operation: str, exc: BaseException) -> str:
    """A message naming the operation and the error's class, SQLSTATE, table, column and
    constraint, and never a value."""
    orig = getattr(exc, "orig", None) or exc
    parts = [f"store {operation} failed: {type(orig).__name__}"]
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        parts.append(f"sqlstate={sqlstate}")
    diag = getattr(orig, "diag", None)
    for attr in ("table_name", "column_name", "constraint_name"):
        value = getattr(diag, attr, None) if diag is not None else None
        if value:
            parts.append(f"{attr.split('_')[0]}={value}")
    if isinstance(orig, sqlite3.Error):
        # SQLite messages name constraints and columns, never values
        parts.append(f"({orig})")
    return " ".join(parts)


@contextmanager
def guard(operation: str) -> Iterator[None]:
    """Re-raise database errors of the block as :class:`StoreError` (see :func:`describe`)."""
    try:
        yield
    except (sa.exc.StatementError, psycopg.Error, sqlite3.Error) as exc:
        # from None: tracebacks must not print the original (it may quote row values)
        raise StoreError(describe(operation, exc)) from None
