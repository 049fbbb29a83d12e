"""Pure rules of the proposal traffic (F3-F8): outbox flows, idempotency keys, the PKS scope
check, outgoing bodies, document integrity and the retry schedule. No I/O, no Airflow.

One outbox carries every message the hub owes either side. Each item is one outgoing message,
identified by ``flow`` (the endpoint it goes to), ``entity_id`` (the SIAPP NV record it comes
from) and a version hash: the sha256 of the item's canonical payload, i.e. of everything the
message says except what the hub only learns while sending (SIASN ``dok_id``s, the sha256 of a
pertek PDF measured on download). The Idempotency-Key is ``flow:entity_id:version_hash``: stable
across reruns, different for every new version, so each version reaches the other side once.

| flow | target | endpoint | PKS |
|---|---|---|---|
| ``usulan`` | SIASN | ``POST siapp/usulan`` (documents first via ``upload-dok``) | F5 |
| ``verifikasi-setneg`` | SIASN | ``POST siapp/verifikasi-setneg`` | F6 |
| ``keppres`` | SIASN | ``POST siapp/keppres`` (copy first via ``upload-dok-sk-kp``) | F7 |
| ``pic`` | SIASN | ``POST siapp/pic`` | F8 |
| ``status-usulan`` | SIAPP NV | ``POST inbound/status-usulan`` | F3 |
| ``pertek`` / ``ralat-pertek`` | SIAPP NV | ``POST inbound/pertek`` / ``ralat-pertek`` (PDF) | F4 |
| ``penolakan`` | SIAPP NV | ``POST inbound/penolakan`` (scope and invalid-field refusals) | F5 |
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from siapp_siasn.flows.context import FlowConfigError
from siapp_siasn.models.errors import describe_validation_error
from siapp_siasn.models.pks import (
    KeppresBody,
    PicBody,
    StatusUsulanRow,
    UsulanBody,
    VerifikasiSetnegBody,
)
from siapp_siasn.models.siapp import (
    InboundPenolakan,
    InboundPertekMetadata,
    InboundRalatPertekMetadata,
    InboundStatusUsulan,
    SiappKeppres,
    SiappPic,
    SiappUsulan,
    SiappVerifikasi,
)
from siapp_siasn.models.types import GOLONGAN_IV_B
from siapp_siasn.store.records import outbox_key
from siapp_siasn.utils import sha256_json

# ---------------------------------------------------------------------------------------------
# outbox flows
# ---------------------------------------------------------------------------------------------
FLOW_USULAN = "usulan"
FLOW_VERIFIKASI = "verifikasi-setneg"
FLOW_KEPPRES = "keppres"
FLOW_PIC = "pic"
FLOW_STATUS = "status-usulan"
FLOW_PERTEK = "pertek"
FLOW_RALAT = "ralat-pertek"
FLOW_PENOLAKAN = "penolakan"

TO_SIASN: tuple[str, ...] = (FLOW_USULAN, FLOW_VERIFIKASI, FLOW_KEPPRES, FLOW_PIC)
TO_SIAPP: tuple[str, ...] = (FLOW_STATUS, FLOW_PERTEK, FLOW_RALAT, FLOW_PENOLAKAN)
TARGETS: dict[str, tuple[str, ...]] = {"siasn": TO_SIASN, "siapp": TO_SIAPP}

#: the agreement's flow number of each outbox flow (lineage, reports)
PKS_FLOW: dict[str, str] = {
    FLOW_USULAN: "F5",
    FLOW_VERIFIKASI: "F6",
    FLOW_KEPPRES: "F7",
    FLOW_PIC: "F8",
    FLOW_STATUS: "F3",
    FLOW_PERTEK: "F4",
    FLOW_RALAT: "F4",
    FLOW_PENOLAKAN: "F5",
}

# -- public-API mode (``api_mode=public``: only endpoints BKN publishes) -----------------------
#: why an item waits in public mode: BKN publishes no endpoint for it (outbox ``reason`` of a
#: held row, lineage); switching the connection back to ``pks`` sends it
HELD_NO_PUBLIC_ENDPOINT = "no published endpoint in public mode"
#: flows held in public mode: Setneg verification (F6) and PIC (F8) have no published endpoint
HELD_IN_PUBLIC: tuple[str, ...] = (FLOW_VERIFIKASI, FLOW_PIC)
#: lifecycle ``status`` of an usulan SIASN does not list yet (the agency enters it in SIASN)
AWAITING_ENTRY = "menunggu_entri_siasn"
#: lifecycle ``status`` once the hub found SIAPP NV's usulan (version) in SIASN's lists
LINKED = "tertaut_siasn"

#: SIAPP NV list resource -> the outbox flow its records become
RESOURCE_FLOW: dict[str, str] = {
    "usulan": FLOW_USULAN,
    "verifikasi": FLOW_VERIFIKASI,
    "keppres": FLOW_KEPPRES,
    "pic": FLOW_PIC,
}

#: ``document`` name of the ref-dokumen row a Keppres copy is uploaded under (SIAPP NV sends
#: no id with it). The id is read from the live ref-dokumen table by this name, never
#: hard-coded: SIASN's ids are its own (882, once used here, is "Dok SK Hukuman Disiplin").
DOKUMEN_SALINAN_KEPPRES = "Keputusan Presiden (Salinan)"


class RefDokumenError(FlowConfigError):
    """The ref-dokumen table lacks (or holds twice) a document the flows need."""


def ref_dokumen_id(store: Any, document: str) -> str:
    """The id of the one active ref-dokumen row named ``document`` in the store (pulled by F2).

    Raises :class:`RefDokumenError` naming the document when there is none or several, so that
    the run stops before anything is sent under a wrong id.
    """
    try:
        found = store.referensi.id_by_name("ref-dokumen", document)
    except LookupError:
        raise RefDokumenError(
            f"ref-dokumen: several active rows are named {document!r}; cannot pick one"
        ) from None
    if found is None:
        raise RefDokumenError(
            f"ref-dokumen: no active row named {document!r}; pull the reference tables (F2) "
            "or ask BKN under which document SIASN files it"
        )
    return str(found)


#: stands in for the SIASN document reference while a body is validated before the upload
_PLACEHOLDER_DOK = {"dok_id": "0" * 32, "dok_uri": "pending/placeholder.pdf"}


def version_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of an item's payload (its outgoing content)."""
    return sha256_json(dict(payload))


