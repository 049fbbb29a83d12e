"""The one push engine of the outbox: F5-F8 to SIASN, F3/F4 and refusals to SIAPP NV.

Pure Python (no Airflow). What a push does for its users is told in the ``usulan_sync`` DAG's
``doc_md``; why the engine is shaped as it is:

- the order of the writes makes a crash at any point safe: documents first, each recorded in
  the document ledger before the POST that refers to it (a retry then sends a byte-identical
  body, which its Idempotency-Key requires, and no document is uploaded twice); then the POST,
  which is simply sent again when its answer was lost; then ``mark_sent`` together with the
  lifecycle and ledger writes the delivery implies, in one transaction;
- items about one usulan toward one side (:func:`~siapp_siasn.flows.usulan_rules.group_key`) go
  one after the other, groups concurrently (bounded): one bad item never holds up another usulan;
- the outbox is the source of truth: a failed attempt counts against its item alone (``retry``
  with backoff, ``dead`` after ``max_attempts``), but a store failure stops the run;
- every store call runs on a worker thread (:class:`_StoreIO`): a synchronous call from a
  coroutine would stall every request in flight.

In the public-API mode (the SIASN connection's ``api_mode=public``) no PKS path is called:

- F5: the agency enters the usulan in SIASN itself; the hub *links* each version to SIASN's
  usulan found in the published lists (:class:`_PublicLinker`), stores BKN's id and follows
  it with ``kp-instansi-byId`` (:func:`~siapp_siasn.flows.usulan_sync.status_back`). A version
  not listed yet stays due, lifecycle ``menunggu_entri_siasn``, counted as ``awaiting_entry``:
  never a failed attempt, never a dead letter. Its documents are not uploaded: ``upload-dok``
  attaches a file to no usulan (the agency attaches them in SIASN).
- F6 and F8 have no published endpoint: they are held in the outbox
  (:meth:`~siapp_siasn.store.outbox.OutboxRepository.hold`) with the reason
  ``no published endpoint in public mode``; a push in ``pks`` mode releases and sends them.
- F7: the Keppres copy goes through ``upload-dok-sk-kp`` (``id_usulan`` = BKN's id, ``no_sk``,
  ``tgl_sk``); the metadata POST is skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection

from siapp_siasn.clients.errors import ApiError, ChecksumMismatchError
from siapp_siasn.clients.http import bounded_map
from siapp_siasn.flows.asn_sources import api_mode_of
from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.usulan_rules import (
    AWAITING_ENTRY,
    FLOW_KEPPRES,
    FLOW_PENOLAKAN,
    FLOW_PERTEK,
    FLOW_PIC,
    FLOW_RALAT,
    FLOW_STATUS,
    FLOW_USULAN,
    FLOW_VERIFIKASI,
    HELD_IN_PUBLIC,
    HELD_NO_PUBLIC_ENDPOINT,
    LINKED,
    TARGETS,
    WAITING_FOR_MIRROR,
    DocumentIntegrityError,
    PayloadError,
    RetryPolicy,
    group_key,
    keppres_body,
    pertek_metadata,
    usulan_body,
    verify_document,
)
from siapp_siasn.lineage import ContentDigest, Counts, Endpoint, LineageRecord
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.layanan import KpInstansiRow, PensiunInstansiRow
from siapp_siasn.models.pks import SiasnDokumenRow
from siapp_siasn.store import OutboxRow, Store, StoreError

__all__ = ["AfterPost", "PushParams", "plan_groups", "push_outbox"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: called after a POST succeeded and before it is recorded (tests use it to simulate a crash)
AfterPost = Callable[[OutboxRow], None]
#: one write of a transaction, called with ``conn=`` (the transaction's connection)
Write = Callable[..., None]

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
_PUBLIC_ENDPOINTS = (
    "/apisiasn/1.0/pns/{list-kp-instansi,list-pensiun-instansi,kp-instansi-byId}, upload-dok-sk-kp"
)
#: BKN's status "BTS": a new version of a linked usulan is entered once SIASN's row left it
_BTS = "11"


@dataclass
class PushParams:
    """What one push run does (a bad value raises :class:`FlowConfigError`).

    :param target: ``siasn`` (F5-F8), ``siapp`` (F3, F4, penolakan) or None (both).
    :param limit: due items taken per run (the oldest).
    :param concurrency: groups (usulan) in flight at once.
    :param retry: attempts before the dead letter, and the backoff between them.
    :param max_dead_letters: items dead-lettered in one run above which the record names a
        failure (0: any dead letter; None, the default of a direct call: never; the DAG's
        param says 0).
    """

    target: str | None = None
    limit: int = 500
    concurrency: int = 8
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_dead_letters: int | None = None

    def __post_init__(self) -> None:
        if self.target is not None and self.target not in TARGETS:
            raise FlowConfigError(f"unknown target {self.target!r}; one of {sorted(TARGETS)}")
        if self.limit < 1 or self.concurrency < 1:
            raise FlowConfigError("limit and concurrency must be at least 1")
        if self.max_dead_letters is not None and self.max_dead_letters < 0:
            raise FlowConfigError("max_dead_letters must be 0 or more")

    def flows(self) -> tuple[str, ...]:
        if self.target is None:
            return (*TARGETS["siasn"], *TARGETS["siapp"])
        return TARGETS[self.target]


#: count names of a push record, in the order they are shown
PUSH_COUNTS = ("due", "sent", "failed", "dead", "deferred")
_TITLES = {
    "siasn": "F5-F8 usulan, verifikasi, Keppres, PIC → SIASN",
    "siapp": "F3-F4 status, pertek, penolakan → SIAPP NV",
}
#: where an auditor finds the dead letters
DEAD_LETTERS_WHERE = "view v_outbox_dead (outbox status dead)"


def _counts_line(counts: Mapping[str, int]) -> str:
    """``sent 8, failed 1, dead 1``"""
    return ", ".join(f"{what} {n}" for what, n in counts.items())


def dead_letter_failure(
    dead: int, threshold: int | None, *, sent: int, deferred: int
) -> str | None:
    """The problem a push run reports when it dead-lettered more than ``threshold`` items
    (None: never), naming the counts; None when within the threshold."""
    if threshold is None or dead <= threshold:
        return None
    noun = "dead letter" if dead == 1 else "dead letters"
    return (
        f"{dead} {noun} this run (threshold {threshold}); {sent} sent, {deferred} deferred"
        " — view v_outbox_dead"
    )


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
    after: list[Write] = field(default_factory=list)


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
    #: public mode: versions linked to SIASN's usulan, versions not listed yet (by reason),
    #: documents left to the agency's entry, Keppres metadata POSTs skipped
    linked: int = 0
    awaiting: dict[str, int] = field(default_factory=dict)
    documents_not_sent: int = 0
    keppres_metadata_skipped: int = 0

    def flow(self, flow: str, what: str) -> None:
        counts = self.by_flow.setdefault(flow, {})
        counts[what] = counts.get(what, 0) + 1


def _as_answer(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items() if isinstance(v, str | int | float | bool)}
    raise UnexpectedAnswerError("2xx answer without a JSON object")


class _StoreIO:
    """The store, off the event loop: every store call of a push run runs on worker threads,
    so a coroutine awaiting one lets every other request in flight go on.

    SQLite takes one writer at a time: one thread. PostgreSQL takes several, and a few threads
    hide its round trips. Each group awaits its own writes, so its order holds either way.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        workers = 1 if store.dialect == "sqlite" else 4
        self._worker = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push-store")

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, partial(fn, *args, **kwargs))

    async def commit(self, writes: Sequence[Write]) -> None:
        """Run ``writes`` in one transaction."""
        await self.call(self._commit, writes)

    def _commit(self, writes: Sequence[Write]) -> None:
        with self.store.transaction() as conn:
            for write in writes:
                write(conn=conn)

    def close(self) -> None:
        """Wait for the calls under way (a cancelled caller does not cancel its write)."""
        self._worker.shutdown(wait=True)


