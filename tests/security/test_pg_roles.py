"""Least privilege on the real PostgreSQL server (issue 14, "Storage"): the owner migrates, the
DAGs' flows run as a runtime role that cannot change the schema, SIAPP NV reads as a read-only
role that sees the consumer views and nothing else.

Set up as a deployment does (deploy/postgres-init/): login roles with passwords, a database
owned by the owner with PUBLIC's rights on it revoked, `store migrate` as the owner, then
`grant_roles` as the owner. Then, as the runtime role, the nightly pull (F2 + F1) and usulan sync
cycles against the sandbox over loopback, and retention; every schema change and `Store.migrate`
are refused with SQLSTATE 42501 or one line saying to migrate as the owner.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.retention import purge_expired
from siapp_siasn.store import VIEWS, Store, StoreError
from siapp_siasn.store.migrate import head_revision
from siapp_siasn.store.roles import grant_roles
from tests.fixtures.postgres import PostgresServer
from tests.flows._usulan import WORLD, Hub

pytestmark = pytest.mark.integration

HASH_KEY = b"pg-roles-test-key"
DAYS = 3  # usulan traffic: enough for sent items, a BTS version 2 is not needed here


@dataclass
class Roles:
    server: PostgresServer
    db: str
    owner: str
    runtime: str
    readonly: str  # NOLOGIN group, as siapp_nv_reader
    reader: str  # SIAPP NV's login, a member of it
    password: str

    def url(self, role: str, db: str | None = None) -> str:
        base = make_url(self.server.url(db or self.db))
        return base.set(username=role, password=self.password).render_as_string(hide_password=False)

    def superuser(self) -> sa.Engine:
        return sa.create_engine(self.server.url("postgres"), isolation_level="AUTOCOMMIT")


def _refused(url: str, sql: str) -> str:
    """Run ``sql`` as the role of ``url``; return the SQLSTATE it failed with ('' if it ran)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    except sa.exc.DBAPIError as exc:
        assert isinstance(exc.orig, psycopg.Error)
        return str(exc.orig.sqlstate)
    finally:
        engine.dispose()
    return ""


def _scalar(url: str, sql: str) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def roles(postgres_server: PostgresServer) -> Iterator[Roles]:
    tag = uuid.uuid4().hex[:8]
    r = Roles(
        server=postgres_server,
        db=f"roles_{tag}",
        owner=f"hub_owner_{tag}",
        runtime=f"hub_runtime_{tag}",
        readonly=f"hub_reader_{tag}",
        reader=f"siapp_nv_{tag}",
        password=uuid.uuid4().hex,
    )
    su = r.superuser()
    with su.connect() as c:
        for role in (r.owner, r.runtime, r.reader):
            c.exec_driver_sql(
                f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                f"PASSWORD '{r.password}'"
            )
        c.exec_driver_sql(f"CREATE ROLE {r.readonly} NOLOGIN")
        c.exec_driver_sql(f"GRANT {r.readonly} TO {r.reader}")
        c.exec_driver_sql(f"CREATE DATABASE {r.db} OWNER {r.owner}")
        c.exec_driver_sql(f"REVOKE ALL ON DATABASE {r.db} FROM PUBLIC")
    # PostgreSQL < 15 let everyone create in schema public: start from there, grant_roles ends it
    su_db = sa.create_engine(r.server.url(r.db), isolation_level="AUTOCOMMIT")
    with su_db.connect() as c:
        c.exec_driver_sql("GRANT CREATE ON SCHEMA public TO PUBLIC")
    su_db.dispose()
    with Store(r.url(r.owner), hash_key=HASH_KEY) as owner_store:
        owner_store.migrate()
    grant_roles(r.url(r.owner), r.runtime, r.readonly)
    try:
        yield r
    finally:
        with su.connect() as c:
            for db in (r.db, f"{r.db}_empty"):
                c.exec_driver_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            for role in (r.reader, r.readonly, r.runtime, r.owner):
                c.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        su.dispose()


