"""Flow F2: SIASN reference data into the hub's store, each table from where SIASN serves it.

Sources (``siapp_siasn.models.referensi.REF_SOURCES``): most tables from
``/referensi_siasn/1/{ref}/search`` (gateway token, offset pages), UNOR from
``/apisiasn/1.0/referensi/ref-unor`` (both tokens, one ``model.Result``), jenis KP from the
static table the hub ships (SIASN serves none). Rows are stored as served (the raw row is the
payload); ``referensi.nama`` holds the row's display name (``nama``, ``namaUnor``, ``document``).

Pure Python (no Airflow), like the other flows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from siapp_siasn.flows.context import RunContext
from siapp_siasn.lineage import ContentDigest, Endpoint, LineageRecord
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.referensi import JENIS_KP_TABLE, REF_SOURCES, ref_row_model
from siapp_siasn.store import QuarantineItem, Store
from siapp_siasn.utils import sha256_json

__all__ = ["SOURCE_ENDPOINTS", "fetch_referensi", "pull_referensi", "referensi_rows"]

log = logging.getLogger(__name__)

#: The endpoint behind each source (lineage names them).
SOURCE_ENDPOINTS: dict[str, str] = {
    "referensi_siasn": "/referensi_siasn/1/{ref}/search",
    "ref-unor": "/apisiasn/1.0/referensi/ref-unor",
    "static": "static:jenis-kp (BKN code table shipped with the hub)",
}


def referensi_rows(
    ref: str, raw_rows: list[Any]
) -> tuple[list[dict[str, Any]], list[QuarantineItem]]:
    """Validate one reference table's rows: (rows for the store, quarantined).

    A store row is ``{"id", "nama", "payload"}``: ``payload`` is the row as served (never the
    model's re-dump), ``nama`` its display name.
    """
    model_cls = ref_row_model(ref)
    good: list[dict[str, Any]] = []
    bad: list[QuarantineItem] = []
    for raw in raw_rows:
        model, reason = validate_payload(model_cls, raw)
        if model is None:
            key = str(raw.get("id", "")) if isinstance(raw, dict) else ""
            bad.append(
                QuarantineItem(
                    flow="F2",
                    entity_kind=f"referensi:{ref}",
                    key=key,
                    reason="invalid",
                    detail=reason,
                    payload=raw,
                )
            )
            continue
        good.append({"id": str(model.id), "nama": model.display_name(), "payload": raw})
    return good, bad


async def fetch_referensi(client: Any, ref: str, page_size: int = 500) -> list[Any]:
    """The raw rows of reference table ``ref``, from its source."""
    source = REF_SOURCES.get(ref, "referensi_siasn")
    if source == "static":
        return [dict(row) for row in JENIS_KP_TABLE]
    if source == "ref-unor":
        return list(await client.get_ref_unor())
    return [row async for row in client.iter_referensi(ref, page_size=page_size)]


async def pull_referensi(
    client: Any, store: Store, refs: Sequence[str], run: RunContext, page_size: int = 500
) -> LineageRecord:
    """Pull every reference table from its source; rows a full pull no longer lists become
    inactive."""
    sources = {ref: REF_SOURCES.get(ref, "referensi_siasn") for ref in refs}
    endpoints = ", ".join(dict.fromkeys(SOURCE_ENDPOINTS[s] for s in sources.values()))
    with run.lineage_scope(
        "F2",
        source=Endpoint(system="siasn", endpoint=endpoints),
        target=Endpoint(system="hub-store", endpoint="referensi"),
        extra={"refs": list(refs), "sources": sources},
    ) as record:
        digest = ContentDigest()
        async with client:
            for ref in refs:
                raw_rows = await fetch_referensi(client, ref, page_size=page_size)
                rows, bad = referensi_rows(ref, raw_rows)
                # tables are read one after the other: no request is in flight during the write
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
    return record
