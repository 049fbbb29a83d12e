"""Outbox for the proposal traffic (F3-F8): statuses ``retry`` and ``rejected``, the rejection
``reason``, and the dead-letter view ``v_outbox_dead``.

0001 allowed ``pending, sending, sent, failed, dead``; no code ever wrote ``sending`` or
``failed``, but should a row hold one it becomes ``pending`` / ``retry``. The view shows what
an operator needs to look at a dead letter and never the payload (it may hold personal data).
It is not granted to the consumer role ``siapp_nv_reader``.

On SQLite the outbox is rebuilt (batch mode) to change its CHECK constraint (twice: the
statuses are renamed in between); the view is created afterwards. A later migration that rebuilds the outbox must drop the view first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NEW_STATUSES = "status IN ('pending', 'retry', 'sent', 'dead', 'rejected')"
_OLD_STATUSES = "status IN ('pending', 'sending', 'sent', 'failed', 'dead')"
_CHECK = "ck_outbox_status"

_DEAD_VIEW = """
    CREATE VIEW v_outbox_dead AS
    SELECT o.id, o.flow, o.entity_id, o.attempts, o.last_error, o.updated_at
    FROM outbox o
    WHERE o.status = 'dead'
"""


def _swap_statuses(mapping: dict[str, str], check: str) -> None:
    """Drop the CHECK constraint, rename statuses, add ``check`` (SQLite: two rebuilds)."""
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f(_CHECK), type_="check")
    for old, new in mapping.items():
        op.execute(f"UPDATE outbox SET status = '{new}' WHERE status = '{old}'")
    with op.batch_alter_table("outbox") as batch:
        batch.create_check_constraint(op.f(_CHECK), check)


def upgrade() -> None:
    op.add_column("outbox", sa.Column("reason", sa.String(255)))
    _swap_statuses({"failed": "retry", "sending": "pending"}, _NEW_STATUSES)
    op.execute(_DEAD_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_outbox_dead")
    # the old vocabulary: a retry was 'failed'; a rejected item was never to be sent
    _swap_statuses({"retry": "failed", "rejected": "dead"}, _OLD_STATUSES)
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("reason")
