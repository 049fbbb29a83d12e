"""Selections: stored lists of NIPs that a re-pull of specific employees reads by id.

A re-pull of some employees (a record fixed in SIASN, an usulan waiting for the mirror) used to
take the NIPs as a DAG param, so they showed in the Airflow UI: the run's conf, the rendered
template fields, the audit log. Now the NIPs go into the store, the one place they may live,
and Airflow only ever sees the selection's id (``sel-20261130-ab12cd``) and its count.

``asn_selection`` holds one row per selection: id, creation time, the purpose the operator gave,
the count, and the NIPs (sorted, unique, validated). Selections are immutable: a changed list
is a new selection, so a run's id always names exactly what it pulled.
"""

from __future__ import annotations

import builtins
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.models.nip import NipError, normalize_nip
from siapp_siasn.store.base import Repository
from siapp_siasn.store.tables import metadata
from siapp_siasn.store.types import JSONType, UTCDateTime, utcnow

__all__ = [
    "MAX_SELECTION",
    "SELECTION_ID_PATTERN",
    "Selection",
    "SelectionError",
    "SelectionRepository",
    "asn_selection",
    "is_selection_id",
    "read_nip_list",
]

#: what a selection id looks like (the DAG param's pattern: the trigger form checks it)
SELECTION_ID_PATTERN = r"^sel-[0-9]{8}-[0-9a-f]{6}$"
_SELECTION_ID_RE = re.compile(SELECTION_ID_PATTERN)
#: employees per selection: a re-pull of some, not a sweep (that is ``full_refresh``)
MAX_SELECTION = 20_000
PURPOSE_MAX = 500
#: a run of 16 digits or more in a purpose is a NIK or a NIP: refused, the purpose is shown
_ID_NUMBER_RE = re.compile(r"[0-9]{16,}")
#: the ids are dated as the agreement's calendar is (Jakarta)
_LOCAL_TZ = ZoneInfo("Asia/Jakarta")

asn_selection = sa.Table(
    "asn_selection",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("purpose", sa.Text(), nullable=False),
    sa.Column("count", sa.Integer(), nullable=False),
    sa.Column("nips", JSONType, nullable=False),
    sa.Index(None, "created_at"),
)


class SelectionError(ValueError):
    """A selection cannot be made or found; the message names no NIP (line numbers, kinds)."""


