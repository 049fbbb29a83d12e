"""Quarantine repository: records a flow rejected, kept for audit without personal data.

The record key (a NIP, a usulan id) is stored as a keyed hash (HMAC-SHA256 under the store's
secret, so it cannot be recovered by hashing candidate NIPs) and the payload redacted. There is
no fallback secret: a store without one raises :class:`StoreError` when it must hash a key.
During a key rotation lookups accept hashes under the previous key too (:meth:`key_hashes`).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from siapp_siasn.models.redact import keyed_hash, redact, redact_raw
from siapp_siasn.store.base import Repository, where_given
from siapp_siasn.store.config import HASH_KEY_ENV, HASH_KEY_EXTRA
from siapp_siasn.store.errors import StoreError
from siapp_siasn.store.records import QuarantineItem
from siapp_siasn.store.tables import quarantine
from siapp_siasn.store.types import utcnow
from siapp_siasn.utils import canonical_json

__all__ = ["QuarantineRepository"]

log = logging.getLogger(__name__)


def _content_key(payload: Any, redacted: Any) -> str:
    """The key of a keyless record: its content (hashed like any key; never stored). Content
    orjson refuses (hostile nesting, odd types) is keyed by its redacted form, which is bounded."""
    try:
        return "content:" + canonical_json(payload)
    except (TypeError, ValueError, RecursionError):
        return "redacted:" + canonical_json(redacted)


class QuarantineRepository(Repository):
    """``store.quarantine``: add rejected records, list them, hash their keys."""

    def __init__(
        self, engine: Engine, hash_key: bytes | None, hash_key_previous: bytes | None = None
    ) -> None:
        super().__init__(engine)
        self._hash_key = hash_key
        self._hash_key_previous = hash_key_previous

    def key_hash(self, key: str) -> str:
        """The keyed hash (HMAC-SHA256, hex) the store uses for record keys."""
        if not self._hash_key:
            raise StoreError(
                f"store has no hash key: set extra {HASH_KEY_EXTRA!r} of the store connection "
                f"or the environment variable {HASH_KEY_ENV}"
            )
        return keyed_hash(key, secret=self._hash_key)

    def key_hashes(self, key: str) -> list[str]:
        """The hashes a lookup of ``key`` accepts: under the current key, then (during a
        rotation) under the previous one, whose rows stay until retention purges them."""
        out = [self.key_hash(key)]
        if self._hash_key_previous:
            out.append(keyed_hash(key, secret=self._hash_key_previous))
        return out

    def add(
        self,
        items: Iterable[QuarantineItem],
        *,
        run_id: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Store rejected records: key as keyed hash, payload redacted.

        Idempotent per run: the same (run, flow, kind, key, reason) is stored once. A record
        without a key (a garbled row, a page that did not parse) is keyed by its content, so
        different keyless records of one run stay different rows. Returns the number of rows
        newly stored.
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
                "key_hash": self.key_hash(item.key or _content_key(payload, safe)),
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
        with self._tx(conn, "quarantine.add") as c:
            stored = len(c.execute(ins.returning(quarantine.c.id), list(rows.values())).all())
        log.info("quarantined %d records (%d new)", len(rows), stored)
        return stored

    def list(
        self, *, run_id: str | None = None, flow: str | None = None, limit: int = 1000
    ) -> builtins.list[dict[str, Any]]:
        """Quarantined rows, newest first."""
        q = where_given(
            sa.select(quarantine).order_by(quarantine.c.id.desc()).limit(limit),
            ((quarantine.c.run_id, run_id), (quarantine.c.flow, flow)),
        )
        with self._tx(None, "quarantine.list") as c:
            return [dict(r) for r in c.execute(q).mappings()]
