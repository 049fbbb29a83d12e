"""Proposal traffic into the outbox (F3-F8): what SIAPP NV changed, and BKN's statuses back.

Pure Python (no Airflow): the operators of DAG ``usulan_sync`` and the tests call these; what
the DAG does for its users (the scope check, the lifecycle stamps, the watermarks) is told in
its ``doc_md``. Both steps only decide what either side is owed and write it, with what it means
for the lifecycle and the watermark, in one transaction; delivery is
:mod:`siapp_siasn.flows.usulan_push`, one engine for every outbox flow. Collection decides so
much because whatever reaches the outbox will be delivered: the scope check, payload validation
and de-duplication by Idempotency-Key all happen before an item gets there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from siapp_siasn.clients.siapp import iso_utc
from siapp_siasn.flows import watermarks
from siapp_siasn.flows.asn_sources import api_mode_of
from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.flows.usulan_rules import (
    ALASAN,
    AWAITING_ENTRY,
    DOKUMEN_SALINAN_KEPPRES,
    FLOW_PENOLAKAN,
    FLOW_STATUS,
    FLOW_USULAN,
    MENUNGGU_MIRROR,
    PAYLOAD_TIDAK_VALID,
    PKS_FLOW,
    RESOURCE_FLOW,
    USULAN_DITOLAK_HUB,
    WAITING_FOR_MIRROR,
    WAITING_HINT,
    PayloadError,
    idempotency_key,
    invalid_field_reason,
    keppres_payload,
    mirror_reason,
    penolakan_payload,
    pertek_payloads,
    pic_payload,
    ref_dokumen_id,
    refusal_alasan,
    status_payload,
    usulan_payload,
    usulan_scope_reason,
    verifikasi_payload,
    version_hash,
)
from siapp_siasn.lineage import ContentDigest, Counts, Endpoint, LineageRecord, UpstreamRef
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.layanan import KpInstansiRow
from siapp_siasn.models.pks import StatusUsulanRow
from siapp_siasn.models.siapp import SiappKeppres, SiappPic, SiappUsulan, SiappVerifikasi
from siapp_siasn.store import OutboxItem, QuarantineItem, Store

__all__ = ["BKN_STATUS", "RESOURCES", "CollectResult", "collect_siapp", "status_back"]

log = logging.getLogger(__name__)

#: SIAPP NV resources in the order they are collected: usulan first, so that a follow-up of a
#: refused usulan is known to be one
RESOURCES: tuple[str, ...] = tuple(RESOURCE_FLOW)

_MODELS: dict[str, type[Any]] = {
    "usulan": SiappUsulan,
    "verifikasi": SiappVerifikasi,
    "keppres": SiappKeppres,
    "pic": SiappPic,
}
#: how each follow-up resource becomes an outbox payload
_FOLLOW_UPS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "verifikasi": verifikasi_payload,
    "pic": pic_payload,
}

#: lifecycle ``status`` after each BKN ``statusUsulan``
BKN_STATUS: dict[str, str] = {
    "1": "diterima_bkn",
    "11": "bts",
    "12": "tms",
    "13": "ms",
    "22": "pertek",
    "23": "ralat_pertek",
    "32": "keppres_diterapkan",
}


@dataclass
class _Work:
    """What one resource (or the status list) writes in its one transaction."""

    items: list[OutboxItem] = field(default_factory=list)
    bad: list[QuarantineItem] = field(default_factory=list)
    lifecycle: list[tuple[str, dict[str, Any], dict[str, datetime | None]]] = field(
        default_factory=list
    )
    #: outbox ids of usulan held for the mirror that may go now, and those refused after all
    release: list[int] = field(default_factory=list)
    refuse: list[tuple[int, str]] = field(default_factory=list)

    def add(self, flow: str, entity_id: str, payload: dict[str, Any], **kw: Any) -> OutboxItem:
        vhash = version_hash(payload)
        item = OutboxItem(
            flow=flow,
            entity_id=entity_id,
            version_hash=vhash,
            idempotency_key=idempotency_key(flow, entity_id, vhash),
            payload=payload,
            **kw,
        )
        self.items.append(item)
        return item


@dataclass
class CollectResult:
    """Counts of one resource (for lineage and logs)."""

    read: int = 0
    valid: int = 0
    known: int = 0
    enqueued: int = 0
    rejected: int = 0
    quarantined: int = 0
    #: usulan held until their employee's quarantined record is in the mirror (after the run)
    waiting: int = 0
    #: held usulan released this run (their employee is now in the mirror and in scope)
    released: int = 0
    #: usulan quarantined as ``missing_fields`` (contract drift), read again next run
    drifted: int = 0
    skipped: str | None = None


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _plain(value: Any, kind: Any) -> bool:
    """``isinstance(value, kind)``, booleans excluded (JSON ``true`` is no id or version)."""
    return isinstance(value, kind) and not isinstance(value, bool)


def _dedupe(raw_rows: Sequence[Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The newest row of each (id, version); rows that are not objects apart.

    A record changed while the walk was under way comes back later in the same walk: the
    copy with the latest ``updated_at`` is the one that counts.
    """
    latest: dict[tuple[Any, Any], dict[str, Any]] = {}
    odd: list[Any] = []
    for index, row in enumerate(raw_rows):
        # an id that is not a scalar cannot name a record (and str() of a deeply nested one
        # would exhaust the stack): the row is odd. A version or updated_at that is not a scalar
        # is left to validation, which refuses the usulan under its id.
        if not isinstance(row, dict) or not _scalar(row.get("id")):
            odd.append(row)
            continue
        if not (_scalar(row.get("version")) and _scalar(row.get("updated_at"))):
            latest[(str(row.get("id")), f"#row{index}")] = row
            continue
        key = (str(row.get("id")), str(row.get("version")))
        held = latest.get(key)
        if held is None or str(row.get("updated_at") or "") >= str(held.get("updated_at") or ""):
            latest[key] = row
    return list(latest.values()), odd


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _existing_keys(store: Store, flow: str, entity_id: str) -> dict[str, str]:
    """``idempotency_key -> status`` of what the outbox already holds for one entity."""
    return {r.idempotency_key: r.status for r in store.outbox.list(flow=flow, entity_id=entity_id)}


