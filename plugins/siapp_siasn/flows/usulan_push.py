"""The one push engine of the outbox: F5-F8 to SIASN, F3/F4 and refusals to SIAPP NV.

Pure Python (no Airflow). For every due item (``pending``/``retry`` whose ``next_attempt_at``
has passed), oldest first:

1. documents first — each document the item refers to is downloaded from its owner, checked
   against the sha256 and size its owner announced (and the download's checksum header), and
   only then uploaded; a document that does not match is never forwarded. SIAPP NV documents
   go to SIASN ``upload-dok`` (the Keppres copy to ``upload-dok-sk-kp``) and are recorded in the
   document ledger at once, so a later attempt, a new usulan version that keeps the document, or
   a rerun after a crash reuses the same SIASN ``dok_id`` instead of uploading again. That also
   keeps the body of a retried POST byte-identical, which its Idempotency-Key requires;
2. the record, with its Idempotency-Key: a POST whose answer was lost (timeout, crash after the
   POST) is simply sent again and the other side replays its first answer;
3. ``mark_sent`` together with what the delivery means for the lifecycle and the ledger, in one
   transaction.

A failed attempt counts against the item alone: ``retry`` at an exponential, jittered
``next_attempt_at``, or ``dead`` after ``max_attempts``. Items about one usulan toward one side
go in order (see :func:`~siapp_siasn.flows.usulan_rules.group_key`): while an earlier one is
waiting, the later ones wait too; groups run concurrently (bounded), so one bad item never
blocks the others. Only a store failure stops the run: the outbox is the source of truth.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from siapp_siasn.clients.errors import ApiError, ChecksumMismatchError
from siapp_siasn.clients.http import bounded_map
from siapp_siasn.flows.context import RunContext
from siapp_siasn.flows.usulan_rules import (
    FLOW_KEPPRES,
    FLOW_PENOLAKAN,
    FLOW_PERTEK,
    FLOW_PIC,
    FLOW_RALAT,
    FLOW_STATUS,
    FLOW_USULAN,
    FLOW_VERIFIKASI,
    TARGETS,
    DocumentIntegrityError,
    PayloadError,
    RetryPolicy,
    group_key,
    keppres_body,
    pertek_metadata,
    usulan_body,
    verify_document,
)
from siapp_siasn.lineage import ContentDigest, Endpoint, LineageRecord
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.pks import SiasnDokumenRow
from siapp_siasn.store import OutboxRow, Store, StoreError

__all__ = ["AfterPost", "PushParams", "push_outbox"]

log = logging.getLogger(__name__)

#: called after a POST succeeded and before it is recorded (tests use it to simulate a crash)
AfterPost = Callable[[OutboxRow], None]

#: ledger statuses whose SIASN copy may be referenced again
REUSABLE = frozenset({"transferred", "verified"})
DIRECTION_TO_SIASN = "siapp_to_siasn"
DIRECTION_TO_SIAPP = "siasn_to_siapp"

#: lineage flow label per target (refusals ride with F3/F4: they answer SIAPP NV too)
_LABELS = {"siasn": "F5-F8", "siapp": "F3-F4"}
_ENDPOINTS = {
    "siasn": "/apisiasn/1.0/siapp/{usulan,verifikasi-setneg,keppres,pic}, upload-dok, "
    "upload-dok-sk-kp",
    "siapp": "/api/v1/inbound/{status-usulan,pertek,ralat-pertek,penolakan}",
}


@dataclass
class PushParams:
    """What one push run does.

    :param target: ``siasn`` (F5-F8), ``siapp`` (F3, F4, penolakan) or None (both).
    :param limit: due items taken per run (the oldest).
    :param concurrency: groups (usulan) in flight at once.
    :param retry: attempts before the dead letter, and the backoff between them.
    """

    target: str | None = None
    limit: int = 500
    concurrency: int = 8
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def flows(self) -> tuple[str, ...]:
        if self.target is None:
            return (*TARGETS["siasn"], *TARGETS["siapp"])
        try:
            return TARGETS[self.target]
        except KeyError:
            raise ValueError(f"unknown target {self.target!r}; one of {sorted(TARGETS)}") from None


class UnexpectedAnswerError(Exception):
    """The other side answered 2xx with something that is not what the contract says."""


def _error_text(exc: BaseException) -> str:
    """Safe text for ``last_error`` and logs: API errors carry templates and statuses only;
    anything else is named by its class (its message might quote a value)."""
    if isinstance(exc, ApiError | DocumentIntegrityError | PayloadError | UnexpectedAnswerError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return f"{type(exc).__name__}:{exc.status if exc.status is not None else 'none'}"
    return type(exc).__name__


@dataclass
class _Delivery:
    """A successful POST: the answer to store, and what to write with ``mark_sent``."""

    response: dict[str, Any]
    after: list[Callable[[Connection], None]] = field(default_factory=list)


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0
    by_flow: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(
        default_factory=lambda: {"uploaded": 0, "reused": 0, "refused": 0, "unverified": 0}
    )

    def flow(self, flow: str, what: str) -> None:
        counts = self.by_flow.setdefault(flow, {})
        counts[what] = counts.get(what, 0) + 1


def _as_answer(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items() if isinstance(v, str | int | float | bool)}
    raise UnexpectedAnswerError("2xx answer without a JSON object")


class _Pusher:
    def __init__(
        self,
        siasn: Any,
        siapp: Any,
        store: Store,
        params: PushParams,
        run: RunContext,
        after_post: AfterPost | None,
        rng: random.Random,
    ) -> None:
        self.siasn = siasn
        self.siapp = siapp
        self.store = store
        self.params = params
        self.run = run
        self.after_post = after_post
        self.rng = rng
        self.tally = _Tally()
        self.digest = ContentDigest()
        self.handlers: dict[str, Callable[[OutboxRow], Any]] = {
            FLOW_USULAN: self._usulan,
            FLOW_VERIFIKASI: self._pks_plain,
            FLOW_PIC: self._pks_plain,
            FLOW_KEPPRES: self._keppres,
            FLOW_STATUS: self._inbound_plain,
            FLOW_PENOLAKAN: self._inbound_plain,
            FLOW_PERTEK: self._pertek,
            FLOW_RALAT: self._pertek,
        }

    # -- documents SIAPP NV -> SIASN ----------------------------------------------------------

    async def _to_siasn(
        self, usulan_id: str, doc: Mapping[str, Any], sk: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The document as SIASN holds it (``PksDokumen`` fields), uploading it if needed."""
        doc_id = str(doc["id"])
        sha256 = str(doc["sha256"]).lower()
        held = self.store.documents.get(doc_id)
        if (
            held is not None
            and held.get("sha256") == sha256
            and held.get("target_dok_id")
            and held.get("target_dok_uri")
            and held.get("status") in REUSABLE
        ):
            self.tally.documents["reused"] += 1
            return {
                "id_ref_dokumen": doc["id_ref_dokumen"],
                "dok_id": held["target_dok_id"],
                "dok_uri": held["target_dok_uri"],
                "sha256": sha256,
                "size": doc["size"],
            }
        ledger = {
            "usulan_id": usulan_id,
            "jenis": doc.get("jenis"),
            "direction": DIRECTION_TO_SIASN,
            "sha256": sha256,
            "size": doc["size"],
            "source_system": "siapp",
            "source_ref": doc_id,
            "target_system": "siasn",
        }
        try:
            data, header = await self.siapp.download_dokumen(doc_id)
            verify_document(data, sha256=sha256, size=int(doc["size"]), header_sha256=header)
        except (DocumentIntegrityError, ApiError) as exc:
            if isinstance(exc, DocumentIntegrityError | ChecksumMismatchError):
                # a corrupt copy: refused here or by the client's check of the checksum header
                self.tally.documents["refused"] += 1
                # A verified transfer of this document stays on record: a failed check of
                # another claim about it must not make the good SIASN copy look bad.
                if held is None or held.get("status") not in REUSABLE:
                    with self.store.transaction() as conn:
                        if held is None:
                            self.store.documents.upsert(
                                doc_id, conn=conn, **ledger, status="pending"
                            )
                        self.store.documents.mark_failed(
                            doc_id, error=_error_text(exc), status="refused", conn=conn
                        )
            raise
        filename = f"{doc_id}.pdf"
        if sk is None:
            answer = await self.siasn.upload_dok(data, filename, str(doc["id_ref_dokumen"]))
        else:
            answer = await self.siasn.upload_dok_sk_kp(
                data, filename, sk["id_usulan"], sk["no_sk"], sk["tgl_sk"]
            )
        if not isinstance(answer, Mapping) or not answer.get("dok_id") or not answer.get("dok_uri"):
            raise UnexpectedAnswerError("upload answered without dok_id / dok_uri")
        now = self.run.now
        # recorded before the POST that refers to it: a retry sends the very same body
        self.store.documents.upsert(
            doc_id,
            **ledger,
            target_dok_id=str(answer["dok_id"]),
            target_dok_uri=str(answer["dok_uri"]),
            status="transferred",
            last_error=None,
            transferred_at=now,
            verified_at=now,
        )
        self.tally.documents["uploaded"] += 1
        return {
            "id_ref_dokumen": str(answer.get("slug") or doc["id_ref_dokumen"])
            if sk is not None
            else doc["id_ref_dokumen"],
            "dok_id": str(answer["dok_id"]),
            "dok_uri": str(answer["dok_uri"]),
            "sha256": sha256,
            "size": doc["size"],
        }

    # -- handlers -----------------------------------------------------------------------------

    def _posted(self, row: OutboxRow) -> None:
        if self.after_post is not None:
            self.after_post(row)

    async def _usulan(self, row: OutboxRow) -> _Delivery:
        payload = row.payload
        usulan_id = str(payload["usulan_id"])
        results = await asyncio.gather(
            *(self._to_siasn(usulan_id, d) for d in payload["dokumen"]), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        body = usulan_body(payload, results)  # type: ignore[arg-type]
        answer = _as_answer(await self.siasn.post_pks(FLOW_USULAN, body, row.idempotency_key))
        self._posted(row)
        now = self.run.now

        def lifecycle(conn: Connection) -> None:
            fields = {"status": "terkirim", "version": str(payload["version"])}
            if answer.get("id"):
                fields["bkn_usulan_id"] = str(answer["id"])
            self.store.usulan.upsert(usulan_id, fields=fields, stamps={"sent_at": now}, conn=conn)

        return _Delivery(answer, [lifecycle])

    async def _keppres(self, row: OutboxRow) -> _Delivery:
        payload = row.payload
        usulan_id = str(payload["usulan_id"])
        body = payload["body"]
        copy = await self._to_siasn(
            usulan_id,
            payload["dokumen"],
            sk={
                "id_usulan": usulan_id,
                "no_sk": str(body["no_keppres"]),
                "tgl_sk": str(body["tgl_keppres"]),
            },
        )
        final = keppres_body(payload, copy)
        answer = _as_answer(await self.siasn.post_pks(FLOW_KEPPRES, final, row.idempotency_key))
        self._posted(row)
        now = self.run.now

        def lifecycle(conn: Connection) -> None:
            self.store.usulan.upsert(
                usulan_id,
                fields={"status": "keppres_terkirim"},
                stamps={"keppres_sent_at": now},
                conn=conn,
            )

        return _Delivery(answer, [lifecycle])

    async def _pks_plain(self, row: OutboxRow) -> _Delivery:
        answer = await self.siasn.post_pks(row.flow, row.payload["body"], row.idempotency_key)
        self._posted(row)
        return _Delivery(_as_answer(answer))

    async def _inbound_plain(self, row: OutboxRow) -> _Delivery:
        answer = await self.siapp.post_inbound(row.flow, row.payload["body"], row.idempotency_key)
        self._posted(row)
        return _Delivery(_as_answer(answer))

    async def _listed(self, usulan_id: str, path: str) -> SiasnDokumenRow | None:
        """The document SIASN lists for ``usulan_id`` at ``path`` (sha256, size), if any."""
        want = path.lstrip("/")
        async for raw in self.siasn.iter_dokumen(usulan_id):
            row, _ = validate_payload(SiasnDokumenRow, raw)
            if row is not None and row.dok_uri and row.dok_uri.lstrip("/") == want:
                return row
        return None

    async def _pertek(self, row: OutboxRow) -> _Delivery:
        payload = row.payload
        usulan_id = str(payload["usulan_id"])
        path = str(payload["metadata"]["siasn_path"])
        listed = await self._listed(usulan_id, path)
        expected = listed.sha256 if listed is not None else None
        if expected is None:
            # nothing to compare with: still refuse a cut-off PDF (the client checks %%EOF)
            self.tally.documents["unverified"] += 1
        try:
            data = await self.siasn.download(path, expected_sha256=expected)
            sha256 = verify_document(
                data, sha256=expected, size=listed.size if listed is not None else None
            )
        except (DocumentIntegrityError, ApiError) as exc:
            if isinstance(exc, DocumentIntegrityError | ChecksumMismatchError):
                self.tally.documents["refused"] += 1
            raise
        metadata = pertek_metadata(row.flow, payload, sha256, len(data))
        answer = _as_answer(
            await self.siapp.post_inbound(
                row.flow, metadata, row.idempotency_key, file=data, filename=f"{row.flow}.pdf"
            )
        )
        self._posted(row)
        now = self.run.now
        doc_id = (
            f"siasn:{listed.dok_id}"
            if listed is not None
            else "siasn-path:" + hashlib.sha256(path.encode()).hexdigest()
        )

        def ledger(conn: Connection) -> None:
            self.store.documents.upsert(
                doc_id,
                usulan_id=usulan_id,
                jenis="RALAT_PERTEK" if row.flow == FLOW_RALAT else "PERTEK",
                direction=DIRECTION_TO_SIAPP,
                sha256=sha256,
                size=len(data),
                source_system="siasn",
                source_ref=path,
                target_system="siapp",
                target_dok_id=str(answer["id"]) if answer.get("id") else None,
                status="transferred",
                transferred_at=now,
                verified_at=now if expected is not None else None,
                conn=conn,
            )

        self.tally.documents["uploaded"] += 1
        return _Delivery(answer, [ledger])

    # -- the engine ---------------------------------------------------------------------------

    async def process(self, row: OutboxRow) -> bool:
        """One attempt at one item; True when it was delivered."""
        try:
            delivery: _Delivery = await self.handlers[row.flow](row)
        except (StoreError, asyncio.CancelledError):
            raise
        except Exception as exc:  # one bad item never stops the run: it is counted and retried
            self._failed(row, exc)
            return False
        with self.store.transaction() as conn:
            self.store.outbox.mark_sent(
                row.id, response=delivery.response, sent_at=self.run.now, conn=conn
            )
            for write in delivery.after:
                write(conn)
        self.tally.sent += 1
        self.tally.flow(row.flow, "sent")
        self.digest.add(row.idempotency_key, row.version_hash)
        return True

    def _failed(self, row: OutboxRow, exc: BaseException) -> None:
        policy = self.params.retry
        attempts = row.attempts + 1
        dead = policy.is_dead(attempts)
        text = _error_text(exc)
        self.store.outbox.mark_attempt_failed(
            row.id,
            error=text,
            next_attempt_at=None if dead else policy.next_attempt(self.run.now, attempts, self.rng),
            dead=dead,
        )
        self.tally.failed += 1
        self.tally.flow(row.flow, "failed")
        kind = _error_kind(exc)
        self.tally.errors[kind] = self.tally.errors.get(kind, 0) + 1
        if dead:
            self.tally.dead += 1
            self.tally.flow(row.flow, "dead")
        log.warning(
            "outbox item %d (%s) attempt %d %s: %s",
            row.id,
            row.flow,
            attempts,
            "failed for the last time: dead letter" if dead else "failed",
            text,
        )

    async def process_group(self, rows: list[OutboxRow]) -> None:
        for i, row in enumerate(rows):
            if not await self.process(row):
                # later items of the group wait for this one (they are not attempted)
                self.tally.deferred += len(rows) - i - 1
                return


def plan_groups(
    store: Store, due: list[OutboxRow], flows: Iterable[str]
) -> tuple[list[list[OutboxRow]], int]:
    """Due rows grouped (oldest first), cut at the first earlier item still waiting.

    An item not due yet (in backoff, or beyond this run's limit) holds back the later items of
    its group, so order within a group survives retries.
    """
    due_ids = {r.id for r in due}
    waiting: dict[tuple[str, str], int] = {}
    wanted = set(flows)
    for status in ("pending", "retry"):
        for r in store.outbox.list(status=status):
            if r.flow in wanted and r.id not in due_ids:
                g = group_key(r.flow, r.entity_id, r.payload)
                waiting[g] = min(waiting.get(g, r.id), r.id)
    groups: dict[tuple[str, str], list[OutboxRow]] = {}
    held_back = 0
    for r in sorted(due, key=lambda x: x.id):
        g = group_key(r.flow, r.entity_id, r.payload)
        if g in waiting and waiting[g] < r.id:
            held_back += 1
            continue
        groups.setdefault(g, []).append(r)
    return list(groups.values()), held_back


async def push_outbox(
    siasn: Any,
    siapp: Any,
    store: Store,
    params: PushParams,
    run: RunContext,
    *,
    after_post: AfterPost | None = None,
    rng: random.Random | None = None,
) -> LineageRecord:
    """Deliver the due outbox items of ``params.target`` (see the module docstring)."""
    started = time.monotonic()
    target = params.target or "siasn+siapp"
    flows = params.flows()
    record = run.lineage(
        _LABELS.get(target, "F3-F8"),
        source=Endpoint(system="hub-store", endpoint="outbox"),
        target=Endpoint(
            system=target,
            endpoint=_ENDPOINTS.get(target, f"{_ENDPOINTS['siasn']}; {_ENDPOINTS['siapp']}"),
        ),
        window={"now": run.now.isoformat(), "flows": ",".join(flows)},
    )
    due = store.outbox.due(run.now, limit=params.limit, flows=flows)
    groups, held_back = plan_groups(store, due, flows)
    pusher = _Pusher(siasn, siapp, store, params, run, after_post, rng or random.Random())
    pusher.tally.deferred += held_back
    log.info("push %s: %d items due in %d groups", target, len(due), len(groups))
    if groups:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(siasn)
            await stack.enter_async_context(siapp)
            done = 0
            async for _group, outcome in bounded_map(
                pusher.process_group, groups, limit=max(1, params.concurrency)
            ):
                if isinstance(outcome, BaseException):
                    raise outcome  # a store failure: the outbox must not be left half-told
                done += 1
                if run.progress:
                    run.progress(done, len(groups))
            record.requests = {"siasn": siasn.metrics(), "siapp": siapp.metrics()}
    t = pusher.tally
    record.counts.add(read=len(due), inserted=t.sent, failed=t.failed, unchanged=t.deferred)
    record.extra = {
        "dead_lettered": t.dead,
        "deferred": t.deferred,
        "by_flow": t.by_flow,
        "errors": t.errors,
        "documents": t.documents,
        "max_attempts": params.retry.max_attempts,
        "outbox": store.outbox.stats(),
    }
    record.content_digest = pusher.digest.hexdigest()
    log.info(
        "push %s: %d sent, %d failed (%d dead letters), %d deferred",
        target,
        t.sent,
        t.failed,
        t.dead,
        t.deferred,
    )
    return record.finish(started)
