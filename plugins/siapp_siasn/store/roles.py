"""Least privilege on PostgreSQL: the owner migrates, the DAGs run as a runtime role, SIAPP NV's
consumers read as a read-only role.

:func:`grant_roles` runs as the store's owner after ``store migrate`` (the CLI: ``siapp-siasn
store grant --runtime-role R --readonly-role Q``) and sets, in one transaction and idempotently:

* **runtime role** (the DAGs' ``siapp_siasn_store`` connection): ``CONNECT`` and ``TEMPORARY`` on
  the database (the bulk path stages batches in TEMP tables), ``USAGE`` on the schema and never
  ``CREATE``; ``SELECT, INSERT, UPDATE, DELETE`` on the hub's tables (no ``TRUNCATE``,
  ``REFERENCES``, ``TRIGGER``), ``SELECT`` only on the views and on Alembic's version table (the
  hooks check the revision), ``USAGE, SELECT, UPDATE`` on the sequences; and the same through
  ``ALTER DEFAULT PRIVILEGES`` for what a later migration creates, so forgetting to rerun this
  after a migration never stops the DAGs. It owns nothing, so ``ALTER``/``DROP`` are refused.
* **read-only role** (SIAPP NV): ``CONNECT``, ``USAGE`` on the schema and ``SELECT`` on the
  consumer views (``tables.VIEWS``) and nothing else: the tables hold the raw SIASN bodies (NIK,
  contacts) that the views leave out, and default privileges would hand it every future table,
  so it gets none; a new consumer view is granted when this runs after its migration.
* ``CREATE`` on the schema revoked from ``PUBLIC`` (PostgreSQL < 15 granted it to everyone).

Before committing it checks the outcome with ``has_*_privilege`` and raises a
:class:`StoreError` saying what is missing and who can fix it. Creating the roles is usually the
DBA's (``deploy/postgres-init/``); ``create_roles=True`` creates missing ones (needs CREATEROLE).

:func:`require_migrator` is the guard of :meth:`Store.migrate`: a role that neither owns the
store's tables nor may create in the schema gets one line saying to migrate as the owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import URL, Engine

from siapp_siasn.store.engine import make_engine
from siapp_siasn.store.errors import StoreError, guard
from siapp_siasn.store.tables import VERSION_TABLE, VIEWS

__all__ = ["GrantReport", "grant_roles", "require_migrator"]

_RUNTIME_TABLE = "SELECT, INSERT, UPDATE, DELETE"
_RUNTIME_SEQUENCE = "USAGE, SELECT, UPDATE"
#: base tables, partitioned tables (DML); views and materialized views (SELECT only)
_TABLE_KINDS = ("r", "p")
_VIEW_KINDS = ("v", "m")


@dataclass(frozen=True)
class GrantReport:
    """What :func:`grant_roles` set (names and counts only)."""

    database: str
    schema: str
    owner: str
    runtime_role: str
    readonly_role: str | None
    runtime_tables: int
    runtime_views: int
    readonly_views: tuple[str, ...]
    created_roles: tuple[str, ...]

    def summary(self) -> str:
        """One line for the CLI."""
        reader = (
            f"; {self.readonly_role}: SELECT on {', '.join(self.readonly_views)}"
            if self.readonly_role
            else ""
        )
        created = f" (created {', '.join(self.created_roles)})" if self.created_roles else ""
        return (
            f"granted in {self.database}.{self.schema} (owner {self.owner}){created}: "
            f"{self.runtime_role}: DML on {self.runtime_tables} tables, SELECT on "
            f"{self.runtime_views} views, no CREATE{reader}"
        )


def _not_applicable(dialect: str) -> StoreError:
    return StoreError(
        f"store roles are not applicable to {dialect}: it has no roles (the file's permissions "
        "protect it); database roles need the PostgreSQL store"
    )


def require_migrator(conn: Connection) -> None:
    """Raise a one-line :class:`StoreError` unless the current role may migrate the store
    (PostgreSQL only; a no-op elsewhere): it must own the store's tables (their owner or a member
    of it) or, on an empty database, hold ``CREATE`` on the schema."""
    if conn.dialect.name != "postgresql":
        return
    row = conn.execute(
        sa.text(
            "SELECT current_user AS me, current_schema() AS schema, "
            "  CASE WHEN current_schema() IS NULL THEN false "
            "       ELSE has_schema_privilege(current_schema(), 'CREATE') END AS can_create, "
            "  pg_get_userbyid(c.relowner) AS owner, pg_has_role(c.relowner, 'USAGE') AS owns "
            "FROM (SELECT 1) AS one LEFT JOIN pg_class c ON c.oid = to_regclass(:vt)"
        ),
        {"vt": VERSION_TABLE},
    ).one()
    hint = (
        "run `siapp-siasn store migrate` as the store's owner (its credentials in --url or the "
        "connection), not as the DAGs' runtime role"
    )
    if row.owner is not None and not row.owns:
        raise StoreError(
            f"store migrate refused: role {row.me} does not own the store's tables (owner "
            f"{row.owner}), and only the owner may ALTER, CREATE or DROP them; {hint}"
        )
    if row.owner is None and not row.can_create:
        raise StoreError(
            f"store migrate refused: role {row.me} lacks CREATE on schema "
            f"{row.schema or '(none in search_path)'}; {hint}"
        )


def _role_facts(conn: Connection, role: str, owner: str | None = None) -> sa.Row | None:
    return conn.execute(
        sa.text(
            "SELECT rolsuper, pg_has_role(CAST(:r AS name), CAST(:o AS name), 'MEMBER') "
            "AS member_of_owner FROM pg_roles WHERE rolname = :r"
        ),
        {"r": role, "o": owner or role},
    ).one_or_none()


def _create_role(conn: Connection, role: str, password: str | None) -> None:
    # format() quotes on the server: a password never passes through our string building
    if password:
        stmt = (
            "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', CAST(:r AS text), CAST(:p AS text))"
        )
    else:
        stmt = "SELECT format('CREATE ROLE %I NOLOGIN', CAST(:r AS text))"
    ddl = conn.execute(sa.text(stmt), {"r": role, "p": password}).scalar_one()
    try:
        conn.exec_driver_sql(ddl)
    except sa.exc.DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "42501":
            raise
        raise StoreError(
            f"store grant: cannot create role {role}: creating roles needs CREATEROLE; ask the "
            "database administrator (deploy/postgres-init/ creates them)"
        ) from None


def _check_role(conn: Connection, role: str, kind: str, owner: str) -> None:
    facts = _role_facts(conn, role, owner)
    if facts is None:  # checked by the caller after an optional create
        raise StoreError(
            f"store grant: {kind} role {role} does not exist: ask the database administrator "
            f"to create it (CREATE ROLE {role} LOGIN PASSWORD '…'; deploy/postgres-init/ does) "
            "or pass --create-roles"
        )
    if facts.rolsuper:
        raise StoreError(f"store grant: {kind} role {role} is a superuser; use a plain login role")
    if facts.member_of_owner:
        raise StoreError(
            f"store grant: {kind} role {role} is the owner {owner} or a member of it, so it "
            "would keep the owner's rights; use a role of its own"
        )


def grant_roles(
    target: str | URL | Path | Engine,
    runtime_role: str,
    readonly_role: str | None = None,
    *,
    create_roles: bool = False,
    passwords: Mapping[str, str] | None = None,
) -> GrantReport:
    """Grant ``runtime_role`` DML and ``readonly_role`` SELECT on the consumer views (see the
    module docstring). Run as the store's owner after migrating; idempotent.

    ``create_roles``: create a missing role first (``LOGIN PASSWORD`` when ``passwords`` names
    one for it, else ``NOLOGIN``); existing roles are left as they are.
    """
    if runtime_role == readonly_role:
        raise StoreError("store grant: the runtime and the read-only role must differ")
    owned = not isinstance(target, Engine)
    engine = make_engine(target) if owned else target
    try:
        if engine.dialect.name != "postgresql":
            raise _not_applicable(engine.dialect.name)
        with guard("grant"), engine.begin() as conn:
            return _grant(conn, runtime_role, readonly_role, create_roles, passwords or {})
    finally:
        if owned:
            engine.dispose()


def _grant(
    conn: Connection,
    runtime: str,
    readonly: str | None,
    create_roles: bool,
    passwords: Mapping[str, str],
) -> GrantReport:
    q = conn.dialect.identifier_preparer.quote_identifier
    me, db, schema = conn.execute(
        sa.text("SELECT current_user, current_database(), current_schema()")
    ).one()
    owner_row = conn.execute(
        sa.text(
            "SELECT pg_get_userbyid(c.relowner) AS owner, pg_has_role(c.relowner, 'USAGE') AS owns "
            "FROM pg_class c WHERE c.oid = to_regclass(:vt)"
        ),
        {"vt": VERSION_TABLE},
    ).one_or_none()
    if owner_row is None:
        raise StoreError(
            "store grant: the store has no tables yet: run `siapp-siasn store migrate` first, "
            "as the owner"
        )
    if not owner_row.owns:
        raise StoreError(
            f"store grant refused: role {me} does not own the store's tables (owner "
            f"{owner_row.owner}): run it as the owner"
        )
    owner = owner_row.owner
    created = []
    for role in filter(None, (runtime, readonly)):
        if create_roles and _role_facts(conn, role) is None:
            _create_role(conn, role, passwords.get(role))
            created.append(role)
        _check_role(conn, role, "runtime" if role == runtime else "read-only", owner)

    s, rt, o = q(schema), q(runtime), q(owner)
    relations = conn.execute(
        sa.text(
            "SELECT c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname"
        ),
        {"s": schema},
    ).all()
    tables = [n for n, k in relations if k in _TABLE_KINDS and n != VERSION_TABLE]
    views = [n for n, k in relations if k in _VIEW_KINDS]
    run = conn.exec_driver_sql

    # schema and database: nobody but the owner creates objects here
    run(f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC")
    run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC")
    run(f"GRANT USAGE ON SCHEMA {s} TO {rt}")
    run(f"REVOKE CREATE ON SCHEMA {s} FROM {rt}")
    run(f"GRANT CONNECT, TEMPORARY ON DATABASE {q(db)} TO {rt}")

    # runtime: exactly DML on the tables, SELECT on views and the version table
    run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {rt}")
    for name in tables:
        run(f"GRANT {_RUNTIME_TABLE} ON {s}.{q(name)} TO {rt}")
    for name in [*views, VERSION_TABLE]:
        run(f"GRANT SELECT ON {s}.{q(name)} TO {rt}")
    run(f"GRANT {_RUNTIME_SEQUENCE} ON ALL SEQUENCES IN SCHEMA {s} TO {rt}")
    # what the owner's later migrations create: the same, without rerunning this
    run(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} "
        f"GRANT {_RUNTIME_TABLE} ON TABLES TO {rt}"
    )
    run(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} "
        f"GRANT {_RUNTIME_SEQUENCE} ON SEQUENCES TO {rt}"
    )

    readonly_views: tuple[str, ...] = ()
    if readonly:
        ro = q(readonly)
        readonly_views = tuple(v for v in VIEWS if v in views)
        run(f"GRANT CONNECT ON DATABASE {q(db)} TO {ro}")
        run(f"GRANT USAGE ON SCHEMA {s} TO {ro}")
        run(f"REVOKE CREATE ON SCHEMA {s} FROM {ro}")
        run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {ro}")
        run(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {ro}")
        # no default privileges: a future table may hold personal data
        run(f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} REVOKE ALL ON TABLES FROM {ro}")
        for name in readonly_views:
            run(f"GRANT SELECT ON {s}.{q(name)} TO {ro}")

    _verify(conn, db, schema, runtime, readonly, tables)
    return GrantReport(
        database=db,
        schema=schema,
        owner=owner,
        runtime_role=runtime,
        readonly_role=readonly,
        runtime_tables=len(tables),
        runtime_views=len(views),
        readonly_views=readonly_views,
        created_roles=tuple(created),
    )


def _verify(
    conn: Connection, db: str, schema: str, runtime: str, readonly: str | None, tables: list[str]
) -> None:
    """What a REVOKE by a non-owner silently skips (a warning only) is checked here."""

    def has(sql: str, **params: str) -> bool:
        return bool(conn.execute(sa.text(f"SELECT {sql}"), params).scalar_one())

    for role in filter(None, (runtime, readonly)):
        if has(
            "has_schema_privilege(CAST(:r AS name), CAST(:s AS text), 'CREATE')", r=role, s=schema
        ):
            raise StoreError(
                f"store grant: role {role} may still CREATE in schema {schema} (granted to "
                f"PUBLIC or to it by someone else): the schema's owner must REVOKE CREATE ON "
                f"SCHEMA {schema} FROM PUBLIC, {role}"
            )
    for privilege in ("CONNECT", "TEMPORARY"):
        if not has(
            f"has_database_privilege(CAST(:r AS name), CAST(:d AS text), '{privilege}')",
            r=runtime,
            d=db,
        ):
            raise StoreError(
                f"store grant: role {runtime} lacks {privilege} on database {db} and only its "
                f"owner or a superuser can grant it: GRANT CONNECT, TEMPORARY ON DATABASE {db} "
                f"TO {runtime}"
            )
    if readonly:
        exposed = [
            t
            for t in tables
            if has(
                "has_table_privilege(CAST(:r AS name), "
                "CAST(format('%I.%I', CAST(:s AS text), CAST(:t AS text)) AS text), 'SELECT')",
                r=readonly,
                s=schema,
                t=t,
            )
        ]
        if exposed:  # e.g. through membership of another role
            raise StoreError(
                f"store grant: role {readonly} can still read tables {', '.join(exposed)} "
                "(through another role's grants): revoke those memberships"
            )