def _usulan_refused(store: Store, usulan_id: str) -> bool:
    """Whether the hub refused every version of ``usulan_id`` it collected (and knows any)."""
    rows = store.outbox.list(flow=RESOURCE_FLOW["usulan"], entity_id=usulan_id)
    return bool(rows) and all(r.status == "rejected" for r in rows)


class _Collector:
    def __init__(self, store: Store, now: datetime | None = None) -> None:
        self.store = store
        self.now = now
        self.reasons: dict[str, int] = {}
        self._asn: dict[str, dict[str, Any] | None] = {}
        self._quarantined: dict[str, bool] = {}
        self._ref_salinan: str | None = None
        #: contract fields found absent (drift), names only
        self.absent: set[str] = set()

    def keppres_payload(self, k: SiappKeppres) -> dict[str, Any]:
        """F7 payload; the Keppres copy's ref-dokumen id is read once from the store's table."""
        if self._ref_salinan is None:
            self._ref_salinan = ref_dokumen_id(self.store, DOKUMEN_SALINAN_KEPPRES)
        return keppres_payload(k, self._ref_salinan)

    def build(self, resource: str) -> Callable[[Any], dict[str, Any]]:
        """How a follow-up of ``resource`` becomes an outbox payload."""
        return self.keppres_payload if resource == "keppres" else _FOLLOW_UPS[resource]

    def asn_row(self, nip: str) -> dict[str, Any] | None:
        if nip not in self._asn:
            self._asn[nip] = self.store.asn.get(nip)
        return self._asn[nip]

    def quarantined(self, nip: str) -> bool:
        """Whether the mirror lacks ``nip`` because F1 quarantined the employee's record."""
        if nip not in self._quarantined:
            # during a key rotation F1's rows may still be keyed with the previous key
            digests = self.store.quarantine.key_hashes(nip)
            self._quarantined[nip] = bool(self.store.usulan.employees_quarantined(digests))
        return self._quarantined[nip]

    def quarantine(
        self, work: _Work, resource: str, key: str, reason: str, detail: str, raw: Any
    ) -> None:
        work.bad.append(
            QuarantineItem(
                flow=PKS_FLOW[RESOURCE_FLOW[resource]],
                entity_kind=resource,
                key=key,
                reason=reason,
                detail=detail,
                payload=raw,
            )
        )
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    # -- per resource -------------------------------------------------------------------------

    def resource(
        self,
        resource: str,
        raw_rows: Sequence[Any],
        since: datetime | None,
        res: CollectResult,
    ) -> tuple[_Work, datetime | None]:
        """What one resource's listing writes, and the newest ``updated_at`` it holds."""
        rows, odd = _dedupe(raw_rows)
        res.read = len(raw_rows)
        work = _Work()
        newest = since
        for raw in odd:
            self.quarantine(work, resource, "", "invalid", "not an object", raw)
            res.quarantined += 1
        if resource == "usulan":
            self.recheck_waiting(work, res)
        drift_from: datetime | None = None
        for raw in rows:
            ts = _parse_ts(raw.get("updated_at"))
            if ts is not None and (newest is None or ts > newest):
                newest = ts
            model, error = validate_payload(_MODELS[resource], raw)
            if model is None:
                if resource == "usulan":
                    self.invalid_usulan(work, raw, error or "", res)
                    continue
                key = str(raw.get("id") or "")
                self.quarantine(work, resource, key, "invalid", error or "", raw)
                res.quarantined += 1
                continue
            if resource == "usulan" and (missing := model.missing_fields()):
                # absent is not null: sent on, SIASN would get a null where SIAPP NV holds a
                # value. Quarantined, and the watermark held at it so the next run reads it
                # again (once the drift is fixed it is delivered, nothing lost)
                self.quarantine(work, resource, model.id, "missing_fields", ", ".join(missing), raw)
                self.absent.update(missing)
                res.quarantined += 1
                res.drifted += 1
                if drift_from is None or model.updated_at < drift_from:
                    drift_from = model.updated_at
                continue
            res.valid += 1
            if resource == "usulan":
                self.usulan(work, model, raw, res)
            else:
                self.follow_up(work, resource, model, raw, res, self.build(resource))
        if drift_from is not None and newest is not None:
            # ``updated_since`` is inclusive: the drifted row is listed again, the rows after
            # it too (known by their Idempotency-Keys, not enqueued twice)
            newest = min(newest, drift_from)
        return work, newest

    def usulan(self, work: _Work, u: SiappUsulan, raw: dict[str, Any], res: CollectResult) -> None:
        """Decide one valid usulan version: sent, refused (with the reason really checked), or
        held until its employee's quarantined record reaches the mirror."""
        asn = self.asn_row(u.nip)
        reason = usulan_scope_reason(u)
        waiting = reason is None and asn is None and self.quarantined(u.nip)
        if reason is None and not waiting:
            reason = mirror_reason(asn)
        detail = ALASAN.get(reason or "", "")
        try:
            payload = usulan_payload(u)
        except PayloadError as exc:
            payload = {"usulan_id": u.id, "version": u.version, "invalid": True}
            if reason is None:
                reason, detail, waiting = PAYLOAD_TIDAK_VALID, str(exc), False
        flow = RESOURCE_FLOW["usulan"]
        vhash = version_hash(payload)
        if idempotency_key(flow, u.id, vhash) in _existing_keys(self.store, flow, u.id):
            res.known += 1  # this version was decided on an earlier run
            return
        fields: dict[str, Any] = {
            "version": str(u.version),
            "jenis": u.jenis,
            "kategori_jabatan": u.kategori_jabatan,
            "nip": u.nip,
            "instansi_id": u.instansi_id,
        }
        stamps = {"submitted_at": u.created_at or u.updated_at}
        if waiting:
            # listed by SIASN but refused by the mirror (F1 quarantine): not an answer yet
            work.add(flow, u.id, payload, reason=WAITING_FOR_MIRROR)
            work.lifecycle.append((u.id, {**fields, "status": MENUNGGU_MIRROR}, stamps))
            res.waiting += 1
            return
        if reason is None:
            work.add(flow, u.id, payload)
            work.lifecycle.append((u.id, {**fields, "status": "diterima_hub"}, stamps))
            res.enqueued += 1
            return
        alasan = refusal_alasan(reason, asn)
        work.add(flow, u.id, payload, status="rejected", reason=reason)
        work.add(FLOW_PENOLAKAN, u.id, penolakan_payload(u.id, u.version, reason, alasan))
        work.lifecycle.append((u.id, {**fields, "status": "ditolak_hub"}, stamps))
        self.quarantine(work, "usulan", u.id, reason, alasan or detail, raw)
        res.rejected += 1

    def recheck_waiting(self, work: _Work, res: CollectResult) -> None:
        """Usulan held for the mirror (:data:`WAITING_FOR_MIRROR`), decided again: released
        once the employee is in the mirror and in scope, refused for what the mirror then
        says, held while the record is still quarantined."""
        held = self.store.outbox.list(flow=FLOW_USULAN, status="pending", reason=WAITING_FOR_MIRROR)
        for row in held:
            body = row.payload.get("body") or {}
            nip = str(body.get("nip") or "")
            asn = self.asn_row(nip)
            if asn is None and self.quarantined(nip):
                res.waiting += 1
                continue
            reason = mirror_reason(asn)
            if reason is None:
                work.release.append(row.id)
                work.lifecycle.append((row.entity_id, {"status": "diterima_hub"}, {}))
                res.released += 1
                continue
            alasan = refusal_alasan(reason, asn)
            version = row.payload.get("version")
            work.refuse.append((row.id, reason))
            work.add(
                FLOW_PENOLAKAN,
                row.entity_id,
                penolakan_payload(row.entity_id, version, reason, alasan),
            )
            work.lifecycle.append((row.entity_id, {"status": "ditolak_hub"}, {}))
            self.quarantine(
                work, "usulan", row.entity_id, reason, alasan or ALASAN[reason], row.payload
            )
            res.rejected += 1

    def invalid_usulan(
        self, work: _Work, raw: dict[str, Any], error: str, res: CollectResult
    ) -> None:
        """An usulan SIAPP NV sent with an invalid field: refused once (``penolakan`` naming the
        field, never its value) with a lifecycle row, and kept in quarantine for audit. Without
        a usable id SIAPP NV could not match an answer: quarantined only."""
        try:
            SiappUsulan.model_validate(raw)
            code, alasan = PAYLOAD_TIDAK_VALID, ALASAN[PAYLOAD_TIDAK_VALID]
        except ValidationError as exc:
            code, alasan = invalid_field_reason(exc)
        except (TypeError, ValueError, RecursionError):
            code, alasan = PAYLOAD_TIDAK_VALID, ALASAN[PAYLOAD_TIDAK_VALID]
        raw_id, raw_version = raw.get("id"), raw.get("version")
        usulan_id = str(raw_id) if _plain(raw_id, str | int) and raw_id != "" else None
        version = raw_version if _plain(raw_version, int) and raw_version >= 1 else None
        refusal = None
        if usulan_id is not None:
            try:
                refusal = penolakan_payload(usulan_id, version, code, alasan)
            except PayloadError:
                refusal = None
        if usulan_id is None or refusal is None:
            self.quarantine(work, "usulan", usulan_id or "", "invalid", error, raw)
            res.quarantined += 1
            return
        payload = {"usulan_id": usulan_id, "version": version, "invalid": True, "kode": code}
        vhash = version_hash(payload)
        if idempotency_key(FLOW_USULAN, usulan_id, vhash) in _existing_keys(
            self.store, FLOW_USULAN, usulan_id
        ):
            res.known += 1
            return
        work.add(FLOW_USULAN, usulan_id, payload, status="rejected", reason=code)
        work.add(FLOW_PENOLAKAN, usulan_id, refusal)
        submitted = _parse_ts(raw.get("created_at")) or _parse_ts(raw.get("updated_at"))
        fields: dict[str, Any] = {"status": "ditolak_hub"}
        if version is not None:
            fields["version"] = str(version)
        work.lifecycle.append((usulan_id, fields, {"submitted_at": submitted or self.now}))
        self.quarantine(work, "usulan", usulan_id, "invalid", error, raw)
        res.rejected += 1

    def follow_up(
        self,
        work: _Work,
        resource: str,
        record: Any,
        raw: dict[str, Any],
        res: CollectResult,
        build: Callable[[Any], dict[str, Any]],
    ) -> None:
        """Verifikasi, Keppres and PIC: sent unless the usulan they follow was refused."""
        flow = RESOURCE_FLOW[resource]
        try:
            payload = build(record)
        except PayloadError as exc:
            self.quarantine(work, resource, record.id, "invalid", str(exc), raw)
            res.quarantined += 1
            return
        vhash = version_hash(payload)
        if idempotency_key(flow, record.id, vhash) in _existing_keys(self.store, flow, record.id):
            res.known += 1
            return
        usulan_id = getattr(record, "usulan_id", None)
        if usulan_id is not None and _usulan_refused(self.store, usulan_id):
            # SIASN never received the usulan: there is nothing there to verify or decree
            work.add(flow, record.id, payload, status="rejected", reason=USULAN_DITOLAK_HUB)
            self.quarantine(work, resource, record.id, USULAN_DITOLAK_HUB, "", raw)
            res.rejected += 1
            return
        work.add(flow, record.id, payload)
        res.enqueued += 1
        if isinstance(record, SiappVerifikasi):
            work.lifecycle.append(
                (
                    record.usulan_id,
                    {"status": f"setneg_{record.hasil.lower()}"},
                    {"setneg_verified_at": record.verified_at or record.updated_at},
                )
            )
        elif isinstance(record, SiappKeppres):
            work.lifecycle.append(
                (
                    record.usulan_id,
                    {
                        "status": "keppres_terbit",
                        "no_keppres": record.no_keppres,
                        "tgl_keppres": record.tgl_keppres,
                    },
                    {"keppres_at": record.updated_at},
                )
            )


