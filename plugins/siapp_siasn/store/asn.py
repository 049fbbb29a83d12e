"""ASN repository: employees' current rows, their SCD2 history, their family and departures.

Batches go through the one SCD2 writer (:mod:`~siapp_siasn.store.scd2`) with the dialect's bulk
statements; a batch's rejected records, checkpoint and watermark are written by the
quarantine and state repositories on the same connection, so all of it commits together.
Rows are never deleted: a departure deactivates the row and opens a departed version.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from siapp_siasn.store import scd2
from siapp_siasn.store._pg import PgBulkWriter
from siapp_siasn.store._sqlite import SqliteBulkWriter
from siapp_siasn.store.base import IN_CHUNK, Repository
from siapp_siasn.store.errors import StoreError
from siapp_siasn.store.quarantine import QuarantineRepository
from siapp_siasn.store.records import AsnRow, BatchCounts, DepartureCounts, QuarantineItem
from siapp_siasn.store.state import StateRepository
from siapp_siasn.store.tables import ASN_TYPED_COLUMNS, asn, asn_family, asn_history
from siapp_siasn.store.types import UTCDateTime, to_utc, utcnow
from siapp_siasn.utils import chunks

__all__ = ["BULK_WRITERS", "AsnRepository"]

log = logging.getLogger(__name__)

#: The bulk statements of each dialect (the SCD2 logic is the same for all).
BULK_WRITERS: dict[str, type[scd2.BulkWriter]] = {
    "postgresql": PgBulkWriter,
    "sqlite": SqliteBulkWriter,
}
_HISTORY_COPY_COLUMNS = ("nip", "record_hash", *ASN_TYPED_COLUMNS, "payload")


class AsnRepository(Repository):
    """``store.asn``: apply batches, mark departures, read employees."""

    def __init__(
        self,
        engine: Engine,
        *,
        quarantine: QuarantineRepository,
        state: StateRepository,
        durable_batches: bool = False,
    ) -> None:
        super().__init__(engine)
        self._quarantine = quarantine
        self._state = state
        #: False: on PostgreSQL, batches commit with ``synchronous_commit=off`` (a server
        #: crash may lose the last few hundred milliseconds of batches, always together with
        #: the checkpoint and watermark of the same transaction, so a resumed run redoes them)
        self.durable_batches = durable_batches

    def apply_batch(
        self,
        rows: Sequence[AsnRow | Mapping[str, Any]],
        run_id: str | None,
        as_of: dt.datetime,
        *,
        checkpoint: tuple[str, str, int, Any] | None = None,
        watermark: tuple[str, str | dt.date | dt.datetime] | None = None,
        quarantine: Sequence[QuarantineItem] = (),
        conn: Connection | None = None,
        insert_only: bool = True,
    ) -> BatchCounts:
        """Upsert one batch of employees in one transaction (SCD2, see
        :mod:`~siapp_siasn.store.scd2`). Duplicate NIPs in a batch: the last one wins.

        ``checkpoint=(run_key, step, batch_no, state)``, ``watermark=(name, value)`` and the
        batch's rejected records (``quarantine``) are saved in the same transaction.

        A batch none of whose NIPs is stored yet takes the insert-only path (PostgreSQL:
        COPY straight into the tables; SQLite: plain INSERT); ``insert_only=False`` sends it
        through the merge path instead (same rows; for tests and benches).
        """
        writer_class = BULK_WRITERS.get(self.dialect)
        if writer_class is None:
            raise StoreError(f"unsupported dialect {self.dialect}")
        with self._tx(conn, "asn.apply_batch") as c:
            if self.dialect == "postgresql" and not self.durable_batches:
                c.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            writer = writer_class(c, run_id=run_id, as_of=to_utc(as_of))
            counts = scd2.write_batch(writer, rows, insert_only=insert_only)
            if quarantine:
                self._quarantine.add(quarantine, run_id=run_id, conn=c)
            if checkpoint is not None:
                self._state.save_checkpoint(*checkpoint, conn=c)
            if watermark is not None:
                self._state.set_watermark(*watermark, conn=c)
        log.debug("asn batch: %s", counts.as_dict())
        return counts

    def mark_departed(
        self,
        nips: Iterable[str],
        on: dt.date,
        reason: str,
        *,
        run_id: str | None = None,
        as_of: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> DepartureCounts:
        """Mark employees as departed (retired, dismissed, below the grade scope, ...).

        Rows are never deleted: ``is_active`` becomes false with ``departed_on``/``reason``;
        the open history version is closed at ``as_of`` (default now) and a departed version
        opens (replaced in place when the open one does not start before ``as_of``).
        Employees already inactive and unknown NIPs are counted and left alone.
        """
        as_of = to_utc(as_of) if as_of is not None else utcnow()
        now = utcnow()
        wanted = sorted(set(nips))
        with self._tx(conn, "asn.mark_departed") as c:
            h = asn_history.alias("h")
            open_from = (
                sa.select(h.c.valid_from)
                .where(h.c.nip == asn.c.nip, h.c.valid_to.is_(None))
                .scalar_subquery()
            )
            state: list[Any] = []
            for part in chunks(wanted, IN_CHUNK):
                q = (
                    sa.select(asn.c.nip, asn.c.is_active, open_from.label("open_from"))
                    .where(asn.c.nip.in_(part))
                    .order_by(asn.c.nip)
                )
                if self.dialect == "postgresql":
                    q = q.with_for_update(of=asn)
                state.extend(c.execute(q))
            active = [s for s in state if s.is_active]
            departing = [s.nip for s in active]
            # the open version started before as_of: close it and open a departed version
            # (a copy of the current row); else mark the open version itself as departed
            closing = [s.nip for s in active if s.open_from is None or to_utc(s.open_from) < as_of]
            in_place = [
                s.nip for s in active if s.open_from is not None and to_utc(s.open_from) >= as_of
            ]
            target = [
                *_HISTORY_COPY_COLUMNS,
                "valid_from",
                "is_active",
                "departed_on",
                "departure_reason",
                "run_id",
            ]
            departed_version = sa.select(
                *[asn.c[name] for name in _HISTORY_COPY_COLUMNS],
                sa.literal(as_of, UTCDateTime()),
                sa.literal(False, sa.Boolean()),
                sa.literal(on, sa.Date()),
                sa.literal(reason, sa.String()),
                sa.literal(run_id, sa.String()),
            )
            for part in chunks(closing, IN_CHUNK):
                c.execute(
                    sa.update(asn_history)
                    .where(asn_history.c.nip.in_(part), asn_history.c.valid_to.is_(None))
                    .values(valid_to=as_of)
                )
                c.execute(
                    sa.insert(asn_history).from_select(
                        target, departed_version.where(asn.c.nip.in_(part))
                    )
                )
            for part in chunks(in_place, IN_CHUNK):
                c.execute(
                    sa.update(asn_history)
                    .where(asn_history.c.nip.in_(part), asn_history.c.valid_to.is_(None))
                    .values(is_active=False, departed_on=on, departure_reason=reason, run_id=run_id)
                )
            for part in chunks(departing, IN_CHUNK):
                c.execute(
                    sa.update(asn)
                    .where(asn.c.nip.in_(part))
                    .values(
                        is_active=False,
                        departed_on=on,
                        departure_reason=reason,
                        run_id=run_id,
                        updated_at=now,
                    )
                )
        counts = DepartureCounts(
            departed=len(departing),
            already_inactive=len(state) - len(active),
            unknown=len(wanted) - len(state),
        )
        log.info("departures (%s): %s", reason, counts.as_dict())
        return counts

    def active_nips(self) -> set[str]:
        """NIPs of every active employee."""
        with self._tx(None, "asn.active_nips") as c:
            return set(c.scalars(sa.select(asn.c.nip).where(asn.c.is_active)))

    def source_updated_map(self, nips: Iterable[str]) -> dict[str, str | None]:
        """``nip -> source_updated`` (ISO date text, like watermarks) for the NIPs held."""
        wanted = sorted(set(nips))
        out: dict[str, str | None] = {}
        with self._tx(None, "asn.source_updated_map") as c:
            for part in chunks(wanted, IN_CHUNK):
                q = sa.select(asn.c.nip, asn.c.source_updated).where(asn.c.nip.in_(part))
                for nip, updated in c.execute(q):
                    out[nip] = updated.isoformat() if updated is not None else None
        return out

    def get(self, nip: str) -> dict[str, Any] | None:
        """The current row of one employee (all columns), or None."""
        with self._tx(None, "asn.get") as c:
            row = c.execute(sa.select(asn).where(asn.c.nip == nip)).mappings().first()
            return dict(row) if row is not None else None

    def history(self, nip: str) -> list[dict[str, Any]]:
        """Every version of one employee, oldest first."""
        q = sa.select(asn_history).where(asn_history.c.nip == nip)
        with self._tx(None, "asn.history") as c:
            return [dict(r) for r in c.execute(q.order_by(asn_history.c.valid_from)).mappings()]

    def family(self, nip: str) -> list[dict[str, Any]]:
        """The family members of one employee, by relation and ordinal."""
        q = (
            sa.select(asn_family)
            .where(asn_family.c.nip == nip)
            .order_by(asn_family.c.relation, asn_family.c.ordinal)
        )
        with self._tx(None, "asn.family") as c:
            return [dict(r) for r in c.execute(q).mappings()]
