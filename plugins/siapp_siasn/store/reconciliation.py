"""Reconciliation repository: the runs of the document reconciliation, the document keys they
found not ok (with their repair bookkeeping) and the decree cross-checks.

An item is one document key ``(usulan_id, direction, ref)`` that a run found not ok — the
comparison's key (:data:`siapp_siasn.flows.reconciliation.KEY`): ``ref`` is the ledger's
``doc_id``, so two documents of one ``jenis`` (a version and its replacement, or the SIASN
orphans, all listed as ``UPLOAD``) are two items. ``jenis`` is kept as a plain column. ``""``
stands for a key part the item has not (an usulan with no answer has no direction nor ref).
Its life:

* **open** — seen not ok by the latest complete run (``resolved_at`` empty). A later run that
  still sees it moves ``last_seen_*`` and takes its new category; ``first_seen_*`` stay.
* **repair** — :meth:`ReconciliationRepository.to_repair` hands out open, unflagged items of a
  repairable category with fewer than ``max_attempts`` attempts, once per observation (an
  item attempted since it was last seen waits for the next run to look again);
  :meth:`~ReconciliationRepository.mark_repair_attempt` counts the attempt.
* **flagged** — :meth:`~ReconciliationRepository.flag_unrepairable` records the reason once;
  flagged items are never handed out for repair again.
* **resolved** — a complete run that no longer sees the key closes it (``resolved_at``,
  ``resolved_run``); the row stays for audit. Should the key go wrong again later, the same
  row is reopened as a new occurrence: first seen, attempts and flag start afresh.

No personal data: keys, categories, reason codes; the decree checks store a keyed hash of the
NIP (the store's secret, as in quarantine), never the NIP.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from siapp_siasn.store.base import Repository, where_given
from siapp_siasn.store.errors import StoreError
from siapp_siasn.store.tables import (
    KEPPRES_CHECK_STATUSES,
    KEPPRES_KINDS,
    keppres_check,
    reconciliation_item,
    reconciliation_run,
)
from siapp_siasn.store.types import UTCDateTime, utcnow
from siapp_siasn.store.values import coerce, short_error

__all__ = [
    "REPAIRABLE_CATEGORIES",
    "ItemKey",
    "KeppresCheck",
    "ReconItem",
    "ReconciliationRepository",
]

#: Categories :meth:`ReconciliationRepository.to_repair` hands out by default: what a
#: re-transfer through the outbox can fix.
REPAIRABLE_CATEGORIES: tuple[str, ...] = (
    "missing_at_siasn",
    "missing_at_siapp",
    "hash_mismatch",
    "size_mismatch",
)

_KEY = ("usulan_id", "direction", "ref")


class ItemKey(NamedTuple):
    """The key of a reconciliation item; ``""`` for a key part the item has not."""

    usulan_id: str
    direction: str = ""
    ref: str = ""


class ReconItem(NamedTuple):
    """One document key a run found not ok, with its category and, when known, its ``jenis``
    (any tuple ``(usulan_id, direction, ref, category[, jenis])`` will do)."""

    usulan_id: str
    direction: str | None
    ref: str | None
    category: str
    jenis: str | None = None


class KeppresCheck(NamedTuple):
    """The outcome of one decree cross-check. ``nip`` is hashed by the store, never stored."""

    usulan_id: str
    kind: str  # one of KEPPRES_KINDS
    nip: str
    delivered_at: dt.datetime
    status: str  # one of KEPPRES_CHECK_STATUSES
    age_days: int


def _missing(value: Any) -> bool:
    """None, or pandas' missing value (NaN, ``pd.NA``) of a key part read from a DataFrame."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _key(usulan_id: Any, direction: Any = None, ref: Any = None) -> ItemKey:
    """The stored form of a key: strings checked against the column lengths, a missing part
    (None, NaN, ``pd.NA``) as ``""``."""
    t = reconciliation_item
    if _missing(usulan_id) or usulan_id == "":
        raise ValueError("reconciliation_item.usulan_id: may not be empty")
    return ItemKey(
        coerce(t, "usulan_id", usulan_id),
        "" if _missing(direction) else coerce(t, "direction", str(direction)),
        "" if _missing(ref) else coerce(t, "ref", ref),
    )


def _as_key(key: ItemKey | Sequence[Any]) -> ItemKey:
    return _key(*key)


