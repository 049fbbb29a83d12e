"""Initial schema: reference data, ASN current + SCD2 history + family, state, audit, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from siapp_siasn.store.types import BigId, JSONType, RawJSON, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _typed() -> list[sa.Column]:
    """The typed data-utama columns as of this revision (frozen copy, not imported)."""
    s = sa.String
    spec = [
        ("pns_id", s(64)),
        ("nip_lama", s(32)),
        ("nama", s(255)),
        ("gelar_depan", s(64)),
        ("gelar_belakang", s(128)),
        ("tempat_lahir", s(128)),
        ("tgl_lahir", sa.Date()),
        ("jenis_kelamin", s(1)),
        ("agama_id", s(16)),
        ("jenis_pegawai_id", s(16)),
        ("kedudukan_pns_id", s(8)),
        ("status_pegawai", s(32)),
        ("instansi_induk_id", s(64)),
        ("instansi_induk_nama", s(255)),
        ("instansi_kerja_id", s(64)),
        ("satuan_kerja_id", s(64)),
        ("unor_id", s(64)),
        ("unor_nama", s(255)),
        ("jenis_jabatan_id", s(8)),
        ("jabatan_nama", s(255)),
        ("jabatan_fungsional_id", s(64)),
        ("jabatan_fungsional_nama", s(255)),
        ("eselon_id", s(8)),
        ("tmt_jabatan", sa.Date()),
        ("gol_ruang_awal_id", s(8)),
        ("gol_ruang_akhir_id", s(8)),
        ("pangkat_akhir", s(64)),
        ("tmt_gol_akhir", sa.Date()),
        ("tmt_cpns", sa.Date()),
        ("tmt_pns", sa.Date()),
        ("tmt_pensiun", sa.Date()),
        ("bup_pensiun", sa.Integer()),
        ("mk_tahun", sa.Integer()),
        ("mk_bulan", sa.Integer()),
        ("pendidikan_terakhir_id", s(64)),
        ("tk_pendidikan_terakhir_id", s(8)),
        ("jenis_kawin_id", s(8)),
        ("jumlah_anak", sa.Integer()),
        ("lokasi_kerja_id", s(64)),
    ]
    return [sa.Column(name, type_, nullable=True) for name, type_ in spec]


def upgrade() -> None:
    op.create_table(
        "referensi",
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("nama", sa.String(512)),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ref", "id", name="pk_referensi"),
    )

    op.create_table(
        "asn",
        sa.Column("nip", sa.String(32), nullable=False),
        *_typed(),
        sa.Column("payload", RawJSON, nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("family_hash", sa.String(64)),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("departed_on", sa.Date()),
        sa.Column("departure_reason", sa.String(64)),
        sa.Column("source_updated", sa.Date()),
        sa.Column("run_id", sa.String(255)),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nip", name="pk_asn"),
    )
    op.create_index("ix_asn_gol_ruang_akhir_id", "asn", ["gol_ruang_akhir_id"])
    op.create_index("ix_asn_instansi_kerja_id", "asn", ["instansi_kerja_id"])

    op.create_table(
        "asn_history",
        sa.Column("nip", sa.String(32), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_to", UTCDateTime()),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("departed_on", sa.Date()),
        sa.Column("departure_reason", sa.String(64)),
        sa.Column("run_id", sa.String(255)),
        *_typed(),
        sa.Column("payload", RawJSON, nullable=False),
        sa.PrimaryKeyConstraint("nip", "valid_from", name="pk_asn_history"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_asn_history_valid_range")
        ),
    )
    op.create_index(
        "uq_asn_history_open",
        "asn_history",
        ["nip"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
        sqlite_where=sa.text("valid_to IS NULL"),
    )

    op.create_table(
        "asn_family",
        sa.Column("nip", sa.String(32), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("member_id", sa.String(64)),
        sa.Column("nama", sa.String(255)),
        sa.Column("tgl_lahir", sa.Date()),
        sa.Column("jenis_kelamin", sa.String(1)),
        sa.Column("status_hidup", sa.String(8)),
        sa.Column("status_hubungan", sa.String(8)),
        sa.Column("tgl_menikah", sa.Date()),
        sa.Column("tgl_cerai", sa.Date()),
        sa.Column("orang_tua_id", sa.String(64)),
        sa.Column("payload", RawJSON, nullable=False),
        sa.Column("run_id", sa.String(255)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nip", "relation", "ordinal", name="pk_asn_family"),
        sa.CheckConstraint(
            "relation IN ('pasangan', 'anak', 'ayah', 'ibu')", name=op.f("ck_asn_family_relation")
        ),
    )

    op.create_table(
        "sync_state",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_sync_state"),
    )

    op.create_table(
        "checkpoint",
        sa.Column("run_key", sa.String(255), nullable=False),
        sa.Column("step", sa.String(128), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("state", JSONType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_key", "step", name="pk_checkpoint"),
    )

    op.create_table(
        "quarantine",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("entity_kind", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("run_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
        sa.UniqueConstraint(
            "run_id",
            "flow",
            "entity_kind",
            "key_hash",
            "reason",
            name="uq_quarantine_run_id_flow_entity_kind_key_hash_reason",
        ),
    )
    op.create_index("ix_quarantine_flow_reason", "quarantine", ["flow", "reason"])
    op.create_index("ix_quarantine_created_at", "quarantine", ["created_at"])

    op.create_table(
        "lineage",
        sa.Column("lineage_id", sa.String(64), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        sa.Column("task_id", sa.String(250)),
        sa.Column("try_number", sa.Integer()),
        sa.Column("record", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("lineage_id", name="pk_lineage"),
    )
    op.create_index("ix_lineage_dag_id_run_id", "lineage", ["dag_id", "run_id"])
    op.create_index("ix_lineage_flow_created_at", "lineage", ["flow", "created_at"])

    op.create_table(
        "outbox",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("flow", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("response", JSONType),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'dead')",
            name=op.f("ck_outbox_status"),
        ),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_flow_entity_id", "outbox", ["flow", "entity_id"])

    op.create_table(
        "usulan_lifecycle",
        sa.Column("usulan_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64)),
        sa.Column("jenis", sa.String(32)),
        sa.Column("kategori_jabatan", sa.String(32)),
        sa.Column("nip", sa.String(32)),
        sa.Column("instansi_id", sa.String(64)),
        sa.Column("bkn_usulan_id", sa.String(64)),
        sa.Column("status", sa.String(32), nullable=False, server_default="baru"),
        sa.Column("status_bkn", sa.String(8)),
        sa.Column("status_bkn_nama", sa.String(255)),
        sa.Column("hasil_verifikasi", sa.String(8)),
        sa.Column("no_pertek", sa.String(128)),
        sa.Column("tgl_pertek", sa.Date()),
        sa.Column("no_ralat_pertek", sa.String(128)),
        sa.Column("tgl_ralat_pertek", sa.Date()),
        sa.Column("no_keppres", sa.String(128)),
        sa.Column("tgl_keppres", sa.Date()),
        sa.Column("submitted_at", UTCDateTime()),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("bkn_verified_at", UTCDateTime()),
        sa.Column("pertek_at", UTCDateTime()),
        sa.Column("ralat_at", UTCDateTime()),
        sa.Column("setneg_verified_at", UTCDateTime()),
        sa.Column("keppres_at", UTCDateTime()),
        sa.Column("keppres_sent_at", UTCDateTime()),
        sa.Column("keppres_applied_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("usulan_id", name="pk_usulan_lifecycle"),
    )
    op.create_index("ix_usulan_lifecycle_status", "usulan_lifecycle", ["status"])
    op.create_index("ix_usulan_lifecycle_nip", "usulan_lifecycle", ["nip"])

    op.create_table(
        "document_ledger",
        sa.Column("doc_id", sa.String(128), nullable=False),
        sa.Column("usulan_id", sa.String(64)),
        sa.Column("jenis", sa.String(64)),
        sa.Column("direction", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("size", sa.BigInteger()),
        sa.Column("source_system", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(512)),
        sa.Column("target_system", sa.String(16), nullable=False),
        sa.Column("target_dok_id", sa.String(128)),
        sa.Column("target_dok_uri", sa.String(512)),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("transferred_at", UTCDateTime()),
        sa.Column("verified_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("doc_id", name="pk_document_ledger"),
    )
    op.create_index("ix_document_ledger_usulan_id", "document_ledger", ["usulan_id"])
    op.create_index("ix_document_ledger_status", "document_ledger", ["status"])


def downgrade() -> None:
    for table in (
        "document_ledger",
        "usulan_lifecycle",
        "outbox",
        "lineage",
        "quarantine",
        "checkpoint",
        "sync_state",
        "asn_family",
        "asn_history",
        "asn",
        "referensi",
    ):
        op.drop_table(table)
