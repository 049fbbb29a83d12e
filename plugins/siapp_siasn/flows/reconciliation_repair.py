"""Repair of the document differences a reconciliation found (pure Python, no Airflow).

For an open item of a repairable category (``store.reconciliation.to_repair``: missing at the
destination, hash or size mismatch), each of its documents is transferred again **as the outbox
delivered it**: the outbox item that carried the document gives the body and the Idempotency-Key,
the ledger row of the document is the one that is reset and rewritten.

- SIAPP NV → SIASN (usulan documents, the Keppres copy): the ledger row is reset (``pending``:
  never reused while the repair is under way), the bytes are downloaded from SIAPP NV and checked
  against the sha256 and size the outbox item announced, uploaded again (``upload-dok`` /
  ``upload-dok-sk-kp``) and recorded on the same row; the item's message is POSTed again with
  its own Idempotency-Key (SIASN answers with its first answer when the body is the one it
  received; a conflict means SIASN now holds the copy under a reference that message cannot
  name). Then the copy is **verified**: ``download-dok`` of it must hash to the sha256.
- SIASN → SIAPP NV (pertek, ralat pertek): downloaded from SIASN (checked against SIASN's list)
  and delivered again with the outbox item's metadata and Idempotency-Key; the next
  reconciliation verifies it (SIAPP NV serves no download of what it received).

Why not requeue the outbox item and let the push do it: a ``sent`` row has no way back to due in
``store.outbox``, and the push's handler also writes the usulan lifecycle (``terkirim``), which
would move an usulan that has gone further back in its life. The repair uses the same pieces
(bodies, document checks) without that side effect.

What cannot be repaired is flagged once (``store.reconciliation.flag_unrepairable``) with its
reason and never handed out again: ``source_missing`` (the source no longer has it),
``source_corrupt`` (the source's bytes disagree with what was announced), ``no_outbox_item``,
``no_ledger_row``, ``reference_changed`` (409 on the replayed message), ``repair_failed`` (still
failing after ``max_attempts`` runs); and the categories no transfer can fix (``orphan``,
``source_missing``, ``duplicate``, ``ledger_only``) under their category's name.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from siapp_siasn.clients.errors import ApiError, ChecksumMismatchError
from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.reconciliation_sources import DIRECTION_TO_SIAPP
from siapp_siasn.flows.usulan_rules import (
    FLOW_KEPPRES,
    FLOW_PERTEK,
    FLOW_RALAT,
    FLOW_USULAN,
    DocumentIntegrityError,
    keppres_body,
    pertek_metadata,
    usulan_body,
    verify_document,
)
from siapp_siasn.store import OutboxRow, Store, StoreError
from siapp_siasn.store.reconciliation import ItemKey

__all__ = [
    "NOT_REPAIRABLE",
    "DocRef",
    "RepairParams",
    "RepairResult",
    "flag_not_repairable",
    "repair_items",
]

log = logging.getLogger(__name__)

#: categories no re-transfer can fix: flagged once under their own name
NOT_REPAIRABLE: tuple[str, ...] = ("orphan", "source_missing", "duplicate", "ledger_only")

_SENT = "sent"


@dataclass(frozen=True)
class DocRef:
    """The document of an item: its ``ref`` (the ledger's ``doc_id``) and category."""

    ref: str
    category: str


@dataclass
class RepairParams:
    """How much one run repairs (a bad value raises :class:`FlowConfigError`).

    :param limit: items repaired per run at most (the oldest first).
    :param max_attempts: runs that may try an item before it is flagged ``repair_failed``.
    :param verify: download each SIASN copy after its upload and check its sha256.
    """

    limit: int = 50
    max_attempts: int = 3
    verify: bool = True

    def __post_init__(self) -> None:
        if self.limit < 0 or self.max_attempts < 1:
            raise FlowConfigError("repair: limit >= 0 and max_attempts >= 1")


@dataclass
class RepairResult:
    """What one repair pass did (lineage ``extra``)."""

    attempted: int = 0
    repaired: int = 0
    failed: int = 0
    flagged: int = 0
    verified: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted,
            "repaired": self.repaired,
            "failed": self.failed,
            "flagged": self.flagged,
            "verified": self.verified,
            "reasons": dict(self.reasons),
        }