#: count names of a collect and a status-back record, in the order they are shown
COLLECT_COUNTS = ("read", "enqueued", "known", "refused", "invalid", "waiting", "quarantined")
STATUS_COUNTS = ("read", "enqueued", "known", "quarantined")
#: where an auditor finds the rows behind ``quarantined`` (this run's rows of the flow)
QUARANTINE_WHERE = "table quarantine, run_id={run_id}"


@contextmanager
def _outbox_lineage(
    run: RunContext, flow: str, source: Endpoint, target: Endpoint, title: str, counts: Counts
) -> Iterator[tuple[LineageRecord, ContentDigest]]:
    """The flow's lineage record, whose content digest covers the outbox items it enqueued."""
    digest = ContentDigest()
    with run.lineage_scope(
        flow, source=source, target=target, title=title, counts=counts
    ) as record:
        yield record, digest
        record.content_digest = digest.hexdigest()


def _write(
    store: Store,
    work: _Work,
    run: RunContext,
    watermark: tuple[str, str] | None,
    digest: ContentDigest,
) -> int:
    """One transaction: outbox items, quarantine, lifecycle rows and the watermark.

    Listings are read one page after the other, so no request is in flight while it runs.
    """
    with store.transaction() as conn:
        added = store.outbox.enqueue(work.items, conn=conn)
        if work.release:
            store.outbox.release(reason=WAITING_FOR_MIRROR, ids=work.release, conn=conn)
        for outbox_id, reason in work.refuse:
            store.outbox.reject(outbox_id, reason=reason, conn=conn)
        store.quarantine.add(work.bad, run_id=run.run_id, conn=conn)
        for usulan_id, fields, stamps in work.lifecycle:
            store.usulan.upsert(usulan_id, fields=fields, stamps=stamps, conn=conn)
        if watermark is not None:
            store.state.set_watermark(watermark[0], watermark[1], conn=conn)
    for item in work.items:
        digest.add(item.idempotency_key, item.version_hash)
    return added


