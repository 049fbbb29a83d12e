"""The three inventories of the document reconciliation, read in bounded chunks.

Pure Python (no Airflow). Each reader yields DataFrames with the reconciliation's column set
(:data:`~siapp_siasn.store.documents.INVENTORY_COLUMNS`); :mod:`.reconciliation` compares them.

- **SIAPP NV**: ``GET /api/v1/dokumen`` (every document it holds, with sha256 and size), page by
  page. Its usulan documents and Keppres copies go SIAPP NV → SIASN (``ref`` = its document id);
  the pertek / ralat pertek copies the hub delivered go SIASN → SIAPP NV (``ref`` = the ledger's
  ``doc_id`` of the delivery whose ``target_dok_id`` is the copy's id).
- **SIASN**: the PKS list ``GET /apisiasn/1.0/siapp/dokumen`` (every document SIASN holds for
  SIAPP usulan), page by page; uploads map to the ledger row whose ``target_dok_id`` is the
  ``dok_id``, pertek to ``siasn:<dok_id>``. In public-API mode (``client.api_mode ==
  "public"``) BKN lists no documents: the inventory is what the status rows
  (``kp-instansi-byId``: ``path_ttd_pertek``, ``path_ttd_sk``) and rw-golongan ``path`` reference,
  each downloaded and hashed, plus the SIASN paths the hub delivered perteks from (a pertek a
  ralat replaced leaves the status row); the usulan attachments, which nothing published
  references, are not compared in that mode (counted ``not_visible``).
- **the hub's ledger**: :meth:`~siapp_siasn.store.documents.DocumentRepository.iter_inventory`.

What is compared: documents the hub has taken on (a ledger row exists) and whatever a
destination holds. A source's document the ledger does not know is not owed yet (an usulan
still waiting, out of scope, or a pertek not delivered yet) and is counted ``not_owed``, never
``missing``.

Bad pages: a page that fails validation is quarantined whole (flow ``F4`` for SIAPP NV, ``F7``
for SIASN, entity ``dokumen-page``, the reason, no values) and the usulan it names are reported
**unread**; a page whose usulan cannot even be named makes its side incomplete. Neither is ever
reported as missing documents.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from siapp_siasn.clients.errors import ApiError
from siapp_siasn.clients.siasn import PKS_DOKUMEN, RW_GOLONGAN
from siapp_siasn.flows.asn_sources import api_mode_of
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.pks import SiasnDokumenRow
from siapp_siasn.models.siapp import SiappDokumenInventoryRow
from siapp_siasn.store import QuarantineItem, Store
from siapp_siasn.store.documents import INVENTORY_COLUMNS, INVENTORY_DTYPES
from siapp_siasn.utils import chunks

__all__ = [
    "DIRECTION_TO_SIAPP",
    "DIRECTION_TO_SIASN",
    "INBOUND_JENIS",
    "QUARANTINE_ENTITY",
    "ChunkPipe",
    "InventoryStatus",
    "ledger_chunks",
    "siapp_chunks",
    "siasn_chunks",
]

log = logging.getLogger(__name__)

DIRECTION_TO_SIASN = "siapp_to_siasn"
DIRECTION_TO_SIAPP = "siasn_to_siapp"
#: ``jenis`` of the documents that go SIASN → SIAPP NV
INBOUND_JENIS = frozenset({"PERTEK", "RALAT_PERTEK"})
#: quarantine entity of an inventory page that failed validation
QUARANTINE_ENTITY = "dokumen-page"
#: quarantine flow label per side
QUARANTINE_FLOW = {"siapp": "F4", "siasn": "F7"}
#: the ledger's ``doc_id`` of a copy SIASN holds that the ledger does not know
SIASN_PREFIX = "siasn:"
#: the same for a copy SIAPP NV holds
SIAPP_PREFIX = "siapp:"


@dataclass
class InventoryStatus:
    """What reading one side found besides its rows (lineage ``extra``)."""

    side: str
    pages: int = 0
    rows: int = 0
    quarantined_pages: int = 0
    #: usulan named by a page that failed validation: their documents are not judged
    unread_usulan: set[str] = field(default_factory=set)
    #: False when a bad page named no usulan (the whole side is then unread)
    complete: bool = True
    #: rows left out, by why (``not_owed``: the ledger does not know them; ``not_visible``)
    skipped: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    #: store quarantine rows for bad pages (a dry run only counts them)
    quarantine: bool = True

    def summary(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "rows": self.rows,
            "quarantined_pages": self.quarantined_pages,
            "unread_usulan": len(self.unread_usulan),
            "complete": self.complete,
            "skipped": dict(self.skipped),
            "reasons": dict(self.reasons),
        }


# -- ledger look-ups (per page: bounded) -------------------------------------------------------


@dataclass
class _LedgerView:
    """The ledger rows of the usulan of one page: by ``doc_id`` and by target copy."""

    doc_ids: set[str] = field(default_factory=set)
    by_target: dict[tuple[str, str], str] = field(default_factory=dict)
    by_source_ref: dict[str, str] = field(default_factory=dict)
    #: SIASN paths of the documents delivered to SIAPP NV: path -> (usulan_id, doc_id)
    inbound_paths: dict[str, tuple[str, str]] = field(default_factory=dict)


def _ledger_view(
    store: Store,
    *,
    usulan_ids: Sequence[str] = (),
    doc_ids: Sequence[str] = (),
    targets: Mapping[str, Sequence[str]] | None = None,
    siasn_uris: Sequence[str] = (),
) -> _LedgerView:
    """The ledger rows one page needs, through the store's indexed look-ups: those of
    ``usulan_ids``, those of ``doc_ids``, and those whose copy at a system has one of the
    ``targets[system]`` ids or (SIASN) one of ``siasn_uris`` (with or without a leading ``/``)."""
    docs = store.documents
    rows: dict[str, Mapping[str, Any]] = {}
    if usulan_ids:
        rows.update((r["doc_id"], r) for r in docs.for_usulan(usulan_ids))
    if doc_ids:
        rows.update(docs.get_many(doc_ids))
    for system, ids in (targets or {}).items():
        uris = (
            [u for p in siasn_uris for u in (p, "/" + p.lstrip("/"))] if system == "siasn" else []
        )
        if ids or uris:
            rows.update(
                (r["doc_id"], r) for r in docs.by_target(system, dok_ids=ids, dok_uris=uris)
            )
    view = _LedgerView()
    for doc_id, r in rows.items():
        system, dok_id, dok_uri, source_ref = (
            r["target_system"],
            r["target_dok_id"],
            r["target_dok_uri"],
            r["source_ref"],
        )
        view.doc_ids.add(doc_id)
        if dok_id:
            view.by_target[(system, str(dok_id))] = doc_id
        if dok_uri:
            view.by_target[(system, "uri:" + str(dok_uri).lstrip("/"))] = doc_id
        if source_ref:
            view.by_source_ref[str(source_ref).lstrip("/")] = doc_id
            if system == "siapp":
                view.inbound_paths[str(source_ref).lstrip("/")] = (str(r["usulan_id"]), doc_id)
    return view


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(INVENTORY_COLUMNS))
    return frame.astype(INVENTORY_DTYPES)


def _quarantine(
    store: Store, run_id: str, side: str, page: int, reason: str, rows: int, bad: int
) -> None:
    store.quarantine.add(
        [
            QuarantineItem(
                flow=QUARANTINE_FLOW[side],
                entity_kind=QUARANTINE_ENTITY,
                key=f"{side}:dokumen:page:{page}",
                reason="invalid_page",
                detail=reason[:500],
                payload={"side": side, "page": page, "rows": rows, "invalid_rows": bad},
            )
        ],
        run_id=run_id,
    )


def _validate_page(
    model: type[Any], raw_rows: Sequence[Any], usulan_field: str
) -> tuple[list[Any], str | None, set[str], bool]:
    """(valid rows, first reason, usulan named, every row named its usulan)."""
    valid, reason, named, all_named = [], None, set(), True
    for raw in raw_rows:
        uid = raw.get(usulan_field) if isinstance(raw, Mapping) else None
        if isinstance(uid, str) and uid.strip():
            named.add(uid.strip())
        else:
            all_named = False
        row, why = validate_payload(model, raw)
        if row is None:
            reason = reason or why or "invalid row"
        else:
            valid.append(row)
    return valid, reason, named, all_named


def _set_aside(
    store: Store,
    run_id: str,
    status: InventoryStatus,
    reason: str,
    raw_rows: Sequence[Any],
    valid: int,
    named: set[str],
    all_named: bool,
) -> None:
    status.quarantined_pages += 1
    status.reasons[reason.split(":", 1)[0]] += 1
    status.unread_usulan |= named
    if not all_named:
        status.complete = False
    if status.quarantine:
        _quarantine(
            store, run_id, status.side, status.pages, reason, len(raw_rows), len(raw_rows) - valid
        )
    log.warning(
        "%s inventory page %d failed validation (%d rows, %d usulan unread): %s",
        status.side,
        status.pages,
        len(raw_rows),
        len(named),
        reason,
    )


# -- SIAPP NV -----------------------------------------------------------------------------------


async def siapp_chunks(
    siapp: Any,
    store: Store,
    run_id: str,
    status: InventoryStatus,
    *,
    page_size: int = 1000,
    public_visible_jenis: frozenset[str] | None = None,
) -> AsyncIterator[pd.DataFrame]:
    """SIAPP NV's documents, one chunk per page (see the module docstring); with
    ``public_visible_jenis`` (public-API mode) only those of its SIAPP NV → SIASN documents."""
    async for raw_rows in siapp.iter_dokumen_pages(page_size=page_size):
        status.pages += 1
        valid, reason, named, all_named = _validate_page(
            SiappDokumenInventoryRow, raw_rows, "usulan_id"
        )
        if reason is not None:
            _set_aside(store, run_id, status, reason, raw_rows, len(valid), named, all_named)
            continue
        inbound = [r.id for r in valid if str(r.jenis or "") in INBOUND_JENIS]
        view = await asyncio.to_thread(
            partial(
                _ledger_view,
                store,
                doc_ids=[r.id for r in valid if str(r.jenis or "") not in INBOUND_JENIS],
                targets={"siapp": inbound},
            )
        )
        out = []
        for r in valid:
            jenis = str(r.jenis or "")
            if jenis in INBOUND_JENIS:
                direction = DIRECTION_TO_SIAPP
                ref = view.by_target.get(("siapp", r.id), SIAPP_PREFIX + r.id)
            else:
                direction = DIRECTION_TO_SIASN
                ref = r.id
                if ref not in view.doc_ids:
                    status.skipped["not_owed"] += 1
                    continue
            if (
                public_visible_jenis is not None
                and direction == DIRECTION_TO_SIASN
                and jenis not in public_visible_jenis
            ):
                status.skipped["not_visible"] += 1
                continue
            out.append(
                {
                    "usulan_id": r.usulan_id,
                    "jenis": jenis or None,
                    "direction": direction,
                    "ref": ref,
                    "sha256": str(r.sha256).lower(),
                    "size": int(r.size),
                    "status": None,
                }
            )
        status.rows += len(out)
        if out:
            yield _frame(out)


# -- SIASN --------------------------------------------------------------------------------------


def _siasn_row(
    r: SiasnDokumenRow, view: _LedgerView, status: InventoryStatus
) -> dict[str, Any] | None:
    jenis = str(r.jenis or "").upper()
    dok_id = str(r.dok_id)
    if jenis in INBOUND_JENIS:
        ref = SIASN_PREFIX + dok_id
        if ref not in view.doc_ids:
            status.skipped["not_owed"] += 1  # a pertek the hub has not delivered yet
            return None
        direction = DIRECTION_TO_SIAPP
    else:
        direction = DIRECTION_TO_SIASN
        ref = view.by_target.get(("siasn", dok_id)) or SIASN_PREFIX + dok_id
    return {
        "usulan_id": str(r.id_usulan_siapp or ""),
        "jenis": jenis or None,
        "direction": direction,
        "ref": ref,
        "sha256": str(r.sha256).lower() if r.sha256 else None,
        "size": int(r.size) if r.size is not None else None,
        "status": None,
    }


async def _pks_pages(siasn: Any, page_size: int) -> AsyncIterator[list[Any]]:
    """Raw rows of ``siapp/dokumen`` (every usulan), one offset page at a time."""
    offset = 0
    while True:
        data = await siasn.get_data(PKS_DOKUMEN, query={"limit": page_size, "offset": offset})
        if data is None:  # the 404 envelope: past the last page
            return
        if not isinstance(data, Mapping) or not isinstance(data.get("list"), list):
            raise ApiError(200, PKS_DOKUMEN, "unexpected page shape (no data.list)")
        rows = data["list"]
        yield rows
        total = str(data.get("total") or "")
        offset += page_size
        if len(rows) < page_size or (total.isdigit() and offset >= int(total)):
            return


async def siasn_chunks(
    siasn: Any,
    store: Store,
    run_id: str,
    status: InventoryStatus,
    *,
    page_size: int = 500,
) -> AsyncIterator[pd.DataFrame]:
    """SIASN's documents: the PKS list, or in public-API mode what its published rows
    reference (see the module docstring)."""
    if api_mode_of(siasn) == "public":
        async for chunk in _public_chunks(siasn, store, status):
            yield chunk
        return
    async for raw_rows in _pks_pages(siasn, page_size):
        status.pages += 1
        valid, reason, named, all_named = _validate_page(
            SiasnDokumenRow, raw_rows, "id_usulan_siapp"
        )
        if reason is None and not all_named:
            reason = "SiasnDokumenRow: id_usulan_siapp: missing"
        if reason is not None:
            _set_aside(store, run_id, status, reason, raw_rows, len(valid), named, all_named)
            continue
        inbound = [str(r.dok_id) for r in valid if str(r.jenis or "").upper() in INBOUND_JENIS]
        view = await asyncio.to_thread(
            partial(
                _ledger_view,
                store,
                doc_ids=[SIASN_PREFIX + d for d in inbound],
                targets={
                    "siasn": [
                        str(r.dok_id)
                        for r in valid
                        if str(r.jenis or "").upper() not in INBOUND_JENIS
                    ]
                },
            )
        )
        out = [row for r in valid if (row := _siasn_row(r, view, status)) is not None]
        status.rows += len(out)
        if out:
            yield _frame(out)


def _paths_of(value: Any) -> list[str]:
    """Paths in a status row's ``path_*`` (a string, or ``{"": path}``) or an rw-golongan
    ``path`` (``{"<ref id>": {"dok_uri": ...}}``)."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    out: list[str] = []
    if isinstance(value, Mapping):
        for v in value.values():
            if isinstance(v, str) and v.strip():
                out.append(v)
            elif isinstance(v, Mapping) and isinstance(v.get("dok_uri"), str):
                out.append(v["dok_uri"])
    return out