def _key_match() -> sa.ColumnElement[bool]:
    """``WHERE`` on the key with parameters ``k_usulan_id``, ``k_direction``, ``k_ref``."""
    t = reconciliation_item
    return sa.and_(*(t.c[k] == sa.bindparam(f"k_{k}", type_=t.c[k].type) for k in _KEY))


def _key_params(key: ItemKey) -> dict[str, str]:
    return {f"k_{k}": v for k, v in zip(_KEY, key, strict=True)}


def _now(value: dt.datetime | None) -> dt.datetime:
    return value if value is not None else utcnow()


class ReconciliationRepository(Repository):
    """``store.reconciliation``: runs, items not ok and their repair, decree cross-checks."""

    def __init__(self, engine: Engine, key_hash: Callable[[str], str]) -> None:
        super().__init__(engine)
        self._key_hash = key_hash

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        run_id: str,
        *,
        params: Mapping[str, Any],
        started_at: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Record the start of run ``run_id`` with its params (JSON). Starting a run again (a
        retried task) keeps its first ``started_at`` and takes the new params."""
        t = reconciliation_run
        ins = self._insert(t).values(
            run_id=coerce(t, "run_id", run_id), started_at=_now(started_at), params=dict(params)
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[t.c.run_id], set_={"params": ins.excluded.params}
        )
        with self._tx(conn, "reconciliation.start_run") as c:
            c.execute(stmt)

    def finish_run(
        self,
        run_id: str,
        *,
        counts: Mapping[str, int],
        report_csv: str | None = None,
        report_html: str | None = None,
        finished_at: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Record the end of run ``run_id``: counts per category (JSON) and the report paths.
        Finishing again overwrites them; an unknown run is an error."""
        t = reconciliation_run
        stmt = (
            sa.update(t)
            .where(t.c.run_id == run_id)
            .values(
                finished_at=_now(finished_at),
                counts={str(k): int(v) for k, v in counts.items()},
                report_csv=coerce(t, "report_csv", report_csv),
                report_html=coerce(t, "report_html", report_html),
            )
        )
        with self._tx(conn, "reconciliation.finish_run") as c:
            if not c.execute(stmt).rowcount:
                raise StoreError("store reconciliation.finish_run failed: run not started")

    def get_run(self, run_id: str, *, conn: Connection | None = None) -> dict[str, Any] | None:
        """The row of run ``run_id`` (every column), or None."""
        t = reconciliation_run
        with self._tx(conn, "reconciliation.get_run") as c:
            r = c.execute(sa.select(t).where(t.c.run_id == run_id)).mappings().first()
        return dict(r) if r is not None else None

    def runs(
        self, *, limit: int = 20, conn: Connection | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The latest runs, newest first (every column)."""
        t = reconciliation_run
        q = sa.select(t).order_by(t.c.started_at.desc(), t.c.run_id.desc()).limit(limit)
        with self._tx(conn, "reconciliation.runs") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    # ------------------------------------------------------------------ items

    def upsert_items(
        self,
        run_id: str,
        items: Iterable[ReconItem | Sequence[Any]],
        *,
        seen_at: dt.datetime | None = None,
        complete: bool = True,
        whole: bool = False,
        conn: Connection | None = None,
    ) -> dict[str, int]:
        """Record the items run ``run_id`` found not ok (``(usulan_id, direction, ref,
        category[, jenis])`` each; within one call the last of a key wins).

        New keys (and keys resolved before: reopened) are inserted, open keys seen again get
        ``last_seen_*`` and their category. When ``complete``, the run's comparison is done:
        open items this run has not reported (in this call or an earlier one of the same run,
        so a run may send its items in batches and pass ``complete`` with the last) are
        resolved. Pass ``complete=False`` when part of an inventory could not be read: nothing
        is resolved on the strength of a partial view. Returns the counts of this call:
        ``new`` (inserted or reopened), ``open`` (seen again), ``resolved``. A rerun with the
        same items changes nothing but ``last_seen_at``.

        ``whole``: ``items`` is everything this attempt of the run found (a retried task
        compares anew): when ``complete``, open items an earlier attempt of the same run
        reported but this one did not are resolved too (they would otherwise stay open, and
        be repaired again, though the document is fine now).
        """
        t = reconciliation_item
        now = _now(seen_at)
        run = coerce(t, "last_seen_run", run_id)
        incoming: dict[ItemKey, str] = {}
        jenis_of: dict[ItemKey, str | None] = {}
        for usulan_id, direction, ref, category, *rest in items:
            key = _key(usulan_id, direction, ref)
            if not category:
                raise ValueError("reconciliation_item.category: may not be empty")
            incoming[key] = coerce(t, "category", category)
            jenis = rest[0] if rest else None
            jenis_of[key] = None if _missing(jenis) or jenis == "" else coerce(t, "jenis", jenis)
        with self._tx(conn, "reconciliation.upsert_items") as c:
            open_keys = {
                ItemKey(*r)
                for r in c.execute(
                    sa.select(*(t.c[k] for k in _KEY)).where(t.c.resolved_at.is_(None))
                )
            }
            seen = [k for k in incoming if k in open_keys]
            fresh = [k for k in incoming if k not in open_keys]
            if seen:
                c.execute(
                    self._statement("seen", self._seen),
                    [
                        {
                            **_key_params(k),
                            "category": incoming[k],
                            "jenis": jenis_of[k],
                            "run": run,
                            "now": now,
                        }
                        for k in seen
                    ],
                )
            if fresh:
                c.execute(
                    self._statement("fresh", self._fresh),
                    [
                        {
                            **k._asdict(),
                            "category": incoming[k],
                            "jenis": jenis_of[k],
                            "run": run,
                            "now": now,
                        }
                        for k in fresh
                    ],
                )
            resolved = 0
            if complete:
                resolve = self._statement("resolve", self._resolve)
                resolved = c.execute(resolve, {"run": run, "now": now}).rowcount
                gone = [k for k in open_keys if k not in incoming]
                if whole and gone:
                    # rowcount of executemany is not reliable on every driver: count the keys
                    # that the statement above left open (last seen by this very run)
                    still = {
                        ItemKey(*r)
                        for r in c.execute(
                            sa.select(*(t.c[k] for k in _KEY)).where(t.c.resolved_at.is_(None))
                        )
                    }
                    again = [k for k in gone if k in still]
                    if again:
                        c.execute(
                            self._statement("resolve_key", self._resolve_key),
                            [{**_key_params(k), "run": run, "now": now} for k in again],
                        )
                        resolved += len(again)
        return {"new": len(fresh), "open": len(seen), "resolved": resolved}

    @staticmethod
    def _seen() -> sa.Update:
        t = reconciliation_item
        return (
            sa.update(t)
            .where(_key_match())
            .values(
                category=sa.bindparam("category", type_=t.c.category.type),
                jenis=sa.func.coalesce(sa.bindparam("jenis", type_=t.c.jenis.type), t.c.jenis),
                last_seen_run=sa.bindparam("run", type_=t.c.last_seen_run.type),
                last_seen_at=sa.bindparam("now", type_=UTCDateTime()),
            )
        )

    def _fresh(self) -> Any:
        """``INSERT`` of a new item; a resolved row of the key is reopened as a new occurrence
        (a concurrent writer's open row is left alone)."""
        t = reconciliation_item
        run = sa.bindparam("run", type_=t.c.first_seen_run.type)
        now = sa.bindparam("now", type_=UTCDateTime())
        ins = self._insert(t).values(
            usulan_id=sa.bindparam("usulan_id", type_=t.c.usulan_id.type),
            direction=sa.bindparam("direction", type_=t.c.direction.type),
            ref=sa.bindparam("ref", type_=t.c.ref.type),
            jenis=sa.bindparam("jenis", type_=t.c.jenis.type),
            category=sa.bindparam("category", type_=t.c.category.type),
            first_seen_run=run,
            last_seen_run=run,
            first_seen_at=now,
            last_seen_at=now,
            repair_attempts=sa.literal_column("0"),
        )
        reset = (
            "last_attempt_run",
            "last_attempt_at",
            "last_error",
            "repaired_at",
            "unrepairable_reason",
            "flagged_at",
            "resolved_run",
            "resolved_at",
        )
        return ins.on_conflict_do_update(
            index_elements=[t.c[k] for k in _KEY],
            set_={
                **{
                    k: ins.excluded[k]
                    for k in (
                        "category",
                        "jenis",
                        "first_seen_run",
                        "last_seen_run",
                        "first_seen_at",
                        "last_seen_at",
                    )
                },
                "repair_attempts": sa.literal_column("0"),
                **{k: sa.null() for k in reset},
            },
            where=t.c.resolved_at.is_not(None),
        )

    @staticmethod
    def _resolve() -> sa.Update:
        """``UPDATE`` resolving the open items run ``run`` has not seen."""
        t = reconciliation_item
        return (
            sa.update(t)
            .where(t.c.resolved_at.is_(None), t.c.last_seen_run != sa.bindparam("run"))
            .values(
                resolved_run=sa.bindparam("run", type_=t.c.resolved_run.type),
                resolved_at=sa.bindparam("now", type_=UTCDateTime()),
            )
        )

    @staticmethod
    def _resolve_key() -> sa.Update:
        """``UPDATE`` resolving one open item by its key (a retried run's stale report)."""
        t = reconciliation_item
        return (
            sa.update(t)
            .where(_key_match(), t.c.resolved_at.is_(None))
            .values(
                resolved_run=sa.bindparam("run", type_=t.c.resolved_run.type),
                resolved_at=sa.bindparam("now", type_=UTCDateTime()),
            )
        )

    def get_item(
        self, key: ItemKey | Sequence[Any], *, conn: Connection | None = None
    ) -> dict[str, Any] | None:
        """The row of item ``key`` (every column, open or resolved), or None."""
        stmt = self._statement(
            "get_item", lambda: sa.select(reconciliation_item).where(_key_match())
        )
        with self._tx(conn, "reconciliation.get_item") as c:
            r = c.execute(stmt, _key_params(_as_key(key))).mappings().first()
        return dict(r) if r is not None else None

    def open_items(
        self,
        category: str | None = None,
        *,
        flagged: bool | None = None,
        conn: Connection | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Open items (every column) ordered by key, optionally of one ``category`` and only
        flagged (``flagged=True``) or unflagged ones (``False``)."""
        t = reconciliation_item
        q = where_given(
            sa.select(t).where(t.c.resolved_at.is_(None)).order_by(*(t.c[k] for k in _KEY)),
            ((t.c.category, category),),
        )
        if flagged is not None:
            q = q.where(t.c.flagged_at.is_not(None) if flagged else t.c.flagged_at.is_(None))
        with self._tx(conn, "reconciliation.open_items") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def to_repair(
        self,
        limit: int,
        *,
        max_attempts: int = 3,
        categories: Sequence[str] = REPAIRABLE_CATEGORIES,
        conn: Connection | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """At most ``limit`` open items to repair now, oldest first: of ``categories``, not
        flagged, fewer than ``max_attempts`` attempts, and not attempted since a run last saw
        them (one attempt per observation)."""
        t = reconciliation_item
        q = (
            sa.select(t)
            .where(
                t.c.resolved_at.is_(None),
                t.c.flagged_at.is_(None),
                t.c.category.in_(builtins.list(categories)),
                t.c.repair_attempts < max_attempts,
                t.c.last_attempt_run.is_distinct_from(t.c.last_seen_run),
            )
            .order_by(t.c.first_seen_at, *(t.c[k] for k in _KEY))
            .limit(limit)
        )
        with self._tx(conn, "reconciliation.to_repair") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def mark_repair_attempt(
        self,
        key: ItemKey | Sequence[Any],
        *,
        ok: bool,
        error: str | None = None,
        at: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Count a repair attempt of open item ``key``: ``repair_attempts + 1``; on success
        ``repaired_at`` (the next run confirms and resolves it), else ``last_error`` (a reason
        text without personal data, cut to 500 characters). Returns the new number of
        attempts; an unknown or resolved item is an error."""
        t = reconciliation_item
        when = _now(at)
        stmt = (
            sa.update(t)
            .where(_key_match(), t.c.resolved_at.is_(None))
            .values(
                repair_attempts=t.c.repair_attempts + 1,
                last_attempt_run=t.c.last_seen_run,
                last_attempt_at=when,
                last_error=None if ok else short_error(error or "repair failed"),
                repaired_at=when if ok else t.c.repaired_at,
            )
            .returning(t.c.repair_attempts)
        )
        with self._tx(conn, "reconciliation.mark_repair_attempt") as c:
            attempts = c.execute(stmt, _key_params(_as_key(key))).scalar_one_or_none()
        if attempts is None:
            raise StoreError("store reconciliation.mark_repair_attempt failed: no open item")
        return int(attempts)

    def flag_unrepairable(
        self,
        key: ItemKey | Sequence[Any],
        reason: str,
        *,
        at: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> bool:
        """Flag open item ``key`` as unrepairable with ``reason`` (a code, no personal data),
        once: returns True when flagged now, False when it was flagged already (the first
        reason and time are kept). An unknown or resolved unflagged item is an error."""
        t = reconciliation_item
        if not reason:
            raise ValueError("reconciliation_item.unrepairable_reason: may not be empty")
        params = _key_params(_as_key(key))
        stmt = (
            sa.update(t)
            .where(_key_match(), t.c.resolved_at.is_(None), t.c.flagged_at.is_(None))
            .values(unrepairable_reason=reason.strip()[:255], flagged_at=_now(at))
        )
        with self._tx(conn, "reconciliation.flag_unrepairable") as c:
            if c.execute(stmt, params).rowcount:
                return True
            flagged_at = c.execute(sa.select(t.c.flagged_at).where(_key_match()), params).first()
        if flagged_at is not None and flagged_at[0] is not None:
            return False
        raise StoreError("store reconciliation.flag_unrepairable failed: no open item")

    def stats(self, *, conn: Connection | None = None) -> dict[str, int]:
        """Item counts: ``open``, ``flagged`` (open and flagged), ``resolved`` and one per
        category of the open items (``"open:{category}": n``)."""
        t = reconciliation_item
        q = sa.select(
            t.c.category,
            t.c.resolved_at.is_(None),
            t.c.flagged_at.is_not(None),
            sa.func.count(),
        ).group_by(t.c.category, t.c.resolved_at.is_(None), t.c.flagged_at.is_not(None))
        out = {"open": 0, "flagged": 0, "resolved": 0}
        with self._tx(conn, "reconciliation.stats") as c:
            for category, is_open, is_flagged, n in c.execute(q):
                if not is_open:
                    out["resolved"] += n
                    continue
                out["open"] += n
                out["flagged"] += n if is_flagged else 0
                out[f"open:{category}"] = out.get(f"open:{category}", 0) + n
        return out

    # ------------------------------------------------------------------ decree cross-checks

    def upsert_keppres_checks(
        self,
        checks: Iterable[KeppresCheck],
        *,
        run_id: str,
        checked_at: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Record the outcome of decree cross-checks: one row per (usulan, kind), overwritten
        by each later check; the NIP is stored as its keyed hash. Returns rows written."""
        t = keppres_check
        now = _now(checked_at)
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for check in checks:
            if check.kind not in KEPPRES_KINDS:
                raise ValueError(f"keppres_check.kind: one of {', '.join(KEPPRES_KINDS)}")
            if check.status not in KEPPRES_CHECK_STATUSES:
                raise ValueError(
                    f"keppres_check.status: one of {', '.join(KEPPRES_CHECK_STATUSES)}"
                )
            usulan_id = coerce(t, "usulan_id", check.usulan_id)
            rows[(usulan_id, check.kind)] = {
                "usulan_id": usulan_id,
                "kind": check.kind,
                "nip_hash": self._key_hash(str(check.nip)),
                "delivered_at": coerce(t, "delivered_at", check.delivered_at),
                "checked_at": now,
                "status": check.status,
                "age_days": coerce(t, "age_days", check.age_days),
                "run_id": coerce(t, "run_id", run_id),
            }
        if not rows:
            return 0
        with self._tx(conn, "reconciliation.upsert_keppres_checks") as c:
            c.execute(
                self._statement("keppres", self._keppres_upsert), builtins.list(rows.values())
            )
        return len(rows)

    def _keppres_upsert(self) -> Any:
        t = keppres_check
        names = ("nip_hash", "delivered_at", "checked_at", "status", "age_days", "run_id")
        ins = self._insert(t).values(
            {k: sa.bindparam(k, type_=t.c[k].type) for k in ("usulan_id", "kind", *names)}
        )
        return ins.on_conflict_do_update(
            index_elements=[t.c.usulan_id, t.c.kind], set_={k: ins.excluded[k] for k in names}
        )

    def keppres_checks(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        conn: Connection | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Decree cross-check rows (every column) ordered by usulan and kind, optionally
        filtered."""
        t = keppres_check
        q = where_given(
            sa.select(t).order_by(t.c.usulan_id, t.c.kind),
            ((t.c.status, status), (t.c.kind, kind)),
        )
        with self._tx(conn, "reconciliation.keppres_checks") as c:
            return [dict(r) for r in c.execute(q).mappings()]
