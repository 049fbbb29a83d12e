"""Findings, incidents and probes of the API contract and health monitor.

``incident`` (one problem on one endpoint, open until a run sees it gone, with the path of the
notice to the other party), ``finding`` (one observation: kind, severity, system, endpoint
template, code, subject, JSON detail without personal values; its incident if any) and
``probe`` (every monitor call: status, latency, ok). Not granted to the consumer role.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from siapp_siasn.store.types import BigId, JSONType, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("finding_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("notice_path", sa.String(1024)),
        sa.PrimaryKeyConstraint("id", name="pk_incident"),
    )
    op.create_index("ix_incident_opened_at", "incident", ["opened_at"])
    op.create_index("ix_incident_closed_at", "incident", ["closed_at"])

    op.create_table(
        "finding",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("detail", JSONType, nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("lineage_id", sa.String(64)),
        sa.Column("incident_id", BigId),
        sa.PrimaryKeyConstraint("id", name="pk_finding"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name="fk_finding_incident_id_incident"
        ),
    )
    op.create_index("ix_finding_observed_at", "finding", ["observed_at"])
    op.create_index("ix_finding_incident_id", "finding", ["incident_id"])

    op.create_table(
        "probe",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("lineage_id", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_probe"),
    )
    op.create_index("ix_probe_observed_at", "probe", ["observed_at"])


def downgrade() -> None:
    op.drop_index("ix_probe_observed_at", table_name="probe")
    op.drop_table("probe")
    op.drop_index("ix_finding_incident_id", table_name="finding")
    op.drop_index("ix_finding_observed_at", table_name="finding")
    op.drop_table("finding")
    op.drop_index("ix_incident_closed_at", table_name="incident")
    op.drop_index("ix_incident_opened_at", table_name="incident")
    op.drop_table("incident")
