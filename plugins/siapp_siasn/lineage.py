"""The lineage record every operator returns to XCom, stores, and attaches to its Asset event.

Read top down it answers an auditor's questions in order: which flow and run, which window,
what counts (under the flow's own names), which problems, built on which upstream records,
where the rejected rows are (quarantine, dead letters), the content digest; then endpoints,
timing and detail. HTTP telemetry is not in it (its own XCom key, ``http_metrics``, and a
line of totals in the task log).

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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

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


#: Count names per flow code, in the order an auditor reads them, for flows whose calls do not
#: name their counts themselves (a record of another flow lists the counts it was given).
FLOW_COUNTS: dict[str, tuple[str, ...]] = {
    "F1": ("read", "inserted", "updated", "unchanged", "quarantined", "departed", "failed"),
    "F1-quality": ("read", "valid", "quarantined"),
    "F2": ("read", "inserted", "updated", "unchanged", "quarantined"),
}
#: Human titles per flow code (the push and collect calls give their own: one code, two tasks)
FLOW_TITLES: dict[str, str] = {
    "F1": "F1 ASN IV/b+ ← SIASN (data utama, keluarga)",
    "F1-quality": "F1 quality gates on the ASN mirror",
    "F2": "F2 referensi ← SIASN",
    "F3-F4": "F3-F4 status, pertek ← SIASN",
    "F5-F8": "F5-F8 usulan, verifikasi, Keppres, PIC ← SIAPP NV",
    "F4/F7": "F4/F7 document reconciliation SIAPP NV ⇄ SIASN ⇄ ledger",
    "keppres_check": "F7 Keppres applied in SIASN",
    "api_monitor": "API contract and health monitor (art. 4(e), 5(2)g)",
    "monitoring_report": "Monitoring & evaluation report (art. 13)",
    "retention": "Retention purge (PKS art. 11)",
}


class Counts(BaseModel):
    """The counts of one flow call, under the flow's own names (a push has ``sent`` and
    ``dead``, a pull ``inserted`` and ``departed``); a name never counted reads 0."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def named(cls, *names: str) -> Counts:
        """Counts starting at 0 under ``names``, in that order (the order they are shown)."""
        return cls(**dict.fromkeys(names, 0))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            return super().__getattr__(name)  # type: ignore[misc]
        extra = self.__pydantic_extra__ or {}
        return extra.get(name, 0)

    def add(self, **kwargs: int) -> None:
        for name, value in kwargs.items():
            setattr(self, name, int(getattr(self, name)) + int(value))

    def as_dict(self) -> dict[str, int]:
        return dict(self.__pydantic_extra__ or {})


class Endpoint(BaseModel):
    system: str
    endpoint: str = Field(description="endpoint template or table; never a concrete key")


class UpstreamRef(BaseModel):
    """A record this one builds on: its id (resolvable in the store's ``lineage`` table) and
    where it came from."""

    lineage_id: str
    dag_id: str | None = None
    task_id: str | None = None
    flow: str | None = None

    @classmethod
    def of(cls, record: dict[str, Any]) -> UpstreamRef:
        return cls(
            lineage_id=str(record["lineage_id"]),
            dag_id=record.get("dag_id"),
            task_id=record.get("task_id"),
            flow=record.get("flow"),
        )


class Reference(BaseModel):
    """Where the rows behind a count are kept (a table or view, and how to select them)."""

    count: int
    where: str


def http_totals(metrics: dict[str, Any]) -> dict[str, int]:
    """Requests, retries, failures and 429s of one client's metrics or of several
    (``{"siasn": {...}, "siapp": {...}}``) summed: the telemetry's line in the task log."""
    parts = (
        [metrics] if "requests" in metrics else [v for v in metrics.values() if isinstance(v, dict)]
    )
    return {
        k: sum(int(p.get(k) or 0) for p in parts)
        for k in ("requests", "retries", "failures", "throttled_429")
    }


class LineageRecord(BaseModel):
    """What a task run read, wrote and rejected. Fields are declared (and dumped) in the order
    an auditor reads them: what and which run, the window, the counts, the problems, where it
    came from, where the rejected rows are, the digest; then endpoints, timing and detail."""

    title: str | None = None
    flow: str
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    lineage_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    window: dict[str, str | None] = Field(default_factory=dict)
    counts: Counts = Field(default_factory=Counts)
    #: deterministic problems (a quality gate not met, dead letters over the threshold): the
    #: task that produced the record fails without retries after publishing it
    failures: list[str] = Field(default_factory=list)
    upstream: list[UpstreamRef] = Field(default_factory=list)
    #: where the rows behind the counts are: ``quarantine``, ``dead_letters``, ...
    references: dict[str, Reference] = Field(default_factory=dict)
    content_digest: str | None = None
    source: Endpoint
    target: Endpoint
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    duration_s: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    #: full HTTP telemetry of the clients: published under its own XCom key (``http_metrics``)
    #: and logged as totals (:func:`http_totals`), not part of the record
    requests: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @field_validator("source", "target", mode="before")
    @classmethod
    def _endpoint_text(cls, value: Any) -> Any:
        # dumped as one line, "system: endpoint"; rows stored before hold the object
        if isinstance(value, str):
            system, _, endpoint = value.partition(": ")
            return {"system": system, "endpoint": endpoint}
        return value

    @field_serializer("source", "target")
    def _endpoint_line(self, value: Endpoint) -> str:
        return f"{value.system}: {value.endpoint}"

    @field_validator("upstream", mode="before")
    @classmethod
    def _upstream_refs(cls, value: Any) -> Any:
        # older callers (and stored rows) give bare lineage ids
        if isinstance(value, list):
            return [{"lineage_id": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _flow_defaults(self) -> LineageRecord:
        if self.title is None:
            self.title = FLOW_TITLES.get(self.flow, self.flow)
        if not self.counts.as_dict() and self.flow in FLOW_COUNTS:
            self.counts = Counts.named(*FLOW_COUNTS[self.flow])
        return self

    def finish(self, started_monotonic: float, processed: int | None = None) -> LineageRecord:
        """Stamp end time and duration (a rate is counts over ``duration_s``; ``processed``
        is accepted for callers of the former signature)."""
        self.ended_at = datetime.now(UTC)
        self.duration_s = round(time.monotonic() - started_monotonic, 3)
        return self

    def reference(self, name: str, count: int, where: str) -> None:
        """Point at the rows behind a count (only when there are some)."""
        if count:
            self.references[name] = Reference(count=count, where=where)

    def to_xcom(self) -> dict[str, Any]:
        """JSON-safe dict for XCom, the lineage table and Asset event extras (no telemetry)."""
        return self.model_dump(mode="json")


def upstream_ids(values: Any) -> list[str]:
    """Collect lineage ids from upstream XCom values (a record dict, or a list of them)."""
    return [ref.lineage_id for ref in upstream_refs(values)]


def upstream_refs(values: Any) -> list[UpstreamRef]:
    """References to upstream XCom values (a record dict, or a list of them)."""
    if values is None:
        return []
    if isinstance(values, dict):
        values = [values]
    return [
        UpstreamRef.of(value)
        for value in values
        if isinstance(value, dict) and isinstance(value.get("lineage_id"), str)
    ]