async def collect_siapp(
    siapp: Any,
    store: Store,
    run: RunContext,
    *,
    resources: Sequence[str] = RESOURCES,
    page_size: int = 500,
    max_drifted: int = 0,
) -> LineageRecord:
    """Collect what SIAPP NV changed since the watermarks into the outbox (F5-F8 in).

    More than ``max_drifted`` usulan missing a contract field (quarantined as
    ``missing_fields``, read again next run) fail the record's quality gate, naming the fields.
    """
    unknown = sorted(set(resources) - set(RESOURCES))
    if unknown:
        raise FlowConfigError(f"unknown SIAPP NV resources {unknown}; known: {list(RESOURCES)}")
    source = Endpoint(system="siapp", endpoint="/api/v1/{usulan,verifikasi,keppres,pic}")
    target = Endpoint(system="hub-store", endpoint="outbox, quarantine, usulan_lifecycle")
    title = "F5-F8 usulan, verifikasi, Keppres, PIC ← SIAPP NV (scope-checked)"
    counts = Counts.named(*COLLECT_COUNTS)
    with _outbox_lineage(run, "F5-F8", source, target, title, counts) as (record, digest):
        collector = _Collector(store, run.now)
        per_resource: dict[str, dict[str, Any]] = {}
        mirror_loaded = store.state.get_watermark(watermarks.ASN_CURSOR) is not None
        asn_load = store.lineage.latest(flow="F1")
        if asn_load is not None:
            # the scope is checked against the ASN mirror: the load it holds is an upstream
            record.upstream.append(UpstreamRef.of(asn_load))
        async with siapp:
            for resource in resources:
                res = CollectResult()
                per_resource[resource] = res.__dict__
                wm_name = watermarks.SIAPP_RESOURCE.format(resource=resource)
                since = store.state.get_watermark(wm_name)
                record.window[f"{resource}.from"] = since
                if resource == "usulan" and not mirror_loaded:
                    # Without the ASN mirror every NIP would look out of scope: refusing them
                    # all would be wrong and final. Leave the watermark; the next run collects.
                    res.skipped = "asn mirror not loaded"
                    log.warning("collect: usulan skipped: the ASN mirror has not been loaded yet")
                    continue
                raw_rows = [
                    row
                    async for row in siapp.iter_list(
                        resource, updated_since=since, page_size=page_size
                    )
                ]
                work, newest = collector.resource(resource, raw_rows, _parse_ts(since), res)
                moved = iso_utc(newest) if newest is not None else None
                watermark = (wm_name, moved) if moved and moved != since else None
                added = _write(store, work, run, watermark, digest)
                record.window[f"{resource}.to"] = moved or since
                record.counts.add(
                    read=res.read,
                    enqueued=added,
                    known=res.known,
                    refused=res.rejected,
                    invalid=res.quarantined,
                    waiting=res.waiting,
                    quarantined=res.quarantined + res.rejected,
                )
                log.info(
                    "collect %s: read %d, valid %d, enqueued %d, refused %d, invalid %d, "
                    "known %d, waiting %d, released %d",
                    resource,
                    res.read,
                    res.valid,
                    res.enqueued,
                    res.rejected,
                    res.quarantined,
                    res.known,
                    res.waiting,
                    res.released,
                )
            record.requests = siapp.metrics()
        waiting = int(per_resource.get("usulan", {}).get("waiting", 0))
        record.reference(
            "quarantine", record.counts.quarantined, QUARANTINE_WHERE.format(run_id=run.run_id)
        )
        record.extra = {
            # what happened per resource, zeros left out (the record stays readable)
            "resources": {
                name: {k: v for k, v in res.items() if v} for name, res in per_resource.items()
            },
            "reasons": collector.reasons,
            "waiting_for_mirror": waiting,
        }
        if waiting:
            record.extra["waiting_hint"] = WAITING_HINT
            log.warning("collect: %d usulan wait for quarantined ASN records", waiting)
        drifted = int(per_resource.get("usulan", {}).get("drifted", 0))
        if drifted:
            record.extra["drifted"] = drifted
            record.extra["absent_fields"] = sorted(collector.absent)
        if drifted > max_drifted:
            record.failures.append(
                f"quality gate failed: {drifted} usulan quarantined for drift (contract fields "
                f"absent: {', '.join(sorted(collector.absent))}) > max_drifted {max_drifted}; "
                "held, read again next run"
            )
        return record


