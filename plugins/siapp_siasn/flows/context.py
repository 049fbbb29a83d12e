"""Run identity handed from an operator (or a CLI, test or benchmark) to a pure flow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from siapp_siasn.lineage import Endpoint, LineageRecord

#: The agreement's calendar: dates of departures, sweeps and SLAs are Jakarta dates.
LOCAL_TZ = ZoneInfo("Asia/Jakarta")


@dataclass
class RunContext:
    dag_id: str = "cli"
    run_id: str = "manual"
    task_id: str = "flow"
    try_number: int = 1
    upstream: list[str] = field(default_factory=list)
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

    @property
    def local_date(self) -> date:
        """Today in Asia/Jakarta (a 01:00 WIB run is still 'today', not yesterday in UTC)."""
        return self.now.astimezone(LOCAL_TZ).date()

    @property
    def run_key(self) -> str:
        """Checkpoints are per DAG run and task: a retry of the same run resumes."""
        return f"{self.dag_id}/{self.run_id}/{self.task_id}"
