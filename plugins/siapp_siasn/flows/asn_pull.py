"""Flows F1 and F2: SIASN reference data and ASN golongan IV/b+ into the hub's store.

Pure Python (no Airflow): the operators, the CLI, the tests and the benchmarks call these.

The ASN pull, in order:
1. plan — a full sweep (on request, weekly, or without a watermark), the changes since the
   watermark, or an explicit NIP list; a resumed run reuses the plan of its checkpoint;
2. enumerate — the PKS endpoint lists NIPs ordered by NIP; an incremental run keeps only the
   NIPs whose `updated` is newer than what the store holds; a malformed row is quarantined and
   its employee still fetched when the row's NIP is usable;
3. batches, in NIP order — the four endpoints of every employee are fetched concurrently (the
   client bounds concurrency and rate), validated by the models, and written in one transaction
   together with the quarantined ones and a checkpoint (the last NIP done). A killed run resumes
   after that NIP, so it refetches at most the batch it was in;
4. departures — on a full sweep, active employees that were not listed are marked departed
   (unless some listed row had no usable NIP: then nobody can be called absent); an employee
   the store already holds as departed, unchanged, is left alone;
5. watermark — moved only after the last commit, and only when every employee was fetched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from siapp_siasn.clients.errors import ApiError
from siapp_siasn.flows.asn_records import (
    EmployeeRecord,
    build_employee,
    parse_enumeration_row,
    referensi_rows,
)
from siapp_siasn.flows.context import RunContext
from siapp_siasn.lineage import ContentDigest, Endpoint, LineageRecord
from siapp_siasn.models.nip import NipError, normalize_nip
from siapp_siasn.models.siasn import REFERENCE_TABLES
from siapp_siasn.store import AsnRow, QuarantineItem, Store
from siapp_siasn.utils import sha256_json

log = logging.getLogger(__name__)

#: every reference table of F2 (one list, shared with the sandbox)
DEFAULT_REFS = REFERENCE_TABLES

STEP = "pull_asn"
WM_CURSOR = "asn.updated_cursor"
WM_FULL_SWEEP = "asn.last_full_sweep"


@dataclass
class PullParams:
    full_refresh: bool = False
    nips: list[str] = field(default_factory=list)
    batch_size: int = 500
    full_sweep_every_days: int = 7


@dataclass
class Plan:
    mode: str  # full | incremental | nips
    updated_since: str | None = None  # ISO date, inclusive
    nips: list[str] = field(default_factory=list)

    def to_state(self) -> dict[str, Any]:
        return {"mode": self.mode, "updated_since": self.updated_since, "nips": self.nips}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Plan:
        return cls(state["mode"], state.get("updated_since"), list(state.get("nips") or []))


@dataclass
class Target:
    nip: str
    updated: str | None = None  # the enumeration's `updated` (ISO), kept as the NIP's cursor


# ---------------------------------------------------------------------------------------------
# F2: reference data
# ---------------------------------------------------------------------------------------------
async def pull_referensi(
    client: Any, store: Store, refs: Sequence[str], run: RunContext, page_size: int = 500
) -> LineageRecord:
    """Pull every reference table; rows a full pull no longer lists become inactive."""
    started = time.monotonic()
    record = run.lineage(
        "F2",
        source=Endpoint(system="siasn", endpoint="/referensi_siasn/1/{ref}/search"),
        target=Endpoint(system="hub-store", endpoint="referensi"),
        extra={"refs": list(refs)},
    )
    digest = ContentDigest()
    async with client:
        for ref in refs:
            raw_rows = [row async for row in client.iter_referensi(ref, page_size=page_size)]
            rows, bad = referensi_rows(ref, raw_rows)
            with store.transaction() as conn:
                counts = store.referensi.upsert(ref, rows, full=True, conn=conn)
                store.quarantine.add(bad, run_id=run.run_id, conn=conn)
            for row in rows:
                digest.add(f"{ref}:{row['id']}", sha256_json(row["payload"]))
            record.counts.add(
                read=len(raw_rows),
                valid=len(rows),
                inserted=counts.inserted,
                updated=counts.updated,
                unchanged=counts.unchanged,
                quarantined=len(bad),
            )
        record.requests = client.metrics()
    record.content_digest = digest.hexdigest()
    return record.finish(started)


# ---------------------------------------------------------------------------------------------
# F1: ASN IV/b+
# ---------------------------------------------------------------------------------------------
def decide_plan(store: Store, params: PullParams, today: date) -> Plan:
    if params.nips:
        return Plan("nips", nips=sorted(set(params.nips)))
    cursor = store.state.get_watermark(WM_CURSOR)
    last_full = store.state.get_watermark(WM_FULL_SWEEP)
    sweep_due = last_full is None or (
        today - date.fromisoformat(last_full) >= timedelta(days=params.full_sweep_every_days)
    )
    if params.full_refresh or cursor is None or sweep_due:
        return Plan("full")
    return Plan("incremental", updated_since=cursor)


async def enumerate_targets(
    client: Any, store: Store, plan: Plan, record: LineageRecord, done_through: str | None = None
) -> list[Target]:
    """The NIPs to fetch, sorted; bad enumeration rows are quarantined, never fatal.

    ``done_through``: the last NIP a resumed run already stored. Those NIPs stay in the list
    (the caller skips them) even though the store now holds them at their listed day, so a
    resumed run plans, counts and moves the cursor exactly as an uninterrupted one.
    """
    if plan.mode == "nips":
        return [Target(nip) for nip in plan.nips]
    since = date.fromisoformat(plan.updated_since) if plan.updated_since else None
    listed: dict[str, Target] = {}
    bad: list[QuarantineItem] = []
    unidentified = 0
    async for raw in client.iter_asn(since):
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
    if bad:
        store.quarantine.add(bad, run_id=record.run_id or "")
        record.counts.add(quarantined=len(bad))
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
            if t.updated is None
            or known.get(t.nip) is None
            or t.updated > known[t.nip]
            or (done_through is not None and t.nip <= done_through)
        ]
    return targets


async def _fetch(client: Any, target: Target) -> EmployeeRecord | QuarantineItem | ApiError:
    try:
        parts = await client.get_employee(target.nip)
    except ApiError as exc:
        return exc
    return build_employee(
        target.nip, target.updated, parts["utama"], parts["pasangan"], parts["anak"], parts["ortu"]
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


def _chunks(items: Sequence[Target], size: int) -> Iterable[Sequence[Target]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def pull_asn(client: Any, store: Store, params: PullParams, run: RunContext) -> LineageRecord:
    """Pull data utama + keluarga of ASN IV/b+ into the store (resumable, idempotent)."""
    started = time.monotonic()
    today = run.local_date
    record = run.lineage(
        "F1",
        source=Endpoint(
            system="siasn",
            endpoint="/apisiasn/1.0/pns/{data-utama,data-pasangan,data-anak,data-ortu}/{nip}",
        ),
        target=Endpoint(system="hub-store", endpoint="asn, asn_history, asn_family"),
    )
    checkpoint = store.state.load_checkpoint(run.run_key, STEP)
    state: dict[str, Any] = dict(checkpoint.state) if checkpoint is not None else {}
    if checkpoint is not None:
        plan = Plan.from_state(state["plan"])
        record.counts = record.counts.model_validate(state.get("counts", {}))
        record.extra["resumed_after_batch"] = checkpoint.batch_no
        log.info("resuming %s after batch %d", STEP, checkpoint.batch_no)
    else:
        plan = decide_plan(store, params, today)
    last_done: str | None = state.get("last_nip")
    fetch_failed = record.counts.failed
    batch_no = checkpoint.batch_no if checkpoint is not None else 0
    digest = ContentDigest.from_state(state.get("digest"))
    record.window = {
        "mode": plan.mode,
        "updated_since": plan.updated_since,
        "as_of": today.isoformat(),
    }

    async with client:
        counted = record.counts.quarantined
        targets = await enumerate_targets(client, store, plan, record, last_done)
        if checkpoint is not None:
            # the first attempt counted (and stored) the listing's bad rows already
            record.counts.quarantined = counted
        max_updated = max((t.updated for t in targets if t.updated), default=None)
        todo = [t for t in targets if last_done is None or t.nip > last_done]
        total = len(targets)
        record.extra["to_fetch"] = total
        log.info("%s: mode=%s, %d employees to fetch, %d left", STEP, plan.mode, total, len(todo))
        done = total - len(todo)
        for batch in _chunks(todo, params.batch_size):
            results = await asyncio.gather(*(_fetch(client, t) for t in batch))
            rows: list[AsnRow] = []
            bad: list[QuarantineItem] = []
            leaving: dict[str, list[str]] = {}
            for target, result in zip(batch, results, strict=True):
                if isinstance(result, ApiError):
                    fetch_failed += 1
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
                    digest.add(
                        result.row.nip, result.row.record_hash + (result.row.family_hash or "")
                    )
                    if result.departure_reason:
                        leaving.setdefault(result.departure_reason, []).append(result.row.nip)
                    if result.unknown_fields:
                        record.extra["unknown_fields"] = sorted(
                            set(record.extra.get("unknown_fields", [])) | set(result.unknown_fields)
                        )
            departing = {nip for nips in leaving.values() for nip in nips}
            settled = _already_departed(store, (r for r in rows if r.nip in departing))
            if settled:
                rows = [r for r in rows if r.nip not in settled]
                leaving = {
                    reason: kept
                    for reason, nips in leaving.items()
                    if (kept := [n for n in nips if n not in settled])
                }
            batch_no += 1
            last_done = batch[-1].nip
            failed_now = sum(1 for b in bad if b.reason == "fetch_failed")
            record.counts.add(
                read=len(batch),
                valid=len(rows),
                quarantined=len(bad) - failed_now,
                failed=failed_now,
            )
            with store.transaction() as conn:
                counts = store.asn.apply_batch(rows, run.run_id, run.now, quarantine=bad, conn=conn)
                for reason, nips in leaving.items():
                    left = store.asn.mark_departed(
                        nips, today, reason, run_id=run.run_id, as_of=run.now, conn=conn
                    )
                    record.counts.add(departed=left.departed)
                record.counts.add(
                    inserted=counts.inserted,
                    updated=counts.updated,
                    unchanged=counts.unchanged + len(settled),
                )
                state = {
                    "plan": plan.to_state(),
                    "last_nip": last_done,
                    "counts": record.counts.model_dump(),
                    "digest": digest.to_state(),
                }
                store.state.save_checkpoint(run.run_key, STEP, batch_no, state, conn=conn)
            done += len(batch)
            if run.progress:
                run.progress(done, total)

        # read before the write transaction: SQLite allows one writer and this is a read
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
            if plan.mode != "nips" and fetch_failed == 0:
                if max_updated is not None:
                    store.state.set_watermark(WM_CURSOR, max_updated, conn=conn)
                elif plan.mode == "full":
                    store.state.set_watermark(WM_CURSOR, today, conn=conn)
                if plan.mode == "full":
                    store.state.set_watermark(WM_FULL_SWEEP, today, conn=conn)
            store.state.clear_checkpoint(run.run_key, STEP, conn=conn)
        record.requests = client.metrics()

    if fetch_failed:
        log.warning(
            "%d employees could not be fetched: watermark not moved, next run retries them",
            fetch_failed,
        )
    record.content_digest = digest.hexdigest()
    record.window["cursor"] = max_updated
    return record.finish(started)


# ---------------------------------------------------------------------------------------------
# quality gates
# ---------------------------------------------------------------------------------------------
@dataclass
class QualityResult:
    record: LineageRecord
    failures: list[str]


def check_quality(
    store: Store, upstream: Any, max_quarantine_rate: float, run: RunContext
) -> QualityResult:
    """Gates on the mirror after a pull: reference ids known, NIPs well formed, quarantine rate.

    Returns the failures (counts and field names only) rather than raising, so the caller can
    publish the lineage record first and then fail the task.
    """
    from siapp_siasn.models.nip import is_valid_nip

    started = time.monotonic()
    pulls = [
        u for u in (upstream if isinstance(upstream, list) else [upstream]) if isinstance(u, dict)
    ]
    record = run.lineage(
        "F1-quality",
        source=Endpoint(system="hub-store", endpoint="asn, referensi"),
        target=Endpoint(system="hub-store", endpoint="quality"),
    )
    failures: list[str] = []
    unknown = store.quality.unknown_reference_ids()
    by_column: dict[str, int] = {}
    for item in unknown:
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
    read = sum(int(p.get("counts", {}).get("read", 0)) for p in pulls if p.get("flow") == "F1")
    quarantined = sum(
        int(p.get("counts", {}).get("quarantined", 0)) for p in pulls if p.get("flow") == "F1"
    )
    rate = quarantined / read if read else 0.0
    if rate > max_quarantine_rate:
        failures.append(
            f"quarantine rate {rate:.2%} ({quarantined} of {read})"
            f" is above {max_quarantine_rate:.2%}"
        )
    record.counts.add(read=len(active), valid=len(active) - bad_nips, quarantined=quarantined)
    record.extra = {
        "unknown_reference_ids": by_column,
        "malformed_nips": bad_nips,
        "quarantine_rate": round(rate, 6),
        "max_quarantine_rate": max_quarantine_rate,
        "scd2": counts,
        "failures": failures,
    }
    return QualityResult(record.finish(started, processed=len(active)), failures)
