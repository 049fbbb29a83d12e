"""The one SCD2 writer of ASN batches (current row, history versions, family).

:func:`write_batch` classifies every employee of a batch against what is stored, then writes
the batch through a :class:`BulkWriter`, the only part that differs per dialect: PostgreSQL
(:mod:`~siapp_siasn.store._pg`) uses binary COPY, SQLite (:mod:`~siapp_siasn.store._sqlite`)
``executemany`` on the raw connection. Both write the same rows, built here.

Classification (``op`` of a :class:`Change`):

* ``I`` new NIP: insert the row, open a version at ``as_of``;
* ``C`` changed ``record_hash`` (or a departed employee seen again): update the row, close
  the open version at ``as_of`` and open a new one;
* ``R`` the same, but the open version does not start before ``as_of`` (a rerun within the
  same instant, or an older ``as_of``): the open version is replaced in place, so versions
  never overlap;
* ``F`` only the family hash changed: update the row, no new version;
* unchanged: only ``last_seen``/``source_updated`` move forward.

Family members are replaced per employee only when the family hash changes (a row with
``family=None`` leaves them alone). When no NIP of the batch is stored yet (a first load), the
batch takes the insert-only path: plain inserts, no staging, no conflict handling.
"""

from __future__ import annotations

import abc
import datetime as dt
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from siapp_siasn.store.records import AsnRow, BatchCounts, as_asn_row, numbered_family
from siapp_siasn.store.tables import ASN_TYPED_COLUMNS, FAMILY_COLUMNS
from siapp_siasn.store.types import to_utc, utcnow
from siapp_siasn.utils import sha256_json

__all__ = [
    "ASN_COLUMNS",
    "FAMILY_COLUMNS",
    "HISTORY_COLUMNS",
    "BulkWriter",
    "Change",
    "Plan",
    "classify",
    "versions_insert",
    "write_batch",
]

#: Columns of ``asn`` in the order :meth:`BulkWriter.asn_values` builds them.
ASN_COLUMNS: tuple[str, ...] = (
    "nip",
    *ASN_TYPED_COLUMNS,
    "payload",
    "record_hash",
    "family_hash",
    "is_active",
    "departed_on",
    "departure_reason",
    "source_updated",
    "run_id",
    "first_seen",
    "last_seen",
    "updated_at",
)
#: Columns of ``asn_history`` in the order :meth:`BulkWriter.history_values` builds them.
HISTORY_COLUMNS: tuple[str, ...] = (
    "nip",
    "valid_from",
    "valid_to",
    "record_hash",
    "is_active",
    "departed_on",
    "departure_reason",
    "run_id",
    *ASN_TYPED_COLUMNS,
    "payload",
)

#: The upsert of a changed employee: incoming values overwrite, a family or source day not
#: given keeps the stored one, the row is active again, ``last_seen`` never moves back.
UPSERT_ASN_ON_CONFLICT = (
    "ON CONFLICT (nip) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in (*ASN_TYPED_COLUMNS, "payload", "record_hash", "run_id", "updated_at")
    )
    + ", family_hash = COALESCE(excluded.family_hash, asn.family_hash)"
    ", source_updated = COALESCE(excluded.source_updated, asn.source_updated)"
    ", is_active = TRUE, departed_on = NULL, departure_reason = NULL"
    ", last_seen = CASE WHEN asn.last_seen < excluded.last_seen THEN excluded.last_seen "
    "ELSE asn.last_seen END"
)


def versions_insert(source: str, valid_from: str, where: str) -> str:
    """SQL inserting new open versions copied, inside the database, from the rows of
    ``source`` that match ``where`` (``source`` holds every ``asn`` column; ``valid_from`` is
    the expression of the version start): the payload is neither sent nor parsed again."""
    special = {"valid_from": valid_from, "valid_to": "NULL"}
    return (
        f"INSERT INTO asn_history ({', '.join(HISTORY_COLUMNS)}) "
        f"SELECT {', '.join(special.get(c, c) for c in HISTORY_COLUMNS)} FROM {source} "
        f"WHERE {where}"
    )


#: ``nip -> (record_hash, family_hash, is_active, valid_from of the open version)``
Existing = Mapping[str, tuple[Any, ...]]

_typed = operator.attrgetter(*ASN_TYPED_COLUMNS)


@dataclass(slots=True)
class Change:
    """An employee the batch writes (``op``: I, C, R or F, see the module docstring)."""

    row: AsnRow
    op: str
    valid_from: dt.datetime
    family_hash: str | None

    @property
    def opens_version(self) -> bool:
        return self.op != "F"


@dataclass(slots=True)
class Plan:
    """A classified batch."""

    changes: list[Change] = field(default_factory=list)
    unchanged: list[AsnRow] = field(default_factory=list)
    #: rows whose family members are replaced
    family: list[AsnRow] = field(default_factory=list)
    #: no NIP of the batch is stored yet
    first_load: bool = True
    duplicates: int = 0

    def nips(self, op: str) -> list[str]:
        return [c.row.nip for c in self.changes if c.op == op]

    def counts(self) -> BatchCounts:
        ops = [c.op for c in self.changes]
        return BatchCounts(
            inserted=ops.count("I"),
            updated=len(ops) - ops.count("I"),
            unchanged=len(self.unchanged),
            history_rows=ops.count("I") + ops.count("C"),
            family_replaced=len(self.family),
            duplicates=self.duplicates,
        )


