"""Retention repository: purge what the agreement no longer needs (PKS art. 11: data only for
the agreement's purpose), keep what proves what happened.

What goes, once older than the cutoff:

- ``asn_history``: the raw SIASN ``payload`` of *closed* versions (``valid_to`` before the
  cutoff) becomes ``{}``. The row stays with its key, validity range, ``record_hash`` and typed
  columns: the history view keeps answering "what was true when", only the verbatim body goes.
  Open versions are the current record and are never touched.
- ``quarantine``: rows are deleted (the count of what was quarantined stays in the lineage).
- ``outbox``: the ``payload`` and ``response`` of items that are ``sent``, ``dead`` or
  ``rejected`` become ``{}`` / NULL. The row stays: its ``idempotency_key`` is what stops the
  same version from being enqueued and sent again. ``pending`` and ``retry`` items are owed
  and stay whole whatever their age.

Lineage rows are never touched. Each chunk (:data:`CHUNK` rows) is one transaction, so a
purge of millions of rows holds no long lock and an interrupted one resumes where it stopped;
every statement selects only rows not yet purged, so a second run purges nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from siapp_siasn.store.base import IN_CHUNK, Repository
from siapp_siasn.store.tables import asn_history, lineage, outbox, quarantine

__all__ = ["CHUNK", "PURGED_OUTBOX_STATUSES", "RetentionRepository"]

#: rows per transaction
CHUNK = IN_CHUNK
#: outbox items that are done with: their bodies may go (``pending``/``retry`` are still owed)
PURGED_OUTBOX_STATUSES = ("sent", "dead", "rejected")


def _not_emptied(column: sa.Column[Any]) -> sa.ColumnElement[bool]:
    # JSON has no equality on PostgreSQL: compare its text ('{}' is what an emptied body holds)
    return sa.cast(column, sa.Text) != "{}"


class RetentionRepository(Repository):
    """``store.retention``: purge bodies and rows older than a cutoff, chunk by chunk."""

    def purge_history_payloads(self, before: dt.datetime, *, chunk: int = CHUNK) -> int:
        """Empty the raw payload of closed ``asn_history`` versions with ``valid_to`` before
        ``before``; returns the number of versions emptied."""
        pick = (
            sa.select(asn_history.c.nip, asn_history.c.valid_from)
            .where(asn_history.c.valid_to.is_not(None))
            .where(asn_history.c.valid_to < before)
            .where(_not_emptied(asn_history.c.payload))
            .limit(chunk)
        )
        update = (
            sa.update(asn_history)
            .where(asn_history.c.nip == sa.bindparam("k_nip"))
            .where(asn_history.c.valid_from == sa.bindparam("k_from"))
            .values(payload={})
        )
        total = 0
        for _ in self._chunks():
            with self._tx(None, "retention.asn_history") as c:
                keys = c.execute(pick).all()
                if not keys:
                    break
                c.execute(update, [{"k_nip": nip, "k_from": since} for nip, since in keys])
                total += len(keys)
        return total

    def purge_quarantine(self, before: dt.datetime, *, chunk: int = CHUNK) -> int:
        """Delete quarantine rows created before ``before``; returns how many."""
        pick = (
            sa.select(quarantine.c.id)
            .where(quarantine.c.created_at < before)
            .order_by(quarantine.c.id)
            .limit(chunk)
        )
        return self._delete_by_id(quarantine, pick, "retention.quarantine")

    def purge_outbox_bodies(self, before: dt.datetime, *, chunk: int = CHUNK) -> int:
        """Empty payload and response of finished outbox items last updated before
        ``before``; returns how many. Owed items (``pending``, ``retry``) are never touched."""
        pick = (
            sa.select(outbox.c.id)
            .where(outbox.c.status.in_(PURGED_OUTBOX_STATUSES))
            .where(outbox.c.updated_at < before)
            .where(_not_emptied(outbox.c.payload))
            .order_by(outbox.c.id)
            .limit(chunk)
        )
        total = 0
        for _ in self._chunks():
            with self._tx(None, "retention.outbox") as c:
                ids = c.scalars(pick).all()
                if not ids:
                    break
                # updated_at stays: it is when the item was finished, not when it was purged
                c.execute(
                    sa.update(outbox).where(outbox.c.id.in_(ids)).values(payload={}, response=None)
                )
                total += len(ids)
        return total

    def report_paths(self, before: dt.datetime) -> list[str]:
        """Paths of the report files named in ``extra.report`` of lineage records created
        before ``before`` (reads only; the caller removes the files)."""
        query = sa.select(lineage.c.record).where(lineage.c.created_at < before)
        paths: set[str] = set()
        with self._tx(None, "retention.report_paths") as c:
            for (record,) in c.execute(query):
                extra = record.get("extra") if isinstance(record, Mapping) else None
                report = extra.get("report") if isinstance(extra, Mapping) else None
                paths.update(_strings(report))
        return sorted(paths)

    # -- helpers ----------------------------------------------------------------------------

    def _delete_by_id(self, table: sa.Table, pick: sa.Select[Any], operation: str) -> int:
        total = 0
        for _ in self._chunks():
            with self._tx(None, operation) as c:
                ids = c.scalars(pick).all()
                if not ids:
                    break
                c.execute(sa.delete(table).where(table.c.id.in_(ids)))
                total += len(ids)
        return total

    @staticmethod
    def _chunks() -> Iterator[int]:
        # each chunk shrinks what is left to purge, so the loop ends; no upper bound needed
        n = 0
        while True:
            yield n
            n += 1


def _strings(value: Any) -> Iterator[str]:
    """Every string in a nested ``extra.report`` (``{"html": p, "csv": {name: p}}``)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
