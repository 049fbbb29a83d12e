"""Retention (PKS art. 11: the receiving side keeps data only for the agreement's purpose):
purge raw payloads, quarantine rows, finished outbox bodies and report files older than
``max_age_days``; lineage rows and the counts they hold stay.

The store's part is :class:`siapp_siasn.store.retention.RetentionRepository` (one transaction
per chunk, idempotent); the files are removed here. Only files named in a lineage record's
``extra.report`` whose suffix is a report's (``.csv``, ``.html``) are removed: a path in the
store never makes the purge delete anything else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.lineage import Counts, Endpoint, LineageRecord

__all__ = ["DEFAULT_MAX_AGE_DAYS", "FLOW", "REPORT_SUFFIXES", "cutoff_for", "purge_expired"]

log = logging.getLogger(__name__)

FLOW = "retention"
TITLE = "Retention purge (PKS art. 11)"
#: one year: long enough for the yearly monitoring & evaluation (art. 13) to read its period
DEFAULT_MAX_AGE_DAYS = 365
#: the only files the purge removes
REPORT_SUFFIXES = frozenset({".csv", ".html"})
COUNT_NAMES = ("history_payloads", "quarantine_rows", "outbox_bodies", "report_files")


def cutoff_for(now: dt.datetime, max_age_days: int) -> dt.datetime:
    """The instant before which data is purged; ``max_age_days`` must be at least 1."""
    if isinstance(max_age_days, bool) or not isinstance(max_age_days, int) or max_age_days < 1:
        raise FlowConfigError("max_age_days must be a whole number of days, at least 1")
    return now - dt.timedelta(days=max_age_days)


def remove_report_files(paths: list[str]) -> int:
    """Remove the report files among ``paths`` that still exist; returns how many. A folder
    left empty by the removal goes too (a monitoring report has one per period)."""
    removed = 0
    folders: set[Path] = set()
    for text in paths:
        path = Path(text)
        if path.suffix.lower() not in REPORT_SUFFIXES or not path.is_file():
            continue
        path.unlink()
        removed += 1
        folders.add(path.parent)
    for folder in folders:
        with contextlib.suppress(OSError):  # only an empty folder goes
            folder.rmdir()
    return removed


def purge_expired(
    store: Any, max_age_days: int = DEFAULT_MAX_AGE_DAYS, *, run: RunContext | None = None
) -> LineageRecord:
    """Purge what is older than ``max_age_days`` and return the lineage record counting what
    was purged per kind (the caller publishes it)."""
    run = run or RunContext(task_id="retention")
    cutoff = cutoff_for(run.now, max_age_days)
    with run.lineage_scope(
        FLOW,
        title=TITLE,
        counts=Counts.named(*COUNT_NAMES),
        source=Endpoint(system="hub-store", endpoint="asn_history, quarantine, outbox, lineage"),
        target=Endpoint(system="hub-store", endpoint="asn_history, quarantine, outbox, files"),
        window={"cutoff_utc": cutoff.isoformat(), "max_age_days": str(max_age_days)},
    ) as record:
        repo = store.retention
        record.counts.add(
            history_payloads=repo.purge_history_payloads(cutoff),
            quarantine_rows=repo.purge_quarantine(cutoff),
            outbox_bodies=repo.purge_outbox_bodies(cutoff),
            report_files=remove_report_files(repo.report_paths(cutoff)),
        )
        log.info("retention: purged before %s: %s", cutoff.isoformat(), record.counts.as_dict())
    return record
