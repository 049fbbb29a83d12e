"""Run state repository: watermarks (where the next incremental pull starts) and checkpoints
(the last batch a step of a run committed, so a killed task resumes after it).

Both are written with ``conn=`` in the transaction of the batch they describe, so they never
run ahead of the data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.base import Repository
from siapp_siasn.store.records import Checkpoint
from siapp_siasn.store.tables import checkpoint, sync_state
from siapp_siasn.store.types import to_utc, utcnow

__all__ = ["StateRepository"]


def _watermark_text(value: str | dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return to_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class StateRepository(Repository):
    """``store.state``: watermarks and checkpoints."""

    def get_watermark(self, name: str, *, conn: Connection | None = None) -> str | None:
        """The watermark ``name`` as stored (ISO text for dates), or None."""
        with self._tx(conn, "state.get_watermark") as c:
            return c.scalar(sa.select(sync_state.c.value).where(sync_state.c.name == name))

    def set_watermark(
        self,
        name: str,
        value: str | dt.date | dt.datetime,
        conn: Connection | None = None,
    ) -> None:
        """Set watermark ``name`` (pass ``conn`` to commit it with the last batch)."""
        ins = self._insert(sync_state)
        stmt = ins.values(name=name, value=_watermark_text(value), updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=[sync_state.c.name],
            set_={"value": ins.excluded.value, "updated_at": ins.excluded.updated_at},
        )
        with self._tx(conn, "state.set_watermark") as c:
            c.execute(stmt)

    def save_checkpoint(
        self,
        run_key: str,
        step: str,
        batch_no: int,
        state: Any,
        conn: Connection | None = None,
    ) -> None:
        """Record that ``step`` of run ``run_key`` finished batch ``batch_no`` (JSON state)."""
        ins = self._insert(checkpoint)
        stmt = ins.values(
            run_key=run_key, step=step, batch_no=batch_no, state=state, updated_at=utcnow()
        ).on_conflict_do_update(
            index_elements=[checkpoint.c.run_key, checkpoint.c.step],
            set_={
                "batch_no": ins.excluded.batch_no,
                "state": ins.excluded.state,
                "updated_at": ins.excluded.updated_at,
            },
        )
        with self._tx(conn, "state.save_checkpoint") as c:
            c.execute(stmt)

    def load_checkpoint(
        self, run_key: str, step: str, *, conn: Connection | None = None
    ) -> Checkpoint | None:
        """The checkpoint of ``step`` in run ``run_key``, or None."""
        with self._tx(conn, "state.load_checkpoint") as c:
            r = c.execute(
                sa.select(checkpoint).where(
                    checkpoint.c.run_key == run_key, checkpoint.c.step == step
                )
            ).first()
        if r is None:
            return None
        return Checkpoint(r.run_key, r.step, r.batch_no, r.state, r.updated_at)

    def clear_checkpoint(
        self, run_key: str, step: str | None = None, conn: Connection | None = None
    ) -> int:
        """Delete the checkpoint of one step (or every step of the run); returns rows deleted."""
        stmt = sa.delete(checkpoint).where(checkpoint.c.run_key == run_key)
        if step is not None:
            stmt = stmt.where(checkpoint.c.step == step)
        with self._tx(conn, "state.clear_checkpoint") as c:
            return c.execute(stmt).rowcount
