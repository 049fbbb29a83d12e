"""Data-quality counts over the store (read only): SCD2 invariants, orphans, required fields
and ``asn`` ids missing from reference data. Every count but the totals should be 0."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from siapp_siasn.store.base import Repository
from siapp_siasn.store.records import UnknownReference
from siapp_siasn.store.referensi import REFERENCE_COLUMNS
from siapp_siasn.store.tables import asn, asn_family, asn_history, referensi

__all__ = ["QualityRepository"]


class QualityRepository(Repository):
    """``store.quality``: unknown reference ids and the quality counts."""

    def unknown_reference_ids(
        self, columns: Iterable[str] | None = None, *, include_unloaded: bool = False
    ) -> list[UnknownReference]:
        """Ids used by active ``asn`` rows but absent from (active) reference data.

        Checks the columns of :data:`REFERENCE_COLUMNS` (or ``columns``); a reference table
        with no rows at all is skipped unless ``include_unloaded``.
        """
        wanted = list(columns) if columns is not None else list(REFERENCE_COLUMNS)
        out: list[UnknownReference] = []
        with self._tx(None, "quality.unknown_reference_ids") as c:
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

    def counts(self) -> dict[str, int]:
        """Counts for data-quality checks; every value should be 0 except the totals."""
        h = asn_history
        count = sa.func.count
        with self._tx(None, "quality.counts") as c:
            open_per_nip = (
                sa.select(h.c.nip, count().label("n"))
                .where(h.c.valid_to.is_(None))
                .group_by(h.c.nip)
                .subquery()
            )
            total_active = c.scalar(sa.select(count()).select_from(asn).where(asn.c.is_active))
            without_open = c.scalar(
                sa.select(count())
                .select_from(asn.outerjoin(open_per_nip, open_per_nip.c.nip == asn.c.nip))
                .where(open_per_nip.c.nip.is_(None))
            )
            many_open = c.scalar(
                sa.select(count()).select_from(open_per_nip).where(open_per_nip.c.n > 1)
            )
            hash_mismatch = c.scalar(
                sa.select(count())
                .select_from(asn.join(h, sa.and_(h.c.nip == asn.c.nip, h.c.valid_to.is_(None))))
                .where(
                    sa.or_(h.c.record_hash != asn.c.record_hash, h.c.is_active != asn.c.is_active)
                )
            )
            missing_required = c.scalar(
                sa.select(count())
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
                    sa.select(count())
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
