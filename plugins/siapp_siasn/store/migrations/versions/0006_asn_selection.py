"""Selections of employees for a re-pull: the NIPs live in the store, Airflow sees an id.

``asn_selection`` holds one row per selection (id ``sel-yyyymmdd-xxxxxx``, creation time,
purpose, count, the NIPs as a JSON list): ``siasn_asn_daily`` takes the id as its ``selection``
param instead of raw NIPs, which the Airflow UI would show (run conf, rendered template fields,
audit log). Not granted to the consumer role: SIAPP NV reads the mirror's views only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from siapp_siasn.store.types import JSONType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asn_selection",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("nips", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_asn_selection"),
    )
    op.create_index("ix_asn_selection_created_at", "asn_selection", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_asn_selection_created_at", table_name="asn_selection")
    op.drop_table("asn_selection")
