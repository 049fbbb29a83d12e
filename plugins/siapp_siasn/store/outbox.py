"""Outbox repository: what the proposal flows (F5-F8) must deliver, one row per
Idempotency-Key (flow + entity id + version hash), so a rerun enqueues nothing twice.

``pending`` and ``retry`` rows are due once ``next_attempt_at`` has passed; ``sent``, ``dead``
and ``rejected`` rows are not. ``rejected`` rows (out of scope) are kept for audit and never
sent; the view ``v_outbox_dead`` lists dead letters without payloads.

A ``pending`` or ``retry`` row that carries a ``reason`` is **held**: kept, never due, and shown
as ``held`` by :meth:`OutboxRepository.stats` (the public-API mode holds the flows BKN publishes
no endpoint for). :meth:`~OutboxRepository.hold` and :meth:`~OutboxRepository.release` set and
clear the reason, so holding needs no status of its own (and no migration).
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.base import Repository, where_given
from siapp_siasn.store.errors import StoreError
from siapp_siasn.store.records import OutboxItem, OutboxRow
from siapp_siasn.store.tables import outbox
from siapp_siasn.store.types import JSONType, UTCDateTime, utcnow
from siapp_siasn.store.values import short_error
from siapp_siasn.utils import chunks

__all__ = ["DUE_STATUSES", "HELD", "OutboxRepository"]

log = logging.getLogger(__name__)

#: Outbox statuses that are sent when due.
DUE_STATUSES = ("pending", "retry")

#: what :meth:`OutboxRepository.stats` calls a due row held back by a reason
HELD = "held"

_CHUNK = 500


_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(OutboxRow))


def _outbox_row(r: Any) -> OutboxRow:
    return OutboxRow(**{name: getattr(r, name) for name in _ROW_FIELDS})


class OutboxRepository(Repository):
    """``store.outbox``: enqueue, pick what is due, record deliveries and failures."""

    def enqueue(self, items: Sequence[OutboxItem], *, conn: Connection | None = None) -> int:
        """Add items to the outbox; returns how many rows were newly added.

        An item whose Idempotency-Key is already stored is skipped (whatever its status), so a
        rerun adds nothing; within one call the first item of a key wins.
        """
        now = utcnow()
        rows: dict[str, dict[str, Any]] = {}
        for item in items:
            if not isinstance(item, OutboxItem):
                raise TypeError(f"enqueue takes OutboxItem, not {type(item).__name__}")
            rows.setdefault(
                item.idempotency_key,
                {
                    "flow": item.flow,
                    "entity_id": item.entity_id,
                    "version_hash": item.version_hash,
                    "idempotency_key": item.idempotency_key,
                    "payload": dict(item.payload),
                    "status": item.status,
                    "reason": item.reason,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        if not rows:
            return 0
        ins = self._insert(outbox).on_conflict_do_nothing(index_elements=[outbox.c.idempotency_key])
        added = 0
        with self._tx(conn, "outbox.enqueue") as c:
            for part in chunks(builtins.list(rows.values()), _CHUNK):
                added += len(c.execute(ins.returning(outbox.c.id), part).all())
        log.info("outbox: %d items, %d new", len(rows), added)
        return added

    def due(
        self,
        now: dt.datetime,
        *,
        limit: int = 500,
        flows: Sequence[str] | None = None,
        conn: Connection | None = None,
    ) -> builtins.list[OutboxRow]:
        """Rows to send now: status pending or retry, not held, ``next_attempt_at`` empty or
        not after ``now``; oldest first (by id), at most ``limit``; only ``flows`` when given."""
        q = (
            sa.select(outbox)
            .where(
                outbox.c.status.in_(DUE_STATUSES),
                outbox.c.reason.is_(None),
                sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if flows is not None:
            q = q.where(outbox.c.flow.in_(builtins.list(flows)))
        with self._tx(conn, "outbox.due") as c:
            return [_outbox_row(r) for r in c.execute(q)]

    @staticmethod
    def _status(c: Connection, outbox_id: int) -> str | None:
        return c.scalar(sa.select(outbox.c.status).where(outbox.c.id == outbox_id))

    def mark_sent(
        self,
        outbox_id: int,
        *,
        response: dict[str, Any] | None,
        sent_at: dt.datetime,
        conn: Connection | None = None,
    ) -> None:
        """Record a delivery: status ``sent``, the remote answer, the time.

        Marking a sent row again changes nothing (the first delivery is kept); an unknown or
        ``rejected`` row is an error. ``attempts`` (failed attempts) is left as it is.
        """
        stmt = self._statement(
            ("mark_sent", response is None), partial(self._mark_sent, response is None)
        )
        params = {"outbox_id": outbox_id, "sent_at": sent_at, "now": utcnow()}
        if response is not None:
            params["response"] = response
        with self._tx(conn, "outbox.mark_sent") as c:
            if c.execute(stmt, params).rowcount:
                return
            status = self._status(c, outbox_id)
        if status is None:
            raise StoreError(f"store outbox.mark_sent failed: no outbox row {outbox_id}")
        if status == "rejected":
            raise StoreError(f"store outbox.mark_sent failed: outbox row {outbox_id} is rejected")

    @staticmethod
    def _mark_sent(no_response: bool) -> sa.Update:
        """``UPDATE`` of a row to ``sent`` unless sent or rejected (parameters: ``outbox_id``,
        ``response``, ``sent_at``, ``now``); without a response, ``response`` is SQL NULL."""
        return (
            sa.update(outbox)
            .where(
                outbox.c.id == sa.bindparam("outbox_id"),
                outbox.c.status.not_in(("sent", "rejected")),
            )
            .values(
                status="sent",
                response=sa.null() if no_response else sa.bindparam("response", type_=JSONType),
                sent_at=sa.bindparam("sent_at", type_=UTCDateTime()),
                next_attempt_at=None,
                updated_at=sa.bindparam("now", type_=UTCDateTime()),
            )
        )

    def mark_attempt_failed(
        self,
        outbox_id: int,
        *,
        error: str,
        next_attempt_at: dt.datetime | None,
        dead: bool,
        conn: Connection | None = None,
    ) -> int:
        """Record a failed delivery: ``attempts + 1``, ``last_error`` (cut to 500 characters),
        then status ``retry`` (due again at ``next_attempt_at``; None: at once) or ``dead``.
        Returns the new number of attempts. A sent, rejected or unknown row is an error."""
        stmt = (
            sa.update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.status.in_((*DUE_STATUSES, "dead")))
            .values(
                status="dead" if dead else "retry",
                attempts=outbox.c.attempts + 1,
                last_error=short_error(error),
                next_attempt_at=None if dead else next_attempt_at,
                updated_at=utcnow(),
            )
            .returning(outbox.c.attempts)
        )
        with self._tx(conn, "outbox.mark_attempt_failed") as c:
            attempts = c.execute(stmt).scalar_one_or_none()
            if attempts is not None:
                return int(attempts)
            status = self._status(c, outbox_id)
        what = (
            f"no outbox row {outbox_id}"
            if status is None
            else f"outbox row {outbox_id} is {status}"
        )
        raise StoreError(f"store outbox.mark_attempt_failed failed: {what}")

    def requeue_dead(
        self,
        *,
        ids: Sequence[int] | None = None,
        flow: str | None = None,
        next_attempt_at: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Give dead rows (all, or those of ``ids`` / ``flow``) another round: status
        ``retry``, ``attempts`` back to 0, ``last_error`` kept. Returns rows requeued."""
        stmt = (
            sa.update(outbox)
            .where(outbox.c.status == "dead")
            .values(
                status="retry", attempts=0, next_attempt_at=next_attempt_at, updated_at=utcnow()
            )
        )
        if flow is not None:
            stmt = stmt.where(outbox.c.flow == flow)
        with self._tx(conn, "outbox.requeue_dead") as c:
            if ids is None:
                return c.execute(stmt).rowcount
            return sum(
                c.execute(stmt.where(outbox.c.id.in_(builtins.list(part)))).rowcount
                for part in chunks(builtins.list(ids), _CHUNK)
            )

    def hold(
        self, flows: Sequence[str], *, reason: str, conn: Connection | None = None
    ) -> dict[str, int]:
        """Hold every pending or retry row of ``flows`` with ``reason`` (they stay in the
        outbox, are not due, and count as ``held``); returns ``{flow: held rows}`` (all held
        rows of those flows, not only the newly held ones)."""
        wanted = builtins.list(flows)
        if not wanted:
            return {}
        stmt = (
            sa.update(outbox)
            .where(
                outbox.c.flow.in_(wanted),
                outbox.c.status.in_(DUE_STATUSES),
                outbox.c.reason.is_distinct_from(reason),
            )
            .values(reason=reason, updated_at=utcnow())
        )
        count = (
            sa.select(outbox.c.flow, sa.func.count())
            .where(
                outbox.c.flow.in_(wanted),
                outbox.c.status.in_(DUE_STATUSES),
                outbox.c.reason == reason,
            )
            .group_by(outbox.c.flow)
        )
        with self._tx(conn, "outbox.hold") as c:
            c.execute(stmt)
            held = {flow: int(n) for flow, n in c.execute(count)}
        return {flow: held.get(flow, 0) for flow in wanted}

    def release(
        self,
        *,
        reason: str,
        ids: Sequence[int] | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Release the rows held with ``reason`` (all, or those of ``ids``): due again at once.
        Returns rows released."""
        stmt = (
            sa.update(outbox)
            .where(outbox.c.status.in_(DUE_STATUSES), outbox.c.reason == reason)
            .values(reason=None, next_attempt_at=None, updated_at=utcnow())
        )
        with self._tx(conn, "outbox.release") as c:
            if ids is None:
                return int(c.execute(stmt).rowcount or 0)
            return sum(
                int(c.execute(stmt.where(outbox.c.id.in_(builtins.list(part)))).rowcount or 0)
                for part in chunks(builtins.list(ids), _CHUNK)
            )

    def reject(self, outbox_id: int, *, reason: str, conn: Connection | None = None) -> bool:
        """Refuse a pending or retry row after all (e.g. an usulan held until its employee was
        in the ASN mirror, now out of scope): status ``rejected`` with ``reason``, kept for
        audit and never sent. Returns whether the row was changed (a sent row never is)."""
        stmt = (
            sa.update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.status.in_(DUE_STATUSES))
            .values(
                status="rejected", reason=reason[:255], next_attempt_at=None, updated_at=utcnow()
            )
        )
        with self._tx(conn, "outbox.reject") as c:
            return bool(c.execute(stmt).rowcount)

    def list(
        self,
        *,
        status: str | None = None,
        flow: str | None = None,
        entity_id: str | None = None,
        reason: str | None = None,
        limit: int | None = None,
        conn: Connection | None = None,
    ) -> builtins.list[OutboxRow]:
        """Outbox rows, oldest first, optionally filtered (``reason``: e.g. held rows)."""
        q = where_given(
            sa.select(outbox).order_by(outbox.c.id),
            (
                (outbox.c.status, status),
                (outbox.c.flow, flow),
                (outbox.c.entity_id, entity_id),
                (outbox.c.reason, reason),
            ),
        )
        if limit is not None:
            q = q.limit(limit)
        with self._tx(conn, "outbox.list") as c:
            return [_outbox_row(r) for r in c.execute(q)]

    def stats(self, *, conn: Connection | None = None) -> dict[str, dict[str, int]]:
        """Row counts ``{flow: {status: n}}``; held rows (pending or retry with a reason)
        count as :data:`HELD`, not under their status."""
        held = sa.and_(outbox.c.status.in_(DUE_STATUSES), outbox.c.reason.is_not(None))
        shown = sa.case((held, HELD), else_=outbox.c.status).label("shown")
        q = sa.select(outbox.c.flow, shown, sa.func.count()).group_by(outbox.c.flow, shown)
        out: dict[str, dict[str, int]] = {}
        with self._tx(conn, "outbox.stats") as c:
            for flow, status, n in c.execute(q):
                out.setdefault(flow, {})[status] = n
        return out