class _AwaitingEntry(Exception):
    """Public mode: SIASN does not list this usulan (version) yet; not a failure."""


def _tmt_of(body: Mapping[str, Any]) -> date | None:
    raw = str(body.get("tmt") or "")
    for fmt in ("%d-%m-%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


class _PublicLinker:
    """Finds SIAPP NV usulan in SIASN's published lists (public-API mode).

    KP: ``list-kp-instansi`` of the KP period (the first of the TMT's month), matched by
    ``nipBaru`` and ``golonganBaruId``. PEMBERHENTIAN: ``list-pensiun-instansi`` from the
    earliest waiting submission to today (BKN lists it by pertek date, so a pemberhentian is
    found once it has a pertek). PENGANGKATAN: no published list. Each list is read once per
    run, however many usulan wait on it; a BKN id already linked is never linked twice.
    """

    def __init__(self, siasn: Any, today: date, pensiun_from: date | None, taken: set[str]):
        self.siasn = siasn
        self.today = today
        self.pensiun_from = pensiun_from or today
        self.taken = taken
        self._lists: dict[Any, asyncio.Future[list[Any]]] = {}

    def _once(self, key: Any, fetch: Callable[[], Awaitable[list[Any]]]) -> Awaitable[list[Any]]:
        if key not in self._lists:
            self._lists[key] = asyncio.ensure_future(fetch())
        return self._lists[key]

    async def _kp(self, periode: date) -> list[Any]:
        raw = await self.siasn.list_kp_instansi(periode)
        return [r for r in (validate_payload(KpInstansiRow, x)[0] for x in raw) if r is not None]

    async def _pensiun(self) -> list[Any]:
        raw = await self.siasn.list_pensiun_instansi(self.pensiun_from, self.today)
        rows = (validate_payload(PensiunInstansiRow, x)[0] for x in raw)
        return [r for r in rows if r is not None]

    async def find(self, body: Mapping[str, Any]) -> str:
        """BKN's id of the usulan ``body`` describes; raises :class:`_AwaitingEntry`."""
        nip, jenis = str(body.get("nip") or ""), str(body.get("jenis_usulan") or "")
        if jenis == "KP":
            tmt = _tmt_of(body)
            if tmt is None:
                raise _AwaitingEntry("KP without TMT")
            periode = date(tmt.year, tmt.month, 1)
            rows = await self._once(("kp", periode), partial(self._kp, periode))
            gol = str(body.get("golongan_baru_id") or "")
            hits = [
                r.id
                for r in rows
                if r.nip_baru == nip
                and (not gol or not r.golongan_baru_id or str(r.golongan_baru_id) == gol)
            ]
        elif jenis == "PEMBERHENTIAN":
            rows = await self._once("pensiun", self._pensiun)
            hits = [r.id for r in rows if r.nip_baru == nip]
        else:
            raise _AwaitingEntry(f"no published list for {jenis or 'this jenis'}")
        free = sorted({h for h in hits if h not in self.taken})
        if len(free) != 1:
            raise _AwaitingEntry("not listed yet" if not free else "listed more than once")
        self.taken.add(free[0])
        return free[0]


class _Pusher:
    def __init__(
        self,
        siasn: Any,
        siapp: Any,
        io: _StoreIO,
        params: PushParams,
        run: RunContext,
        after_post: AfterPost | None,
        rng: random.Random,
    ) -> None:
        self.siasn = siasn
        self.siapp = siapp
        self.io = io
        self.store = io.store  # only ever used inside calls run by ``io``
        self.params = params
        self.run = run
        self.after_post = after_post
        self.rng = rng
        self.tally = _Tally()
        self.digest = ContentDigest()
        self.linker: _PublicLinker | None = None  # set in public mode
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

    def go_public(self, linker: _PublicLinker) -> None:
        """Public-API mode: F5 links, F7 uploads the SK only (F6/F8 are held, never due)."""
        self.linker = linker
        self.handlers[FLOW_USULAN] = self._usulan_public
        self.handlers[FLOW_KEPPRES] = self._keppres_public

    # -- documents SIAPP NV -> SIASN ----------------------------------------------------------

    async def _documents(
        self,
        usulan_id: str,
        docs: Sequence[Mapping[str, Any]],
        sk: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The documents as SIASN holds them (``PksDokumen`` fields), uploading what it lacks."""
        held = await self.io.call(self.store.documents.get_many, [str(d["id"]) for d in docs])
        results = await asyncio.gather(
            *(self._to_siasn(usulan_id, d, held.get(str(d["id"])), sk) for d in docs),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results  # type: ignore[return-value]

    async def _to_siasn(
        self,
        usulan_id: str,
        doc: Mapping[str, Any],
        held: Mapping[str, Any] | None,
        sk: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        """One document as SIASN holds it, recorded in the ledger as soon as it is uploaded: a
        later attempt, a new usulan version keeping it, or a rerun after a crash reuses it."""
        doc_id = str(doc["id"])
        sha256 = str(doc["sha256"]).lower()
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
            # the client checks the body against the checksum header (and retries a bad copy)
            data, header = await self.siapp.download_dokumen(doc_id, verify_sha256=True)
            verify_document(
                data,
                sha256=sha256,
                size=int(doc["size"]),
                header_sha256=header,
                digest=header.strip().lower() if header else None,
            )
        except (DocumentIntegrityError, ApiError) as exc:
            if isinstance(exc, DocumentIntegrityError | ChecksumMismatchError):
                # a corrupt copy: refused here or by the client's check of the checksum header
                self.tally.documents["refused"] += 1
                # A verified transfer of this document stays on record: a failed check of
                # another claim about it must not make the good SIASN copy look bad.
                if held is None or held.get("status") not in REUSABLE:
                    await self.io.commit(
                        [partial(self._refused, doc_id, ledger, held is None, exc)]
                    )
            raise
        filename = f"{doc_id}.pdf"
        # every attempt at this content of this document is one upload
        key = f"dok:{usulan_id}:{doc_id}:{sha256[:16]}"
        if sk is None:
            answer = await self.siasn.upload_dok(
                data, filename, str(doc["id_ref_dokumen"]), idempotency_key=key
            )
        else:
            answer = await self.siasn.upload_dok_sk_kp(
                data, filename, sk["id_usulan"], sk["no_sk"], sk["tgl_sk"], idempotency_key=key
            )
        if not isinstance(answer, Mapping) or not answer.get("dok_id") or not answer.get("dok_uri"):
            raise UnexpectedAnswerError("upload answered without dok_id / dok_uri")
        copy = {
            "id_ref_dokumen": str(answer.get("slug") or doc["id_ref_dokumen"])
            if sk is not None
            else doc["id_ref_dokumen"],
            "dok_id": str(answer["dok_id"]),
            "dok_uri": str(answer["dok_uri"]),
            "sha256": sha256,
            "size": doc["size"],
        }
        now = self.run.now
        transferred = {
            **ledger,
            "target_dok_id": copy["dok_id"],
            "target_dok_uri": copy["dok_uri"],
            "status": "transferred",
            "last_error": None,
            "transferred_at": now,
            "verified_at": now,
        }
        # recorded before the POST that refers to it: a retry sends the very same body
        await self.io.commit([partial(self._ledger_write, doc_id, transferred)])
        self.tally.documents["uploaded"] += 1
        return copy

    def _ledger_write(self, doc_id: str, fields: Mapping[str, Any], *, conn: Connection) -> None:
        self.store.documents.upsert(doc_id, conn=conn, **fields)

    def _refused(
        self,
        doc_id: str,
        ledger: Mapping[str, Any],
        new: bool,
        exc: BaseException,
        *,
        conn: Connection,
    ) -> None:
        if new:
            self.store.documents.upsert(doc_id, conn=conn, **ledger, status="pending")
        self.store.documents.mark_failed(
            doc_id, error=_error_text(exc), status="refused", conn=conn
        )

    def _lifecycle(
        self, usulan_id: str, fields: Mapping[str, Any], stamps: Mapping[str, Any]
    ) -> Write:
        return partial(self.store.usulan.upsert, usulan_id, fields=fields, stamps=stamps)

    # -- handlers -----------------------------------------------------------------------------

    def _posted(self, row: OutboxRow) -> None:
        if self.after_post is not None:
            self.after_post(row)

    async def _usulan(self, row: OutboxRow) -> _Delivery:
        payload = row.payload
        usulan_id = str(payload["usulan_id"])
        body = usulan_body(payload, await self._documents(usulan_id, payload["dokumen"]))
        answer = _as_answer(await self.siasn.post_pks(FLOW_USULAN, body, row.idempotency_key))
        self._posted(row)
        fields = {"status": "terkirim", "version": str(payload["version"])}
        if answer.get("id"):
            fields["bkn_usulan_id"] = str(answer["id"])
        return _Delivery(answer, [self._lifecycle(usulan_id, fields, {"sent_at": self.run.now})])

    async def _keppres(self, row: OutboxRow) -> _Delivery:
        payload = row.payload
        usulan_id = str(payload["usulan_id"])
        body = payload["body"]
        sk = {
            "id_usulan": usulan_id,
            "no_sk": str(body["no_keppres"]),
            "tgl_sk": str(body["tgl_keppres"]),
        }
        (copy,) = await self._documents(usulan_id, [payload["dokumen"]], sk=sk)
        final = keppres_body(payload, copy)
        answer = _as_answer(await self.siasn.post_pks(FLOW_KEPPRES, final, row.idempotency_key))
        self._posted(row)
        lifecycle = self._lifecycle(
            usulan_id, {"status": "keppres_terkirim"}, {"keppres_sent_at": self.run.now}
        )
        return _Delivery(answer, [lifecycle])

    async def _usulan_public(self, row: OutboxRow) -> _Delivery:
        """Public mode F5: link the version to SIASN's usulan (no POST, no upload)."""
        assert self.linker is not None
        payload = row.payload
        usulan_id = str(payload["usulan_id"])
        held = await self.io.call(self.store.usulan.get, usulan_id)
        known = str(held.get("bkn_usulan_id") or "") if held else ""
        if known:
            # a new version of a linked usulan (after BTS): entered once SIASN's row left BTS
            answer = await self.siasn.kp_instansi_by_id(known)
            status = str(answer.get("statusUsulan") or "") if isinstance(answer, Mapping) else ""
            if not status or status == _BTS:
                raise _AwaitingEntry("new version not entered yet")
            bkn_id = known
        else:
            bkn_id = await self.linker.find(payload["body"])
        self.tally.linked += 1
        self.tally.documents_not_sent += len(payload.get("dokumen") or [])
        self._posted(row)
        fields = {"status": LINKED, "version": str(payload["version"]), "bkn_usulan_id": bkn_id}
        answer = {"id": bkn_id, "status": "linked"}
        return _Delivery(answer, [self._lifecycle(usulan_id, fields, {"sent_at": self.run.now})])

    async def _keppres_public(self, row: OutboxRow) -> _Delivery:
        """Public mode F7: the copy through ``upload-dok-sk-kp`` under BKN's id; no POST."""
        payload = row.payload
        usulan_id = str(payload["usulan_id"])
        held = await self.io.call(self.store.usulan.get, usulan_id)
        bkn_id = str(held.get("bkn_usulan_id") or "") if held else ""
        if not bkn_id:
            raise _AwaitingEntry("usulan not linked yet")
        body = payload["body"]
        sk = {
            "id_usulan": bkn_id,
            "no_sk": str(body["no_keppres"]),
            "tgl_sk": str(body["tgl_keppres"]),
        }
        (copy,) = await self._documents(usulan_id, [payload["dokumen"]], sk=sk)
        self.tally.keppres_metadata_skipped += 1
        self._posted(row)
        lifecycle = self._lifecycle(
            usulan_id, {"status": "keppres_terkirim"}, {"keppres_sent_at": self.run.now}
        )
        answer = {"dok_id": copy["dok_id"], "dok_uri": copy["dok_uri"], "via": "upload-dok-sk-kp"}
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
        # public mode: SIASN publishes no checksum of its files (the PKS ``dokumen`` list does)
        listed = None if self.linker is not None else await self._listed(usulan_id, path)
        expected = listed.sha256 if listed is not None else None
        if expected is None:
            # nothing to compare with: still refuse a cut-off PDF (the client checks %%EOF)
            self.tally.documents["unverified"] += 1
        try:
            # with ``expected_sha256`` the client has measured the body against it already
            data = await self.siasn.download(path, expected_sha256=expected)
            sha256 = verify_document(
                data,
                sha256=expected,
                size=listed.size if listed is not None else None,
                digest=expected.lower() if expected is not None else None,
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
        ledger = {
            "usulan_id": usulan_id,
            "jenis": "RALAT_PERTEK" if row.flow == FLOW_RALAT else "PERTEK",
            "direction": DIRECTION_TO_SIAPP,
            "sha256": sha256,
            "size": len(data),
            "source_system": "siasn",
            "source_ref": path,
            "target_system": "siapp",
            "target_dok_id": str(answer["id"]) if answer.get("id") else None,
            "status": "transferred",
            "transferred_at": now,
            "verified_at": now if expected is not None else None,
        }
        self.tally.documents["uploaded"] += 1
        return _Delivery(answer, [partial(self._ledger_write, doc_id, ledger)])

    # -- the engine ---------------------------------------------------------------------------

    async def process(self, row: OutboxRow) -> bool:
        """One attempt at one item; True when it was delivered."""
        try:
            delivery: _Delivery = await self.handlers[row.flow](row)
        except StoreError:
            raise
        except _AwaitingEntry as why:
            await self._awaiting(row, str(why))
            return False
        except Exception as exc:  # one bad item never stops the run: it is counted and retried
            await self._failed(row, exc)
            return False
        mark_sent = partial(
            self.store.outbox.mark_sent, row.id, response=delivery.response, sent_at=self.run.now
        )
        await self.io.commit([mark_sent, *delivery.after])
        self.tally.sent += 1
        self.tally.flow(row.flow, "sent")
        self.digest.add(row.idempotency_key, row.version_hash)
        return True

    async def _awaiting(self, row: OutboxRow, why: str) -> None:
        """Public mode: the item stays due as it is (no attempt counted); the usulan's
        lifecycle says it waits for the agency's entry in SIASN."""
        self.tally.awaiting[why] = self.tally.awaiting.get(why, 0) + 1
        self.tally.flow(row.flow, "awaiting")
        if row.flow == FLOW_USULAN:
            usulan_id = str(row.payload["usulan_id"])
            await self.io.commit([self._lifecycle(usulan_id, {"status": AWAITING_ENTRY}, {})])

    async def _failed(self, row: OutboxRow, exc: BaseException) -> None:
        policy = self.params.retry
        attempts = row.attempts + 1
        dead = policy.is_dead(attempts)
        text = _error_text(exc)
        await self.io.call(
            self.store.outbox.mark_attempt_failed,
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

    An item in backoff holds back the later items of its group, so order within a group
    survives retries; so does an usulan held for the ASN mirror (``WAITING_FOR_MIRROR``).
    Otherwise only ``retry`` rows can be waiting: a ``pending`` row is due at once (a failed
    attempt is what sets a later ``next_attempt_at``, and it makes the row ``retry``), and a
    due row left out by the run's limit comes after every row taken.
    """
    due_ids = {r.id for r in due}
    wanted = set(flows)
    waiting: dict[tuple[str, str], int] = {}
    # an usulan held until its employee is in the ASN mirror holds back what follows it
    held = store.outbox.list(flow=FLOW_USULAN, status="pending", reason=WAITING_FOR_MIRROR)
    for r in [*store.outbox.list(status="retry"), *held]:
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


@dataclass
class _Plan:
    due: list[OutboxRow]
    groups: list[list[OutboxRow]]
    held_back: int
    #: public mode: held rows per flow; the linker's state read from the lifecycle
    held: dict[str, int] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    pensiun_from: date | None = None


def _plan(store: Store, params: PushParams, run: RunContext, mode: str) -> _Plan:
    """What this run sends. Public mode holds F6/F8 (their rows stay, with the reason); a run
    in ``pks`` mode releases whatever public mode held, so it is sent now."""
    flows = params.flows()
    public = mode == "public" and any(f in TARGETS["siasn"] for f in flows)
    held: dict[str, int] = {}
    if public:
        holding = [f for f in flows if f in HELD_IN_PUBLIC]
        held = store.outbox.hold(holding, reason=HELD_NO_PUBLIC_ENDPOINT)
        flows = tuple(f for f in flows if f not in HELD_IN_PUBLIC)
    elif mode == "pks":
        released = store.outbox.release(reason=HELD_NO_PUBLIC_ENDPOINT)
        if released:
            log.info("push: %d items held in public mode released (api_mode pks)", released)
    due = store.outbox.due(run.now, limit=params.limit, flows=flows)
    groups, held_back = plan_groups(store, due, flows)
    plan = _Plan(due, groups, held_back, held)
    if public:
        rows = store.usulan.list()
        plan.taken = {str(r["bkn_usulan_id"]) for r in rows if r.get("bkn_usulan_id")}
        waiting = {r.entity_id for r in due if r.flow == FLOW_USULAN}
        since = [
            r["submitted_at"].date()
            for r in rows
            if r["usulan_id"] in waiting
            and r.get("jenis") == "PEMBERHENTIAN"
            and r.get("submitted_at") is not None
        ]
        plan.pensiun_from = min(since) if since else None
    return plan


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
    """Deliver the due outbox items of ``params.target`` (the oldest ``params.limit``)."""
    target = params.target or "siasn+siapp"
    flows = params.flows()
    mode = api_mode_of(siasn)
    public = mode == "public"
    endpoints = dict(_ENDPOINTS, siasn=_PUBLIC_ENDPOINTS) if public else _ENDPOINTS
    with run.lineage_scope(
        _LABELS.get(target, "F3-F8"),
        title=_TITLES.get(target, "F3-F8 outbox → SIASN, SIAPP NV"),
        counts=Counts.named(*PUSH_COUNTS),
        source=Endpoint(system="hub-store", endpoint="outbox"),
        target=Endpoint(
            system=target,
            endpoint=endpoints.get(target, f"{endpoints['siasn']}; {endpoints['siapp']}"),
        ),
        # the due items as of now; the flows are the target's (and extra.by_flow's)
        window={"due_by": run.now.isoformat()},
    ) as record:
        io = _StoreIO(store)
        try:
            plan = await io.call(_plan, store, params, run, mode)
            due, groups = plan.due, plan.groups
            pusher = _Pusher(siasn, siapp, io, params, run, after_post, rng or random.Random())
            if public:
                today = run.now.date()
                pusher.go_public(_PublicLinker(siasn, today, plan.pensiun_from, plan.taken))
            pusher.tally.deferred += plan.held_back
            log.info("push %s: %d items due in %d groups", target, len(due), len(groups))
            if groups:
                async with AsyncExitStack() as stack:
                    await stack.enter_async_context(siasn)
                    await stack.enter_async_context(siapp)
                    done = 0
                    async for _group, outcome in bounded_map(
                        pusher.process_group, groups, limit=params.concurrency
                    ):
                        if isinstance(outcome, BaseException):
                            raise outcome  # a store failure: the outbox must not be half-told
                        done += 1
                        run.report_progress(done, len(groups))
                    record.requests = {"siasn": siasn.metrics(), "siapp": siapp.metrics()}
        finally:
            io.close()
        t = pusher.tally
        record.counts.add(
            due=len(due), sent=t.sent, failed=t.failed, dead=t.dead, deferred=t.deferred
        )
        record.reference("dead_letters", t.dead, DEAD_LETTERS_WHERE)
        problem = dead_letter_failure(
            t.dead, params.max_dead_letters, sent=t.sent, deferred=t.deferred
        )
        if problem:
            record.failures.append(problem)
        # one line per flow and only the document counts that happened: the record stays
        # readable (the outbox as a whole is in the store: siapp-siasn store stats)
        record.extra = {
            "by_flow": {flow: _counts_line(n) for flow, n in t.by_flow.items()},
            "errors": t.errors,
            "documents": {k: n for k, n in t.documents.items() if n},
            "max_attempts": params.retry.max_attempts,
        }
        to_siasn = public and any(f in TARGETS["siasn"] for f in flows)
        if to_siasn:
            record.extra["public"] = {
                "held": plan.held,
                "held_reason": HELD_NO_PUBLIC_ENDPOINT,
                "linked": t.linked,
                "awaiting_entry": sum(t.awaiting.values()),
                "awaiting_by_reason": t.awaiting,
                "documents_not_sent": t.documents_not_sent,
                "keppres_metadata_skipped": t.keppres_metadata_skipped,
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
        if to_siasn:
            log.info(
                "push %s (public mode): %d linked, %d awaiting entry in SIASN, held %s (%s)",
                target,
                t.linked,
                sum(t.awaiting.values()),
                plan.held,
                HELD_NO_PUBLIC_ENDPOINT,
            )
        if t.dead:
            log.warning(
                "%d outbox items went to the dead letters this run (view v_outbox_dead)", t.dead
            )
        return record