# ---------------------------------------------------------------------------------------------
# status back (F3, F4)
# ---------------------------------------------------------------------------------------------
def _status_lifecycle(
    row: StatusUsulanRow, now: datetime
) -> tuple[dict[str, Any], dict[str, datetime | None]]:
    fields: dict[str, Any] = {
        "bkn_usulan_id": row.id,
        "status_bkn": row.status_usulan,
        "status_bkn_nama": row.status_usulan_nama,
        "hasil_verifikasi": row.hasil_verifikasi,
        "no_pertek": row.no_pertek,
        "tgl_pertek": row.tgl_pertek,
        "no_ralat_pertek": row.no_ralat_pertek,
        "tgl_ralat_pertek": row.tgl_ralat_pertek,
        "status": BKN_STATUS.get(row.status_usulan, f"bkn_{row.status_usulan}"),
    }
    if row.versi is not None:
        fields["version"] = str(row.versi)
    stamps: dict[str, datetime | None] = {
        "bkn_verified_at": now if row.hasil_verifikasi else None,
        "pertek_at": now if row.no_pertek else None,
        "ralat_at": now if row.no_ralat_pertek else None,
        "keppres_applied_at": now if row.status_usulan == "32" else None,
    }
    # only what the row says: empty columns never erase what an earlier row told
    return {k: v for k, v in fields.items() if v is not None}, stamps