@pytest.fixture(scope="module")
def runtime_run(roles: Roles, sandbox_module_factory: Any) -> dict[str, Any]:
    """The flows as the runtime role: F2 + F1 pull, usulan sync for DAYS days, retention."""
    sb = sandbox_module_factory(**WORLD)
    owner_url = roles.url(roles.owner)
    with Store(roles.url(roles.runtime), hash_key=HASH_KEY) as store:
        who = _scalar(roles.url(roles.runtime), "SELECT current_user")
        hub = Hub(sb, store)
        hub.load_mirror()
        hub.cycle()
        for _ in range(DAYS):
            hub.day()
        for record in hub.lineage:  # as the operators publish them
            store.lineage.write(record.to_xcom())
        asn_rows = store.stats()["asn"]["active"]
        sent = len(store.outbox.list(flow="usulan", status="sent"))
        # what retention must purge, counted as the owner before it runs
        finished = _scalar(
            owner_url,
            "SELECT count(*) FROM outbox WHERE status IN ('sent', 'dead', 'rejected') "
            "AND payload::text <> '{}'",
        )
        closed = _scalar(
            owner_url,
            "SELECT count(*) FROM asn_history WHERE valid_to IS NOT NULL AND payload::text <> '{}'",
        )
        lineage_before = _scalar(owner_url, "SELECT count(*) FROM lineage")
        quarantined = _scalar(owner_url, "SELECT count(*) FROM quarantine")
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)
        record = purge_expired(store, 1, run=RunContext(task_id="retention", now=later))
    return {
        "sb": sb,
        "who": who,
        "asn_rows": asn_rows,
        "sent": sent,
        "finished": finished,
        "closed": closed,
        "lineage_before": lineage_before,
        "quarantined": quarantined,
        "retention": record.counts.as_dict(),
    }


def test_runtime_role_runs_pull_usulan_sync_and_retention(
    roles: Roles, runtime_run: dict[str, Any]
) -> None:
    owner_url = roles.url(roles.owner)
    assert runtime_run["who"] == roles.runtime
    sb = runtime_run["sb"]
    # F1 loaded every employee of golongan IV/b and above (COPY through TEMP staging tables)
    truth_nips = set(sb.truth("asn", min_gol=42)["nips"])
    assert runtime_run["asn_rows"] == len(truth_nips) > 100
    # usulan reached SIASN: each version received once is one sent outbox item
    receipts = {
        (str(e["payload"]["id_usulan_siapp"]), int(e["payload"]["versi"]))
        for e in sb.received("siapp.usulan")
    }
    assert runtime_run["sent"] == len(receipts) > 0
    # retention purged exactly what was finished, and kept every lineage row
    assert runtime_run["finished"] > 0
    assert runtime_run["retention"]["outbox_bodies"] == runtime_run["finished"]
    assert runtime_run["retention"]["history_payloads"] == runtime_run["closed"]
    assert runtime_run["retention"]["quarantine_rows"] == runtime_run["quarantined"]
    assert _scalar(owner_url, "SELECT count(*) FROM quarantine") == 0
    assert _scalar(owner_url, "SELECT count(*) FROM lineage") == runtime_run["lineage_before"] > 0
    assert (
        _scalar(
            owner_url,
            "SELECT count(*) FROM outbox WHERE status IN ('sent', 'dead', 'rejected') "
            "AND payload::text <> '{}'",
        )
        == 0
    )


RUNTIME_REFUSED = [
    "CREATE TABLE intruder (i int)",
    "CREATE TABLE public.intruder AS SELECT 1 AS i",
    "ALTER TABLE asn ADD COLUMN intruder int",
    "DROP TABLE quarantine",
    "TRUNCATE outbox",
    "CREATE INDEX ix_intruder ON asn (nama)",
    "CREATE VIEW v_intruder AS SELECT nip FROM asn",
    "DROP VIEW v_asn_current",
    "CREATE SCHEMA intruder",
    "GRANT SELECT ON asn TO PUBLIC",
    "INSERT INTO siapp_siasn_alembic_version VALUES ('9999')",
    "UPDATE siapp_siasn_alembic_version SET version_num = '0001'",
]


@pytest.mark.parametrize("sql", RUNTIME_REFUSED)
def test_runtime_role_cannot_change_the_schema(
    roles: Roles, runtime_run: dict[str, Any], sql: str
) -> None:
    url = roles.url(roles.runtime)
    if sql.startswith("GRANT"):
        # a GRANT without the right is only a WARNING: prove nothing was granted
        assert _refused(url, sql) == ""
        assert not _scalar(
            roles.url(roles.owner),
            "SELECT has_table_privilege('public', 'asn', 'SELECT')",
        )
        return
    assert _refused(url, sql) == "42501", sql


