"""One document reconciliation run: inventories → comparison → items → repair → report.

Pure Python (no Airflow); the ``dokumen_reconciliation`` DAG's operator and the CLI call
:func:`reconcile`. The API inventories are read on the event loop and handed, chunk by chunk
through a bounded pipe, to a worker thread that runs the pandas comparison
(:func:`siapp_siasn.flows.reconciliation.iter_reconcile`), so memory holds a few chunks plus the
comparison's own partitions however large the inventories are.

The run's items (every document key not ok) go to ``store.reconciliation`` — as a complete view
only when every page of every inventory was read (else nothing is resolved on a partial view) —
then the repair takes the oldest repairable ones (:mod:`.reconciliation_repair`, bounded by
``repair_limit``) and flags what no transfer can fix. The report (CSV of the differences, HTML
with a chart) is written under ``report_dir``; its paths and the counts per category are in the
lineage record.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from siapp_siasn.flows.asn_sources import api_mode_of
from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.reconciliation import CATEGORIES, iter_reconcile
from siapp_siasn.flows.reconciliation_repair import (
    RepairParams,
    RepairResult,
    flag_not_repairable,
    repair_items,
)
from siapp_siasn.flows.reconciliation_sources import (
    ChunkPipe,
    InventoryStatus,
    ledger_chunks,
    siapp_chunks,
    siasn_chunks,
)
from siapp_siasn.lineage import Counts, Endpoint, LineageRecord
from siapp_siasn.reports.reconciliation import write_report
from siapp_siasn.store import Store
from siapp_siasn.store.reconciliation import ReconItem

__all__ = ["NO_ANSWER", "PUBLIC_VISIBLE_JENIS", "ReconcileParams", "ReconcileResult", "reconcile"]

log = logging.getLogger(__name__)

#: SIAPP NV → SIASN documents SIASN's published rows reference (the Keppres copy, in
#: ``path_ttd_sk`` and rw-golongan ``path``): the only uploads compared in public-API mode
PUBLIC_VISIBLE_JENIS = frozenset({"SALINAN_KEPPRES"})

FLOW = "F4/F7"
#: category of usulan SIAPP NV sent that got no answer (delivered or refused) in time
NO_ANSWER = "usulan_no_answer"
_SOURCE = Endpoint(
    system="siapp+siasn+hub-store",
    endpoint="/api/v1/dokumen; /apisiasn/1.0/siapp/dokumen; document_ledger",
)
_TARGET = Endpoint(system="hub-store", endpoint="reconciliation_item; reports")


#: count names of a reconciliation record, in the order they are shown (per category:
#: ``extra["categories"]``)
RECONCILE_COUNTS = (
    "read",
    "ok",
    "differences",
    "new_items",
    "open_items",
    "repaired",
    "repair_failed",
    "unrepairable",
    "quarantined",
    NO_ANSWER,
)
ITEMS_WHERE = "table reconciliation_item, last_seen_run={}"
UNREPAIRABLE_WHERE = "table reconciliation_item, flagged_at set (flagged once, with its reason)"
QUARANTINE_WHERE = "table quarantine, run_id={}"


def unrepairable_failure(flagged: int, threshold: int | None) -> str | None:
    """The problem a reconciliation reports when it flagged more than ``threshold`` items
    unrepairable this run (None: never), naming the count; None within the threshold."""
    if threshold is None or flagged <= threshold:
        return None
    return (
        f"{flagged} documents flagged unrepairable this run (threshold {threshold})"
        " — see reconciliation_item and the report"
    )


@dataclass
class ReconcileParams:
    """What one run does (a bad value raises :class:`FlowConfigError`).

    :param repair_limit: items repaired per run at most (0: compare and record only).
    :param max_attempts: runs that may try to repair an item before it is flagged.
    :param dry_run: compare and report only: no items stored, nothing repaired.
    :param report_dir: where the CSV and HTML go (default: a folder in the temp directory).
    :param max_unrepairable: items flagged unrepairable in one run above which the record
        names a failure (None, the default of a direct call: never; the DAG's param says 0).
    """

    repair_limit: int = 50
    max_attempts: int = 3
    #: an usulan SIAPP NV sent with no answer (delivered or refused) this many days later is
    #: reported as ``usulan_no_answer``
    no_answer_days: int = 14
    dry_run: bool = False
    verify: bool = True
    report_dir: Path | None = None
    siapp_page_size: int = 1000
    siasn_page_size: int = 500
    ledger_chunk_size: int = 50_000
    partitions: int = 16
    spill_rows: int = 1_000_000
    pipe_depth: int = 2
    max_unrepairable: int | None = None

    def __post_init__(self) -> None:
        if self.no_answer_days < 0:
            raise FlowConfigError("no_answer_days >= 0")
        if self.repair_limit < 0 or self.max_attempts < 1:
            raise FlowConfigError("repair_limit >= 0 and max_attempts >= 1")
        if self.max_unrepairable is not None and self.max_unrepairable < 0:
            raise FlowConfigError("max_unrepairable >= 0")
        if min(self.siapp_page_size, self.siasn_page_size, self.ledger_chunk_size) < 1:
            raise FlowConfigError("page and chunk sizes must be at least 1")
        if self.partitions < 1 or self.spill_rows < 1 or self.pipe_depth < 1:
            raise FlowConfigError("partitions, spill_rows and pipe_depth must be at least 1")


@dataclass
class ReconcileResult:
    """The comparison's outcome, as the worker thread leaves it."""

    counts: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    items: list[ReconItem] = field(default_factory=list)
    csv: Path | None = None
    html: Path | None = None


def _report_name(run: RunContext) -> str:
    raw = f"reconciliation-{run.dag_id}-{run.run_id}-{run.task_id}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw)[:180]


def _compare(
    siapp: ChunkPipe,
    siasn: ChunkPipe,
    ledger: Iterator[pd.DataFrame],
    statuses: dict[str, InventoryStatus],
    params: ReconcileParams,
    report_dir: Path,
    name: str,
) -> ReconcileResult:
    """The worker thread: compare, collect the items not ok, write the report."""
    out = ReconcileResult()

    def parts() -> Iterator[pd.DataFrame]:
        # an usulan a bad page named is never judged (nor any key, if a side is incomplete);
        # the readers know which only once they are done: iter_reconcile asks then
        for part in iter_reconcile(
            siapp,
            siasn,
            ledger,
            unread_usulan=lambda: frozenset().union(*(s.unread_usulan for s in statuses.values())),
            incomplete=lambda: not all(s.complete for s in statuses.values()),
            counts=out.counts,
            rows=out.rows,
            partitions=params.partitions,
            spill_rows=params.spill_rows,
        ):
            for r in part.itertuples(index=False):
                category = str(r.category)
                if category in ("ok", "unread"):
                    continue
                jenis = None if pd.isna(r.jenis) else str(r.jenis)
                out.items.append(
                    ReconItem(str(r.usulan_id), str(r.direction), str(r.ref), category, jenis)
                )
            yield part

    try:
        paths = write_report(parts(), out.counts, report_dir, name=name)
    finally:
        siapp.abandon()
        siasn.abandon()
    out.csv, out.html = paths.csv, paths.html
    for c in CATEGORIES:
        out.counts.setdefault(c, 0)
    return out


async def _produce(
    siapp_pipe: ChunkPipe,
    siasn_pipe: ChunkPipe,
    siasn: Any,
    siapp: Any,
    store: Store,
    run: RunContext,
    statuses: dict[str, InventoryStatus],
    params: ReconcileParams,
    public: bool,
) -> None:
    """Read SIAPP NV, then SIASN, into their pipes (the order the comparison reads them)."""
    visible = PUBLIC_VISIBLE_JENIS if public else None
    try:
        async for chunk in siapp_chunks(
            siapp,
            store,
            run.run_key,
            statuses["siapp"],
            page_size=params.siapp_page_size,
            public_visible_jenis=visible,
        ):
            await siapp_pipe.put(chunk)
            run.report_progress(statuses["siapp"].pages + statuses["siasn"].pages, 0)
        await siapp_pipe.close()
    except BaseException as exc:
        siapp_pipe.fail(exc)
        siasn_pipe.fail(exc)
        raise
    try:
        async for chunk in siasn_chunks(
            siasn, store, run.run_key, statuses["siasn"], page_size=params.siasn_page_size
        ):
            await siasn_pipe.put(chunk)
            run.report_progress(statuses["siapp"].pages + statuses["siasn"].pages, 0)
        await siasn_pipe.close()
    except BaseException as exc:
        siasn_pipe.fail(exc)
        raise


async def reconcile(
    run: RunContext, siasn: Any, siapp: Any, store: Store, params: ReconcileParams
) -> LineageRecord:
    """Reconcile the documents of SIAPP NV, SIASN and the ledger; repair; report."""
    public = api_mode_of(siasn) == "public"
    run_id = run.run_key
    report_dir = params.report_dir or Path(tempfile.gettempdir()) / "siapp_siasn_reports"
    with run.lineage_scope(
        FLOW,
        counts=Counts.named(*RECONCILE_COUNTS),
        source=_SOURCE,
        target=_TARGET,
        window={"now": run.now.isoformat(), "api_mode": "public" if public else "pks"},
    ) as record:
        if not params.dry_run:
            store.reconciliation.start_run(
                run_id,
                params={
                    "repair_limit": params.repair_limit,
                    "max_attempts": params.max_attempts,
                    "api_mode": "public" if public else "pks",
                },
                started_at=run.now,
            )
        statuses = {
            s: InventoryStatus(s, quarantine=not params.dry_run)
            for s in ("siapp", "siasn", "ledger")
        }
        siapp_pipe, siasn_pipe = ChunkPipe(params.pipe_depth), ChunkPipe(params.pipe_depth)
        ledger = ledger_chunks(
            store,
            statuses["ledger"],
            chunk_size=params.ledger_chunk_size,
            public_visible_jenis=PUBLIC_VISIBLE_JENIS if public else None,
        )
        repair = RepairResult()
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(siasn)
            await stack.enter_async_context(siapp)
            producer = asyncio.create_task(
                _produce(siapp_pipe, siasn_pipe, siasn, siapp, store, run, statuses, params, public)
            )
            try:
                result = await asyncio.to_thread(
                    _compare,
                    siapp_pipe,
                    siasn_pipe,
                    ledger,
                    statuses,
                    params,
                    report_dir,
                    _report_name(run),
                )
            except BaseException:
                producer.cancel()
                raise
            await producer
            complete = all(s.complete and not s.unread_usulan for s in statuses.values())
            items: dict[str, int] = {}
            if not params.dry_run:
                # whole: a retried task's comparison replaces its killed attempt's
                items = store.reconciliation.upsert_items(
                    run_id, result.items, seen_at=run.now, complete=complete, whole=True
                )
                repair = await repair_items(
                    siasn,
                    siapp,
                    store,
                    run,
                    RepairParams(
                        limit=params.repair_limit,
                        max_attempts=params.max_attempts,
                        verify=params.verify,
                    ),
                )
                flag_not_repairable(store, run, limit=max(params.repair_limit, 1), result=repair)
            record.requests = {"siasn": siasn.metrics(), "siapp": siapp.metrics()}
        counts = {c: int(result.counts[c]) for c in CATEGORIES}
        # every usulan has exactly one answer: the ones with none after N days, a category of
        # their own (ids and ages in the store's lifecycle, counts here)
        no_answer = store.usulan.no_answer(as_of=run.now, days=params.no_answer_days)
        counts[NO_ANSWER] = len(no_answer)
        if not params.dry_run:
            store.reconciliation.finish_run(
                run_id,
                counts=counts,
                report_csv=str(result.csv),
                report_html=str(result.html),
                finished_at=run.now,
            )
        quarantined = sum(s.quarantined_pages for s in statuses.values())
        record.counts.add(
            read=sum(int(v) for v in result.rows.values()),
            ok=counts.get("ok", 0),
            differences=sum(n for c, n in counts.items() if c not in ("ok", NO_ANSWER)),
            new_items=int(items.get("new", 0)),
            open_items=int(items.get("open", 0)),
            repaired=repair.repaired,
            repair_failed=repair.failed,
            unrepairable=repair.flagged,
            quarantined=quarantined,
            **{NO_ANSWER: len(no_answer)},
        )
        record.reference("differences", record.counts.differences, ITEMS_WHERE.format(run_id))
        record.reference("unrepairable", repair.flagged, UNREPAIRABLE_WHERE)
        record.reference("quarantine", quarantined, QUARANTINE_WHERE.format(run_id))
        problem = unrepairable_failure(repair.flagged, params.max_unrepairable)
        if problem:
            record.failures.append(problem)
        record.extra = {
            "categories": counts,
            "report": {"csv": str(result.csv), "html": str(result.html)},
            "inventories": {s: st.summary() for s, st in statuses.items()},
            "complete": complete,
            "items": items,
            "repair": repair.summary(),
            "dry_run": params.dry_run,
            NO_ANSWER: {
                "count": len(no_answer),
                "after_days": params.no_answer_days,
                "oldest_age_days": max((r["age_days"] for r in no_answer), default=None),
            },
        }
        log.info("reconciliation %s: %s", run_id, counts)
        return record
