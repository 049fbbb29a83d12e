"""Read-only views for SIAPP NV consumers (and a reader role on PostgreSQL).

The views expose the typed columns only, never the raw payload (it holds NIK, contacts and
whatever else SIASN sends). On PostgreSQL the NOLOGIN role ``siapp_nv_reader`` gets SELECT on
the views and nothing else; grant it to SIAPP NV's login role. Creating it needs CREATEROLE:
without that privilege the migration only prints a notice.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TYPED = """
    pns_id, nip_lama, nama, gelar_depan, gelar_belakang, tempat_lahir, tgl_lahir,
    jenis_kelamin, agama_id, jenis_pegawai_id, kedudukan_pns_id, status_pegawai,
    instansi_induk_id, instansi_induk_nama, instansi_kerja_id, satuan_kerja_id, unor_id,
    unor_nama, jenis_jabatan_id, jabatan_nama, jabatan_fungsional_id, jabatan_fungsional_nama,
    eselon_id, tmt_jabatan, gol_ruang_awal_id, gol_ruang_akhir_id, pangkat_akhir, tmt_gol_akhir,
    tmt_cpns, tmt_pns, tmt_pensiun, bup_pensiun, mk_tahun, mk_bulan, pendidikan_terakhir_id,
    tk_pendidikan_terakhir_id, jenis_kawin_id, jumlah_anak, lokasi_kerja_id"""


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _TYPED.split(",") if c.strip())


VIEWS = {
    "v_referensi": """
        SELECT r.ref, r.id, r.nama, r.updated_at
        FROM referensi r
        WHERE r.is_active
    """,
    "v_asn_current": f"""
        SELECT a.nip, {_prefixed("a")},
               g.nama AS golongan_akhir, a.record_hash, a.first_seen, a.last_seen, a.updated_at
        FROM asn a
        LEFT JOIN referensi g ON g.ref = 'golongan' AND g.id = a.gol_ruang_akhir_id
        WHERE a.is_active
    """,
    "v_asn_family": """
        SELECT f.nip, f.relation, f.ordinal, f.member_id, f.nama, f.tgl_lahir, f.jenis_kelamin,
               f.status_hidup, f.status_hubungan, f.tgl_menikah, f.tgl_cerai, f.orang_tua_id,
               f.updated_at
        FROM asn_family f
        JOIN asn a ON a.nip = f.nip
        WHERE a.is_active
    """,
    "v_asn_history": f"""
        SELECT h.nip, h.valid_from, h.valid_to, h.is_active, h.departed_on, h.departure_reason,
               h.record_hash, {_prefixed("h")}
        FROM asn_history h
    """,
}

_READER_ROLE = "siapp_nv_reader"

_GRANT_PG = f"""
DO $$
BEGIN
    BEGIN
        CREATE ROLE {_READER_ROLE} NOLOGIN;
    EXCEPTION
        WHEN duplicate_object THEN NULL;
        WHEN insufficient_privilege THEN
            RAISE NOTICE 'role {_READER_ROLE} not created: insufficient privilege';
            RETURN;
    END;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {_READER_ROLE}', current_schema());
    GRANT SELECT ON {", ".join(VIEWS)} TO {_READER_ROLE};
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'grants to {_READER_ROLE} skipped: insufficient privilege';
END
$$
"""


def upgrade() -> None:
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {body}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_PG)


def downgrade() -> None:
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
