"""Flows F1 and F2: SIASN reference data and ASN golongan IV/b+ into the hub's store.

Pure Python (no Airflow), so that the operators, the CLI, the tests and the benchmarks run the
same code. What a run does, step by step, is told once, for the people who run it, in the
``doc_md`` of ``dags/siasn_asn_daily.py``; this module says how and why where it is not obvious.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from siapp_siasn.clients.errors import ApiError
from siapp_siasn.flows import asn_sources, watermarks
from siapp_siasn.flows.asn_records import (
    MISSING_NAMES_MAX,
    EmployeeRecord,
    absent_fields,
    build_employee,
    merge_unknown_fields,
    parse_enumeration_row,
)
from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.referensi import pull_referensi as pull_referensi
from siapp_siasn.lineage import ContentDigest, Endpoint, LineageRecord
from siapp_siasn.models.nik import NikKey
from siapp_siasn.models.nip import NipError, is_valid_nip, normalize_nip
from siapp_siasn.store import AsnRow, QuarantineItem, Store
from siapp_siasn.store.asn import Rekey
from siapp_siasn.store.selection import SelectionError

log = logging.getLogger(__name__)

STEP = "pull_asn"


@dataclass
class PullParams:
    full_refresh: bool = False
    #: the id of a stored selection (``store.selection``): re-pull only its employees. The
    #: DAG takes this, never NIPs: Airflow shows params in its UI and audit log.
    selection: str | None = None
    #: re-pull only these NIPs: for Python callers (tests, benches), not for Airflow params
    nips: list[str] = field(default_factory=list)
    batch_size: int = 500
    full_sweep_every_days: int = 7


#: plans that fetch a given list of employees: no listing, no departures, watermark untouched
LISTED_MODES = ("selection", "nips")


@dataclass
class Plan:
    mode: str  # full | incremental | selection | nips
    updated_since: str | None = None  # ISO date, inclusive
    nips: list[str] = field(default_factory=list)
    selection: str | None = None

    def to_state(self) -> dict[str, Any]:
        # a selection's NIPs are read again from the store on resume (it is immutable)
        nips = [] if self.mode == "selection" else self.nips
        return {
            "mode": self.mode,
            "updated_since": self.updated_since,
            "nips": nips,
            "selection": self.selection,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], store: Store | None = None) -> Plan:
        selection = state.get("selection")
        if state["mode"] == "selection" and store is not None:
            nips = _selection_nips(store, selection)
        else:
            nips = list(state.get("nips") or [])
        return cls(state["mode"], state.get("updated_since"), nips, selection)


@dataclass
class Target:
    nip: str
    updated: str | None = None  # the enumeration's `updated` (ISO), kept as the NIP's cursor


#: what fetching one employee gave: a record to store, a quarantine item, or the fetch's error
Fetched = EmployeeRecord | QuarantineItem | ApiError


@dataclass(frozen=True)
class Progress:
    """Which employees of the plan a run has stored, in a form a checkpoint can hold.

    Employees are started in NIP order but complete in any order, so "the last NIP done" cannot
    say it: every NIP up to ``done_through`` is stored except those in ``not_done``, started
    but not yet handed to a write. Those are at most the in-flight window and the batch being
    collected, however slow one employee is (a list of the NIPs done would grow with the run).
    """

    done_through: str | None = None
    not_done: frozenset[str] = frozenset()

    def is_done(self, nip: str) -> bool:
        return (
            self.done_through is not None and nip <= self.done_through and nip not in self.not_done
        )

    def to_state(self) -> dict[str, Any]:
        return {"done_through": self.done_through, "not_done": sorted(self.not_done)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Progress:
        # "last_nip": checkpoints of the batch-by-batch pull (every NIP up to it was stored)
        through = state.get("done_through", state.get("last_nip"))
        return cls(through, frozenset(state.get("not_done") or ()))


@dataclass(frozen=True)
class QualityGate:
    """Thresholds of :func:`check_quality`: the quarantine gate fails only when both
    ``max_quarantine_rate`` and ``min_quarantined`` are exceeded, so that 2 records out of 61
    on a quiet night do not fail the run; the drift gate fails when more than ``max_drifted``
    employees came without a contract field (SIASN renamed or dropped it: every employee
    would follow), by default at the first."""

    max_quarantine_rate: float = 0.02
    min_quarantined: int = 5
    max_drifted: int = 0


# ---------------------------------------------------------------------------------------------
# F2: reference data lives in siapp_siasn.flows.referensi (pull_referensi re-exported above)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# F1: ASN IV/b+
# ---------------------------------------------------------------------------------------------
#: lineage ``extra`` keys the quality gate reads: quarantined records per reason, and the
#: contract fields SIASN stopped sending (drift), names only
QUARANTINE_REASONS = "quarantine_reasons"
ABSENT_FIELDS = "absent_fields"
#: the reason of a listing row that failed validation (the quarantine row says ``invalid``)
LISTING_INVALID = "listing_invalid"


def tally_quarantine(extra: dict[str, Any], items: Iterable[QuarantineItem]) -> None:
    """Count quarantined items per reason into ``extra`` (fetch failures are not quarantine:
    they are ``failed`` and retried next run), and collect the drifted field names, capped."""
    reasons: dict[str, int] = dict(extra.get(QUARANTINE_REASONS) or {})
    absent = set(extra.get(ABSENT_FIELDS) or [])
    for item in items:
        if item.reason == "fetch_failed":
            continue
        reason = LISTING_INVALID if item.entity_kind == "asn_enumeration" else item.reason
        reasons[reason] = reasons.get(reason, 0) + 1
        absent.update(absent_fields(item))
    if reasons:
        extra[QUARANTINE_REASONS] = dict(sorted(reasons.items()))
    if absent:
        extra[ABSENT_FIELDS] = sorted(absent)[:MISSING_NAMES_MAX]


def _selection_nips(store: Store, selection: str | None) -> list[str]:
    try:
        return store.selection.nips(selection or "")
    except SelectionError as exc:
        raise FlowConfigError(str(exc)) from None


def decide_plan(store: Store, params: PullParams, today: date) -> Plan:
    if params.selection:
        if params.nips or params.full_refresh:
            raise FlowConfigError(
                "selection re-pulls the employees it names: it excludes nips and full_refresh"
            )
        nips = _selection_nips(store, params.selection)
        return Plan("selection", nips=nips, selection=params.selection)
    if params.nips:
        return Plan("nips", nips=sorted(set(params.nips)))
    cursor = store.state.get_watermark(watermarks.ASN_CURSOR)
    last_full = store.state.get_watermark(watermarks.ASN_FULL_SWEEP)
    sweep_due = last_full is None or (
        today - date.fromisoformat(last_full) >= timedelta(days=params.full_sweep_every_days)
    )
    if params.full_refresh or cursor is None or sweep_due:
        return Plan("full")
    return Plan("incremental", updated_since=cursor)


async def enumerate_targets(
    client: Any, store: Store, plan: Plan, record: LineageRecord
) -> list[Target]:
    """The NIPs to fetch, sorted; bad enumeration rows are quarantined, never fatal."""
    if plan.mode in LISTED_MODES:
        return [Target(nip) for nip in plan.nips]
    since = date.fromisoformat(plan.updated_since) if plan.updated_since else None
    listed: dict[str, Target] = {}
    bad: list[QuarantineItem] = []
    unidentified = 0
    async for raw in asn_sources.source_for(client, store).rows(since):
        row, reason = parse_enumeration_row(raw)
        if row is None:
            key = str(raw.get("nipBaru", "")) if isinstance(raw, dict) else ""
            bad.append(
                QuarantineItem(
                    flow="F1",
                    entity_kind="asn_enumeration",
                    key=key,
                    reason="invalid",
                    detail=reason,
                    payload=raw,
                )
            )
            try:
                nip = normalize_nip(key)
            except NipError:
                unidentified += 1
                continue
            # The row only points at the employee, whose own records are validated when
            # fetched: a bad golongan or date here must not drop them from the mirror.
            listed.setdefault(nip, Target(nip))
            continue
        listed[row.nip] = Target(row.nip, row.updated)
    # no request is in flight here (pages are read one after the other): direct store calls
    if bad:
        store.quarantine.add(bad, run_id=record.run_id or "")
        record.counts.add(quarantined=len(bad))
        tally_quarantine(record.extra, bad)
    targets = sorted(listed.values(), key=lambda t: t.nip)
    record.extra["listed"] = len(targets)
    if unidentified:
        # someone was listed whom we cannot name: a full sweep cannot tell who is absent
        record.extra["unidentified_rows"] = unidentified
    if plan.mode == "incremental":
        known = store.asn.source_updated_map([t.nip for t in targets])
        targets = [
            t
            for t in targets
            if t.updated is None or known.get(t.nip) is None or t.updated > known[t.nip]
        ]
    return targets


async def _fetch(
    client: Any,
    target: Target,
    *,
    nik_key: NikKey | None = None,
    nik_key_previous: NikKey | None = None,
) -> Fetched:
    try:
        parts = await client.get_employee(target.nip)
    except ApiError as exc:
        return exc
    return build_employee(
        target.nip,
        target.updated,
        parts["utama"],
        parts["pasangan"],
        parts["anak"],
        parts["ortu"],
        nik_key=nik_key,
        nik_key_previous=nik_key_previous,
    )


def _already_departed(store: Store, rows: Iterable[AsnRow]) -> set[str]:
    """Departing employees the store already holds as departed with the same content.

    Storing them again would re-activate them (a departed employee seen again is a return)
    and depart them anew: two history versions and a new departure date for nothing.
    """
    settled: set[str] = set()
    for row in rows:
        held = store.asn.get(row.nip)
        if (
            held is not None
            and not held["is_active"]
            and held["record_hash"] == row.record_hash
            and held["family_hash"] == row.family_hash
        ):
            settled.add(row.nip)
    return settled


@dataclass
class _AsnBatchWriter:
    """Writes one batch of fetched employees with its checkpoint, in one transaction.

    Called in a worker thread, one batch at a time, while the event loop keeps fetching: it
    alone updates the record's counts and the digest until the stream ends.
    """

    store: Store
    run: RunContext
    record: LineageRecord
    plan: Plan
    #: what the plan fixed before the first batch, carried by every checkpoint
    planned: dict[str, Any]
    digest: ContentDigest
    batch_no: int

    def __call__(self, batch: list[tuple[Target, Fetched]], progress: Progress) -> None:
        store, run, record = self.store, self.run, self.record
        rows: list[AsnRow] = []
        bad: list[QuarantineItem] = []
        leaving: dict[str, list[str]] = {}
        rekey: list[Rekey] = []
        for target, result in batch:
            if isinstance(result, ApiError):
                bad.append(
                    QuarantineItem(
                        flow="F1",
                        entity_kind="asn",
                        key=target.nip,
                        reason="fetch_failed",
                        detail=f"{result.status} {result.endpoint}",
                    )
                )
            elif isinstance(result, QuarantineItem):
                bad.append(result)
            else:
                rows.append(result.row)
                if result.rekey is not None:
                    rekey.append(result.rekey)
                self.digest.add(
                    result.row.nip, result.row.record_hash + (result.row.family_hash or "")
                )
                if result.departure_reason:
                    leaving.setdefault(result.departure_reason, []).append(result.row.nip)
                merge_unknown_fields(record.extra, result)
        # rows stored under the previous key (or before NIKs were pseudonymised) are
        # rewritten under the current one first, so the merge below sees them unchanged
        store.asn.rekey(rekey)
        departing = {nip for nips in leaving.values() for nip in nips}
        settled = _already_departed(store, (r for r in rows if r.nip in departing))
        if settled:
            rows = [r for r in rows if r.nip not in settled]
            leaving = {
                reason: kept
                for reason, nips in leaving.items()
                if (kept := [n for n in nips if n not in settled])
            }
        self.batch_no += 1
        failed = sum(1 for b in bad if b.reason == "fetch_failed")
        record.counts.add(
            read=len(batch), valid=len(rows), quarantined=len(bad) - failed, failed=failed
        )
        tally_quarantine(record.extra, bad)
        with store.transaction() as conn:
            counts = store.asn.apply_batch(rows, run.run_id, run.now, quarantine=bad, conn=conn)
            for reason, nips in leaving.items():
                left = store.asn.mark_departed(
                    nips, run.local_date, reason, run_id=run.run_id, as_of=run.now, conn=conn
                )
                record.counts.add(departed=left.departed)
            record.counts.add(
                inserted=counts.inserted,
                updated=counts.updated,
                unchanged=counts.unchanged + len(settled),
            )
            state = {
                "plan": self.plan.to_state(),
                **self.planned,
                **progress.to_state(),
                "counts": record.counts.model_dump(),
                "digest": self.digest.to_state(),
                QUARANTINE_REASONS: record.extra.get(QUARANTINE_REASONS, {}),
                ABSENT_FIELDS: record.extra.get(ABSENT_FIELDS, []),
            }
            store.state.save_checkpoint(run.run_key, STEP, self.batch_no, state, conn=conn)


async def _fetch_and_store(
    client: Any,
    todo: Sequence[Target],
    batch_size: int,
    progress: Progress,
    write: Callable[[list[tuple[Target, Fetched]], Progress], None],
    on_written: Callable[[int], None],
    nik_keys: tuple[NikKey | None, NikKey | None] = (None, None),
) -> None:
    """Fetch ``todo`` through the client's bounded map and hand every ``batch_size``
    completions to ``write`` in a worker thread (``nik_keys``: the store's current and
    previous NIK keys, for :func:`build_employee`).

    No barrier per batch: the map keeps its window full whichever batch an employee falls in,
    so a slow, retried employee holds one slot, not the pool. Writes run one at a time off the
    event loop (a commit stalls no request); fetching goes on meanwhile and pauses only when
    the next batch is complete before the previous one is stored.
    """
    # NIPs that may lie at or below a checkpoint's done_through but are not stored: started
    # and not yet handed to a write, and what the previous attempt left undone
    open_nips = {t.nip for t in todo if progress.done_through and t.nip <= progress.done_through}
    done_through = progress.done_through
    handoff: asyncio.Queue[list[tuple[Target, Fetched]] | None] = asyncio.Queue(maxsize=1)

    def started() -> Iterator[Target]:
        for target in todo:  # in NIP order: whatever is not started lies above done_through
            open_nips.add(target.nip)
            yield target

    async def collect() -> None:
        buffer: list[tuple[Target, Fetched]] = []
        fetch = functools.partial(_fetch, client, nik_key=nik_keys[0], nik_key_previous=nik_keys[1])
        async for target, result in client.api.map(fetch, started()):
            if not isinstance(result, Fetched):  # a bug, not an API error: fail the run
                raise result
            buffer.append((target, result))
            if len(buffer) >= batch_size:
                await handoff.join()  # the previous batch is stored
                await handoff.put(buffer)
                buffer = []
        await handoff.join()
        if buffer:
            await handoff.put(buffer)
        await handoff.put(None)

    async def store_batches() -> None:
        nonlocal done_through
        while (batch := await handoff.get()) is not None:
            nips = [t.nip for t, _ in batch]
            open_nips.difference_update(nips)
            done_through = max(done_through or "", *nips)
            after = Progress(done_through, frozenset(n for n in open_nips if n <= done_through))
            writing = asyncio.ensure_future(asyncio.to_thread(write, batch, after))
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                # a thread cannot be stopped: let its transaction end before the caller goes on
                await asyncio.wait([writing])
                raise
            on_written(len(batch))
            handoff.task_done()

    collector = asyncio.create_task(collect())
    writer = asyncio.create_task(store_batches())
    try:
        await asyncio.wait((collector, writer), return_when=asyncio.FIRST_EXCEPTION)
        for task in (writer, collector):
            if task.done() and (exc := task.exception()) is not None:
                raise exc
    finally:
        for task in (collector, writer):
            task.cancel()
        await asyncio.gather(collector, writer, return_exceptions=True)


async def pull_asn(client: Any, store: Store, params: PullParams, run: RunContext) -> LineageRecord:
    """Pull data utama + keluarga of ASN IV/b+ into the store (resumable, idempotent)."""
    if store.nik_key is None:
        # NIKs are stored as keyed tokens only: without the key nothing could be stored
        raise FlowConfigError(
            "store has no hash key: set extra 'hash_key' of the store connection or "
            "SIAPP_SIASN_HASH_KEY (NIKs are stored as keyed tokens)"
        )
    today = run.local_date
    with run.lineage_scope(
        "F1",
        source=Endpoint(
            system="siasn",
            endpoint="/apisiasn/1.0/pns/{data-utama,data-pasangan,data-anak,data-ortu}/{nip}",
        ),
        target=Endpoint(system="hub-store", endpoint="asn, asn_history, asn_family"),
    ) as record:
        checkpoint = store.state.load_checkpoint(run.run_key, STEP)
        state: dict[str, Any] = dict(checkpoint.state) if checkpoint is not None else {}
        if checkpoint is not None:
            plan = Plan.from_state(state["plan"], store)
            record.counts = record.counts.model_validate(state.get("counts", {}))
            for key in (QUARANTINE_REASONS, ABSENT_FIELDS):
                if state.get(key):
                    record.extra[key] = state[key]
            record.extra["resumed_after_batch"] = checkpoint.batch_no
            log.info("resuming %s after batch %d", STEP, checkpoint.batch_no)
        else:
            plan = decide_plan(store, params, today)
        progress = Progress.from_state(state)
        record.window = {
            "mode": plan.mode,
            "updated_since": plan.updated_since,
            "as_of": today.isoformat(),
        }
        if plan.selection:
            record.window["selection"] = plan.selection  # the id only: the NIPs stay stored

        async with client:
            counted = record.counts.quarantined
            tallied = {
                k: record.extra[k] for k in (QUARANTINE_REASONS, ABSENT_FIELDS) if k in record.extra
            }
            targets = await enumerate_targets(client, store, plan, record)
            if checkpoint is not None:
                # the first attempt counted (and stored) the listing's bad rows already
                record.counts.quarantined = counted
                for key in (QUARANTINE_REASONS, ABSENT_FIELDS):
                    record.extra.pop(key, None)
                record.extra.update(tallied)
            # An incremental listing filtered on what the store holds no longer shows what this
            # run stored: a resumed run takes the size and the cursor the plan had at the start.
            total: int = state.get("to_fetch", len(targets))
            max_updated: str | None = state.get(
                "cursor", max((t.updated for t in targets if t.updated), default=None)
            )
            writer = _AsnBatchWriter(
                store,
                run,
                record,
                plan,
                {"to_fetch": total, "cursor": max_updated},
                ContentDigest.from_state(state.get("digest")),
                checkpoint.batch_no if checkpoint is not None else 0,
            )
            todo = [t for t in targets if not progress.is_done(t.nip)]
            record.extra["to_fetch"] = total
            log.info(
                "%s: mode=%s%s, %d employees to fetch, %d left",
                STEP,
                plan.mode,
                f" ({plan.selection})" if plan.selection else "",
                total,
                len(todo),
            )
            done = total - len(todo)

            def written(n: int) -> None:
                nonlocal done
                done += n
                run.report_progress(done, total)

            await _fetch_and_store(
                client,
                todo,
                params.batch_size,
                progress,
                writer,
                written,
                (store.nik_key, store.nik_key_previous),
            )
            record.requests = client.metrics()

        # every request has ended: the store calls below stall nothing
        absent = (
            store.asn.active_nips() - {t.nip for t in targets} if plan.mode == "full" else set()
        )
        if absent and record.extra.get("unidentified_rows"):
            log.warning(
                "%s: %d enumeration rows had no usable NIP: %d employees absent from the full "
                "sweep are not marked departed this time",
                STEP,
                record.extra["unidentified_rows"],
                len(absent),
            )
            record.extra["departures_skipped"] = len(absent)
            absent = set()
        fetch_failed = record.counts.failed
        with store.transaction() as conn:
            if absent:
                left = store.asn.mark_departed(
                    absent,
                    today,
                    "absent_from_full_sweep",
                    run_id=run.run_id,
                    as_of=run.now,
                    conn=conn,
                )
                record.counts.add(departed=left.departed)
            if plan.mode not in LISTED_MODES and fetch_failed == 0:
                if max_updated is not None:
                    store.state.set_watermark(watermarks.ASN_CURSOR, max_updated, conn=conn)
                elif plan.mode == "full":
                    store.state.set_watermark(watermarks.ASN_CURSOR, today, conn=conn)
                if plan.mode == "full":
                    store.state.set_watermark(watermarks.ASN_FULL_SWEEP, today, conn=conn)
            store.state.clear_checkpoint(run.run_key, STEP, conn=conn)

        if fetch_failed:
            log.warning(
                "%d employees could not be fetched: watermark not moved, next run retries them",
                fetch_failed,
            )
        record.content_digest = writer.digest.hexdigest()
        record.window["cursor"] = max_updated
    return record


# ---------------------------------------------------------------------------------------------
# quality gates
# ---------------------------------------------------------------------------------------------
def check_quality(store: Store, upstream: Any, gate: QualityGate, run: RunContext) -> LineageRecord:
    """Gates on the mirror after a pull: reference ids known, NIPs well formed, SCD2
    consistent, and not too much quarantined (``gate``).

    The failures (counts and field names only) go in ``record.failures`` rather than being
    raised, so that the caller publishes the lineage record first and then fails the task.
    """
    pulls = [
        u for u in (upstream if isinstance(upstream, list) else [upstream]) if isinstance(u, dict)
    ]
    with run.lineage_scope(
        "F1-quality",
        source=Endpoint(system="hub-store", endpoint="asn, referensi"),
        target=Endpoint(system="hub-store", endpoint="quality"),
    ) as record:
        failures: list[str] = []
        by_column: dict[str, int] = {}
        for item in store.quality.unknown_reference_ids():
            by_column[item.column] = by_column.get(item.column, 0) + item.rows
        for column, count in sorted(by_column.items()):
            failures.append(
                f"{count} active employees have a {column} missing from the reference tables"
            )
        active = store.asn.active_nips()
        bad_nips = sum(1 for nip in active if not is_valid_nip(nip))
        if bad_nips:
            failures.append(f"{bad_nips} active employees have a malformed NIP")
        counts = store.quality.counts()
        for name in (
            "asn_without_open_version",
            "asn_with_several_open_versions",
            "asn_open_version_mismatch",
        ):
            if counts.get(name):
                failures.append(f"SCD2 check {name}: {counts[name]}")
        f1 = [p for p in pulls if p.get("flow") == "F1"]
        read = sum(int(p.get("counts", {}).get("read", 0)) for p in f1)
        quarantined = sum(int(p.get("counts", {}).get("quarantined", 0)) for p in f1)
        reasons: dict[str, int] = {}
        absent: set[str] = set()
        for p in f1:
            extra = p.get("extra") or {}
            for reason, n in (extra.get(QUARANTINE_REASONS) or {}).items():
                reasons[reason] = reasons.get(reason, 0) + int(n)
            absent.update(extra.get(ABSENT_FIELDS) or [])
        by_reason = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
        rate = quarantined / read if read else 0.0
        if quarantined >= gate.min_quarantined and rate > gate.max_quarantine_rate:
            failures.append(
                f"quality gate failed: {quarantined} of {read} employees quarantined "
                f"({rate:.2%} > max_quarantine_rate {gate.max_quarantine_rate:.2%}, "
                f"min_quarantined {gate.min_quarantined})" + (f": {by_reason}" if by_reason else "")
            )
        drifted = reasons.get("missing_fields", 0)
        if drifted > gate.max_drifted:
            fields = ", ".join(sorted(absent)) or "see the quarantine's detail"
            failures.append(
                f"quality gate failed: {drifted} of {read} employees quarantined for drift "
                f"(contract fields absent: {fields}) > max_drifted {gate.max_drifted}; the "
                "stored values were kept"
            )
        record.counts.add(read=len(active), valid=len(active) - bad_nips, quarantined=quarantined)
        record.extra = {
            "unknown_reference_ids": by_column,
            "malformed_nips": bad_nips,
            "quarantine_rate": round(rate, 6),
            "max_quarantine_rate": gate.max_quarantine_rate,
            "min_quarantined": gate.min_quarantined,
            QUARANTINE_REASONS: dict(sorted(reasons.items())),
            "drifted": drifted,
            "max_drifted": gate.max_drifted,
            "scd2": counts,
        }
        record.failures = failures
    return record
