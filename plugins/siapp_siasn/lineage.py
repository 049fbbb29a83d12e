"""The lineage record every operator returns to XCom, stores, and attaches to its Asset event.

Small, JSON-only, and free of personal data: records are identified by a content digest, never
listed. The digest is order-independent (a sum of per-record hashes modulo 2**256) so concurrent
fetching and batch boundaries do not change it, and it costs constant memory at any volume.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

_MOD = 2**256


class ContentDigest:
    """Order-independent digest over (key, record hash) pairs."""

    def __init__(self) -> None:
        self._acc = 0
        self.count = 0

    def add(self, key: str, record_hash: str) -> None:
        h = hashlib.sha256(f"{key}\x1f{record_hash}".encode()).digest()
        self._acc = (self._acc + int.from_bytes(h, "big")) % _MOD
        self.count += 1

    def merge(self, other: ContentDigest) -> None:
        self._acc = (self._acc + other._acc) % _MOD
        self.count += other.count

    def hexdigest(self) -> str:
        return f"sha256sum:{self._acc:064x}"

    def to_state(self) -> dict[str, Any]:
        """JSON state for a checkpoint (a resumed run continues the same digest)."""
        return {"acc": f"{self._acc:064x}", "count": self.count}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> ContentDigest:
        digest = cls()
        if state:
            digest._acc = int(state["acc"], 16)
            digest.count = int(state["count"])
        return digest


class Counts(BaseModel):
    read: int = 0
    valid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    failed: int = 0
    departed: int = 0

    def add(self, **kwargs: int) -> None:
        for name, value in kwargs.items():
            setattr(self, name, getattr(self, name) + value)


class Endpoint(BaseModel):
    system: str
    endpoint: str = Field(description="endpoint template or table; never a concrete key")


class LineageRecord(BaseModel):
    lineage_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    flow: str
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    source: Endpoint
    target: Endpoint
    window: dict[str, str | None] = Field(default_factory=dict)
    counts: Counts = Field(default_factory=Counts)
    content_digest: str | None = None
    upstream: list[str] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    duration_s: float | None = None
    rate_per_s: float | None = None
    requests: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    #: deterministic problems (a quality gate not met, a scope misconfigured): the task that
    #: produced the record fails without retries after publishing it
    failures: list[str] = Field(default_factory=list)

    def finish(self, started_monotonic: float, processed: int | None = None) -> LineageRecord:
        """Stamp end time, duration and rate (records per second)."""
        self.ended_at = datetime.now(UTC)
        self.duration_s = round(time.monotonic() - started_monotonic, 3)
        n = self.counts.read if processed is None else processed
        self.rate_per_s = round(n / self.duration_s, 2) if self.duration_s > 0 else None
        return self

    def to_xcom(self) -> dict[str, Any]:
        """JSON-safe dict for XCom, the lineage table and Asset event extras."""
        return self.model_dump(mode="json")


def upstream_ids(values: Any) -> list[str]:
    """Collect lineage ids from upstream XCom values (a record dict, or a list of them)."""
    if values is None:
        return []
    if isinstance(values, dict):
        values = [values]
    out: list[str] = []
    for value in values:
        if isinstance(value, dict) and isinstance(value.get("lineage_id"), str):
            out.append(value["lineage_id"])
    return out