def _item_key(item: Mapping[str, Any]) -> ItemKey:
    """The key of a ``reconciliation_item`` row."""
    return ItemKey(item["usulan_id"], item["direction"] or "", item["ref"] or "")


class _Unrepairable(Exception):
    """This document cannot be repaired: ``str(exc)`` is the reason code."""


class _Failed(Exception):
    """This attempt failed; a later run may try again: ``str(exc)`` is a safe reason."""


def _safe(exc: BaseException) -> str:
    if isinstance(exc, ApiError | DocumentIntegrityError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def _payload_docs(row: OutboxRow) -> list[Mapping[str, Any]]:
    payload = row.payload or {}
    if row.flow == FLOW_KEPPRES:
        doc = payload.get("dokumen")
        return [doc] if isinstance(doc, Mapping) else []
    docs = payload.get("dokumen")
    return [d for d in docs if isinstance(d, Mapping)] if isinstance(docs, list) else []


def _carrier_to_siasn(
    store: Store, usulan_id: str, ref: str
) -> tuple[OutboxRow, Mapping[str, Any]] | None:
    """The latest sent outbox item that carried SIAPP NV document ``ref`` to SIASN."""
    found: tuple[OutboxRow, Mapping[str, Any]] | None = None
    for flow in (FLOW_USULAN, FLOW_KEPPRES):
        rows = store.outbox.list(flow=flow, entity_id=usulan_id, status=_SENT)
        if not rows and flow == FLOW_KEPPRES:
            rows = [
                r
                for r in store.outbox.list(flow=flow, status=_SENT)
                if str((r.payload or {}).get("usulan_id")) == usulan_id
            ]
        for r in rows:
            for d in _payload_docs(r):
                if str(d.get("id")) == ref and (found is None or r.id > found[0].id):
                    found = (r, d)
    return found


def _carrier_to_siapp(store: Store, usulan_id: str, path: str) -> OutboxRow | None:
    """The latest sent pertek / ralat pertek item that delivered SIASN's ``path``."""
    want = path.lstrip("/")
    found: OutboxRow | None = None
    for flow in (FLOW_PERTEK, FLOW_RALAT):
        rows = store.outbox.list(flow=flow, entity_id=usulan_id, status=_SENT) or [
            r
            for r in store.outbox.list(flow=flow, status=_SENT)
            if str((r.payload or {}).get("usulan_id")) == usulan_id
        ]
        for r in rows:
            meta = (r.payload or {}).get("metadata") or {}
            same = str(meta.get("siasn_path") or "").lstrip("/") == want
            if same and (found is None or r.id > found.id):
                found = r
    return found


class _Repairer:
    def __init__(
        self, siasn: Any, siapp: Any, store: Store, run: RunContext, params: RepairParams
    ) -> None:
        self.siasn, self.siapp, self.store, self.run, self.params = (
            siasn,
            siapp,
            store,
            run,
            params,
        )
        self.result = RepairResult()

    # -- SIAPP NV -> SIASN ----------------------------------------------------------------------

    async def to_siasn(self, usulan_id: str, doc: DocRef) -> None:
        ledger = self.store.documents.get(doc.ref)
        if ledger is None:
            raise _Unrepairable("no_ledger_row")
        carrier = _carrier_to_siasn(self.store, usulan_id, doc.ref)
        if carrier is None:
            raise _Unrepairable("no_outbox_item")
        row, announced = carrier
        try:
            data, header = await self.siapp.download_dokumen(doc.ref, verify_sha256=True)
            sha256 = verify_document(
                data,
                sha256=str(announced.get("sha256") or "") or None,
                size=int(announced["size"]) if announced.get("size") is not None else None,
                header_sha256=header,
            )
        except ChecksumMismatchError as exc:
            raise _Unrepairable("source_corrupt") from exc
        except DocumentIntegrityError as exc:
            raise _Unrepairable("source_corrupt") from exc
        except ApiError as exc:
            if exc.status == 404:
                raise _Unrepairable("source_missing") from exc
            raise _Failed(_safe(exc)) from exc
        # the same ledger row, reset: never reused while the repair is under way
        self.store.documents.upsert(doc.ref, status="pending")
        # one upload per repair run: a retry of this run replays, a later run uploads anew
        # (SIASN lost the earlier copy, which is why it is repaired)
        key = f"repair:{self.run.run_id}:{doc.ref}:{sha256[:16]}"
        try:
            if row.flow == FLOW_KEPPRES:
                body = (row.payload or {}).get("body") or {}
                answer = await self.siasn.upload_dok_sk_kp(
                    data,
                    f"{doc.ref}.pdf",
                    usulan_id,
                    str(body.get("no_keppres") or ""),
                    str(body.get("tgl_keppres") or ""),
                    idempotency_key=key,
                )
            else:
                answer = await self.siasn.upload_dok(
                    data,
                    f"{doc.ref}.pdf",
                    str(announced.get("id_ref_dokumen") or ""),
                    idempotency_key=key,
                )
        except ApiError as exc:
            self.store.documents.mark_failed(doc.ref, error=_safe(exc), status="failed")
            raise _Failed(_safe(exc)) from exc
        if not isinstance(answer, Mapping) or not answer.get("dok_id") or not answer.get("dok_uri"):
            self.store.documents.mark_failed(
                doc.ref, error="upload without dok_id", status="failed"
            )
            raise _Failed("upload answered without dok_id / dok_uri")
        dok_id, dok_uri = str(answer["dok_id"]), str(answer["dok_uri"])
        self.store.documents.upsert(
            doc.ref,
            target_dok_id=dok_id,
            target_dok_uri=dok_uri,
            status="transferred",
            last_error=None,
            transferred_at=self.run.now,
            verified_at=None,
        )
        await self._replay_to_siasn(row, usulan_id, doc.ref, answer)
        if self.params.verify:
            try:
                await self.siasn.download(dok_uri, expected_sha256=sha256)
            except ApiError as exc:
                raise _Failed("verify: " + _safe(exc)) from exc
            self.store.documents.upsert(doc.ref, status="verified", verified_at=self.run.now)
            self.result.verified += 1

    async def _replay_to_siasn(
        self, row: OutboxRow, usulan_id: str, ref: str, answer: Mapping[str, Any]
    ) -> None:
        """The carrier's message again, same Idempotency-Key, with the copies SIASN holds now."""
        payload = row.payload or {}
        if row.flow == FLOW_KEPPRES:
            announced = payload["dokumen"]
            copy = {
                "id_ref_dokumen": str(answer.get("slug") or announced.get("id_ref_dokumen") or ""),
                "dok_id": str(answer["dok_id"]),
                "dok_uri": str(answer["dok_uri"]),
                "sha256": str(announced["sha256"]).lower(),
                "size": announced["size"],
            }
            body = keppres_body(payload, copy)
        else:
            docs = _payload_docs(row)
            held = self.store.documents.get_many([str(d["id"]) for d in docs])
            uploaded = []
            for d in docs:
                h = held.get(str(d["id"])) or {}
                if not h.get("target_dok_id") or not h.get("target_dok_uri"):
                    raise _Failed("another document of the message has no SIASN copy")
                uploaded.append(
                    {
                        "id_ref_dokumen": d["id_ref_dokumen"],
                        "dok_id": h["target_dok_id"],
                        "dok_uri": h["target_dok_uri"],
                        "sha256": str(d["sha256"]).lower(),
                        "size": d["size"],
                    }
                )
            body = usulan_body(payload, uploaded)
        try:
            await self.siasn.post_pks(row.flow, body, row.idempotency_key)
        except ApiError as exc:
            if exc.status == 409:
                raise _Unrepairable("reference_changed") from exc
            raise _Failed(_safe(exc)) from exc

    # -- SIASN -> SIAPP NV ----------------------------------------------------------------------

    async def to_siapp(self, usulan_id: str, doc: DocRef) -> None:
        ledger = self.store.documents.get(doc.ref)
        if ledger is None or not ledger.get("source_ref"):
            raise _Unrepairable("no_ledger_row")
        path = str(ledger["source_ref"])
        row = _carrier_to_siapp(self.store, usulan_id, path)
        if row is None:
            raise _Unrepairable("no_outbox_item")
        expected = ledger.get("sha256") or None
        try:
            data = await self.siasn.download(path, expected_sha256=expected)
        except ChecksumMismatchError as exc:
            raise _Unrepairable("source_corrupt") from exc
        except ApiError as exc:
            if exc.status == 404:
                raise _Unrepairable("source_missing") from exc
            raise _Failed(_safe(exc)) from exc
        try:
            sha256 = verify_document(data, sha256=expected, size=None)
        except DocumentIntegrityError as exc:
            raise _Unrepairable("source_corrupt") from exc
        self.store.documents.upsert(doc.ref, status="pending")
        metadata = pertek_metadata(row.flow, row.payload or {}, sha256, len(data))
        try:
            answer = await self.siapp.post_inbound(
                row.flow, metadata, row.idempotency_key, file=data, filename=f"{row.flow}.pdf"
            )
        except ApiError as exc:
            self.store.documents.mark_failed(doc.ref, error=_safe(exc), status="failed")
            raise _Failed(_safe(exc)) from exc
        target = answer.get("id") if isinstance(answer, Mapping) else None
        self.store.documents.upsert(
            doc.ref,
            status="transferred",
            last_error=None,
            sha256=sha256,
            size=len(data),
            target_dok_id=str(target) if target else ledger.get("target_dok_id"),
            transferred_at=self.run.now,
        )

    # -- one item -------------------------------------------------------------------------------

    async def item(self, item: Mapping[str, Any]) -> None:
        key = _item_key(item)
        if item["last_seen_run"] != self.run.run_key or not key.ref:
            return  # not seen by this run's comparison (an incomplete run): wait
        doc = DocRef(key.ref, str(item["category"]))
        self.result.attempted += 1
        errors: list[str] = []
        try:
            if key.direction == DIRECTION_TO_SIAPP:
                await self.to_siapp(key.usulan_id, doc)
            else:
                await self.to_siasn(key.usulan_id, doc)
        except _Unrepairable as exc:
            reason = str(exc)
            self.result.reasons[reason] += 1
            if self.store.reconciliation.flag_unrepairable(key, reason, at=self.run.now):
                self.result.flagged += 1
            log.warning("reconciliation item not repairable: %s", reason)
            return
        except _Failed as exc:
            errors.append(str(exc))
            self.result.reasons["failed"] += 1
        except StoreError:
            raise  # the store must not be half-told: the run fails
        except Exception as exc:  # one bad document never stops the others
            errors.append(_safe(exc))
            self.result.reasons["failed"] += 1
        ok = not errors
        attempts = self.store.reconciliation.mark_repair_attempt(
            key, ok=ok, error="; ".join(errors)[:500] or None, at=self.run.now
        )
        if ok:
            self.result.repaired += 1
            return
        self.result.failed += 1
        if attempts >= self.params.max_attempts:
            if self.store.reconciliation.flag_unrepairable(key, "repair_failed", at=self.run.now):
                self.result.flagged += 1
            self.result.reasons["repair_failed"] += 1


async def repair_items(
    siasn: Any,
    siapp: Any,
    store: Store,
    run: RunContext,
    params: RepairParams,
) -> RepairResult:
    """Repair up to ``params.limit`` items of :meth:`to_repair`: each is one document (its
    ``ref``); an item this run (``run.run_key``) did not see waits for a run that looks again.
    Both clients must be open (``async with``)."""
    worker = _Repairer(siasn, siapp, store, run, params)
    if params.limit == 0:
        return worker.result
    items = store.reconciliation.to_repair(params.limit, max_attempts=params.max_attempts)
    for item in items:
        await worker.item(item)
    log.info("reconciliation repair: %s", worker.result.summary())
    return worker.result


def flag_not_repairable(
    store: Store, run: RunContext, *, limit: int, result: RepairResult | None = None
) -> RepairResult:
    """Flag, once each, up to ``limit`` open items of the categories no transfer can fix
    (:data:`NOT_REPAIRABLE`), with their category as the reason."""
    result = result or RepairResult()
    left = limit
    for category in NOT_REPAIRABLE:
        if left <= 0:
            break
        for item in store.reconciliation.open_items(category, flagged=False)[:left]:
            left -= 1
            if store.reconciliation.flag_unrepairable(_item_key(item), category, at=run.now):
                result.flagged += 1
                result.reasons[category] += 1
    return result