def test_runtime_role_cannot_migrate(roles: Roles, runtime_run: dict[str, Any]) -> None:
    with Store(roles.url(roles.runtime), hash_key=HASH_KEY) as store:
        with pytest.raises(StoreError) as caught:
            store.migrate()
        message = str(caught.value)
        assert "\n" not in message and caught.value.__cause__ is None
        assert f"role {roles.runtime} does not own the store's tables (owner {roles.owner})" in (
            message
        )
        assert "as the store's owner" in message
        assert store.revision() == head_revision()
    # on an empty database the runtime role may not create the first table either
    empty = f"{roles.db}_empty"
    with roles.superuser().connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {empty} OWNER {roles.owner}")
        c.exec_driver_sql(f"REVOKE ALL ON DATABASE {empty} FROM PUBLIC")
        c.exec_driver_sql(f"GRANT CONNECT ON DATABASE {empty} TO {roles.runtime}")
    with Store(roles.url(roles.runtime, empty), hash_key=HASH_KEY) as store:
        with pytest.raises(StoreError, match=r"lacks CREATE on schema public; run `siapp-siasn"):
            store.migrate()
        assert store.revision() is None


CONSUMER_DML_REFUSED = [
    "INSERT INTO v_referensi (ref, id, nama) VALUES ('x', 'x', 'x')",
    "UPDATE v_asn_history SET nama = 'x'",
    "DELETE FROM v_referensi",
    "INSERT INTO referensi (ref, id, nama) VALUES ('x', 'x', 'x')",
    "UPDATE asn SET nama = 'x'",
    "DELETE FROM outbox",
    "CREATE TABLE intruder (i int)",
]
CONSUMER_READ_REFUSED = [
    "SELECT payload FROM asn LIMIT 1",
    "SELECT count(*) FROM asn_family",
    "SELECT count(*) FROM quarantine",
    "SELECT count(*) FROM v_outbox_dead",
    "SELECT count(*) FROM usulan_lifecycle",
    "SELECT count(*) FROM asn_selection",
]


def test_readonly_role_reads_the_consumer_views_only(
    roles: Roles, runtime_run: dict[str, Any]
) -> None:
    reader = roles.url(roles.reader)  # a login that is a member of the read-only role
    owner = roles.url(roles.owner)
    for view in VIEWS:
        rows = _scalar(reader, f"SELECT count(*) FROM {view}")
        assert rows == _scalar(owner, f"SELECT count(*) FROM {view}") > 0, view
    assert _scalar(reader, "SELECT count(*) FROM v_asn_current") == runtime_run["asn_rows"]
    for sql in CONSUMER_DML_REFUSED + CONSUMER_READ_REFUSED:
        assert _refused(reader, sql) == "42501", sql


def _privileges(roles: Roles) -> set[tuple[str, ...]]:
    """Every ACL entry of the two roles: relations, sequences, schema, database, defaults."""
    sql = """
        SELECT 'rel', c.relname, a.privilege_type, g.rolname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
             aclexplode(c.relacl) a JOIN pg_roles g ON g.oid = a.grantee
        WHERE n.nspname = 'public' AND g.rolname IN (:rt, :ro)
        UNION ALL
        SELECT 'schema', n.nspname, a.privilege_type, coalesce(g.rolname, 'PUBLIC')
        FROM pg_namespace n, aclexplode(n.nspacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
        WHERE n.nspname = 'public'
        UNION ALL
        SELECT 'db', d.datname, a.privilege_type, coalesce(g.rolname, 'PUBLIC')
        FROM pg_database d, aclexplode(d.datacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
        WHERE d.datname = current_database()
        UNION ALL
        SELECT 'default', d.defaclobjtype::text, a.privilege_type, g.rolname
        FROM pg_default_acl d, aclexplode(d.defaclacl) a JOIN pg_roles g ON g.oid = a.grantee
        WHERE g.rolname IN (:rt, :ro)
    """
    engine = sa.create_engine(roles.url(roles.owner))
    try:
        with engine.connect() as conn:
            return {
                tuple(row)
                for row in conn.execute(sa.text(sql), {"rt": roles.runtime, "ro": roles.readonly})
            }
    finally:
        engine.dispose()


