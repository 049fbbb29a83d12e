"""The hub's own database: SQLAlchemy 2 Core tables, Alembic migrations, one repository per
concern and the one SCD2 writer of employee batches.

SQLite file by default, PostgreSQL in production. :class:`Store` owns the engine and the unit
of work and holds the repositories (``store.referensi``, ``store.asn``, ``store.state``,
``store.quarantine``, ``store.lineage``, ``store.quality``, ``store.outbox``,
``store.documents``, ``store.usulan``). Dialect differences live only in this package, and it
imports no Airflow: Airflow code gets a store from :class:`siapp_siasn.hooks.store.StoreHook`.
"""

from siapp_siasn.models.redact import keyed_hash, redact
from siapp_siasn.store.api import Store
from siapp_siasn.store.config import (
    DEFAULT_CONN_ID,
    HASH_KEY_ENV,
    HASH_KEY_EXTRA,
    default_sqlite_path,
    url_from_connection,
)
from siapp_siasn.store.documents import LEDGER_FIELDS, LEDGER_REQUIRED
from siapp_siasn.store.engine import make_engine, normalize_url
from siapp_siasn.store.errors import StoreError
from siapp_siasn.store.migrate import current_revision, downgrade, head_revision, migrate
from siapp_siasn.store.outbox import DUE_STATUSES
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
from siapp_siasn.store.referensi import REFERENCE_COLUMNS
from siapp_siasn.store.tables import ASN_TYPED_COLUMNS, OPERATOR_VIEWS, VIEWS, metadata
from siapp_siasn.store.usulan import LIFECYCLE_FIELDS, LIFECYCLE_STAMPS
from siapp_siasn.store.values import ERROR_LIMIT

__all__ = [
    "ASN_TYPED_COLUMNS",
    "DEFAULT_CONN_ID",
    "DUE_STATUSES",
    "ERROR_LIMIT",
    "HASH_KEY_ENV",
    "HASH_KEY_EXTRA",
    "LEDGER_FIELDS",
    "LEDGER_REQUIRED",
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
    "current_revision",
    "default_sqlite_path",
    "downgrade",
    "head_revision",
    "keyed_hash",
    "make_engine",
    "metadata",
    "migrate",
    "normalize_url",
    "outbox_key",
    "redact",
    "url_from_connection",
]
