"""Reference data repository: SIASN's code tables (golongan, instansi, unor, ...) by ``ref``.

Rows are upserted by content hash and never deleted: a full pull deactivates the ids it no
longer lists. The payload is the row as SIASN served it; ``nama`` is its display name (``nama``,
UNOR's ``namaUnor``, ref-dokumen's ``document``), by which :meth:`ReferensiRepository.id_by_name`
finds ids that must never be hard-coded (ref-dokumen). :data:`REFERENCE_COLUMNS` maps the
``asn`` columns to the table holding their ids (the quality checks use it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from siapp_siasn.store.base import IN_CHUNK, Repository
from siapp_siasn.store.records import RefCounts
from siapp_siasn.store.tables import referensi
from siapp_siasn.store.types import utcnow
from siapp_siasn.utils import chunks, sha256_json

__all__ = ["REFERENCE_COLUMNS", "ReferensiRepository"]

log = logging.getLogger(__name__)

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

_WRAPPER_KEYS = frozenset({"id", "nama", "payload"})


class ReferensiRepository(Repository):
    """``store.referensi``: upsert a reference table, read its ids."""

    def upsert(
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
            if isinstance(row.get("payload"), Mapping) and set(row) <= _WRAPPER_KEYS:
                payload = row["payload"]  # {"id", "nama", "payload": raw row} from the flow
            incoming[str(raw_id)] = (
                None if nama is None else str(nama),
                payload,
                sha256_json(payload),
            )
        if missing_id:
            raise ValueError(f"referensi {ref}: {missing_id} of {total} rows have no id")
        now = utcnow()
        with self._tx(conn, "referensi.upsert") as c:
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
                for part in chunks(gone, IN_CHUNK):
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

    def ids(self, ref: str, *, active_only: bool = True) -> set[str]:
        """Ids held for reference table ``ref``."""
        q = sa.select(referensi.c.id).where(referensi.c.ref == ref)
        if active_only:
            q = q.where(referensi.c.is_active)
        with self._tx(None, "referensi.ids") as c:
            return set(c.scalars(q))

    def id_by_name(self, ref: str, nama: str) -> str | None:
        """The id of the one active row of ``ref`` whose display name is ``nama`` (None if
        there is none; ``LookupError`` if several share it, since picking one would guess).

        E.g. ``id_by_name("ref-dokumen", "Dok SK Jabatan")``: ref-dokumen ids are SIASN's and
        are read from the live table, never hard-coded.
        """
        q = sa.select(referensi.c.id).where(
            referensi.c.ref == ref, referensi.c.nama == nama, referensi.c.is_active
        )
        with self._tx(None, "referensi.id_by_name") as c:
            ids = sorted(c.scalars(q))
        if len(ids) > 1:
            raise LookupError(f"referensi {ref}: {len(ids)} active rows share one name")
        return ids[0] if ids else None
