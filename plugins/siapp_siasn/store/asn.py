"""ASN repository: employees' current rows, their SCD2 history, their family and departures.

Batches go through the one SCD2 writer (:mod:`~siapp_siasn.store.scd2`) with the dialect's bulk
statements; a batch's rejected records, checkpoint and watermark are written by the
quarantine and state repositories on the same connection, so all of it commits together.
Rows are never deleted: a departure deactivates the row and opens a departed version.

No NIK is stored in clear: payloads hold its keyed token (:mod:`siapp_siasn.models.nik`);
``find_by_nik`` matches tokens of the current and the previous key, ``rekey`` rewrites rows
made under the previous key, ``count_by_key_id`` says which keys the stored tokens use.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from siapp_siasn.models.nik import (
    NIK_WIRE_NAMES,
    NikKey,
    is_token,
    nik_values,
    pseudonymise,
    retoken,
    token_key_id,
)
from siapp_siasn.store import scd2
from siapp_siasn.store._pg import PgBulkWriter
from siapp_siasn.store._sqlite import SqliteBulkWriter
from siapp_siasn.store.base import IN_CHUNK, Repository
from siapp_siasn.store.config import HASH_KEY_ENV, HASH_KEY_EXTRA
from siapp_siasn.store.errors import StoreError
from siapp_siasn.store.quarantine import QuarantineRepository
from siapp_siasn.store.records import (
    AsnRow,
    BatchCounts,
    DepartureCounts,
    QuarantineItem,
    as_asn_row,
)
from siapp_siasn.store.state import StateRepository
from siapp_siasn.store.tables import ASN_TYPED_COLUMNS, asn, asn_family, asn_history
from siapp_siasn.store.types import UTCDateTime, to_utc, utcnow
from siapp_siasn.utils import chunks

__all__ = ["BULK_WRITERS", "AsnRepository", "Rekey"]

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
        nik_key: NikKey | None = None,
        nik_key_previous: NikKey | None = None,
    ) -> None:
        super().__init__(engine)
        self._quarantine = quarantine
        self._state = state
        self.nik_key = nik_key
        self.nik_key_previous = nik_key_previous
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
        rows = [self._protected(as_asn_row(r)) for r in rows]
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

    def _protected(self, row: AsnRow) -> AsnRow:
        """``row`` with no clear NIK in its payloads: the flow hands tokens already; anything
        else (a caller that did not) is pseudonymised here, or refused without a key."""
        family = row.family or []
        if not _has_clear_nik(row.payload) and not any(_has_clear_nik(m.payload) for m in family):
            return row
        if self.nik_key is None:
            raise StoreError(
                f"store has no hash key: a NIK cannot be stored in clear; set extra "
                f"{HASH_KEY_EXTRA!r} of the store connection or {HASH_KEY_ENV}"
            )
        key = self.nik_key
        return dataclasses.replace(
            row,
            payload=_pseudonymise_deep(row.payload, key),
            family=None
            if row.family is None
            else [
                dataclasses.replace(m, payload=_pseudonymise_deep(m.payload, key))
                for m in row.family
            ],
        )

    def rekey(self, items: Sequence[Rekey], *, conn: Connection | None = None) -> int:
        """Rewrite employees stored under an older form of their record (NIK tokens of the
        previous key, or a clear NIK) under the current key, without a new version.

        Only rows whose stored ``record_hash`` is one of ``old_hashes`` are touched, so the
        content is the same and only the key differs: the current row and its open version get
        ``new_hash``; every version's NIK fields holding a value of ``tokens`` get its token.
        Returns how many employees were rewritten.
        """
        wanted = {r.nip: r for r in items if r.old_hashes}
        if not wanted:
            return 0
        done = 0
        with self._tx(conn, "asn.rekey") as c:
            stale: list[Rekey] = []
            for part in chunks(sorted(wanted), IN_CHUNK):
                q = sa.select(asn.c.nip, asn.c.record_hash).where(asn.c.nip.in_(part))
                stale += [
                    wanted[nip] for nip, held in c.execute(q) if held in wanted[nip].old_hashes
                ]
            for item in stale:
                held = c.execute(
                    sa.select(asn.c.record_hash, asn.c.payload).where(asn.c.nip == item.nip)
                ).one()
                payload = retoken(held.payload or {}, item.tokens) or held.payload
                c.execute(
                    sa.update(asn)
                    .where(asn.c.nip == item.nip, asn.c.record_hash == held.record_hash)
                    .values(record_hash=item.new_hash, payload=payload)
                )
                versions = c.execute(
                    sa.select(
                        asn_history.c.valid_from,
                        asn_history.c.valid_to,
                        asn_history.c.record_hash,
                        asn_history.c.payload,
                    ).where(asn_history.c.nip == item.nip)
                ).all()
                for v in versions:
                    values: dict[str, Any] = {}
                    new_payload = retoken(v.payload or {}, item.tokens)
                    if new_payload is not None:
                        values["payload"] = new_payload
                    if v.valid_to is None and v.record_hash in item.old_hashes:
                        values["record_hash"] = item.new_hash
                    if values:
                        c.execute(
                            sa.update(asn_history)
                            .where(
                                asn_history.c.nip == item.nip,
                                asn_history.c.valid_from == v.valid_from,
                            )
                            .values(**values)
                        )
                done += 1
        if done:
            log.info("re-keyed %d employees under the current hash key", done)
        return done

    def find_by_nik(self, nik: str) -> list[str]:
        """NIPs of the stored employees whose NIK is ``nik`` (tokens of the current key or,
        during a rotation, of the previous one), sorted. The NIK is never stored: its tokens
        are computed here and compared."""
        tokens = {k.token(nik) for k in (self.nik_key, self.nik_key_previous) if k is not None}
        if not tokens:
            raise StoreError(
                f"store has no hash key: NIK tokens cannot be computed; set extra "
                f"{HASH_KEY_EXTRA!r} of the store connection or {HASH_KEY_ENV}"
            )
        text = sa.cast(asn.c.payload, sa.Text)
        q = sa.select(asn.c.nip, asn.c.payload).where(
            sa.or_(*(text.contains(t, autoescape=True) for t in sorted(tokens)))
        )
        with self._tx(None, "asn.find_by_nik") as c:
            # the text match narrows; the NIK fields decide (a token under another key is no
            # match)
            return sorted(
                nip
                for nip, payload in c.execute(q)
                if tokens & {v for v in nik_values(payload or {}).values() if isinstance(v, str)}
            )

    def count_by_key_id(self) -> dict[str, dict[str, int]]:
        """Rows per table holding NIK tokens of each key id (``clear``: a NIK in clear):
        ``{"asn": {"1a2b3c4d": 950, ...}, "asn_history": {...}, "asn_family": {...}}``.

        The previous key can be dropped once no table counts its id (closed history versions
        keep theirs until retention empties their payloads)."""
        out: dict[str, dict[str, int]] = {}
        with self._tx(None, "asn.count_by_key_id") as c:
            for table in (asn, asn_history, asn_family):
                counts: dict[str, int] = {}
                for (payload,) in c.execute(
                    sa.select(table.c.payload).execution_options(yield_per=1000)
                ):
                    for label in _nik_labels(payload):
                        counts[label] = counts.get(label, 0) + 1
                out[table.name] = counts
        return out

    def pseudonymise_stored(self, *, batch: int = 500) -> dict[str, int]:
        """Replace every clear NIK held in ``asn``, ``asn_history`` and ``asn_family`` by its
        token under the current key (``siapp-siasn store rekey``), one transaction per chunk.

        A row whose payload still validates as data-utama gets its ``record_hash`` recomputed
        (the old one covered the clear NIK); ``unverified`` counts rows whose payload does not
        validate any more (their hash is kept). Idempotent: a second run changes nothing.
        """
        from siapp_siasn.models.record import AsnRecord

        key = self.nik_key
        if key is None:
            raise StoreError(
                f"store has no hash key: set extra {HASH_KEY_EXTRA!r} of the store connection "
                f"or {HASH_KEY_ENV} before pseudonymising NIKs"
            )
        counts = {"asn": 0, "asn_history": 0, "asn_family": 0, "unverified": 0}

        def new_hash(payload: Mapping[str, Any], held: str) -> str:
            try:
                return AsnRecord.from_siasn(dict(payload)).record_hash(key)
            except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
                counts["unverified"] += 1
                return held

        pk = {
            "asn": ("nip",),
            "asn_history": ("nip", "valid_from"),
            "asn_family": ("nip", "relation", "ordinal"),
        }
        for table in (asn, asn_history, asn_family):
            keys = [table.c[k] for k in pk[table.name]]
            hashed = "record_hash" in table.c
            cols = [*keys, table.c.payload, *([table.c.record_hash] if hashed else [])]
            with self._tx(None, f"asn.pseudonymise.{table.name}") as c:
                found = [
                    r
                    for r in c.execute(sa.select(*cols).execution_options(yield_per=1000))
                    if _has_clear_nik(r.payload)
                ]
            for part in chunks(found, batch):
                with self._tx(None, f"asn.pseudonymise.{table.name}") as c:
                    for r in part:
                        values: dict[str, Any] = {"payload": _pseudonymise_deep(r.payload, key)}
                        if hashed:
                            values["record_hash"] = new_hash(r.payload, r.record_hash)
                        where = [table.c[k] == getattr(r, k) for k in pk[table.name]]
                        c.execute(sa.update(table).where(*where).values(**values))
                counts[table.name] += len(part)
        log.info("pseudonymised stored NIKs: %s", counts)
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


@dataclass(frozen=True, slots=True)
class Rekey:
    """One employee of a batch the store may hold under an older form of its record.

    ``old_hashes``: the record hashes of that older form (NIK tokens of the previous key; a
    clear NIK); ``new_hash``: the hash under the current key; ``tokens``: stored NIK value ->
    the current key's token (in memory only; hidden from ``repr``).
    """

    nip: str
    old_hashes: tuple[str, ...]
    new_hash: str
    tokens: Mapping[str, str] = field(default_factory=dict, repr=False)


#: how deep a family payload is searched for a NIK (``listPasangan[].orang`` is two levels)
_NIK_DEPTH = 4


def _has_clear_nik(payload: object, depth: int = 0) -> bool:
    """Whether a payload holds a clear NIK under a NIK field (data-utama at the top level;
    nested objects of family payloads too)."""
    if not isinstance(payload, Mapping) or depth > _NIK_DEPTH:
        return False
    for k, v in payload.items():
        if k in NIK_WIRE_NAMES and v not in (None, "") and not is_token(v):
            return True
        if isinstance(v, Mapping) and _has_clear_nik(v, depth + 1):
            return True
    return False


def _pseudonymise_deep(payload: Any, key: NikKey, depth: int = 0) -> Any:
    if not isinstance(payload, Mapping) or depth > _NIK_DEPTH:
        return payload
    out = pseudonymise(payload, key)
    for k, v in out.items():
        if isinstance(v, Mapping):
            out[k] = _pseudonymise_deep(v, key, depth + 1)
    return out


def _nik_labels(payload: object) -> set[str]:
    """Key ids of the NIK tokens a payload holds, ``clear`` for a clear NIK."""
    labels: set[str] = set()
    stack: list[tuple[object, int]] = [(payload, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Mapping) or depth > _NIK_DEPTH:
            continue
        for k, v in node.items():
            if k in NIK_WIRE_NAMES and v not in (None, ""):
                labels.add(token_key_id(v) or "clear")
            elif isinstance(v, Mapping):
                stack.append((v, depth + 1))
    return labels
