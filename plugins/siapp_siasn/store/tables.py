"""SQLAlchemy 2 Core tables of the hub's store.

This module is the live description of the schema; the Alembic migrations under
``migrations/versions`` create it (a test checks the two agree on every dialect).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from siapp_siasn.store.types import BigId, JSONType, RawJSON, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Alembic's version table for this store (kept apart from Airflow's ``alembic_version``).
VERSION_TABLE = "siapp_siasn_alembic_version"

FAMILY_RELATIONS = ("pasangan", "anak", "ayah", "ibu")
#: ``pending`` new, ``retry`` failed and due again at ``next_attempt_at``, ``sent`` delivered,
#: ``dead`` given up (see view ``v_outbox_dead``), ``rejected`` out of scope: kept for audit,
#: never sent (migration 0003; 0001 had ``sending`` and ``failed``).
OUTBOX_STATUSES = ("pending", "retry", "sent", "dead", "rejected")


def _asn_typed_columns() -> list[tuple[str, Any]]:
    """The typed subset of SIASN data-utama, in a fixed order (without ``nip``)."""
    s = sa.String
    return [
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


#: Names of the typed data-utama columns of ``asn`` and ``asn_history`` (``nip`` excluded).
ASN_TYPED_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _asn_typed_columns())


def _typed() -> list[sa.Column[Any]]:
    return [sa.Column(name, type_, nullable=True) for name, type_ in _asn_typed_columns()]


referensi = sa.Table(
    "referensi",
    metadata,
    sa.Column("ref", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("nama", sa.String(512)),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("first_seen", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

asn = sa.Table(
    "asn",
    metadata,
    sa.Column("nip", sa.String(32), primary_key=True),
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
    sa.Index(None, "gol_ruang_akhir_id"),
    sa.Index(None, "instansi_kerja_id"),
)

# asn_history and asn_family carry no foreign key to asn: the store writes them only in the
# transaction that upserts the asn row, and asn rows are never deleted; a per-row FK check
# cost about a third of the bulk insert time. store.quality.counts() reports orphans.
asn_history = sa.Table(
    "asn_history",
    metadata,
    sa.Column("nip", sa.String(32), primary_key=True),
    sa.Column("valid_from", UTCDateTime(), primary_key=True),
    sa.Column("valid_to", UTCDateTime()),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    sa.Column("departed_on", sa.Date()),
    sa.Column("departure_reason", sa.String(64)),
    sa.Column("run_id", sa.String(255)),
    *_typed(),
    sa.Column("payload", RawJSON, nullable=False),
    sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
    # exactly one open version per NIP
    sa.Index(
        "uq_asn_history_open",
        "nip",
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
        sqlite_where=sa.text("valid_to IS NULL"),
    ),
)

#: Columns written for each family member (both dialects' bulk paths use this order).
FAMILY_COLUMNS: tuple[str, ...] = (
    "nip",
    "relation",
    "ordinal",
    "member_id",
    "nama",
    "tgl_lahir",
    "jenis_kelamin",
    "status_hidup",
    "status_hubungan",
    "tgl_menikah",
    "tgl_cerai",
    "orang_tua_id",
    "payload",
    "run_id",
    "updated_at",
)

asn_family = sa.Table(
    "asn_family",
    metadata,
    sa.Column("nip", sa.String(32), primary_key=True),
    sa.Column("relation", sa.String(16), primary_key=True),
    sa.Column("ordinal", sa.Integer(), primary_key=True, autoincrement=False),
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
    sa.CheckConstraint(
        "relation IN ('pasangan', 'anak', 'ayah', 'ibu')",
        name="relation",
    ),
)

sync_state = sa.Table(
    "sync_state",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

checkpoint = sa.Table(
    "checkpoint",
    metadata,
    sa.Column("run_key", sa.String(255), primary_key=True),
    sa.Column("step", sa.String(128), primary_key=True),
    sa.Column("batch_no", sa.Integer(), nullable=False),
    sa.Column("state", JSONType, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("entity_kind", sa.String(64), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(255), nullable=False),
    sa.Column("detail", sa.Text()),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("run_id", sa.String(255), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # a retried task quarantines the same record once per run
    sa.UniqueConstraint("run_id", "flow", "entity_kind", "key_hash", "reason"),
    sa.Index(None, "flow", "reason"),
    sa.Index(None, "created_at"),
)

lineage = sa.Table(
    "lineage",
    metadata,
    sa.Column("lineage_id", sa.String(64), primary_key=True),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("dag_id", sa.String(250)),
    sa.Column("run_id", sa.String(250)),
    sa.Column("task_id", sa.String(250)),
    sa.Column("try_number", sa.Integer()),
    sa.Column("record", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index(None, "dag_id", "run_id"),
    sa.Index(None, "flow", "created_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("flow", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.String(128), nullable=False),
    sa.Column("version_hash", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime()),
    sa.Column("last_error", sa.Text()),
    sa.Column("sent_at", UTCDateTime()),
    sa.Column("response", JSONType),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # why a ``rejected`` item is out of scope (a reason code, never a value); migration 0003
    sa.Column("reason", sa.String(255)),
    sa.CheckConstraint(
        "status IN ('pending', 'retry', 'sent', 'dead', 'rejected')",
        name="status",
    ),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "flow", "entity_id"),
)

usulan_lifecycle = sa.Table(
    "usulan_lifecycle",
    metadata,
    sa.Column("usulan_id", sa.String(64), primary_key=True),
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
    sa.Index(None, "status"),
    sa.Index(None, "nip"),
)

document_ledger = sa.Table(
    "document_ledger",
    metadata,
    sa.Column("doc_id", sa.String(128), primary_key=True),
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
    sa.Index(None, "usulan_id"),
    sa.Index(None, "status"),
    # the reconciliation maps a copy a destination lists back to its ledger row (migration 0004)
    sa.Index(None, "target_system", "target_dok_id"),
    sa.Index(None, "target_system", "target_dok_uri"),
)

#: Kinds of presidential decree the reconciliation cross-checks against SIASN (migration 0004):
#: ``kp`` (kenaikan pangkat: data-utama and rw-golongan) and ``pemberhentian`` (kedudukan hukum).
KEPPRES_KINDS = ("kp", "pemberhentian")
#: Outcome of one decree cross-check (migration 0004).
KEPPRES_CHECK_STATUSES = ("applied", "keppres_not_applied")

# Document reconciliation (migration 0004): its runs, the document keys that were not ok, and
# the decree cross-checks. Keys and reason codes only, never a NIP or any other personal value.
reconciliation_run = sa.Table(
    "reconciliation_run",
    metadata,
    sa.Column("run_id", sa.String(255), primary_key=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("params", JSONType, nullable=False),
    sa.Column("counts", JSONType),
    sa.Column("report_csv", sa.String(1024)),
    sa.Column("report_html", sa.String(1024)),
    sa.Index(None, "started_at"),
)

# one row per document key seen not ok, the comparison's key (usulan_id, direction, ref: ref is
# the ledger's doc_id, so two documents of one jenis are two rows); "" stands for a key part the
# item has not (an usulan with no answer has no direction nor ref): NULL would defeat the
# primary key. jenis is a plain column.
reconciliation_item = sa.Table(
    "reconciliation_item",
    metadata,
    sa.Column("usulan_id", sa.String(64), primary_key=True),
    sa.Column("direction", sa.String(32), primary_key=True),
    sa.Column("ref", sa.String(255), primary_key=True),
    sa.Column("jenis", sa.String(64)),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("first_seen_run", sa.String(255), nullable=False),
    sa.Column("last_seen_run", sa.String(255), nullable=False),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("repair_attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_attempt_run", sa.String(255)),
    sa.Column("last_attempt_at", UTCDateTime()),
    sa.Column("last_error", sa.Text()),
    sa.Column("repaired_at", UTCDateTime()),
    sa.Column("unrepairable_reason", sa.String(255)),
    sa.Column("flagged_at", UTCDateTime()),
    sa.Column("resolved_run", sa.String(255)),
    sa.Column("resolved_at", UTCDateTime()),
    sa.Index(None, "category"),
    sa.Index(None, "resolved_at"),
)

keppres_check = sa.Table(
    "keppres_check",
    metadata,
    sa.Column("usulan_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("nip_hash", sa.String(64), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=False),
    sa.Column("checked_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("age_days", sa.Integer(), nullable=False),
    sa.Column("run_id", sa.String(255)),
    sa.CheckConstraint("kind IN ('kp', 'pemberhentian')", name="kind"),
    sa.CheckConstraint("status IN ('applied', 'keppres_not_applied')", name="status"),
    sa.Index(None, "status"),
)

# The API monitor's tables (migration 0007): what it observed, what is open, how the APIs
# answered (store/findings.py writes them, store/monitoring.py reads them for the report).
incident = sa.Table(
    "incident",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("endpoint", sa.String(255), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime()),
    sa.Column("finding_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("notice_path", sa.String(1024)),
    sa.Index(None, "opened_at"),
    sa.Index(None, "closed_at"),
)

finding = sa.Table(
    "finding",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("endpoint", sa.String(255), nullable=False),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("detail", JSONType, nullable=False),
    sa.Column("observed_at", UTCDateTime(), nullable=False),
    sa.Column("lineage_id", sa.String(64)),
    sa.Column("incident_id", BigId, sa.ForeignKey("incident.id")),
    sa.Index(None, "observed_at"),
    sa.Index(None, "incident_id"),
)

probe = sa.Table(
    "probe",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("observed_at", UTCDateTime(), nullable=False),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("endpoint", sa.String(255), nullable=False),
    sa.Column("status", sa.Integer()),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("ok", sa.Boolean(), nullable=False),
    sa.Column("lineage_id", sa.String(64)),
    sa.Index(None, "observed_at"),
)

#: Read-only views for SIAPP NV consumers, created by migration 0002.
VIEWS: tuple[str, ...] = ("v_referensi", "v_asn_current", "v_asn_family", "v_asn_history")

#: Views for the hub's operators (not granted to the consumer role), created by migration 0003.
OPERATOR_VIEWS: tuple[str, ...] = ("v_outbox_dead",)

#: The role that may read the views on PostgreSQL (created when the migrating user may).
READER_ROLE = "siapp_nv_reader"