@dataclass(frozen=True, slots=True)
class Selection:
    """A stored selection, without its NIPs (read them with ``store.selection.nips(id)``)."""

    id: str
    created_at: datetime
    purpose: str
    count: int

    def summary(self) -> dict[str, Any]:
        """JSON-safe, NIP-free: what the CLI prints and a lineage record may carry."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "purpose": self.purpose,
            "count": self.count,
        }


def is_selection_id(value: object) -> bool:
    """Whether ``value`` has the form of a selection id (it may still be unknown)."""
    return isinstance(value, str) and _SELECTION_ID_RE.fullmatch(value) is not None


def read_nip_list(text: str) -> list[str]:
    """The NIPs of a file's text: separated by newlines, commas, semicolons or blanks; ``#``
    starts a comment; the printed form ``yyyymmdd yyyymm g nnn`` is not accepted here (its
    blanks separate). Sorted and unique.

    Raises :class:`SelectionError` naming the lines and the kind of each fault, never a value.
    """
    nips: set[str] = set()
    faults: list[str] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        for token in re.split(r"[\s,;]+", line.split("#", 1)[0]):
            token = token.strip().strip("'\"")
            if not token:
                continue
            try:
                nips.add(normalize_nip(token))
            except NipError as exc:
                faults.append(f"line {line_no}: {exc.kind}")
    if faults:
        shown = "; ".join(faults[:10]) + (f"; +{len(faults) - 10} more" if len(faults) > 10 else "")
        raise SelectionError(f"{len(faults)} entries are not valid NIPs ({shown})")
    return sorted(nips)


def _check_purpose(purpose: str) -> str:
    purpose = " ".join(purpose.split())
    if not purpose:
        raise SelectionError("a selection needs a purpose (why these employees are re-pulled)")
    if len(purpose) > PURPOSE_MAX:
        raise SelectionError(f"the purpose is longer than {PURPOSE_MAX} characters")
    if _ID_NUMBER_RE.search(purpose):
        # the purpose is shown by the CLI and the audit page: no NIP or NIK in it
        raise SelectionError("the purpose must not contain a NIP or NIK (16+ digits)")
    return purpose


class SelectionRepository(Repository):
    """``store.selection``: create selections of NIPs, read their NIPs back by id."""

    def create(
        self,
        nips: Iterable[str],
        purpose: str,
        *,
        now: datetime | None = None,
        conn: Connection | None = None,
    ) -> Selection:
        """Store a new selection of ``nips`` (validated, de-duplicated) and return it.

        Raises :class:`SelectionError` for an empty list, an invalid NIP, too many NIPs or a
        purpose that is empty, too long or holds a NIP/NIK.
        """
        purpose = _check_purpose(purpose)
        unique: set[str] = set()
        bad: dict[str, int] = {}
        for value in nips:
            try:
                unique.add(normalize_nip(value))
            except NipError as exc:
                bad[exc.kind] = bad.get(exc.kind, 0) + 1
        if bad:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(bad.items()))
            raise SelectionError(f"{sum(bad.values())} entries are not valid NIPs ({kinds})")
        if not unique:
            raise SelectionError("a selection needs at least one NIP")
        if len(unique) > MAX_SELECTION:
            raise SelectionError(
                f"{len(unique)} NIPs: a selection holds at most {MAX_SELECTION} "
                "(sweep everyone with full_refresh instead)"
            )
        created = now or utcnow()
        day = created.astimezone(_LOCAL_TZ).strftime("%Y%m%d")
        with self._tx(conn, "selection.create") as c:
            while True:  # 16.7 million ids a day: a clash is rare, and then drawn again
                selection_id = f"sel-{day}-{secrets.token_hex(3)}"
                taken = c.scalar(
                    sa.select(sa.func.count())
                    .select_from(asn_selection)
                    .where(asn_selection.c.id == selection_id)
                )
                if not taken:
                    break
            c.execute(
                asn_selection.insert().values(
                    id=selection_id,
                    created_at=created,
                    purpose=purpose,
                    count=len(unique),
                    nips=sorted(unique),
                )
            )
        return Selection(selection_id, created, purpose, len(unique))

    def get(self, selection_id: str, *, conn: Connection | None = None) -> Selection | None:
        """The selection ``selection_id`` (without its NIPs), or None."""
        q = sa.select(
            asn_selection.c.id,
            asn_selection.c.created_at,
            asn_selection.c.purpose,
            asn_selection.c.count,
        ).where(asn_selection.c.id == selection_id)
        with self._tx(conn, "selection.get") as c:
            row = c.execute(q).first()
        return Selection(*row) if row is not None else None

    def nips(self, selection_id: str, *, conn: Connection | None = None) -> builtins.list[str]:
        """The NIPs of ``selection_id``, sorted; :class:`SelectionError` when it is unknown."""
        if not is_selection_id(selection_id):
            raise SelectionError(
                "a selection id looks like sel-20261130-ab12cd (siapp-siasn select create)"
            )
        q = sa.select(asn_selection.c.nips).where(asn_selection.c.id == selection_id)
        with self._tx(conn, "selection.nips") as c:
            nips = c.scalar(q)
        if nips is None:
            raise SelectionError(
                f"selection {selection_id} is not in this store: create it with "
                "`siapp-siasn select create --file nips.txt --purpose ...` against the "
                "store the DAG uses"
            )
        return sorted(nips)

    def list(self, *, limit: int = 100) -> builtins.list[Selection]:
        """The newest selections (without their NIPs)."""
        q = (
            sa.select(
                asn_selection.c.id,
                asn_selection.c.created_at,
                asn_selection.c.purpose,
                asn_selection.c.count,
            )
            .order_by(asn_selection.c.created_at.desc(), asn_selection.c.id)
            .limit(limit)
        )
        with self._tx(None, "selection.list") as c:
            return [Selection(*row) for row in c.execute(q).all()]