def _family_hash(row: AsnRow) -> str | None:
    """The family hash to store: the row's own, or one computed when only members are given."""
    if row.family is None:
        return None
    if row.family_hash:
        return row.family_hash
    members = [
        {"relation": m.relation, "member_id": m.member_id, "payload": m.payload} for m in row.family
    ]
    return sha256_json(members)


def dedupe(rows: Sequence[AsnRow | Mapping[str, Any]]) -> dict[str, AsnRow]:
    """The batch by NIP, the last row of a NIP winning (in the order rows were last seen)."""
    batch: dict[str, AsnRow] = {}
    for i, raw in enumerate(rows):
        row = as_asn_row(raw)
        if not isinstance(row.nip, str) or not row.nip:
            raise ValueError(f"ASN row {i}: nip missing")
        batch.pop(row.nip, None)
        batch[row.nip] = row
    return batch


def classify(batch: Mapping[str, AsnRow], existing: Existing, as_of: dt.datetime) -> Plan:
    """Decide what each employee of ``batch`` needs, given the stored state."""
    plan = Plan(first_load=not existing)
    for nip, row in batch.items():
        fam_hash = _family_hash(row)
        old = existing.get(nip)
        if old is None:
            op, valid_from = "I", as_of
            family_changed = row.family is not None
        else:
            old_hash, old_fam, old_active, open_from = old
            family_changed = row.family is not None and fam_hash != old_fam
            if old_hash != row.record_hash or not old_active:
                if open_from is None or to_utc(open_from) < as_of:
                    op, valid_from = "C", as_of
                else:
                    op, valid_from = "R", to_utc(open_from)
            elif family_changed:
                op, valid_from = "F", as_of
            else:
                plan.unchanged.append(row)
                continue
        plan.changes.append(Change(row, op, valid_from, fam_hash))
        if family_changed:
            plan.family.append(row)
    return plan


class BulkWriter(abc.ABC):
    """The bulk statements of one dialect, on one connection, inside the caller's transaction.

    The rows are built here (:meth:`asn_values`, :meth:`history_values`,
    :meth:`family_values`) with plain Python values; a dialect only encodes them for its
    driver and emits its statements.
    """

    def __init__(self, conn: Connection, *, run_id: str | None, as_of: dt.datetime) -> None:
        self.conn = conn
        self.run_id = run_id
        self.as_of = as_of
        self.now = utcnow()

    # ------------------------------------------------------------------ rows

    def asn_values(self, c: Change, stamp_as_of: Any, stamp_now: Any) -> list[Any]:
        """The ``asn`` row of a change, in :data:`ASN_COLUMNS` order (timestamps as given)."""
        r = c.row
        return [
            r.nip,
            *_typed(r),
            r.payload,
            r.record_hash,
            c.family_hash,
            True,
            None,
            None,
            r.source_updated,
            self.run_id,
            stamp_as_of,
            stamp_as_of,
            stamp_now,
        ]

    def history_values(self, c: Change) -> list[Any]:
        """The new open version of a change, in :data:`HISTORY_COLUMNS` order."""
        r = c.row
        return [
            r.nip,
            c.valid_from,
            None,
            r.record_hash,
            True,
            None,
            None,
            self.run_id,
            *_typed(r),
            r.payload,
        ]

    def family_values(self, rows: Sequence[AsnRow], stamp_now: Any) -> Iterator[list[Any]]:
        """The family members of ``rows``, in ``FAMILY_COLUMNS`` order."""
        for r in rows:
            for relation, ordinal, m in numbered_family(r):
                yield [
                    r.nip,
                    relation,
                    ordinal,
                    m.member_id,
                    m.nama,
                    m.tgl_lahir,
                    m.jenis_kelamin,
                    m.status_hidup,
                    m.status_hubungan,
                    m.tgl_menikah,
                    m.tgl_cerai,
                    m.orang_tua_id,
                    m.payload,
                    self.run_id,
                    stamp_now,
                ]

    # ------------------------------------------------------------------ statements

    @abc.abstractmethod
    def existing_state(self, nips: Sequence[str]) -> Existing:
        """The stored state of ``nips`` (see :data:`Existing`), rows locked where possible."""

    @abc.abstractmethod
    def insert_new(self, changes: Sequence[Change], family: Sequence[AsnRow]) -> None:
        """First load: insert rows, their open versions and their family (nothing stored)."""

    @abc.abstractmethod
    def merge(self, plan: Plan) -> None:
        """Close (C) or drop (R) the open versions, upsert the rows and open the new
        versions (I, C, R)."""

    @abc.abstractmethod
    def replace_family(self, rows: Sequence[AsnRow]) -> None:
        """Delete the stored family of ``rows`` and insert theirs."""

    @abc.abstractmethod
    def touch(self, rows: Sequence[AsnRow]) -> None:
        """Move ``last_seen`` (to ``as_of``) and ``source_updated`` forward where they move."""


def write_batch(
    writer: BulkWriter,
    rows: Sequence[AsnRow | Mapping[str, Any]],
    *,
    insert_only: bool = True,
) -> BatchCounts:
    """Classify and write one batch with ``writer``; ``insert_only=False`` sends a first load
    through the merge path too (tests and benches compare the two)."""
    batch = dedupe(rows)
    existing = writer.existing_state(list(batch)) if batch else {}
    plan = classify(batch, existing, writer.as_of)
    plan.duplicates = len(rows) - len(batch)
    if plan.first_load and insert_only:
        if plan.changes:
            writer.insert_new(plan.changes, plan.family)
    else:
        if plan.changes:
            writer.merge(plan)
        if plan.family:
            writer.replace_family(plan.family)
    if plan.unchanged:
        writer.touch(plan.unchanged)
    return plan.counts()