PKS_STATUS = "/apisiasn/1.0/siapp/status-usulan"
KP_BY_ID = "/apisiasn/1.0/pns/kp-instansi-byId"
#: BKN statuses after which SIASN changes nothing more (public mode stops asking)
SETTLED_BKN = frozenset({"12", "32"})
#: lifecycle statuses of an usulan whose current version SIASN has not been linked to (public
#: mode): SIASN's row still describes the previous version, whose status was told already
UNLINKED = frozenset({"diterima_hub", AWAITING_ENTRY})
_HASIL_OF = {"11": "BTS", "12": "TMS", "13": "MS", "22": "MS", "23": "MS", "32": "MS"}


def _dmy(value: date | None) -> str | None:
    return value.strftime("%d-%m-%Y") if value is not None else None


def public_status_row(raw: Any, held: Mapping[str, Any]) -> dict[str, Any]:
    """A ``kp-instansi-byId`` row as a status-usulan row of the usulan the hub ``held``.

    The public row names no SIAPP id, version or verification result: the id comes from the
    lifecycle row that holds BKN's id (from the POST answer), the version is the one the hub
    last handled, the result follows from the status. After a ralat (23) the row's pertek
    fields describe the ralat; the original pertek number stays the one the hub stored.
    """
    base = {"id_usulan_siapp": held["usulan_id"]}
    row, _error = validate_payload(KpInstansiRow, raw)
    if row is None:
        return {**(raw if isinstance(raw, Mapping) else {}), **base}
    code = row.status_usulan
    out: dict[str, Any] = {
        **base,
        "id": row.id,
        "nipBaru": row.nip_baru or held.get("nip"),
        "jenis_usulan": held.get("jenis"),
        "versi": held.get("version"),
        "statusUsulan": code,
        "statusUsulanNama": row.status_usulan_nama,
        "hasil_verifikasi": _HASIL_OF.get(code),
        "alasan": row.alasan_tolak_tambahan or None,
    }
    if code == "23":
        held_tgl = held.get("tgl_pertek")
        out |= {
            "no_pertek": held.get("no_pertek"),
            "tgl_pertek": _dmy(held_tgl) if isinstance(held_tgl, date) else None,
            "no_ralat_pertek": row.no_pertek,
            "tgl_ralat_pertek": _dmy(row.tgl_pertek),
            "path_ralat_pertek": row.path_ttd_pertek,
        }
    else:
        out |= {
            "no_pertek": row.no_pertek,
            "tgl_pertek": _dmy(row.tgl_pertek),
            "path_ttd_pertek": row.path_ttd_pertek,
        }
    return out


