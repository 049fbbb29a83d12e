"""The read-only views for SIAPP NV consumers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from siapp_siasn.store import VIEWS, Store

from .conftest import T0, make_row


def test_views_readable(store: Store) -> None:
    store.referensi.upsert("golongan", [{"id": "42", "nama": "IV/b"}, {"id": "43", "nama": "IV/c"}])
    store.referensi.upsert("agama", [{"id": "1", "nama": "Islam"}])
    store.referensi.upsert("agama", [{"id": "2", "nama": "Kristen"}])  # 1 becomes inactive
    store.asn.apply_batch([make_row(i) for i in range(3)], "run-1", T0)
    store.asn.mark_departed([make_row(2).nip], T0.date(), "pensiun")
    with store.engine.connect() as c:
        for view in VIEWS:
            c.execute(sa.text(f"SELECT * FROM {view}")).all()
        current = c.execute(sa.text("SELECT * FROM v_asn_current ORDER BY nip")).mappings().all()
        assert [r["nip"] for r in current] == sorted([make_row(0).nip, make_row(1).nip])
        assert {r["golongan_akhir"] for r in current} == {"IV/b"}
        assert "payload" not in current[0]
        assert "is_active" not in current[0]
        family = c.execute(sa.text("SELECT nip, relation FROM v_asn_family")).all()
        assert {nip for nip, _ in family} == {make_row(0).nip, make_row(1).nip}
        refs = c.execute(sa.text("SELECT ref, id FROM v_referensi ORDER BY ref, id")).all()
        assert [tuple(r) for r in refs] == [("agama", "2"), ("golongan", "42"), ("golongan", "43")]
        history = c.execute(sa.text("SELECT nip, is_active FROM v_asn_history")).all()
        assert len(history) == 4


def test_reader_role_sees_views_only(postgres_db_url: str) -> None:
    """PostgreSQL only (SQLite has no roles): siapp_nv_reader may read the views, nothing else."""
    store = Store(postgres_db_url)
    try:
        store.migrate()
        store.asn.apply_batch([make_row(1)], "run-1", T0)
        with store.engine.connect() as c:
            c.execute(sa.text("SET ROLE siapp_nv_reader"))
            assert c.execute(sa.text("SELECT count(*) FROM v_asn_current")).scalar() == 1
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                c.execute(sa.text("SELECT payload FROM asn"))
            c.rollback()
    finally:
        store.close()
