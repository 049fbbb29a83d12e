"""Document reconciliation: its runs, the document keys found not ok, and decree cross-checks.

``reconciliation_run`` holds one row per run (params, counts per category, report paths);
``reconciliation_item`` one row per document key (usulan, direction, ref: the comparison's key,
``jenis`` a plain column) that a run found not ok, with its repair bookkeeping and the
unrepairable flag; ``keppres_check`` one row per
delivered decree and kind with the outcome of its last cross-check. No personal data: keys,
reason codes and, for the decree's employee, a keyed hash of the NIP. ``document_ledger`` gets
indexes on its target copy (``target_system`` with ``target_dok_id`` / ``target_dok_uri``): the
reconciliation maps what a destination lists back to the ledger row by them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from siapp_siasn.store.types import JSONType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: ledger look-ups by the copy a destination holds (``store.documents.by_target``)
_LEDGER_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_document_ledger_target_system_target_dok_id": ("target_system", "target_dok_id"),
    "ix_document_ledger_target_system_target_dok_uri": ("target_system", "target_dok_uri"),
}


def upgrade() -> None:
    op.create_table(
        "reconciliation_run",
        sa.Column("run_id", sa.String(255), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("params", JSONType, nullable=False),
        sa.Column("counts", JSONType),
        sa.Column("report_csv", sa.String(1024)),
        sa.Column("report_html", sa.String(1024)),
        sa.PrimaryKeyConstraint("run_id", name="pk_reconciliation_run"),
    )
    op.create_index("ix_reconciliation_run_started_at", "reconciliation_run", ["started_at"])

    op.create_table(
        "reconciliation_item",
        sa.Column("usulan_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("jenis", sa.String(64)),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("first_seen_run", sa.String(255), nullable=False),
        sa.Column("last_seen_run", sa.String(255), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("repair_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_attempt_run", sa.String(255)),
        sa.Column("last_attempt_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("repaired_at", UTCDateTime()),
        sa.Column("unrepairable_reason", sa.String(255)),
        sa.Column("flagged_at", UTCDateTime()),
        sa.Column("resolved_run", sa.String(255)),
        sa.Column("resolved_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("usulan_id", "direction", "ref", name="pk_reconciliation_item"),
    )
    op.create_index("ix_reconciliation_item_category", "reconciliation_item", ["category"])
    op.create_index("ix_reconciliation_item_resolved_at", "reconciliation_item", ["resolved_at"])

    op.create_table(
        "keppres_check",
        sa.Column("usulan_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("nip_hash", sa.String(64), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("age_days", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(255)),
        sa.PrimaryKeyConstraint("usulan_id", "kind", name="pk_keppres_check"),
        sa.CheckConstraint("kind IN ('kp', 'pemberhentian')", name=op.f("ck_keppres_check_kind")),
        sa.CheckConstraint(
            "status IN ('applied', 'keppres_not_applied')", name=op.f("ck_keppres_check_status")
        ),
    )
    op.create_index("ix_keppres_check_status", "keppres_check", ["status"])

    for name, columns in _LEDGER_INDEXES.items():
        op.create_index(name, "document_ledger", list(columns))


def downgrade() -> None:
    for name in _LEDGER_INDEXES:
        op.drop_index(name, table_name="document_ledger")
    for table in ("keppres_check", "reconciliation_item", "reconciliation_run"):
        op.drop_table(table)
