"""Document faults of the sandbox: damage done to the documents either side holds, for the hub's
document reconciliation to find and repair.

Unlike the request faults of :mod:`.common` (a rate applied to each answer), a document fault is
an event: ``PUT /_sandbox/faults`` with ``document_faults`` counts damages that many documents
*now* (chosen deterministically from the fault seed among the documents that exist and carry no
fault yet), and the damage stays until the hub repairs it. Setting the counts again injects
again; setting them to zero injects nothing and repairs nothing.

Kinds (knob → what happens → the category the reconciliation must report):

* ``missing_at_siasn``: SIASN lost an uploaded usulan document (gone from ``siapp/dokumen`` and
  ``download-dok``) → ``missing_at_siasn``.
* ``corrupt_at_siasn``: SIASN's copy has flipped bytes; the list's ``sha256`` is of the damaged
  bytes, the size is unchanged → ``hash_mismatch``.
* ``resized_at_siasn``: SIASN's copy has bytes appended; list ``sha256`` and ``size`` are the
  damaged copy's → ``size_mismatch``.
* ``orphan_at_siasn``: SIASN lists, for an usulan it holds, one more document nobody uploaded
  → ``orphan`` (nothing to re-transfer: the hub can only flag it).
* ``missing_at_siapp``: SIAPP NV lost a pertek (or ralat pertek) copy the hub delivered (gone
  from ``GET /api/v1/dokumen``) → ``missing_at_siapp``.
* ``source_missing``: SIAPP NV lost an usulan document it already sent (gone from its inventory
  and ``GET /api/v1/dokumen/{id}`` answers 404) while SIASN still holds the copy →
  ``source_missing`` (nothing to re-transfer from).

Repairs the sandbox recognises (so a repaired document reads clean on the next reconciliation):
an ``upload-dok`` of bytes equal to a missing, corrupt or resized SIASN copy's original (same
``id_ref_dokumen``) restores that very copy and answers with its ``dok_id``/``dok_uri`` (SIASN's
storage restored from the re-upload; :func:`restore_upload`, the hook in ``siasn_pks``); an
inbound pertek delivered again, first time or as an ``Idempotency-Key`` replay, restores SIAPP
NV's lost copy (:func:`restored_by_replay`, :func:`restored_by_receipt`).

``GET /_sandbox/truth/dokumen-faults`` lists every injected fault with the reconciliation key
(``usulan_id``, ``direction``, ``ref`` as the hub's ledger names documents: the SIAPP NV id of an
upload, ``siasn:<dok_id>`` of a pertek or an orphan) and the expected category, plus SIASN's
``path`` of the document (a hub that names a pertek by its path finds it there); ``active`` is
false once repaired.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .documents import DocSpec, corrupt, sha256_hex
from .usulan import REF_PERTEK, SiasnDoc, SiasnUsulan, UsulanWorld, attach

__all__ = [
    "KIND_CATEGORY",
    "DocFaultSpec",
    "DocFaults",
    "hidden_at_siapp",
    "inject",
    "install",
    "restore_upload",
    "restored_by_receipt",
    "restored_by_replay",
    "truth",
]

DIRECTION_TO_SIASN = "siapp_to_siasn"
DIRECTION_TO_SIAPP = "siasn_to_siapp"

#: Expected reconciliation category per fault kind.
KIND_CATEGORY: dict[str, str] = {
    "missing_at_siasn": "missing_at_siasn",
    "corrupt_at_siasn": "hash_mismatch",
    "resized_at_siasn": "size_mismatch",
    "orphan_at_siasn": "orphan",
    "missing_at_siapp": "missing_at_siapp",
    "source_missing": "source_missing",
}

_Count = Field(default=0, ge=0, le=1000)
#: bytes a resized copy gains (after ``%%EOF``, so the PDF still ends within its last KB)
RESIZE_BYTES = 512


class DocFaultSpec(BaseModel):
    """How many documents to damage now, per kind (``Faults.document_faults``)."""

    model_config = ConfigDict(extra="forbid")

    missing_at_siasn: int = _Count
    corrupt_at_siasn: int = _Count
    resized_at_siasn: int = _Count
    orphan_at_siasn: int = _Count
    missing_at_siapp: int = _Count
    source_missing: int = _Count

    def any(self) -> bool:
        return any(getattr(self, k) for k in KIND_CATEGORY)


@dataclass
class Fault:
    """One injected fault: the key the hub reconciles on, and what is needed to undo it."""

    kind: str
    usulan_id: str
    direction: str
    ref: str
    jenis: str
    dok_id: str
    day: int
    active: bool = True
    repaired_day: int | None = None
    #: SIASN copies: the original (spec, sha256, size) and the places the copy was listed at
    original: tuple[DocSpec | None, bytes | None, str, int] | None = None
    positions: list[tuple[int, int]] = field(default_factory=list)
    #: SIAPP NV inbound copies: the Idempotency-Key the hub delivered it with, and whether a
    #: new receipt (another key) replaced the lost copy (which then stays lost)
    idempotency_key: str | None = None
    replaced: bool = False
    #: SIASN's path of the document (``dok_uri``; for a lost pertek copy, the pertek's)
    path: str = ""

    def as_truth(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "category": KIND_CATEGORY[self.kind],
            "usulan_id": self.usulan_id,
            "direction": self.direction,
            "ref": self.ref,
            "jenis": self.jenis,
            "dok_id": self.dok_id,
            "path": self.path,
            "injected_day": self.day,
            "active": self.active,
            "repaired_day": self.repaired_day,
        }


@dataclass
class DocFaults:
    """Every document fault of one sandbox (``state.ext["doc_faults"]``)."""

    faults: list[Fault] = field(default_factory=list)
    requested: dict[str, int] = field(default_factory=dict)
    orphans: int = 0

    def active(self, kind: str) -> list[Fault]:
        return [f for f in self.faults if f.active and f.kind == kind]

    def touched(self) -> set[str]:
        """Documents (SIASN dok_id or SIAPP id) that carry a fault, active or not."""
        return {f.dok_id for f in self.faults} | {f.ref for f in self.faults}


def install(state: Any) -> DocFaults:
    """The document faults of ``state`` (created once) and their truth endpoint."""
    return _registry(state)


def _registry(state: Any) -> DocFaults:
    reg = state.ext.get("doc_faults")
    if reg is None:
        reg = state.ext["doc_faults"] = DocFaults()
        state.register_truth("dokumen-faults", lambda _q: truth(state))
    return reg


def _rank(seed: int, kind: str, ident: str) -> int:
    raw = f"{seed}|docfault|{kind}|{ident}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def _siapp_ref(doc: SiasnDoc, w: UsulanWorld) -> str | None:
    """The SIAPP NV document id a SIASN copy was uploaded from (its bytes' key), or None."""
    if doc.spec is None:
        return None
    prefix = f"{w.seed}:siapp:"
    key = doc.spec.key
    if not key.startswith(prefix):
        return None
    did = key[len(prefix) :]
    return did if did in w.documents else None


def _uploads(w: UsulanWorld) -> list[tuple[SiasnUsulan, SiasnDoc, str]]:
    """SIASN copies of usulan documents the hub uploaded: (usulan, copy, SIAPP id)."""
    out: dict[str, tuple[SiasnUsulan, SiasnDoc, str]] = {}
    for s in sorted(w.siasn_by_id.values(), key=lambda x: x.id):
        if getattr(s, "entered_by_agency", False):
            continue
        for versi in sorted(s.received):
            for dok_id in s.received[versi]["dok_ids"]:
                doc = w.siasn_docs.get(dok_id)
                if doc is None or doc.kind != "UPLOAD" or dok_id in out:
                    continue
                ref = _siapp_ref(doc, w)
                if ref is not None:
                    out[dok_id] = (s, doc, ref)
    return list(out.values())


def _pick(items: list[Any], n: int, seed: int, kind: str, ident: Any) -> list[Any]:
    return sorted(items, key=lambda x: _rank(seed, kind, ident(x)))[:n]


def _damage_siasn(w: UsulanWorld, f: Fault, doc: SiasnDoc, s: SiasnUsulan) -> None:
    f.original = (doc.spec, doc.raw, doc.sha256, doc.size)
    if f.kind == "missing_at_siasn":
        for versi in sorted(s.received):
            ids = s.received[versi]["dok_ids"]
            for i, dok_id in enumerate(ids):
                if dok_id == doc.dok_id:
                    f.positions.append((versi, i))
        for versi, i in reversed(f.positions):
            del s.received[versi]["dok_ids"][i]
        w.siasn_paths.pop(doc.dok_uri, None)
        return
    data = doc.bytes()
    if f.kind == "corrupt_at_siasn":
        bad = corrupt(data, random.Random(_rank(w.seed, f.kind, doc.dok_id)))
    else:
        bad = data + b"\n" * RESIZE_BYTES
    doc.spec, doc.raw, doc.sha256, doc.size = None, bad, sha256_hex(bad), len(bad)


def _restore_siasn(w: UsulanWorld, f: Fault, doc: SiasnDoc) -> None:
    assert f.original is not None
    doc.spec, doc.raw, doc.sha256, doc.size = f.original
    if f.kind == "missing_at_siasn":
        s = w.siasn_by_id.get(_siasn_id(w, f.usulan_id))
        if s is not None:
            for versi, i in f.positions:
                s.received[versi]["dok_ids"].insert(i, doc.dok_id)
        w.siasn_paths[doc.dok_uri] = doc.dok_id
    f.active, f.repaired_day = False, w.day


def _siasn_id(w: UsulanWorld, usulan_id: str) -> str:
    u = w.usulan.get(usulan_id)
    return u.siasn.id if u is not None and u.siasn is not None else ""


def _inbound(w: UsulanWorld) -> list[dict[str, Any]]:
    """Pertek / ralat copies SIAPP NV holds that match SIASN's (the hub delivered them)."""
    return [e for e in w.siapp_held if e.get("ok")]


def _inbound_dok_id(w: UsulanWorld, e: dict[str, Any]) -> str | None:
    u = w.usulan.get(e["usulan_id"])
    s = u.siasn if u is not None else None
    if s is None:
        return None
    doc = s.ralat if e["kind"] == "RALAT_PERTEK" else s.pertek
    return doc.dok_id if doc is not None and doc.sha256 == e["sha256"] else None


def inject(state: Any, spec: DocFaultSpec, seed: int) -> None:
    """Damage the documents ``spec`` asks for, now (see the module docstring)."""
    if not spec.any():
        return
    w = attach(state)
    w.sync(state.day)
    reg = _registry(state)
    with w.lock:
        taken = reg.touched()
        for kind in KIND_CATEGORY:
            reg.requested[kind] = reg.requested.get(kind, 0) + getattr(spec, kind)
        uploads = [u for u in _uploads(w) if u[1].dok_id not in taken and u[2] not in taken]
        for kind in ("missing_at_siasn", "corrupt_at_siasn", "resized_at_siasn", "source_missing"):
            chosen = _pick(uploads, getattr(spec, kind), seed, kind, lambda x: x[1].dok_id)
            for s, doc, ref in chosen:
                uploads.remove((s, doc, ref))
                f = Fault(
                    kind,
                    s.id_usulan_siapp,
                    DIRECTION_TO_SIASN,
                    ref,
                    w.documents[ref].jenis,
                    doc.dok_id,
                    w.day,
                    path=doc.dok_uri,
                )
                if kind != "source_missing":
                    _damage_siasn(w, f, doc, s)
                reg.faults.append(f)
        holders = sorted(
            (s for s in w.siasn_by_id.values() if not getattr(s, "entered_by_agency", False)),
            key=lambda x: x.id,
        )
        for s in _pick(holders, spec.orphan_at_siasn, seed, "orphan", lambda x: x.id):
            reg.orphans += 1
            dok_id = _orphan_id(seed, reg.orphans)
            spec_ = DocSpec(
                key=f"{seed}:orphan:{dok_id}", size=40_000 + reg.orphans, title="ORPHAN"
            )
            doc = SiasnDoc(
                dok_id,
                f"peremajaan/usulan/{dok_id}.pdf",
                REF_PERTEK,
                spec_.sha256,
                spec_.size,
                w.day,
                "UPLOAD",
                spec=spec_,
                nama="orphan.pdf",
                id_usulan_siapp=s.id_usulan_siapp,
            )
            w.siasn_docs[dok_id] = doc
            w.siasn_paths[doc.dok_uri] = dok_id
            s.sk_docs.append(doc)
            reg.faults.append(
                Fault(
                    "orphan_at_siasn",
                    s.id_usulan_siapp,
                    DIRECTION_TO_SIASN,
                    f"siasn:{dok_id}",
                    "UPLOAD",
                    dok_id,
                    w.day,
                    path=doc.dok_uri,
                )
            )
        inbound = [e for e in _inbound(w) if e["id"] not in taken and _inbound_dok_id(w, e)]
        received = state.received.entries(app="siapp")
        for e in _pick(inbound, spec.missing_at_siapp, seed, "missing_at_siapp", lambda x: x["id"]):
            dok_id = _inbound_dok_id(w, e)
            assert dok_id is not None
            key = next(
                (
                    r["idempotency_key"]
                    for r in received
                    if r["kind"] == f"inbound.{e['kind'].lower().replace('_', '-')}"
                    and r["payload"].get("sha256") == e["sha256"]
                ),
                None,
            )
            reg.faults.append(
                Fault(
                    "missing_at_siapp",
                    e["usulan_id"],
                    DIRECTION_TO_SIAPP,
                    f"siasn:{dok_id}",
                    e["kind"],
                    e["id"],
                    w.day,
                    idempotency_key=key,
                    path=w.siasn_docs[dok_id].dok_uri,
                )
            )


def _orphan_id(seed: int, n: int) -> str:
    raw = hashlib.blake2b(f"{seed}|orphan|{n}".encode(), digest_size=16).hexdigest()
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:32]}"


