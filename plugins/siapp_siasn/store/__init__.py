"""The hub's own database: SQLAlchemy 2 Core tables, Alembic migrations, bulk upserts, SCD2,
watermarks, checkpoints, quarantine and lineage.

SQLite file by default, PostgreSQL in production (Airflow connection ``siapp_siasn_store``).
The proposal traffic (F3-F8) has its outbox, document ledger and usulan lifecycle in
:mod:`siapp_siasn.store.usulan`. Dialect differences live only in this package.
"""

from siapp_siasn.models.redact import keyed_hash, redact
from siapp_siasn.store.api import REFERENCE_COLUMNS, Store, StoreError
from siapp_siasn.store.config import (
    DEFAULT_CONN_ID,
    default_sqlite_path,
    hash_key_from_airflow,
    store_url_from_airflow,
    url_from_connection,
)
from siapp_siasn.store.engine import make_engine, normalize_url
from siapp_siasn.store.migrate import current_revision, downgrade, head_revision, migrate
from siapp_siasn.store.records import (
    AsnRow,
    BatchCounts,
    Checkpoint,
    DepartureCounts,
    FamilyMember,
    OutboxItem,
    OutboxRow,
    QuarantineItem,
    RefCounts,
    UnknownReference,
    outbox_key,
)
from siapp_siasn.store.tables import ASN_TYPED_COLUMNS, OPERATOR_VIEWS, VIEWS, metadata
from siapp_siasn.store.usulan import (
    LEDGER_FIELDS,
    LIFECYCLE_FIELDS,
    LIFECYCLE_STAMPS,
    UsulanStore,
)

__all__ = [
    "ASN_TYPED_COLUMNS",
    "DEFAULT_CONN_ID",
    "LEDGER_FIELDS",
    "LIFECYCLE_FIELDS",
    "LIFECYCLE_STAMPS",
    "OPERATOR_VIEWS",
    "REFERENCE_COLUMNS",
    "VIEWS",
    "AsnRow",
    "BatchCounts",
    "Checkpoint",
    "DepartureCounts",
    "FamilyMember",
    "OutboxItem",
    "OutboxRow",
    "QuarantineItem",
    "RefCounts",
    "Store",
    "StoreError",
    "UnknownReference",
    "UsulanStore",
    "current_revision",
    "default_sqlite_path",
    "downgrade",
    "hash_key_from_airflow",
    "head_revision",
    "keyed_hash",
    "make_engine",
    "metadata",
    "migrate",
    "normalize_url",
    "outbox_key",
    "redact",
    "store_url_from_airflow",
    "url_from_connection",
]
