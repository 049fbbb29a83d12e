"""The store API the flows call: pure Python, no Airflow.

Every write method takes an optional ``conn``: pass the connection of
``with store.transaction() as conn:`` to group several writes (a batch, its checkpoint and the
watermark) into one transaction; without it each call commits on its own.

Database errors surface as :class:`StoreError` whose message names the operation, the error
class, SQLSTATE and constraint, never a value (statement parameters are hidden as well).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Engine

from siapp_siasn.models.redact import keyed_hash, redact, redact_raw
from siapp_siasn.store import _pg, _sqlite
from siapp_siasn.store.config import (
    DEFAULT_CONN_ID,
    HASH_KEY_ENV,
    hash_key_from_airflow,
    store_url_from_airflow,
)
from siapp_siasn.store.engine import make_engine, normalize_url
from siapp_siasn.store.migrate import current_revision, head_revision, migrate
from siapp_siasn.store.records import (
    AsnRow,
    BatchCounts,
    Checkpoint,
    DepartureCounts,
    QuarantineItem,
    RefCounts,
    UnknownReference,
    as_asn_row,
    numbered_family,
)
from siapp_siasn.store.tables import (
    ASN_TYPED_COLUMNS,
    asn,
    asn_family,
    asn_history,
    checkpoint,
    document_ledger,
    lineage,
    metadata,
    outbox,
    quarantine,
    referensi,
    sync_state,
    usulan_lifecycle,
)
from siapp_siasn.store.types import UTCDateTime, to_utc, utcnow
from siapp_siasn.store.usulan import UsulanStore
from siapp_siasn.utils import canonical_json, sha256_json

log = logging.getLogger(__name__)

#: Used when no secret is configured; fine for the demo and tests, never for production.
DEVELOPMENT_HASH_KEY = b"siapp-siasn-development-hash-key"

#: asn column -> reference table (``referensi.ref``) that should hold its ids.
REFERENCE_COLUMNS: dict[str, str] = {
    "gol_ruang_awal_id": "golongan",
    "gol_ruang_akhir_id": "golongan",
    "instansi_induk_id": "instansi",
    "instansi_kerja_id": "instansi",
    "agama_id": "agama",
    "eselon_id": "eselon",
    "jenis_jabatan_id": "jenis-jabatan",
    "kedudukan_pns_id": "kedudukan-hukum",
    "jabatan_fungsional_id": "jabatan-fungsional",
    "unor_id": "unor",
    "tk_pendidikan_terakhir_id": "tingkat-pendidikan",
}

_CHUNK = 900  # ids per IN (...) list: well under every dialect's bind limit
_REF_WRAPPER_KEYS = frozenset({"id", "nama", "payload"})
_HISTORY_COPY_COLUMNS = ("nip", "record_hash", *ASN_TYPED_COLUMNS, "payload")


class StoreError(RuntimeError):
    """A database operation of the store failed (message free of personal values)."""


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _describe(operation: str, exc: BaseException) -> str:
    """A message naming the operation and the error's class, SQLSTATE, table, column and
    constraint, and never a value (PostgreSQL's message and DETAIL may quote row values)."""
    orig = getattr(exc, "orig", None) or exc
    parts = [f"store {operation} failed: {type(orig).__name__}"]
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        parts.append(f"sqlstate={sqlstate}")
    diag = getattr(orig, "diag", None)
    for attr in ("table_name", "column_name", "constraint_name"):
        value = getattr(diag, attr, None) if diag is not None else None
        if value:
            parts.append(f"{attr.split('_')[0]}={value}")
    if isinstance(orig, sqlite3.Error):
        # SQLite messages name constraints and columns, never values
        parts.append(f"({orig})")
    return " ".join(parts)


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


def _watermark_text(value: str | dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return to_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


_SHIM = {
    "referensi": {"upsert": "upsert_referensi", "ids": "referensi_ids"},
    "asn": {"apply_batch": "apply_asn_batch", "get": "get_asn", "history": "asn_history"},
    "state": {},
    "quarantine": {"add": "_add_quarantine", "list": "list_quarantine"},
    "lineage": {"write": "write_lineage", "get": "get_lineage", "list": "list_lineage"},
    "quality": {"counts": "quality_counts"},
    "outbox": {"due": "due_outbox", "list": "list_outbox", "stats": "outbox_stats"},
    "documents": {
        "get": "ledger_get",
        "upsert": "ledger_upsert",
        "mark_failed": "ledger_mark_failed",
        "list": "ledger_list",
        "stats": "ledger_stats",
    },
    "usulan": {
        "upsert": "lifecycle_upsert",
        "get": "lifecycle_get",
        "list": "lifecycle_list",
        "stats": "lifecycle_stats",
    },
}


class _Shim:
    def __init__(self, store: Any, names: dict[str, str]) -> None:
        self._store, self._names = store, names

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, self._names.get(name, name))


class Store(UsulanStore):
    """The hub's own database (SQLite file or PostgreSQL).

    ``Store(url)`` takes a SQLAlchemy URL (``postgresql://``, ``postgresql+psycopg://``,
    ``sqlite:///file``) or a filesystem path (SQLite). ``hash_key`` is the secret of the keyed
    hashes in quarantine; default ``$SIAPP_SIASN_HASH_KEY``, else a development key (warned).
    """

    def __init__(
        self,
        url: str | URL | Path,
        *,
        hash_key: bytes | str | None = None,
        durable_batches: bool = False,
        **engine_kwargs: Any,
    ) -> None:
        self.url: URL = normalize_url(url)
        self.engine: Engine = make_engine(self.url, **engine_kwargs)
        self.dialect: str = self.engine.dialect.name
        #: False: on PostgreSQL, ASN batches commit with ``synchronous_commit=off`` (a server
        #: crash may lose the last few hundred milliseconds of batches, always together with
        #: the checkpoint and watermark of the same transaction, so a resumed run redoes them)
        self.durable_batches = durable_batches
        key = hash_key or os.environ.get(HASH_KEY_ENV)
        self._hash_key: bytes | None = key.encode() if isinstance(key, str) else key
        # TEMPORARY: the repository names the call sites use, over the old methods, until the
        # real repositories replace this class.
        for attr, names in _SHIM.items():
            setattr(self, attr, _Shim(self, names))

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_url(cls, url: str | URL | Path, **kwargs: Any) -> Store:
        """Same as ``Store(url, **kwargs)``."""
        return cls(url, **kwargs)

    @classmethod
    def from_airflow(
        cls, conn_id: str = DEFAULT_CONN_ID, default: str | Path | URL | None = None
    ) -> Store:
        """A store for Airflow connection ``conn_id`` (SQLite default when it is absent)."""
        return cls(
            store_url_from_airflow(conn_id, default), hash_key=hash_key_from_airflow(conn_id)
        )

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ schema

    def migrate(self, revision: str = "head") -> str | None:
        """Apply the Alembic migrations up to ``revision`` (idempotent); returns the revision."""
        with self._guard("migrate"):
            return migrate(self.engine, revision)

    def revision(self) -> str | None:
        """The schema revision of the database (None when empty)."""
        with self._guard("revision"):
            return current_revision(self.engine)

    def is_current(self) -> bool:
        """Whether the database is at the newest migration shipped with the package."""
        return self.revision() == head_revision()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def _guard(self, operation: str) -> Iterator[None]:
        try:
            yield
        except (sa.exc.StatementError, psycopg.Error, sqlite3.Error) as exc:
            # from None: tracebacks must not print the original (it may quote row values)
            raise StoreError(_describe(operation, exc)) from None

    @contextmanager
    def _tx(self, conn: Connection | None, operation: str) -> Iterator[Connection]:
        with self._guard(operation):
            if conn is not None:
                yield conn
            else:
                with self.engine.begin() as own:
                    yield own

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction for several writes: commits at the end, rolls back on error."""
        with self._tx(None, "transaction") as conn:
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            return pg_dialect.insert(table)
        if self.dialect == "sqlite":
            return sqlite_dialect.insert(table)
        raise StoreError(f"unsupported dialect {self.dialect}")

    # ------------------------------------------------------------------ reference data

    def upsert_referensi(
        self,
        ref: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        full: bool = True,
        conn: Connection | None = None,
    ) -> RefCounts:
        """Upsert the rows of reference table ``ref``.

        A row is either the raw reference row (``id`` and ``nama`` read from it, the whole row
        stored as payload) or ``{"id", "nama", "payload"}`` with the raw row under payload.

        Unchanged rows (same content hash, still active) are not touched. With ``full=True``
        the rows are the whole table: active rows not among them are marked inactive (never
        deleted); an empty full pull deactivates nothing (a warning is logged).
        """
        incoming: dict[str, tuple[str | None, Mapping[str, Any], str]] = {}
        total = 0
        missing_id = 0
        for row in rows:
            total += 1
            raw_id = row.get("id")
            if raw_id is None or str(raw_id) == "":
                missing_id += 1
                continue
            nama = row.get("nama")
            payload = row
            if isinstance(row.get("payload"), Mapping) and set(row) <= _REF_WRAPPER_KEYS:
                payload = row["payload"]  # {"id", "nama", "payload": raw row} from the flow
            digest = sha256_json(payload)
            incoming[str(raw_id)] = (None if nama is None else str(nama), payload, digest)
        if missing_id:
            raise ValueError(f"referensi {ref}: {missing_id} of {total} rows have no id")
        now = utcnow()
        with self._tx(conn, "upsert_referensi") as c:
            existing = {
                r.id: (r.hash, r.is_active)
                for r in c.execute(
                    sa.select(referensi.c.id, referensi.c.hash, referensi.c.is_active).where(
                        referensi.c.ref == ref
                    )
                )
            }
            write = []
            inserted = updated = 0
            for ref_id, (nama, payload, digest) in incoming.items():
                old = existing.get(ref_id)
                if old is None:
                    inserted += 1
                elif old[0] != digest or not old[1]:
                    updated += 1
                else:
                    continue
                write.append(
                    {
                        "ref": ref,
                        "id": ref_id,
                        "nama": nama,
                        "payload": dict(payload),
                        "hash": digest,
                        "is_active": True,
                        "first_seen": now,
                        "updated_at": now,
                    }
                )
            if write:
                ins = self._insert(referensi)
                c.execute(
                    ins.on_conflict_do_update(
                        index_elements=[referensi.c.ref, referensi.c.id],
                        set_={
                            "nama": ins.excluded.nama,
                            "payload": ins.excluded.payload,
                            "hash": ins.excluded.hash,
                            "is_active": True,
                            "updated_at": ins.excluded.updated_at,
                        },
                    ),
                    write,
                )
            deactivated = 0
            if full and not incoming:
                log.warning("referensi %s: full pull with no rows; nothing deactivated", ref)
            elif full:
                gone = sorted(
                    i for i, (_h, active) in existing.items() if active and i not in incoming
                )
                for part in _chunks(gone):
                    c.execute(
                        sa.update(referensi)
                        .where(referensi.c.ref == ref, referensi.c.id.in_(part))
                        .values(is_active=False, updated_at=now)
                    )
                deactivated = len(gone)
        counts = RefCounts(
            inserted=inserted,
            updated=updated,
            unchanged=len(incoming) - inserted - updated,
            deactivated=deactivated,
            duplicates=total - len(incoming),
        )
        log.info("referensi %s: %s", ref, counts.as_dict())
        return counts

    def referensi_ids(self, ref: str, *, active_only: bool = True) -> set[str]:
        """Ids held for reference table ``ref``."""
        q = sa.select(referensi.c.id).where(referensi.c.ref == ref)
        if active_only:
            q = q.where(referensi.c.is_active)
        with self._tx(None, "referensi_ids") as c:
            return set(c.scalars(q))

    # ------------------------------------------------------------------ ASN

    def apply_asn_batch(
        self,
        rows: Sequence[AsnRow | Mapping[str, Any]],
        run_id: str | None,
        as_of: dt.datetime,
        *,
        checkpoint: tuple[str, str, int, Any] | None = None,
        watermark: tuple[str, str | dt.date | dt.datetime] | None = None,
        quarantine: Sequence[QuarantineItem] = (),
        conn: Connection | None = None,
        fast_path: bool | None = None,
    ) -> BatchCounts:
        """Upsert one batch of employees in one transaction.

        New NIPs are inserted and open a history version (``valid_from=as_of``). A changed
        ``record_hash`` (or a departed employee seen again) updates the row, closes the open
        version at ``as_of`` and opens a new one; when the open version does not start before
        ``as_of`` (a rerun within the same instant, or an older ``as_of``) it is replaced in
        place instead, so versions never overlap. Family members are replaced per employee
        only when the family hash changes. Unchanged rows only get ``last_seen`` moved
        forward. Duplicate NIPs in a batch: the last one wins.

        ``checkpoint=(run_key, step, batch_no, state)``, ``watermark=(name, value)`` and the
        batch's rejected records (``quarantine``) are saved in the same transaction.

        The fast path (default) is, on PostgreSQL, binary COPY into a TEMP staging table and
        set-based statements (one ``INSERT … ON CONFLICT`` merge) and, on SQLite, raw
        ``executemany`` of ``INSERT … ON CONFLICT``; ``fast_path=False`` runs the portable
        SQLAlchemy Core statements instead (same result).
        """
        as_of = to_utc(as_of)
        now = utcnow()
        batch: dict[str, AsnRow] = {}
        for i, raw in enumerate(rows):
            row = as_asn_row(raw)
            if not isinstance(row.nip, str) or not row.nip:
                raise ValueError(f"ASN row {i}: nip missing")
            batch.pop(row.nip, None)
            batch[row.nip] = row
        duplicates = len(rows) - len(batch)
        use_fast = True if fast_path is None else fast_path

        with self._tx(conn, "apply_asn_batch") as c:
            existing = self._existing_state(c, list(batch))
            staged: list[tuple[AsnRow, str, dt.datetime, str | None]] = []
            unchanged: list[AsnRow] = []
            family_rows: list[AsnRow] = []
            n = {"I": 0, "C": 0, "R": 0, "F": 0}
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
                        unchanged.append(row)
                        continue
                n[op] += 1
                staged.append((row, op, valid_from, fam_hash))
                if family_changed:
                    family_rows.append(row)
            if use_fast and self.dialect == "postgresql":
                if not self.durable_batches:
                    c.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                _pg.apply(c, staged, unchanged, family_rows, run_id=run_id, as_of=as_of, now=now)
            elif use_fast and self.dialect == "sqlite":
                _sqlite.apply(
                    c, staged, unchanged, family_rows, run_id=run_id, as_of=as_of, now=now
                )
            else:
                self._apply_generic(c, staged, unchanged, family_rows, run_id, as_of, now)
            if quarantine:
                self._add_quarantine(quarantine, run_id=run_id, conn=c)
            if checkpoint is not None:
                self.save_checkpoint(*checkpoint, conn=c)
            if watermark is not None:
                self.set_watermark(*watermark, conn=c)
        counts = BatchCounts(
            inserted=n["I"],
            updated=n["C"] + n["R"] + n["F"],
            unchanged=len(unchanged),
            history_rows=n["I"] + n["C"],
            family_replaced=len(family_rows),
            duplicates=duplicates,
        )
        log.debug("asn batch: %s", counts.as_dict())
        return counts

    def _existing_state(self, c: Connection, nips: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        if not nips:
            return {}
        if self.dialect == "postgresql":
            return _pg.existing_state(c, nips)
        h = asn_history.alias("h")
        open_from = (
            sa.select(h.c.valid_from)
            .where(h.c.nip == asn.c.nip, h.c.valid_to.is_(None))
            .scalar_subquery()
        )
        out: dict[str, tuple[Any, ...]] = {}
        for part in _chunks(nips):
            q = sa.select(
                asn.c.nip, asn.c.record_hash, asn.c.family_hash, asn.c.is_active, open_from
            ).where(asn.c.nip.in_(part))
            for r in c.execute(q):
                out[r[0]] = tuple(r[1:])
        return out

    def _apply_generic(
        self,
        c: Connection,
        staged: Sequence[tuple[AsnRow, str, dt.datetime, str | None]],
        unchanged: Sequence[AsnRow],
        family_rows: Sequence[AsnRow],
        run_id: str | None,
        as_of: dt.datetime,
        now: dt.datetime,
    ) -> None:
        closing = [{"b_nip": r.nip, "b_to": vf} for r, op, vf, _ in staged if op == "C"]
        if closing:
            c.execute(
                sa.update(asn_history)
                .where(asn_history.c.nip == sa.bindparam("b_nip"), asn_history.c.valid_to.is_(None))
                .values(valid_to=sa.bindparam("b_to")),
                closing,
            )
        replacing = [{"b_nip": r.nip} for r, op, _, _ in staged if op == "R"]
        if replacing:
            c.execute(
                sa.delete(asn_history).where(
                    asn_history.c.nip == sa.bindparam("b_nip"), asn_history.c.valid_to.is_(None)
                ),
                replacing,
            )
        if staged:
            values = [
                {
                    "nip": r.nip,
                    **r.typed_values(),
                    "payload": r.payload,
                    "record_hash": r.record_hash,
                    "family_hash": fam_hash,
                    "is_active": True,
                    "departed_on": None,
                    "departure_reason": None,
                    "source_updated": r.source_updated,
                    "run_id": run_id,
                    "first_seen": as_of,
                    "last_seen": as_of,
                    "updated_at": now,
                }
                for r, _op, _vf, fam_hash in staged
            ]
            ins = self._insert(asn)
            set_ = {
                col: ins.excluded[col] for col in (*ASN_TYPED_COLUMNS, "payload", "record_hash")
            }
            set_.update(
                family_hash=sa.func.coalesce(ins.excluded.family_hash, asn.c.family_hash),
                source_updated=sa.func.coalesce(ins.excluded.source_updated, asn.c.source_updated),
                is_active=True,
                departed_on=None,
                departure_reason=None,
                run_id=ins.excluded.run_id,
                updated_at=ins.excluded.updated_at,
                last_seen=sa.case(
                    (asn.c.last_seen < ins.excluded.last_seen, ins.excluded.last_seen),
                    else_=asn.c.last_seen,
                ),
            )
            c.execute(ins.on_conflict_do_update(index_elements=[asn.c.nip], set_=set_), values)
            history = [
                {
                    "nip": r.nip,
                    "valid_from": vf,
                    "valid_to": None,
                    "record_hash": r.record_hash,
                    "is_active": True,
                    "departed_on": None,
                    "departure_reason": None,
                    "run_id": run_id,
                    **r.typed_values(),
                    "payload": r.payload,
                }
                for r, op, vf, _ in staged
                if op in ("I", "C", "R")
            ]
            if history:
                c.execute(sa.insert(asn_history), history)
        if family_rows:
            nips = [r.nip for r in family_rows]
            for part in _chunks(nips):
                c.execute(sa.delete(asn_family).where(asn_family.c.nip.in_(part)))
            members = [
                {
                    "nip": r.nip,
                    "relation": relation,
                    "ordinal": ordinal,
                    "member_id": m.member_id,
                    "nama": m.nama,
                    "tgl_lahir": m.tgl_lahir,
                    "jenis_kelamin": m.jenis_kelamin,
                    "status_hidup": m.status_hidup,
                    "status_hubungan": m.status_hubungan,
                    "tgl_menikah": m.tgl_menikah,
                    "tgl_cerai": m.tgl_cerai,
                    "orang_tua_id": m.orang_tua_id,
                    "payload": m.payload,
                    "run_id": run_id,
                    "updated_at": now,
                }
                for r in family_rows
                for relation, ordinal, m in numbered_family(r)
            ]
            if members:
                c.execute(sa.insert(asn_family), members)
        if unchanged:
            moved = sa.and_(
                sa.bindparam("b_su", type_=sa.Date()).is_not(None),
                sa.or_(
                    asn.c.source_updated.is_(None),
                    asn.c.source_updated < sa.bindparam("b_su", type_=sa.Date()),
                ),
            )
            c.execute(
                sa.update(asn)
                .where(
                    asn.c.nip == sa.bindparam("b_nip"),
                    sa.or_(asn.c.last_seen < sa.bindparam("b_seen", type_=UTCDateTime()), moved),
                )
                .values(
                    last_seen=sa.case(
                        (
                            asn.c.last_seen < sa.bindparam("b_seen", type_=UTCDateTime()),
                            sa.bindparam("b_seen", type_=UTCDateTime()),
                        ),
                        else_=asn.c.last_seen,
                    ),
                    source_updated=sa.case(
                        (moved, sa.bindparam("b_su", type_=sa.Date())),
                        else_=asn.c.source_updated,
                    ),
                ),
                [{"b_nip": r.nip, "b_seen": as_of, "b_su": r.source_updated} for r in unchanged],
            )

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
        with self._tx(conn, "mark_departed") as c:
            h = asn_history.alias("h")
            open_from = (
                sa.select(h.c.valid_from)
                .where(h.c.nip == asn.c.nip, h.c.valid_to.is_(None))
                .scalar_subquery()
            )
            state: list[Any] = []
            for part in _chunks(wanted):
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
            for part in _chunks(closing):
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
            for part in _chunks(in_place):
                c.execute(
                    sa.update(asn_history)
                    .where(asn_history.c.nip.in_(part), asn_history.c.valid_to.is_(None))
                    .values(is_active=False, departed_on=on, departure_reason=reason, run_id=run_id)
                )
            for part in _chunks(departing):
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
        with self._tx(None, "active_nips") as c:
            return set(c.scalars(sa.select(asn.c.nip).where(asn.c.is_active)))

    def source_updated_map(self, nips: Iterable[str]) -> dict[str, str | None]:
        """``nip -> source_updated`` (ISO date text, like watermarks) for the NIPs held."""
        wanted = sorted(set(nips))
        out: dict[str, str | None] = {}
        with self._tx(None, "source_updated_map") as c:
            for part in _chunks(wanted):
                q = sa.select(asn.c.nip, asn.c.source_updated).where(asn.c.nip.in_(part))
                for nip, updated in c.execute(q):
                    out[nip] = updated.isoformat() if updated is not None else None
        return out

    def get_asn(self, nip: str) -> dict[str, Any] | None:
        """The current row of one employee (all columns), or None."""
        with self._tx(None, "get_asn") as c:
            row = c.execute(sa.select(asn).where(asn.c.nip == nip)).mappings().first()
            return dict(row) if row is not None else None

    def asn_history(self, nip: str) -> list[dict[str, Any]]:
        """Every version of one employee, oldest first."""
        with self._tx(None, "asn_history") as c:
            q = sa.select(asn_history).where(asn_history.c.nip == nip)
            return [dict(r) for r in c.execute(q.order_by(asn_history.c.valid_from)).mappings()]

    def family(self, nip: str) -> list[dict[str, Any]]:
        """The family members of one employee, by relation and ordinal."""
        with self._tx(None, "family") as c:
            q = (
                sa.select(asn_family)
                .where(asn_family.c.nip == nip)
                .order_by(asn_family.c.relation, asn_family.c.ordinal)
            )
            return [dict(r) for r in c.execute(q).mappings()]

    # ------------------------------------------------------------------ watermarks, checkpoints

    def get_watermark(self, name: str, *, conn: Connection | None = None) -> str | None:
        """The watermark ``name`` as stored (ISO text for dates), or None."""
        with self._tx(conn, "get_watermark") as c:
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
        with self._tx(conn, "set_watermark") as c:
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
        with self._tx(conn, "save_checkpoint") as c:
            c.execute(stmt)

    def load_checkpoint(
        self, run_key: str, step: str, *, conn: Connection | None = None
    ) -> Checkpoint | None:
        """The checkpoint of ``step`` in run ``run_key``, or None."""
        with self._tx(conn, "load_checkpoint") as c:
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
        with self._tx(conn, "clear_checkpoint") as c:
            return c.execute(stmt).rowcount

    # ------------------------------------------------------------------ quarantine, lineage

    def key_hash(self, key: str) -> str:
        """The keyed hash (HMAC-SHA256, hex) the store uses for record keys."""
        if self._hash_key is None:
            log.warning(
                "no hash key configured (%s or extra hash_key of the store connection): "
                "keyed hashes use the development key",
                HASH_KEY_ENV,
            )
            self._hash_key = DEVELOPMENT_HASH_KEY
        return keyed_hash(key, secret=self._hash_key)

    def _add_quarantine(
        self,
        items: Iterable[QuarantineItem],
        *,
        run_id: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Store rejected records: key as keyed hash, payload redacted.

        Idempotent per run: the same (run, flow, kind, key, reason) is stored once. Returns
        the number of rows newly stored.
        """
        now = utcnow()
        rows: dict[tuple[str, ...], dict[str, Any]] = {}
        for item in items:
            payload = item.payload
            if payload is None:
                safe: Any = {}
            elif isinstance(payload, Mapping | list | tuple):
                safe = redact(payload)
            else:
                safe = {"raw": redact_raw(payload)}
            row = {
                "flow": item.flow,
                "entity_kind": item.entity_kind,
                "key_hash": self.key_hash(item.key),
                "reason": item.reason[:255],
                "detail": item.detail,
                "payload": safe,
                "run_id": item.run_id or run_id or "",
                "created_at": now,
            }
            uniq = (row["run_id"], row["flow"], row["entity_kind"], row["key_hash"], row["reason"])
            rows[uniq] = row
        if not rows:
            return 0
        ins = self._insert(quarantine).on_conflict_do_nothing(
            index_elements=[
                quarantine.c.run_id,
                quarantine.c.flow,
                quarantine.c.entity_kind,
                quarantine.c.key_hash,
                quarantine.c.reason,
            ]
        )
        with self._tx(conn, "quarantine") as c:
            stored = len(c.execute(ins.returning(quarantine.c.id), list(rows.values())).all())
        log.info("quarantined %d records (%d new)", len(rows), stored)
        return stored

    def list_quarantine(
        self, *, run_id: str | None = None, flow: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Quarantined rows, newest first."""
        q = sa.select(quarantine).order_by(quarantine.c.id.desc()).limit(limit)
        if run_id is not None:
            q = q.where(quarantine.c.run_id == run_id)
        if flow is not None:
            q = q.where(quarantine.c.flow == flow)
        with self._tx(None, "list_quarantine") as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def write_lineage(self, record: Mapping[str, Any], *, conn: Connection | None = None) -> str:
        """Store a lineage record (a JSON-able dict); returns its lineage id.

        Indexed fields are read from the top level (``lineage_id``, ``flow``, ``dag_id``,
        ``run_id``, ``task_id``, ``try_number``) or from a nested ``airflow`` mapping. Without
        a ``lineage_id`` a deterministic one is derived from the content. Writing the same id
        again replaces the record (a retried task overwrites, never duplicates).
        """
        ctx = record.get("airflow") if isinstance(record.get("airflow"), Mapping) else {}

        def pick(key: str) -> Any:
            value = record.get(key)
            return value if value is not None else ctx.get(key)

        lineage_id = pick("lineage_id") or str(
            uuid.uuid5(uuid.NAMESPACE_URL, canonical_json(record))
        )
        try_number = pick("try_number")
        values = {
            "lineage_id": str(lineage_id),
            "flow": str(pick("flow") or "unknown"),
            "dag_id": pick("dag_id"),
            "run_id": pick("run_id"),
            "task_id": pick("task_id"),
            "try_number": int(try_number) if try_number is not None else None,
            "record": dict(record),
            "created_at": utcnow(),
        }
        ins = self._insert(lineage)
        stmt = ins.values(**values).on_conflict_do_update(
            index_elements=[lineage.c.lineage_id],
            set_={
                k: ins.excluded[k]
                for k in ("flow", "dag_id", "run_id", "task_id", "try_number", "record")
            },
        )
        with self._tx(conn, "write_lineage") as c:
            c.execute(stmt)
        return values["lineage_id"]

    def get_lineage(self, lineage_id: str) -> dict[str, Any] | None:
        """The stored lineage record, or None."""
        with self._tx(None, "get_lineage") as c:
            return c.scalar(sa.select(lineage.c.record).where(lineage.c.lineage_id == lineage_id))

    def list_lineage(
        self,
        *,
        flow: str | None = None,
        dag_id: str | None = None,
        run_id: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Lineage records, newest first, optionally filtered."""
        q = sa.select(lineage.c.record).order_by(lineage.c.created_at.desc()).limit(limit)
        for col, value in (
            (lineage.c.flow, flow),
            (lineage.c.dag_id, dag_id),
            (lineage.c.run_id, run_id),
        ):
            if value is not None:
                q = q.where(col == value)
        with self._tx(None, "list_lineage") as c:
            return list(c.scalars(q))

    # ------------------------------------------------------------------ statistics, quality

    def stats(self) -> dict[str, Any]:
        """Counts for reports and checks (no personal data)."""
        tables = [t for t in metadata.sorted_tables]
        with self._tx(None, "stats") as c:
            per_table = {
                t.name: c.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables
            }
            active = dict(
                c.execute(
                    sa.select(asn.c.is_active, sa.func.count()).group_by(asn.c.is_active)
                ).all()
            )
            open_versions = c.scalar(
                sa.select(sa.func.count())
                .select_from(asn_history)
                .where(asn_history.c.valid_to.is_(None))
            )
            by_reason = dict(
                c.execute(
                    sa.select(quarantine.c.reason, sa.func.count()).group_by(quarantine.c.reason)
                ).all()
            )
            refs: dict[str, dict[str, int]] = {}
            for ref, is_active, count in c.execute(
                sa.select(referensi.c.ref, referensi.c.is_active, sa.func.count()).group_by(
                    referensi.c.ref, referensi.c.is_active
                )
            ):
                refs.setdefault(ref, {"active": 0, "inactive": 0})[
                    "active" if is_active else "inactive"
                ] = count
            family = dict(
                c.execute(
                    sa.select(asn_family.c.relation, sa.func.count()).group_by(
                        asn_family.c.relation
                    )
                ).all()
            )
            outbox_status = dict(
                c.execute(
                    sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
                ).all()
            )
            documents = dict(
                c.execute(
                    sa.select(document_ledger.c.status, sa.func.count()).group_by(
                        document_ledger.c.status
                    )
                ).all()
            )
            usulan = dict(
                c.execute(
                    sa.select(usulan_lifecycle.c.status, sa.func.count()).group_by(
                        usulan_lifecycle.c.status
                    )
                ).all()
            )
        return {
            "tables": per_table,
            "asn": {"active": active.get(True, 0), "inactive": active.get(False, 0)},
            "asn_history": {"rows": per_table["asn_history"], "open": open_versions},
            "asn_family": family,
            "referensi": refs,
            "quarantine": {"total": per_table["quarantine"], "by_reason": by_reason},
            "outbox": outbox_status,
            "document_ledger": documents,
            "usulan_lifecycle": usulan,
        }

    def unknown_reference_ids(
        self, columns: Iterable[str] | None = None, *, include_unloaded: bool = False
    ) -> list[UnknownReference]:
        """Ids used by active ``asn`` rows but absent from (active) reference data.

        Checks the columns of :data:`REFERENCE_COLUMNS` (or ``columns``); a reference table
        with no rows at all is skipped unless ``include_unloaded``.
        """
        wanted = list(columns) if columns is not None else list(REFERENCE_COLUMNS)
        out: list[UnknownReference] = []
        with self._tx(None, "unknown_reference_ids") as c:
            loaded = set(c.scalars(sa.select(referensi.c.ref).distinct()))
            for column in wanted:
                ref = REFERENCE_COLUMNS[column]
                if ref not in loaded and not include_unloaded:
                    continue
                col = asn.c[column]
                r = referensi.alias("r")
                q = (
                    sa.select(col, sa.func.count())
                    .select_from(
                        asn.outerjoin(r, sa.and_(r.c.ref == ref, r.c.id == col, r.c.is_active))
                    )
                    .where(asn.c.is_active, col.is_not(None), col != "", r.c.id.is_(None))
                    .group_by(col)
                    .order_by(col)
                )
                out.extend(UnknownReference(column, ref, v, n) for v, n in c.execute(q))
        return out

    def quality_counts(self) -> dict[str, int]:
        """Counts for data-quality checks; every value should be 0 except the totals."""
        h = asn_history
        with self._tx(None, "quality_counts") as c:
            open_per_nip = (
                sa.select(h.c.nip, sa.func.count().label("n"))
                .where(h.c.valid_to.is_(None))
                .group_by(h.c.nip)
                .subquery()
            )
            total_active = c.scalar(
                sa.select(sa.func.count()).select_from(asn).where(asn.c.is_active)
            )
            without_open = c.scalar(
                sa.select(sa.func.count())
                .select_from(asn.outerjoin(open_per_nip, open_per_nip.c.nip == asn.c.nip))
                .where(open_per_nip.c.nip.is_(None))
            )
            many_open = c.scalar(
                sa.select(sa.func.count()).select_from(open_per_nip).where(open_per_nip.c.n > 1)
            )
            hash_mismatch = c.scalar(
                sa.select(sa.func.count())
                .select_from(asn.join(h, sa.and_(h.c.nip == asn.c.nip, h.c.valid_to.is_(None))))
                .where(
                    sa.or_(h.c.record_hash != asn.c.record_hash, h.c.is_active != asn.c.is_active)
                )
            )
            missing_required = c.scalar(
                sa.select(sa.func.count())
                .select_from(asn)
                .where(
                    asn.c.is_active,
                    sa.or_(
                        asn.c.nama.is_(None),
                        asn.c.gol_ruang_akhir_id.is_(None),
                        asn.c.instansi_induk_id.is_(None),
                    ),
                )
            )
            orphans = {
                name: c.scalar(
                    sa.select(sa.func.count())
                    .select_from(t.outerjoin(asn, asn.c.nip == t.c.nip))
                    .where(asn.c.nip.is_(None))
                )
                for name, t in (("history", h), ("family", asn_family))
            }
        unknown = self.unknown_reference_ids()
        return {
            "asn_history_orphans": orphans["history"] or 0,
            "asn_family_orphans": orphans["family"] or 0,
            "asn_active": total_active or 0,
            "asn_without_open_version": without_open or 0,
            "asn_with_several_open_versions": many_open or 0,
            "asn_open_version_mismatch": hash_mismatch or 0,
            "asn_missing_required": missing_required or 0,
            "asn_unknown_reference_rows": sum(u.rows for u in unknown),
        }
