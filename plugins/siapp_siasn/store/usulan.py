"""Usulan lifecycle repository: one row per proposal (usulan) with its current fields and the
time it reached each stage (submitted, sent, BKN verified, pertek, ..., keppres applied).

Fields overwrite; stage stamps are set once (the first time wins), so replaying a flow leaves
the row as it was.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.base import Repository, binds, where_given
from siapp_siasn.store.tables import outbox, quarantine, usulan_lifecycle
from siapp_siasn.store.types import utcnow
from siapp_siasn.store.values import coerce, values_for
from siapp_siasn.utils import chunks

__all__ = ["LIFECYCLE_FIELDS", "LIFECYCLE_STAMPS", "REFUSAL_FLOW", "UsulanRepository"]

#: the outbox flow of a refusal told to SIAPP NV (``flows.usulan_rules.FLOW_PENOLAKAN``)
REFUSAL_FLOW = "penolakan"
#: the quarantine flow of the ASN mirror's employee records (F1)
ASN_FLOW = "F1"

#: Columns of ``usulan_lifecycle`` that ``usulan.upsert(fields=…)`` overwrites.
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


class UsulanRepository(Repository):
    """``store.usulan``: the usulan lifecycle."""

    def upsert(
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
        values = values_for(t, fields or {}, LIFECYCLE_FIELDS)
        if "status" in values and values["status"] is None:
            raise ValueError("usulan_lifecycle.status: may not be empty")
        given = {k: v for k, v in (stamps or {}).items() if v is not None}
        times = values_for(t, given, LIFECYCLE_STAMPS)
        params = {"id": coerce(t, "usulan_id", usulan_id), "now": utcnow(), **values, **times}
        shape = (tuple(sorted(values)), tuple(sorted(times)))
        stmt = self._statement(shape, partial(self._upsert, *shape))
        with self._tx(conn, "usulan.upsert") as c:
            c.execute(stmt, params)

    def _upsert(self, names: tuple[str, ...], stamps: tuple[str, ...]) -> Any:
        """``INSERT`` of a row with the fields ``names`` and the stamps ``stamps``; on conflict,
        the fields overwrite and the stamps fill what is empty, where that changes something
        (parameters: ``id``, ``now`` and one per field and stamp)."""
        t, now = usulan_lifecycle, sa.bindparam("now")
        ins = self._insert(t).values(
            {
                **binds(t, (*names, *stamps)),
                "usulan_id": sa.bindparam("id"),
                "created_at": now,
                "updated_at": now,
            }
        )
        if not names and not stamps:
            return ins.on_conflict_do_nothing(index_elements=[t.c.usulan_id])
        set_: dict[str, Any] = {k: ins.excluded[k] for k in names}
        set_.update({k: sa.func.coalesce(t.c[k], ins.excluded[k]) for k in stamps})
        set_["updated_at"] = ins.excluded.updated_at
        changed = sa.or_(
            *(t.c[k].is_distinct_from(ins.excluded[k]) for k in names),
            *(t.c[k].is_(None) for k in stamps),
        )
        return ins.on_conflict_do_update(index_elements=[t.c.usulan_id], set_=set_, where=changed)

    def get(self, usulan_id: str, *, conn: Connection | None = None) -> dict[str, Any] | None:
        """The lifecycle row of ``usulan_id`` (every column), or None."""
        t = usulan_lifecycle
        with self._tx(conn, "usulan.get") as c:
            r = c.execute(sa.select(t).where(t.c.usulan_id == usulan_id)).mappings().first()
        return dict(r) if r is not None else None

    def list(
        self,
        *,
        status: str | None = None,
        status_bkn: str | None = None,
        conn: Connection | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Lifecycle rows ordered by ``usulan_id``, optionally filtered."""
        t = usulan_lifecycle
        q = where_given(
            sa.select(t).order_by(t.c.usulan_id),
            ((t.c.status, status), (t.c.status_bkn, status_bkn)),
        )
        with self._tx(conn, "usulan.list") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def no_answer(
        self, *, as_of: dt.datetime, days: int, conn: Connection | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Usulan SIAPP NV sent that have no answer ``days`` days after ``submitted_at``.

        No answer: neither delivered to SIASN (no ``sent_at``, no BKN id: in public mode the
        link is the delivery) nor refused back to SIAPP NV (no ``penolakan`` outbox row
        ``sent``: a refusal not yet delivered is no answer either). Rows are
        ``{"usulan_id", "status", "age_days"}`` (whole days since submission at ``as_of``),
        oldest first: ids and ages only, no personal data. The reconciliation reports them as
        category ``usulan_no_answer``.
        """
        if days < 0:
            raise ValueError("no_answer: days must be >= 0")
        t, o = usulan_lifecycle, outbox
        refused = (
            sa.exists()
            .where(
                o.c.flow == REFUSAL_FLOW,
                o.c.entity_id == t.c.usulan_id,
                o.c.status == "sent",
            )
            .correlate(t)
        )
        q = (
            sa.select(t.c.usulan_id, t.c.status, t.c.submitted_at)
            .where(
                t.c.submitted_at.is_not(None),
                t.c.submitted_at <= as_of - dt.timedelta(days=days),
                t.c.sent_at.is_(None),
                t.c.bkn_usulan_id.is_(None),
                ~refused,
            )
            .order_by(t.c.submitted_at, t.c.usulan_id)
        )
        with self._tx(conn, "usulan.no_answer") as c:
            return [
                {
                    "usulan_id": r.usulan_id,
                    "status": r.status,
                    "age_days": (as_of - r.submitted_at).days,
                }
                for r in c.execute(q)
            ]

    def employees_quarantined(
        self, key_hashes: Iterable[str], *, conn: Connection | None = None
    ) -> set[str]:
        """Which of ``key_hashes`` (keyed hashes of NIPs, ``store.quarantine.key_hash``) have an
        F1 quarantine row: the employee is listed by SIASN but the mirror refused the record.

        An usulan of such an employee waits instead of being refused as out of scope.
        """
        wanted = sorted(set(key_hashes))
        if not wanted:
            return set()
        q = sa.select(quarantine.c.key_hash).distinct()
        with self._tx(conn, "usulan.employees_quarantined") as c:
            return {
                str(h)
                for part in chunks(wanted, 500)
                for h in c.execute(
                    q.where(quarantine.c.flow == ASN_FLOW, quarantine.c.key_hash.in_(part))
                ).scalars()
            }

    def stats(self, *, conn: Connection | None = None) -> dict[str, int]:
        """Usulan counts: ``total``, per stage how many carry each stamp (``{stamp: n}``, every
        stamp present, 0 included) and per status (``"status:{status}": n``)."""
        t = usulan_lifecycle
        stage = sa.select(
            sa.func.count().label("total"),
            *(sa.func.count(t.c[s]).label(s) for s in LIFECYCLE_STAMPS),
        )
        by_status = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        with self._tx(conn, "usulan.stats") as c:
            out = {k: int(v or 0) for k, v in c.execute(stage).mappings().one().items()}
            for status, n in c.execute(by_status):
                out[f"status:{status}"] = n
        return out