def test_grant_is_idempotent_and_exact(roles: Roles, runtime_run: dict[str, Any]) -> None:
    before = _privileges(roles)
    report = grant_roles(roles.url(roles.owner), roles.runtime, roles.readonly)
    assert _privileges(roles) == before
    assert report.readonly_views == VIEWS
    rel = {
        (name, priv) for kind, name, priv, who in before if kind == "rel" and who == roles.runtime
    }
    assert {p for n, p in rel if n == "asn"} == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert {p for n, p in rel if n == "siapp_siasn_alembic_version"} == {"SELECT"}
    assert {p for n, p in rel if n == "v_outbox_dead"} == {"SELECT"}
    ro = {
        (name, priv) for kind, name, priv, who in before if kind == "rel" and who == roles.readonly
    }
    assert ro == {(v, "SELECT") for v in VIEWS}
    schema = {(priv, who) for kind, _, priv, who in before if kind == "schema"}
    assert ("CREATE", "PUBLIC") not in schema and ("USAGE", roles.runtime) in schema
    assert not any(p == "CREATE" and w in (roles.runtime, roles.readonly) for p, w in schema)
    db = {(priv, who) for kind, _, priv, who in before if kind == "db"}
    assert {("CONNECT", roles.runtime), ("TEMPORARY", roles.runtime)} <= db
    assert ("CONNECT", roles.readonly) in db and ("TEMPORARY", roles.readonly) not in db


def test_a_later_migrations_table_reaches_runtime_not_readonly(
    roles: Roles, runtime_run: dict[str, Any]
) -> None:
    owner = sa.create_engine(roles.url(roles.owner))
    try:
        with owner.begin() as c:  # what a later migration would create, without a new grant
            c.exec_driver_sql("CREATE TABLE later_table (id bigserial PRIMARY KEY, v text)")
        runtime = roles.url(roles.runtime)
        assert _refused(runtime, "INSERT INTO later_table (v) VALUES ('a')") == ""
        assert _scalar(runtime, "SELECT count(*) FROM later_table") == 1
        assert _refused(runtime, "DROP TABLE later_table") == "42501"
        assert _refused(roles.url(roles.reader), "SELECT count(*) FROM later_table") == "42501"
    finally:
        with owner.begin() as c:
            c.exec_driver_sql("DROP TABLE IF EXISTS later_table")
        owner.dispose()


def test_grant_refuses_what_would_not_be_least_privilege(roles: Roles, tmp_path: Path) -> None:
    owner_url = roles.url(roles.owner)
    with pytest.raises(StoreError, match="not applicable to sqlite"):
        grant_roles(f"sqlite:///{tmp_path}/s.sqlite", "anyone")
    with pytest.raises(StoreError, match="runtime role no_such_role_x does not exist"):
        grant_roles(owner_url, "no_such_role_x", roles.readonly)
    with pytest.raises(StoreError, match=f"is the owner {roles.owner} or a member of it"):
        grant_roles(owner_url, roles.owner, roles.readonly)
    with pytest.raises(StoreError, match=f"role {roles.runtime} does not own the store's tables"):
        grant_roles(roles.url(roles.runtime), roles.runtime, roles.readonly)


def test_create_roles_makes_a_second_runtime_login(
    roles: Roles, runtime_run: dict[str, Any]
) -> None:
    """The rotation without a failed attempt: a second runtime login gets the same rights."""
    second = f"{roles.runtime}_b"
    with pytest.raises(StoreError, match=f"cannot create role {second}: .*CREATEROLE"):
        grant_roles(roles.url(roles.owner), second, create_roles=True)
    admin = make_url(roles.server.url(roles.db)).render_as_string(hide_password=False)
    try:
        report = grant_roles(admin, second, create_roles=True, passwords={second: roles.password})
        assert report.created_roles == (second,) and report.owner == roles.owner
        url = roles.url(second)
        assert _scalar(url, "SELECT count(*) FROM v_asn_current") == runtime_run["asn_rows"]
        assert _refused(url, "UPDATE sync_state SET value = value") == ""
        assert _refused(url, "CREATE TABLE intruder (i int)") == "42501"
        assert _refused(url, "ALTER TABLE asn ADD COLUMN intruder int") == "42501"
        # a second run creates nothing and changes nothing
        again = grant_roles(admin, second, create_roles=True)
        assert again.created_roles == ()
    finally:
        su = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with su.connect() as c:
            c.exec_driver_sql(f"DROP OWNED BY {second}")
            c.exec_driver_sql(f"DROP ROLE {second}")
        su.dispose()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("siapp-siasn")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_grant_as_owner_and_migrate_as_runtime(
    roles: Roles, runtime_run: dict[str, Any]
) -> None:
    done = _cli(
        "store", "grant", "--url", roles.url(roles.owner),
        "--runtime-role", roles.runtime, "--readonly-role", roles.readonly,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{roles.runtime}: DML on" in done.stdout and "no CREATE" in done.stdout
    assert roles.password not in done.stdout + done.stderr
    refused = _cli("store", "migrate", "--url", roles.url(roles.runtime))
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "does not own the store's tables" in errors[0] and "as the store's owner" in errors[0]
    assert roles.password not in refused.stdout + refused.stderr