def idempotency_key(flow: str, entity_id: str, vhash: str) -> str:
    """``flow:entity_id:version_hash``: the same message always gets the same key."""
    return outbox_key(flow, entity_id, vhash)


def group_key(flow: str, entity_id: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """Items of one group are delivered in order (oldest first, one at a time).

    Everything about one usulan that goes to one side forms a group: a new version must not
    overtake the previous one, a Setneg verification or a Keppres must not reach SIASN before
    the usulan, and SIAPP NV must see BKN statuses in the order BKN set them. Groups are
    independent of each other, so one stuck usulan never holds up another.
    """
    target = "siasn" if flow in TO_SIASN else "siapp"
    return target, str(payload.get("usulan_id") or entity_id)


# ---------------------------------------------------------------------------------------------
# scope check (before anything leaves for SIASN)
# ---------------------------------------------------------------------------------------------
JENIS_DI_LUAR_PKS = "JENIS_DI_LUAR_PKS"
KATEGORI_DI_LUAR_PKS = "KATEGORI_DI_LUAR_PKS"
PENGANGKATAN_JPT = "PENGANGKATAN_JPT"
GOLONGAN_DI_BAWAH_IVB = "GOLONGAN_DI_BAWAH_IVB"
GOLONGAN_TIDAK_DIKETAHUI = "GOLONGAN_TIDAK_DIKETAHUI"
ASN_TIDAK_AKTIF = "ASN_TIDAK_AKTIF"
PAYLOAD_TIDAK_VALID = "PAYLOAD_TIDAK_VALID"
USULAN_DITOLAK_HUB = "USULAN_DITOLAK_HUB"
#: suffix of the code of an usulan refused for one invalid field: ``GOLONGAN_BARU_ID_TIDAK_VALID``
TIDAK_VALID = "_TIDAK_VALID"

#: outbox ``reason`` of an usulan held because its employee is missing from the ASN mirror
#: only because the employee's record was quarantined (F1): never a refusal, re-checked by
#: every collect, sent (or refused for what the mirror then says) once a pull stored it
WAITING_FOR_MIRROR = "waiting for the ASN mirror: the employee's F1 record is quarantined"
#: lifecycle ``status`` of such an usulan
MENUNGGU_MIRROR = "menunggu_mirror_asn"
#: what the collect's lineage says about them (never the NIPs: they are in the held rows)
WAITING_HINT = (
    "usulan wait for employees whose SIASN record was quarantined (F1); once SIASN has fixed "
    "the record, put their NIPs (those of the usulan held in the outbox with this reason) in a "
    "selection (siapp-siasn select create --file nips.txt --purpose ...) and trigger DAG "
    "siasn_asn_daily with param selection to re-pull them"
)

#: the model's codes (`SiappUsulan.scope_violation`) -> the reason codes of docs/CONTRACT.md
_MODEL_CODES = {
    "JENIS_OUT_OF_SCOPE": JENIS_DI_LUAR_PKS,
    "KATEGORI_OUT_OF_SCOPE": KATEGORI_DI_LUAR_PKS,
    "PENGANGKATAN_NOT_JF_AHLI_UTAMA": PENGANGKATAN_JPT,
}

#: what SIAPP NV is told, per reason (no personal data: codes and rules only)
ALASAN: dict[str, str] = {
    JENIS_DI_LUAR_PKS: "Jenis usulan di luar cakupan PKS (KP, PEMBERHENTIAN, PENGANGKATAN)",
    KATEGORI_DI_LUAR_PKS: (
        "Kategori jabatan di luar cakupan PKS (JPT Utama, JPT Madya, JF Ahli Utama)"
    ),
    PENGANGKATAN_JPT: "Pengangkatan hanya dalam cakupan PKS untuk JF Ahli Utama",
    GOLONGAN_DI_BAWAH_IVB: (
        "NIP tidak terdapat pada cermin data ASN golongan IV/b ke atas yang aktif"
    ),
    GOLONGAN_TIDAK_DIKETAHUI: "Golongan ruang ASN tidak tercatat pada data SIASN",
    ASN_TIDAK_AKTIF: "ASN tidak lagi berstatus aktif pada data SIASN",
    PAYLOAD_TIDAK_VALID: "Data usulan tidak valid",
}

#: the alasan of GOLONGAN_DI_BAWAH_IVB when the employee *is* in the mirror (what was checked:
#: the golongan SIASN holds, not the NIP's presence)
ALASAN_GOLONGAN_TERCATAT = "Golongan ruang ASN pada data SIASN di bawah IV/b"


def usulan_scope_reason(usulan: SiappUsulan) -> str | None:
    """Why the PKS does not cover ``usulan`` by its own fields (jenis, kategori), or None."""
    violation = usulan.scope_violation()
    return None if violation is None else _MODEL_CODES.get(violation, violation)


def mirror_reason(asn_row: Mapping[str, Any] | None) -> str | None:
    """Why the employee's row in the ASN mirror puts the usulan out of scope, or None.

    The mirror holds every active ASN of golongan IV/b and above that SIASN lists (a full
    sweep), and keeps departed ones as inactive: absent means "not listed as an active ASN
    IV/b+", i.e. :data:`GOLONGAN_DI_BAWAH_IVB`, but only when the employee's record was not
    quarantined on the way in; the caller checks that first (see
    :func:`siapp_siasn.flows.usulan_sync.collect_siapp`), since absent-because-quarantined
    must wait rather than be refused. A row without a golongan is
    :data:`GOLONGAN_TIDAK_DIKETAHUI`, never "below IV/b".
    """
    if asn_row is None:
        return GOLONGAN_DI_BAWAH_IVB
    if not asn_row.get("is_active"):
        return ASN_TIDAK_AKTIF
    try:
        golongan = int(str(asn_row.get("gol_ruang_akhir_id") or ""))
    except ValueError:
        return GOLONGAN_TIDAK_DIKETAHUI
    if golongan < GOLONGAN_IV_B:
        return GOLONGAN_DI_BAWAH_IVB
    return None


def scope_reason(usulan: SiappUsulan, asn_row: Mapping[str, Any] | None) -> str | None:
    """Why the PKS does not cover ``usulan`` (a reason code), or None when it does.

    ``asn_row`` is the employee's current row in the hub's ASN mirror (``store.asn.get``):
    the usulan's own fields first (:func:`usulan_scope_reason`), then the mirror
    (:func:`mirror_reason`).
    """
    return usulan_scope_reason(usulan) or mirror_reason(asn_row)


def refusal_alasan(reason: str, asn_row: Mapping[str, Any] | None) -> str | None:
    """The alasan told with ``reason`` when it must say more than :data:`ALASAN` (None: that)."""
    if reason == GOLONGAN_DI_BAWAH_IVB and asn_row is not None:
        return ALASAN_GOLONGAN_TERCATAT
    return None


def invalid_field_reason(exc: ValidationError) -> tuple[str, str]:
    """``(code, alasan)`` of an usulan refused because SIAPP NV's record is invalid.

    One invalid field gives ``<FIELD>_TIDAK_VALID`` (``GOLONGAN_BARU_ID_TIDAK_VALID``); several
    give :data:`PAYLOAD_TIDAK_VALID`. The alasan names fields and error kinds only
    (:func:`~siapp_siasn.models.errors.describe_validation_error`), never a value.
    """
    known = set(SiappUsulan.model_fields)
    fields = sorted(
        {
            str(e["loc"][0])
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
            if e["loc"]
        }
    )
    code = PAYLOAD_TIDAK_VALID
    if len(fields) == 1 and fields[0] in known:
        code = f"{fields[0].upper()}{TIDAK_VALID}"
    return code, f"{ALASAN[PAYLOAD_TIDAK_VALID]}: {describe_validation_error(exc)}"


# ---------------------------------------------------------------------------------------------
# outgoing payloads
# ---------------------------------------------------------------------------------------------
class PayloadError(ValueError):
    """A record cannot become a valid outgoing body; the message is redaction-safe."""


def _body(model_cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` validated by ``model_cls`` and dumped as it goes on the wire."""
    try:
        model = model_cls.model_validate(dict(data))
    except ValidationError as exc:
        raise PayloadError(describe_validation_error(exc)) from None
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _doc_meta(doc: Any, id_ref_dokumen: str | None = None) -> dict[str, Any]:
    return {
        "id": doc.id,
        "jenis": doc.jenis,
        "id_ref_dokumen": id_ref_dokumen or doc.id_ref_dokumen,
        "sha256": doc.sha256,
        "size": doc.size,
    }


def _placeholder(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A document as the body will refer to it, with placeholder SIASN references."""
    return {
        **_PLACEHOLDER_DOK,
        "id_ref_dokumen": doc["id_ref_dokumen"],
        "sha256": doc["sha256"],
        "size": doc["size"],
    }


def usulan_payload(u: SiappUsulan) -> dict[str, Any]:
    """Outbox payload of an usulan version (F5): the SIASN body without the SIASN document
    references, and the SIAPP NV documents to upload first.

    The body is validated now, with placeholder document references, so that a record SIASN
    could never accept is refused at collection rather than retried until it dies.
    """
    if not u.dokumen:
        raise PayloadError("SiappUsulan: dokumen: too_short")
    docs = [_doc_meta(d) for d in u.dokumen]
    body = _body(
        UsulanBody,
        {
            "id_usulan_siapp": u.id,
            "versi": u.version,
            "nip": u.nip,
            "jenis_usulan": u.jenis,
            "kategori_jabatan": u.kategori_jabatan,
            "instansi_id": u.instansi_id,
            "golongan_baru_id": u.golongan_baru_id,
            "tmt": u.tmt,
            "jenis_kp": u.jenis_kp,
            "dokumen": [_placeholder(d) for d in docs],
        },
    )
    body.pop("dokumen")
    return {"usulan_id": u.id, "version": u.version, "body": body, "dokumen": docs}


def usulan_body(payload: Mapping[str, Any], uploaded: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The final F5 body: the payload's body plus the documents as SIASN now holds them."""
    return _body(UsulanBody, {**payload["body"], "dokumen": list(uploaded)})


def verifikasi_payload(v: SiappVerifikasi) -> dict[str, Any]:
    """Outbox payload of a Setneg verification (F6). The NIP is optional there: left out."""
    body = _body(
        VerifikasiSetnegBody,
        {
            "id_usulan_siapp": v.usulan_id,
            "id_verifikasi_siapp": v.id,
            "versi": v.version,
            "hasil": v.hasil,
            "catatan": v.catatan,
            "tgl_verifikasi": v.verified_at.date() if v.verified_at else None,
        },
    )
    return {"usulan_id": v.usulan_id, "version": v.version, "body": body}


def keppres_payload(k: SiappKeppres, ref_salinan_keppres: str) -> dict[str, Any]:
    """Outbox payload of a Keppres (F7): body without the SIASN copy reference, and the copy
    (filed under ``ref_salinan_keppres``, read by :func:`ref_dokumen_id`)."""
    if k.dokumen is None:
        raise PayloadError("SiappKeppres: dokumen: missing")
    doc = _doc_meta(k.dokumen, ref_salinan_keppres)
    body = _body(
        KeppresBody,
        {
            "id_usulan_siapp": k.usulan_id,
            "id_keppres_siapp": k.id,
            "versi": k.version,
            "nip": k.nip,
            "no_keppres": k.no_keppres,
            "tgl_keppres": k.tgl_keppres,
            "tmt": k.tmt,
            "dokumen": _placeholder(doc),
        },
    )
    body.pop("dokumen")
    return {"usulan_id": k.usulan_id, "version": k.version, "body": body, "dokumen": doc}


def keppres_body(payload: Mapping[str, Any], uploaded: Mapping[str, Any]) -> dict[str, Any]:
    """The final F7 body with the copy as SIASN now holds it."""
    return _body(KeppresBody, {**payload["body"], "dokumen": dict(uploaded)})


def pic_payload(p: SiappPic) -> dict[str, Any]:
    """Outbox payload of a PIC Instansi grant or revoke (F8)."""
    body = _body(
        PicBody,
        {
            "id_pic_siapp": p.id,
            "versi": p.version,
            "nip": p.nip,
            "instansi_id": p.instansi_id,
            "aksi": p.aksi,
        },
    )
    return {"version": p.version, "body": body}


def penolakan_payload(
    usulan_id: str, version: int | None, reason: str, alasan: str | None = None
) -> dict[str, Any]:
    """Outbox payload of a refusal reported to SIAPP NV (no NIP: SIAPP NV knows its usulan).

    ``alasan`` (redaction-safe) replaces the reason's text of :data:`ALASAN` when it says more.
    """
    body = _body(
        InboundPenolakan,
        {
            "usulan_id": usulan_id,
            "version": version,
            "alasan_kode": reason,
            "alasan": alasan or ALASAN.get(reason, ALASAN[PAYLOAD_TIDAK_VALID]),
        },
    )
    return {"usulan_id": usulan_id, "version": version, "body": body}


def status_payload(row: StatusUsulanRow) -> dict[str, Any]:
    """Outbox payload of a BKN status for SIAPP NV (F3).

    ``updated`` is left out: the same status read again on a later day is the same message.
    """
    body = _body(
        InboundStatusUsulan,
        {
            "usulan_id": row.id_usulan_siapp,
            "version": row.versi,
            "siasn_id": row.id,
            "nip": row.nip_baru,
            "jenis_usulan": row.jenis_usulan,
            "status_bkn": row.status_usulan,
            "status_bkn_nama": row.status_usulan_nama,
            "hasil_verifikasi": row.hasil_verifikasi,
            "alasan": row.alasan,
            "no_pertek": row.no_pertek,
            "tgl_pertek": row.tgl_pertek,
            "no_ralat_pertek": row.no_ralat_pertek,
            "tgl_ralat_pertek": row.tgl_ralat_pertek,
        },
    )
    return {"usulan_id": row.id_usulan_siapp, "body": body}


def pertek_payloads(row: StatusUsulanRow) -> list[tuple[str, dict[str, Any]]]:
    """``(flow, payload)`` of the pertek and ralat pertek PDFs a status row announces (F4).

    The PDF itself is fetched when the item is pushed, verified against the sha256 SIASN lists
    for it; its sha256 and size join the metadata then (they describe the file, not the news).
    """
    out: list[tuple[str, dict[str, Any]]] = []
    base = {"usulan_id": row.id_usulan_siapp, "nip": row.nip_baru}
    if row.no_pertek and row.path_ttd_pertek:
        meta = {
            **base,
            "no_pertek": row.no_pertek,
            "tgl_pertek": row.tgl_pertek.isoformat() if row.tgl_pertek else None,
            "siasn_path": row.path_ttd_pertek,
        }
        out.append((FLOW_PERTEK, {"usulan_id": row.id_usulan_siapp, "metadata": meta}))
    if row.no_ralat_pertek and row.path_ralat_pertek:
        meta = {
            **base,
            "no_pertek": row.no_pertek,
            "no_ralat_pertek": row.no_ralat_pertek,
            "tgl_ralat_pertek": row.tgl_ralat_pertek.isoformat() if row.tgl_ralat_pertek else None,
            "siasn_path": row.path_ralat_pertek,
        }
        out.append((FLOW_RALAT, {"usulan_id": row.id_usulan_siapp, "metadata": meta}))
    return out


def pertek_metadata(
    flow: str, payload: Mapping[str, Any], sha256: str, size: int
) -> dict[str, Any]:
    """The F4 metadata sent with the PDF (validated; the measured sha256 and size added)."""
    model = InboundRalatPertekMetadata if flow == FLOW_RALAT else InboundPertekMetadata
    meta = {k: v for k, v in payload["metadata"].items() if v is not None}
    return _body(model, {**meta, "sha256": sha256, "size": size})


# ---------------------------------------------------------------------------------------------
# documents
# ---------------------------------------------------------------------------------------------
class DocumentIntegrityError(Exception):
    """A document does not match what its owner announced: it is never forwarded."""


def verify_document(
    data: bytes,
    *,
    sha256: str | None,
    size: int | None,
    header_sha256: str | None = None,
    digest: str | None = None,
) -> str:
    """The sha256 of ``data`` after checking it against the announced sha256 and size (and the
    download's checksum header). Raises :class:`DocumentIntegrityError` on any disagreement.

    ``digest`` is the sha256 of ``data`` when the client has measured it already (it checks a
    download against its checksum); hashing every document twice costs the push real CPU.
    """
    digest = digest or hashlib.sha256(data).hexdigest()
    if header_sha256 and sha256 and header_sha256.strip().lower() != sha256.lower():
        raise DocumentIntegrityError("checksum header disagrees with the announced sha256")
    if sha256 and digest != sha256.lower():
        raise DocumentIntegrityError("sha256 of the downloaded bytes does not match")
    if size is not None and len(data) != int(size):
        raise DocumentIntegrityError("size of the downloaded bytes does not match")
    return digest


# ---------------------------------------------------------------------------------------------
# retries
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """Per-item retries: exponential backoff with jitter, dead letter after ``max_attempts``."""

    max_attempts: int = 8
    base_s: float = 60.0
    max_s: float = 6 * 3600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_s <= 0 or self.max_s < self.base_s:
            raise FlowConfigError(
                "retry policy: max_attempts >= 1 and 0 < backoff_base_s <= backoff_max_s"
            )

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Wait after the ``attempts``-th failed attempt: ``d = min(max, base * 2**(n-1))``,
        then a uniform draw in ``[d/2, d]`` ("equal jitter": never much shorter than planned,
        yet items that failed together do not come back together)."""
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        ceiling = min(self.max_s, self.base_s * 2 ** min(attempts - 1, 60))
        draw = (rng or random).uniform(0.5, 1.0)
        return timedelta(seconds=ceiling * draw)

    def is_dead(self, attempts: int) -> bool:
        """Whether an item that has now failed ``attempts`` times goes to the dead letters."""
        return attempts >= self.max_attempts

    def next_attempt(
        self, now: datetime, attempts: int, rng: random.Random | None = None
    ) -> datetime:
        return now + self.delay(attempts, rng)