async def public_status_rows(siasn: Any, store: Store) -> list[dict[str, Any]]:
    """Public mode: the status of every usulan SIASN took (BKN's id known) and not settled,
    one ``kp-instansi-byId`` each, as status-usulan rows (:func:`public_status_row`).

    An usulan whose new version the hub has not linked yet is left out: SIASN's row still
    describes the previous version, and reporting it under the new one would tell SIAPP NV
    that the new version got the old verdict."""
    import asyncio

    held = [
        r
        for r in store.usulan.list()
        if r.get("bkn_usulan_id")
        and str(r.get("status_bkn") or "") not in SETTLED_BKN
        and r.get("status") not in UNLINKED
    ]
    answers = await asyncio.gather(
        *(siasn.kp_instansi_by_id(str(r["bkn_usulan_id"])) for r in held)
    )
    return [public_status_row(a, r) for r, a in zip(held, answers, strict=True) if a is not None]


async def status_back(
    siasn: Any, store: Store, run: RunContext, *, page_size: int = 500
) -> LineageRecord:
    """BKN statuses, pertek and ralat pertek changed since the watermark → lifecycle + outbox.

    The source follows the client's ``api_mode``: the PKS ``siapp/status-usulan`` list, or, in
    public mode, ``pns/kp-instansi-byId`` for every open usulan (:func:`public_status_rows`).
    """
    public = api_mode_of(siasn) == "public"
    source = Endpoint(system="siasn", endpoint=KP_BY_ID if public else PKS_STATUS)
    target = Endpoint(system="hub-store", endpoint="outbox, usulan_lifecycle")
    title = "F3-F4 status, pertek ← SIASN (BKN's answers)"
    counts = Counts.named(*STATUS_COUNTS)
    with _outbox_lineage(run, "F3-F4", source, target, title, counts) as (record, digest):
        since_text = store.state.get_watermark(watermarks.SIASN_STATUS)
        since = date.fromisoformat(since_text) if since_text else None
        record.window = {"from": since_text, "api_mode": "public" if public else "pks"}
        async with siasn:
            if public:
                raw_rows = await public_status_rows(siasn, store)
            else:
                raw_rows = [
                    r
                    async for r in siasn.iter_status_usulan(
                        updated_since=since, page_size=page_size
                    )
                ]
            record.requests = siasn.metrics()
        work = _Work()
        newest = since
        announced = {"status": 0, "pertek": 0, "ralat-pertek": 0}
        valid = 0
        for raw in raw_rows:
            row, error = validate_payload(StatusUsulanRow, raw)
            items: list[tuple[str, dict[str, Any]]] | None = None
            if row is not None:
                if row.updated is not None and (newest is None or row.updated > newest):
                    newest = row.updated
                try:
                    items = [(FLOW_STATUS, status_payload(row)), *pertek_payloads(row)]
                except PayloadError as exc:
                    error = str(exc)
            if row is None or items is None:
                key = str(raw.get("id_usulan_siapp") or "") if isinstance(raw, Mapping) else ""
                work.bad.append(
                    QuarantineItem(
                        flow="F3",
                        entity_kind="status_usulan",
                        key=key,
                        reason="invalid",
                        detail=error or "",
                        payload=raw,
                    )
                )
                continue
            valid += 1
            for flow, payload in items:
                work.add(flow, row.id_usulan_siapp, payload)
                announced["status" if flow == FLOW_STATUS else flow] += 1
            fields, stamps = _status_lifecycle(row, run.now)
            work.lifecycle.append((row.id_usulan_siapp, fields, stamps))
        moved = newest.isoformat() if newest is not None else None
        watermark = (watermarks.SIASN_STATUS, moved) if moved and moved != since_text else None
        added = _write(store, work, run, watermark, digest)
        record.window["to"] = moved or since_text
        record.counts.add(
            read=len(raw_rows),
            enqueued=added,
            known=len(work.items) - added,
            quarantined=len(work.bad),
        )
        record.reference("quarantine", len(work.bad), QUARANTINE_WHERE.format(run_id=run.run_id))
        record.extra = {"items": announced, "valid": valid}
        log.info(
            "status back: %d rows, %d valid, %d new outbox items, %d quarantined",
            len(raw_rows),
            valid,
            added,
            len(work.bad),
        )
        return record
