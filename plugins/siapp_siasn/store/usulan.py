"""Store API of the proposal traffic (flows F3-F8): outbox, document ledger, usulan lifecycle.

:class:`UsulanStore` is a mixin of :class:`~siapp_siasn.store.api.Store`; like the rest of the
store, every method takes an optional ``conn`` (from ``store.transaction()``) to join a
larger transaction, and every write is idempotent:

* outbox: one row per Idempotency-Key (flow + entity id + version hash); enqueueing again adds
  nothing. ``pending`` and ``retry`` rows are due once ``next_attempt_at`` has passed;
  ``sent``, ``dead`` and ``rejected`` rows are not. ``rejected`` rows (out of scope) are kept
  for audit and never sent. The view ``v_outbox_dead`` lists dead letters without payloads.
* document ledger: one row per document id; an upsert that changes nothing writes nothing.
* usulan lifecycle: one row per usulan; fields overwrite, stage stamps are set once (the
  first time wins), so replaying a flow leaves the row as it was.

``last_error`` texts are the caller's template-level descriptions (no values); the store cuts
them to :data:`ERROR_LIMIT` characters. Errors raised here name fields, never values.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.records import OutboxItem, OutboxRow, _coerce_date, _coerce_int
from siapp_siasn.store.tables import document_ledger, outbox, usulan_lifecycle
from siapp_siasn.store.types import UTCDateTime, utcnow

log = logging.getLogger(__name__)

#: Longest ``last_error`` kept (longer texts are cut).
ERROR_LIMIT = 500

#: Outbox statuses that are sent when due.
DUE_STATUSES = ("pending", "retry")

#: Columns of ``usulan_lifecycle`` that ``lifecycle_upsert(fields=…)`` overwrites.
LIFECYCLE_FIELDS: tuple[str, ...] = (
    "version",
    "jenis",
    "kategori_jabatan",
    "nip",
    "instansi_id",
    "status",
    "status_bkn",
    "status_bkn_nama",
    "hasil_verifikasi",
    "no_pertek",
    "tgl_pertek",
    "no_ralat_pertek",
    "tgl_ralat_pertek",
    "no_keppres",
    "tgl_keppres",
    "bkn_usulan_id",
)

#: Stage stamps of ``usulan_lifecycle``, in lifecycle order (set once: the first time wins).
LIFECYCLE_STAMPS: tuple[str, ...] = (
    "submitted_at",
    "sent_at",
    "bkn_verified_at",
    "pertek_at",
    "ralat_at",
    "setneg_verified_at",
    "keppres_at",
    "keppres_sent_at",
    "keppres_applied_at",
)

#: Columns of ``document_ledger`` that ``ledger_upsert`` takes.
LEDGER_FIELDS: tuple[str, ...] = (
    "usulan_id",
    "jenis",
    "direction",
    "sha256",
    "size",
    "source_system",
    "source_ref",
    "target_system",
    "target_dok_id",
    "target_dok_uri",
    "status",
    "attempts",
    "last_error",
    "transferred_at",
    "verified_at",
)

#: Columns a new ledger row needs.
LEDGER_REQUIRED: tuple[str, ...] = ("direction", "source_system", "target_system")

_CHUNK = 500


def short_error(text: str) -> str:
    """``text`` as stored in ``last_error``: stripped, cut to :data:`ERROR_LIMIT` characters."""
    text = str(text).strip()
    if len(text) <= ERROR_LIMIT:
        return text
    return text[: ERROR_LIMIT - 1] + "…"


def _store_error(message: str) -> Exception:
    # imported late: api.py imports this module to build Store
    from siapp_siasn.store.api import StoreError

    return StoreError(message)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _coerce(table: sa.Table, name: str, value: Any) -> Any:
    """``value`` in the Python type of column ``name`` (errors name the column, not the value).

    Strings: ints are turned into text, lengths are checked (SQLite would not); dates: ISO
    strings are parsed; timestamps must be datetimes; integers: integer strings are parsed.
    """
    if value is None:
        return None
    if name == "last_error":
        return short_error(value)
    where = f"{table.name}.{name}"
    type_ = table.c[name].type
    if isinstance(type_, UTCDateTime):
        if not isinstance(value, dt.datetime):
            raise TypeError(f"{where}: expected a datetime, got {type(value).__name__}")
        return value
    if isinstance(type_, sa.Date):
        return _coerce_date(where, value)
    if isinstance(type_, sa.Integer):
        return _coerce_int(where, value)
    if isinstance(type_, sa.String):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise TypeError(f"{where}: expected a string, got {type(value).__name__}")
        if type_.length is not None and len(value) > type_.length:
            raise ValueError(f"{where}: longer than {type_.length} characters")
        return value
    return value


def _values(table: sa.Table, given: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{table.name}: unknown fields: {', '.join(unknown)}")
    return {name: _coerce(table, name, value) for name, value in given.items()}


def _outbox_row(r: Any) -> OutboxRow:
    return OutboxRow(
        id=r.id,
        flow=r.flow,
        entity_id=r.entity_id,
        version_hash=r.version_hash,
        idempotency_key=r.idempotency_key,
        payload=r.payload,
        status=r.status,
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at,
        last_error=r.last_error,
        sent_at=r.sent_at,
        response=r.response,
        created_at=r.created_at,
        reason=r.reason,
        updated_at=r.updated_at,
    )


class UsulanStore:
    """Outbox, document ledger and usulan lifecycle (mixed into ``Store``)."""

    if TYPE_CHECKING:
        dialect: str

        def _tx(
            self, conn: Connection | None, operation: str
        ) -> AbstractContextManager[Connection]: ...

        def _insert(self, table: sa.Table) -> Any: ...

    # ------------------------------------------------------------------ outbox

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
        with self._tx(conn, "enqueue") as c:
            for part in _chunks(list(rows.values())):
                added += len(c.execute(ins.returning(outbox.c.id), part).all())
        log.info("outbox: %d items, %d new", len(rows), added)
        return added

    def due_outbox(
        self,
        now: dt.datetime,
        *,
        limit: int = 500,
        flows: Sequence[str] | None = None,
        conn: Connection | None = None,
    ) -> list[OutboxRow]:
        """Rows to send now: status pending or retry, ``next_attempt_at`` empty or not after
        ``now``; oldest first (by id), at most ``limit``; only ``flows`` when given."""
        q = (
            sa.select(outbox)
            .where(
                outbox.c.status.in_(DUE_STATUSES),
                sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if flows is not None:
            q = q.where(outbox.c.flow.in_(list(flows)))
        with self._tx(conn, "due_outbox") as c:
            return [_outbox_row(r) for r in c.execute(q)]

    def _outbox_status(self, c: Connection, outbox_id: int) -> str | None:
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
        stmt = (
            sa.update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.status.not_in(("sent", "rejected")))
            .values(
                status="sent",
                response=sa.null() if response is None else response,
                sent_at=sent_at,
                next_attempt_at=None,
                updated_at=utcnow(),
            )
        )
        with self._tx(conn, "mark_sent") as c:
            if c.execute(stmt).rowcount:
                return
            status = self._outbox_status(c, outbox_id)
        if status is None:
            raise _store_error(f"store mark_sent failed: no outbox row {outbox_id}")
        if status == "rejected":
            raise _store_error(f"store mark_sent failed: outbox row {outbox_id} is rejected")

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
        with self._tx(conn, "mark_attempt_failed") as c:
            attempts = c.execute(stmt).scalar_one_or_none()
            if attempts is not None:
                return int(attempts)
            status = self._outbox_status(c, outbox_id)
        what = (
            f"no outbox row {outbox_id}"
            if status is None
            else f"outbox row {outbox_id} is {status}"
        )
        raise _store_error(f"store mark_attempt_failed failed: {what}")

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
        with self._tx(conn, "requeue_dead") as c:
            if ids is None:
                return c.execute(stmt).rowcount
            return sum(
                c.execute(stmt.where(outbox.c.id.in_(list(part)))).rowcount
                for part in _chunks(list(ids))
            )

    def list_outbox(
        self,
        *,
        status: str | None = None,
        flow: str | None = None,
        entity_id: str | None = None,
        limit: int | None = None,
        conn: Connection | None = None,
    ) -> list[OutboxRow]:
        """Outbox rows, oldest first, optionally filtered."""
        q = sa.select(outbox).order_by(outbox.c.id)
        for col, value in (
            (outbox.c.status, status),
            (outbox.c.flow, flow),
            (outbox.c.entity_id, entity_id),
        ):
            if value is not None:
                q = q.where(col == value)
        if limit is not None:
            q = q.limit(limit)
        with self._tx(conn, "list_outbox") as c:
            return [_outbox_row(r) for r in c.execute(q)]

    def outbox_stats(self, *, conn: Connection | None = None) -> dict[str, dict[str, int]]:
        """Row counts ``{flow: {status: n}}``."""
        q = sa.select(outbox.c.flow, outbox.c.status, sa.func.count()).group_by(
            outbox.c.flow, outbox.c.status
        )
        out: dict[str, dict[str, int]] = {}
        with self._tx(conn, "outbox_stats") as c:
            for flow, status, n in c.execute(q):
                out.setdefault(flow, {})[status] = n
        return out

    # ------------------------------------------------------------------ document ledger

    def ledger_get(self, doc_id: str, *, conn: Connection | None = None) -> dict[str, Any] | None:
        """The ledger row of document ``doc_id`` (every column), or None."""
        with self._tx(conn, "ledger_get") as c:
            r = (
                c.execute(sa.select(document_ledger).where(document_ledger.c.doc_id == doc_id))
                .mappings()
                .first()
            )
        return dict(r) if r is not None else None

    def ledger_upsert(self, doc_id: str, *, conn: Connection | None = None, **fields: Any) -> None:
        """Create or update the ledger row of ``doc_id`` with the given columns.

        Columns are those of :data:`LEDGER_FIELDS`; a new row needs ``direction``,
        ``source_system`` and ``target_system``. Given columns overwrite, others are kept;
        ``created_at``/``updated_at`` are the store's (an upsert that changes nothing writes
        nothing). ``last_error`` is cut to 500 characters.
        """
        values = _values(document_ledger, fields, LEDGER_FIELDS)
        doc_id = _coerce(document_ledger, "doc_id", doc_id)
        t = document_ledger
        now = utcnow()
        with self._tx(conn, "ledger_upsert") as c:
            if values:
                changed = sa.or_(*(t.c[k].is_distinct_from(v) for k, v in values.items()))
                stmt = (
                    sa.update(t)
                    .where(t.c.doc_id == doc_id, changed)
                    .values(**values, updated_at=now)
                )
                if c.execute(stmt).rowcount:
                    return
            if c.scalar(sa.select(sa.literal(1)).where(t.c.doc_id == doc_id)) is not None:
                return  # present and already as asked
            missing = [k for k in LEDGER_REQUIRED if values.get(k) is None]
            if missing:
                raise ValueError(f"document_ledger: a new row needs {', '.join(missing)}")
            ins = self._insert(t).values(doc_id=doc_id, **values, created_at=now, updated_at=now)
            # a concurrent writer may have created it in between: then ours overwrites
            c.execute(
                ins.on_conflict_do_update(
                    index_elements=[t.c.doc_id],
                    set_={k: ins.excluded[k] for k in (*values, "updated_at")},
                )
            )

    def ledger_mark_failed(
        self,
        doc_id: str,
        *,
        error: str,
        status: str = "failed",
        conn: Connection | None = None,
    ) -> int:
        """A failed transfer or check of ``doc_id``: ``attempts + 1``, ``last_error`` (cut to
        500 characters), ``status``. Returns the new number of attempts (unknown id: error)."""
        t = document_ledger
        stmt = (
            sa.update(t)
            .where(t.c.doc_id == doc_id)
            .values(
                attempts=t.c.attempts + 1,
                last_error=short_error(error),
                status=_coerce(t, "status", status),
                updated_at=utcnow(),
            )
            .returning(t.c.attempts)
        )
        with self._tx(conn, "ledger_mark_failed") as c:
            attempts = c.execute(stmt).scalar_one_or_none()
        if attempts is None:
            raise _store_error("store ledger_mark_failed failed: no such document_ledger row")
        return int(attempts)

    def ledger_list(
        self,
        *,
        usulan_id: str | None = None,
        status: str | None = None,
        direction: str | None = None,
        conn: Connection | None = None,
    ) -> list[dict[str, Any]]:
        """Ledger rows ordered by ``doc_id``, optionally filtered."""
        t = document_ledger
        q = sa.select(t).order_by(t.c.doc_id)
        for col, value in (
            (t.c.usulan_id, usulan_id),
            (t.c.status, status),
            (t.c.direction, direction),
        ):
            if value is not None:
                q = q.where(col == value)
        with self._tx(conn, "ledger_list") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def ledger_stats(self, *, conn: Connection | None = None) -> dict[str, int]:
        """Document counts: ``total``, one key per status (``{status: n}``) and one per
        direction and status (``"{direction}:{status}": n``)."""
        t = document_ledger
        q = sa.select(t.c.direction, t.c.status, sa.func.count()).group_by(
            t.c.direction, t.c.status
        )
        out: dict[str, int] = {"total": 0}
        with self._tx(conn, "ledger_stats") as c:
            for direction, status, n in c.execute(q):
                out["total"] += n
                out[status] = out.get(status, 0) + n
                out[f"{direction}:{status}"] = n
        return out

    # ------------------------------------------------------------------ usulan lifecycle

    def lifecycle_upsert(
        self,
        usulan_id: str,
        *,
        fields: Mapping[str, Any] | None = None,
        stamps: Mapping[str, dt.datetime | None] | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Create or update the lifecycle row of ``usulan_id``.

        ``fields`` (columns of :data:`LIFECYCLE_FIELDS`) overwrite; ``stamps`` (of
        :data:`LIFECYCLE_STAMPS`; None values are ignored) are set only where still empty,
        so the first time wins. Idempotent: a call that changes nothing writes nothing.
        """
        t = usulan_lifecycle
        values = _values(t, fields or {}, LIFECYCLE_FIELDS)
        if "status" in values and values["status"] is None:
            raise ValueError("usulan_lifecycle.status: may not be empty")
        given = {k: v for k, v in (stamps or {}).items() if v is not None}
        times = _values(t, given, LIFECYCLE_STAMPS)
        usulan_id = _coerce(t, "usulan_id", usulan_id)
        now = utcnow()
        ins = self._insert(t).values(
            usulan_id=usulan_id, **values, **times, created_at=now, updated_at=now
        )
        if values or times:
            set_: dict[str, Any] = {k: ins.excluded[k] for k in values}
            set_.update({k: sa.func.coalesce(t.c[k], ins.excluded[k]) for k in times})
            set_["updated_at"] = ins.excluded.updated_at
            changed = sa.or_(
                *(t.c[k].is_distinct_from(ins.excluded[k]) for k in values),
                *(t.c[k].is_(None) for k in times),
            )
            stmt = ins.on_conflict_do_update(
                index_elements=[t.c.usulan_id], set_=set_, where=changed
            )
        else:
            stmt = ins.on_conflict_do_nothing(index_elements=[t.c.usulan_id])
        with self._tx(conn, "lifecycle_upsert") as c:
            c.execute(stmt)

    def lifecycle_get(
        self, usulan_id: str, *, conn: Connection | None = None
    ) -> dict[str, Any] | None:
        """The lifecycle row of ``usulan_id`` (every column), or None."""
        t = usulan_lifecycle
        with self._tx(conn, "lifecycle_get") as c:
            r = c.execute(sa.select(t).where(t.c.usulan_id == usulan_id)).mappings().first()
        return dict(r) if r is not None else None

    def lifecycle_list(
        self,
        *,
        status: str | None = None,
        status_bkn: str | None = None,
        conn: Connection | None = None,
    ) -> list[dict[str, Any]]:
        """Lifecycle rows ordered by ``usulan_id``, optionally filtered."""
        t = usulan_lifecycle
        q = sa.select(t).order_by(t.c.usulan_id)
        for col, value in ((t.c.status, status), (t.c.status_bkn, status_bkn)):
            if value is not None:
                q = q.where(col == value)
        with self._tx(conn, "lifecycle_list") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def lifecycle_stats(self, *, conn: Connection | None = None) -> dict[str, int]:
        """Usulan counts: ``total``, per stage how many carry each stamp (``{stamp: n}``, every
        stamp present, 0 included) and per status (``"status:{status}": n``)."""
        t = usulan_lifecycle
        stage = sa.select(
            sa.func.count().label("total"),
            *(sa.func.count(t.c[s]).label(s) for s in LIFECYCLE_STAMPS),
        )
        by_status = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        with self._tx(conn, "lifecycle_stats") as c:
            out = {k: int(v or 0) for k, v in c.execute(stage).mappings().one().items()}
            for status, n in c.execute(by_status):
                out[f"status:{status}"] = n
        return out