async def _public_chunks(
    siasn: Any, store: Store, status: InventoryStatus
) -> AsyncIterator[pd.DataFrame]:
    """Public-API mode: per usulan SIASN took (BKN's id known), the documents its
    ``kp-instansi-byId`` row and its employee's rw-golongan reference, downloaded and hashed."""
    held = [r for r in store.usulan.list() if r.get("bkn_usulan_id")]
    for part in chunks(held, 50):
        status.pages += 1
        rows = await asyncio.gather(
            *(siasn.kp_instansi_by_id(str(r["bkn_usulan_id"])) for r in part),
            return_exceptions=True,
        )
        paths: dict[str, tuple[str, str]] = {}
        for lc, row in zip(part, rows, strict=True):
            usulan_id = str(lc["usulan_id"])
            if isinstance(row, BaseException) or not isinstance(row, Mapping):
                status.unread_usulan.add(usulan_id)
                status.reasons["status_row_unavailable"] += 1
                continue
            for key in ("path_ttd_pertek", "path_ttd_sk"):
                for p in _paths_of(row.get(key)):
                    paths.setdefault(p.lstrip("/"), (usulan_id, key))
            nip = lc.get("nip")
            if nip:
                try:
                    gol = await siasn.get_data(RW_GOLONGAN, nip=str(nip))
                except ApiError:
                    gol = None
                for g in gol if isinstance(gol, list) else []:
                    if isinstance(g, Mapping):
                        for p in _paths_of(g.get("path")):
                            paths.setdefault(p.lstrip("/"), (usulan_id, "rw_golongan"))
        uploads = [p for p, (_u, origin) in paths.items() if origin != "path_ttd_pertek"]
        view = await asyncio.to_thread(
            partial(
                _ledger_view,
                store,
                usulan_ids=[str(r["usulan_id"]) for r in part],
                targets={"siasn": []},
                siasn_uris=uploads,
            )
        )
        # a pertek a ralat replaced is no longer in the status row: what the hub delivered
        # is looked up by the path it came from
        for path, (usulan_id, _doc_id) in view.inbound_paths.items():
            paths.setdefault(path, (usulan_id, "path_ttd_pertek"))
        out = []
        for path, (usulan_id, origin) in paths.items():
            if origin == "path_ttd_pertek":
                ref = view.by_source_ref.get(path)
                direction = DIRECTION_TO_SIAPP
            else:
                ref = view.by_target.get(("siasn", "uri:" + path))
                direction = DIRECTION_TO_SIASN
            if ref is None:
                status.skipped["not_owed"] += 1
                continue
            try:
                data = await siasn.download(path)
            except ApiError as exc:
                if exc.status == 404:
                    continue  # referenced but not served: absent at SIASN
                status.unread_usulan.add(usulan_id)
                status.reasons["download_failed"] += 1
                continue
            out.append(
                {
                    "usulan_id": usulan_id,
                    "jenis": None,
                    "direction": direction,
                    "ref": ref,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "status": None,
                }
            )
        status.rows += len(out)
        if out:
            yield _frame(out)


