"""Grant the consumer views to ``siapp_nv_reader`` also when the store's owner cannot create roles.

0002 tried ``CREATE ROLE`` first and stopped at ``insufficient_privilege`` — which PostgreSQL
raises for an owner without CREATEROLE even when the role already exists (the privilege is
checked before existence) — so a deployment whose administrator created the role beforehand
(docker-compose's init script does) never got the grants. This revision creates the role only
when it is missing and grants in any case; without the role and without CREATEROLE it prints a
notice, as before. A no-op elsewhere than on PostgreSQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_READER_ROLE = "siapp_nv_reader"
#: the consumer views of 0002 (frozen here: a revision does not import another)
_VIEWS = ("v_referensi", "v_asn_current", "v_asn_family", "v_asn_history")

_GRANT_PG = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{_READER_ROLE}') THEN
        BEGIN
            CREATE ROLE {_READER_ROLE} NOLOGIN;
        EXCEPTION
            WHEN duplicate_object THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'role {_READER_ROLE} not created: insufficient privilege';
                RETURN;
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {_READER_ROLE}', current_schema());
    GRANT SELECT ON {", ".join(_VIEWS)} TO {_READER_ROLE};
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'grants to {_READER_ROLE} skipped: insufficient privilege';
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_PG)


def downgrade() -> None:
    # The grants stay: 0002's downgrade drops the views, and the role belongs to the cluster.
    pass