def hidden_at_siapp(state: Any) -> set[str]:
    """Ids of documents SIAPP NV lost (active ``missing_at_siapp`` / ``source_missing``)."""
    reg = state.ext.get("doc_faults")
    if reg is None:
        return set()
    return {
        f.dok_id if f.kind == "missing_at_siapp" else f.ref
        for f in reg.faults
        if (f.active or f.replaced) and f.kind in ("missing_at_siapp", "source_missing")
    }


def restore_upload(state: Any, data: bytes, id_ref_dokumen: str) -> SiasnDoc | None:
    """Hook of ``upload-dok``: a re-upload of a damaged or lost SIASN copy's original bytes
    restores that copy and returns it (None: an ordinary upload)."""
    reg = state.ext.get("doc_faults")
    if reg is None:
        return None
    sha = sha256_hex(data)
    w = attach(state)
    with w.lock:
        for f in reg.faults:
            if not f.active or f.original is None or f.original[2] != sha:
                continue
            doc = w.siasn_docs.get(f.dok_id)
            if doc is None or doc.id_ref_dokumen != str(id_ref_dokumen):
                continue
            _restore_siasn(w, f, doc)
            return doc
    return None


def _restore_inbound(state: Any, match: Any, *, replaced: bool) -> None:
    reg = state.ext.get("doc_faults")
    if reg is None:
        return
    w = attach(state)
    with w.lock:
        for f in reg.faults:
            if f.active and f.kind == "missing_at_siapp" and match(f):
                f.active, f.repaired_day, f.replaced = False, w.day, replaced