# -- the ledger ---------------------------------------------------------------------------------


def ledger_chunks(
    store: Store,
    status: InventoryStatus,
    *,
    chunk_size: int = 50_000,
    public_visible_jenis: frozenset[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """The ledger as inventory chunks; in public-API mode (``public_visible_jenis`` given)
    only the SIAPP NV → SIASN rows of those ``jenis`` (what SIASN's published rows show)."""
    for chunk in store.documents.iter_inventory(chunk_size):
        status.pages += 1
        keep = pd.Series(True, index=chunk.index)
        if public_visible_jenis is not None:
            upload = chunk["direction"].astype("str") == DIRECTION_TO_SIASN
            visible = chunk["jenis"].astype("str").isin(public_visible_jenis)
            hidden = upload & ~visible
            status.skipped["not_visible"] += int((keep & hidden).sum())
            keep &= ~hidden
        part = chunk[keep]
        status.rows += len(part)
        if len(part):
            yield part.reset_index(drop=True)


# -- from the event loop to the comparing thread -----------------------------------------------

_END = object()


class ChunkPipe:
    """Chunks from the coroutines that read an API to the thread that compares: at most
    ``depth`` chunks wait, so reading never runs ahead of the comparison by more than that.

    The producer ``await pipe.put(chunk)`` and finally ``await pipe.close()`` (or
    ``pipe.fail(exc)``); the consumer iterates the pipe (a plain iterator).
    """

    def __init__(self, depth: int = 2) -> None:
        self._q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._abandoned = threading.Event()

    def _put(self, item: Any) -> None:
        while not self._abandoned.is_set():
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    async def put(self, item: pd.DataFrame) -> None:
        """Hand over one chunk (waits while ``depth`` chunks are waiting)."""
        if self._abandoned.is_set():
            raise RuntimeError("the comparison stopped reading")
        await asyncio.to_thread(self._put, item)

    async def close(self) -> None:
        """No more chunks."""
        await asyncio.to_thread(self._put, _END)

    def fail(self, exc: BaseException) -> None:
        """End the pipe with ``exc`` (raised in the consumer)."""
        threading.Thread(target=self._put, args=(exc,), daemon=True).start()

    def abandon(self) -> None:
        """The consumer stopped: producers blocked in :meth:`put` give up."""
        self._abandoned.set()

    def __iter__(self) -> Iterator[pd.DataFrame]:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
