"""Run identity handed from an operator (or a CLI, test or benchmark) to a pure flow."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from siapp_siasn.lineage import Endpoint, LineageRecord

#: The agreement's calendar: dates of departures, sweeps and SLAs are Jakarta dates.
LOCAL_TZ = ZoneInfo("Asia/Jakarta")


class FlowConfigError(ValueError):
    """A deterministic error in what a flow was asked to do (a bad param or scope setting):
    retrying the same task cannot help, so the operator fails it without retries."""


@dataclass
class RunContext:
    dag_id: str = "cli"
    run_id: str = "manual"
    task_id: str = "flow"
    try_number: int = 1
    upstream: list[str | dict[str, Any]] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: progress callback (done, total): logged percentages in tasks, a bar in the CLI
    progress: Callable[[int, int], None] | None = None

    def lineage(
        self, flow: str, source: Endpoint, target: Endpoint, **fields: Any
    ) -> LineageRecord:
        """A lineage record stamped with this run's identity and upstream lineage ids."""
        return LineageRecord(
            flow=flow,
            dag_id=self.dag_id,
            run_id=self.run_id,
            task_id=self.task_id,
            try_number=self.try_number,
            source=source,
            target=target,
            upstream=self.upstream,
            **fields,
        )

    @contextmanager
    def lineage_scope(
        self, flow: str, source: Endpoint, target: Endpoint, **fields: Any
    ) -> Iterator[LineageRecord]:
        """``with run.lineage_scope(...) as record:`` — the record of one flow call, stamped
        with its end time, duration and rate when the block completes (not when it raises:
        a failed call publishes nothing)."""
        started = time.monotonic()
        record = self.lineage(flow, source, target, **fields)
        yield record
        record.finish(started)

    def report_progress(self, done: int, total: int) -> None:
        """Call the progress callback, if any."""
        if self.progress is not None:
            self.progress(done, total)

    @property
    def local_date(self) -> date:
        """Today in Asia/Jakarta (a 01:00 WIB run is still 'today', not yesterday in UTC)."""
        return self.now.astimezone(LOCAL_TZ).date()

    @property
    def run_key(self) -> str:
        """Checkpoints are per DAG run and task: a retry of the same run resumes."""
        return f"{self.dag_id}/{self.run_id}/{self.task_id}"