def restored_by_replay(state: Any, app: str, idempotency_key: str) -> None:
    """Replay hook of the sandbox middleware: a pertek delivered again with its first
    Idempotency-Key restores the copy SIAPP NV lost."""
    if app == "siapp":
        _restore_inbound(state, lambda f: f.idempotency_key == idempotency_key, replaced=False)


def restored_by_receipt(state: Any, usulan_id: str, kind: str, sha256: str) -> None:
    """A pertek (``kind`` PERTEK or RALAT_PERTEK) received anew, under another Idempotency-Key,
    replaces a lost copy of the same bytes (the new copy is what SIAPP NV holds now)."""
    w = attach(state)

    def same(f: Fault) -> bool:
        held = next((e for e in w.siapp_held if e["id"] == f.dok_id), None)
        return (
            f.usulan_id == usulan_id
            and f.jenis == kind
            and held is not None
            and held["sha256"] == sha256
        )

    _restore_inbound(state, same, replaced=True)


def truth(state: Any) -> dict[str, Any]:
    """``/_sandbox/truth/dokumen-faults``: every injected fault and its expected category."""
    reg = _registry(state)
    rows = [f.as_truth() for f in reg.faults]
    active = [r for r in rows if r["active"]]
    counts: dict[str, int] = {}
    for r in active:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    return {
        "day": state.day,
        "count": len(rows),
        "active": len(active),
        "requested": reg.requested,
        "expected": counts,
        "faults": rows,
    }
