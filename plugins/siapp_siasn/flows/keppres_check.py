"""Decree cross-check (F7): did SIASN apply each Keppres the hub delivered?

For every Keppres KP or pemberhentian the hub delivered (``usulan_lifecycle.keppres_sent_at``)
at least ``min_age_days`` ago, SIASN must show it:

* **KP** — data-utama holds the new grade (``golRuangAkhirId`` = the golongan the hub sent in
  the usulan, ``tmtGolAkhir`` = the decree's TMT; or a later promotion with a later TMT) *and*
  rw-golongan has a row of that golongan and TMT;
* **pemberhentian** — data-utama's kedudukan hukum (``kedudukanPnsId``) is no longer ``01``
  (aktif).

Otherwise the decree is ``keppres_not_applied``, with its age in days (Jakarta dates from the
delivery to the check day). What the hub expects comes from its own outbox: the Keppres body it
sent (TMT) and the usulan version the Keppres decides (golongan). A decree whose SIASN records
could not be read or validated is ``unverified``: counted, never flagged, never stored (a page
that could not be read does not prove anything was not applied).

Results go to ``store.reconciliation`` (``keppres_check``: keyed by usulan id and kind, the NIP
only as its keyed hash); the lineage record holds counts only, no NIP, no usulan id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from siapp_siasn.clients.errors import ApiError
from siapp_siasn.clients.siasn import DATA_UTAMA, RW_GOLONGAN
from siapp_siasn.flows.context import LOCAL_TZ, FlowConfigError, RunContext
from siapp_siasn.flows.usulan_rules import FLOW_KEPPRES, FLOW_USULAN
from siapp_siasn.lineage import ContentDigest, Counts, Endpoint, LineageRecord
from siapp_siasn.models.errors import validate_payload
from siapp_siasn.models.siasn import DataUtama, RwGolongan
from siapp_siasn.models.types import GolonganId, SiasnDate
from siapp_siasn.store import Store
from siapp_siasn.store.reconciliation import KeppresCheck

log = logging.getLogger(__name__)

__all__ = [
    "APPLIED",
    "NOT_APPLIED",
    "UNVERIFIED",
    "Decree",
    "DecreeResult",
    "KeppresCheckRun",
    "SiasnView",
    "check_keppres",
    "decrees_due",
    "judge",
]

FLOW = "keppres_check"
APPLIED = "applied"
NOT_APPLIED = "keppres_not_applied"
#: SIASN's records could not be read or validated: nothing is concluded
UNVERIFIED = "unverified"
#: usulan jenis -> ``keppres_check.kind``
KIND_OF_JENIS: dict[str, str] = {"KP": "kp", "PEMBERHENTIAN": "pemberhentian"}
#: kedudukan hukum of an active civil servant
KEDUDUKAN_AKTIF = "01"

_DATE = TypeAdapter(SiasnDate)
_GOLONGAN = TypeAdapter(GolonganId)


@dataclass(frozen=True)
class Decree:
    """A delivered Keppres and what SIASN should show for it (``nip`` never leaves the flow
    but to SIASN and the store's keyed hash)."""

    usulan_id: str
    kind: str  # kp | pemberhentian
    nip: str = field(repr=False)  # never in a repr, a log or an exception
    delivered_at: dt.datetime
    age_days: int
    golongan_id: int | None = None  # kp: the new grade the hub sent
    tmt: dt.date | None = None  # the decree's TMT

    @property
    def expected_known(self) -> bool:
        """Whether the hub knows what to look for (kp needs golongan and TMT)."""
        return self.kind != "kp" or (self.golongan_id is not None and self.tmt is not None)


@dataclass(frozen=True)
class SiasnView:
    """What SIASN shows of one employee, as far as the check needs it (validated)."""

    golongan_id: int | None = None
    tmt_golongan: dt.date | None = None
    kedudukan: str | None = None
    #: rw-golongan rows as (golongan id, TMT); None when rw-golongan was not read
    rw_golongan: frozenset[tuple[int | None, dt.date | None]] | None = None
    #: some rw-golongan rows failed validation (absence of a match proves nothing then)
    rw_invalid: bool = False
    found: bool = True  # data-utama answered with a record


@dataclass(frozen=True)
class DecreeResult:
    """The outcome of one decree: ``status`` (applied, keppres_not_applied, unverified) and
    ``reason`` (a code: ``data_utama``, ``rw_golongan``, ``data_utama+rw_golongan``,
    ``kedudukan``, ``not_found``, ``fetch_error``, ``invalid``, ``expected_unknown``)."""

    decree: Decree
    status: str
    reason: str | None = None


@dataclass
class KeppresCheckRun:
    """What :func:`check_keppres` returns: the lineage record (counts only) and the results."""

    record: LineageRecord
    results: list[DecreeResult] = field(default_factory=list)

    @property
    def not_applied(self) -> list[DecreeResult]:
        return [r for r in self.results if r.status == NOT_APPLIED]


# ---------------------------------------------------------------------------------------------
# pure parts
# ---------------------------------------------------------------------------------------------
def _parse(adapter: TypeAdapter[Any], value: Any) -> Any:
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _local_date(ts: dt.datetime) -> dt.date:
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.UTC)
    return aware.astimezone(LOCAL_TZ).date()


def _latest_sent(rows: Iterable[Any]) -> dict[str, Any]:
    """``usulan_id -> payload`` of the latest sent outbox row per usulan (rows by id)."""
    out: dict[str, Any] = {}
    for r in sorted(rows, key=lambda r: r.id):
        uid = r.payload.get("usulan_id") if isinstance(r.payload, Mapping) else None
        if uid is not None:
            out[str(uid)] = r.payload
    return out


def decrees_due(
    lifecycle: Iterable[Mapping[str, Any]],
    keppres_sent: Iterable[Any],
    usulan_sent: Iterable[Any],
    *,
    today: dt.date,
    min_age_days: int,
) -> tuple[list[Decree], int]:
    """The decrees to check today and how many delivered ones are not due yet.

    ``lifecycle``: ``usulan_lifecycle`` rows; ``keppres_sent`` / ``usulan_sent``: the sent
    outbox rows of flows ``keppres`` and ``usulan`` (what the hub delivered). A decree is due
    when its Jakarta delivery date is at least ``min_age_days`` before ``today``.
    """
    keppres = _latest_sent(keppres_sent)
    versions: dict[tuple[str, str], Any] = {}
    latest: dict[str, Any] = {}
    for r in sorted(usulan_sent, key=lambda r: r.id):
        p = r.payload if isinstance(r.payload, Mapping) else {}
        uid = str(p.get("usulan_id") or r.entity_id)
        versions[(uid, str(p.get("version")))] = p
        latest[uid] = p
    due: list[Decree] = []
    not_due = 0
    for row in lifecycle:
        kind = KIND_OF_JENIS.get(str(row.get("jenis") or ""))
        sent_at = row.get("keppres_sent_at")
        if kind is None or sent_at is None:
            continue
        age = (today - _local_date(sent_at)).days
        if age < min_age_days:
            not_due += 1
            continue
        uid = str(row["usulan_id"])
        kp = keppres.get(uid) or {}
        body = kp.get("body") if isinstance(kp.get("body"), Mapping) else {}
        usulan = versions.get((uid, str(kp.get("version")))) or latest.get(uid) or {}
        ubody = usulan.get("body") if isinstance(usulan.get("body"), Mapping) else {}
        nip = str(row.get("nip") or body.get("nip") or "")
        if not nip:
            continue
        due.append(
            Decree(
                usulan_id=uid,
                kind=kind,
                nip=nip,
                delivered_at=sent_at,
                age_days=age,
                golongan_id=_parse(_GOLONGAN, ubody.get("golongan_baru_id")),
                tmt=_parse(_DATE, body.get("tmt")),
            )
        )
    return due, not_due


def view_of(utama_raw: Any, rw_raw: Any | None, *, with_rw: bool) -> SiasnView | str:
    """A :class:`SiasnView` from data-utama (and rw-golongan) as SIASN sent them, or the reason
    they cannot be judged (``invalid``). ``utama_raw`` None: SIASN has no record."""
    if utama_raw is None:
        return SiasnView(found=False, rw_golongan=frozenset() if with_rw else None)
    utama, reason = validate_payload(DataUtama, utama_raw)
    if utama is None:
        log.info("keppres_check: data-utama invalid (%s)", reason)
        return "invalid"
    rows: set[tuple[int | None, dt.date | None]] = set()
    invalid = False
    if with_rw:
        for raw in rw_raw if isinstance(rw_raw, list) else []:
            row, _ = validate_payload(RwGolongan, raw)
            if row is None:
                invalid = True
            else:
                rows.add((row.golongan_id, row.tmt_golongan))
        invalid = invalid or (rw_raw is not None and not isinstance(rw_raw, list))
    return SiasnView(
        golongan_id=utama.gol_ruang_akhir_id,
        tmt_golongan=utama.tmt_gol_akhir,
        kedudukan=utama.kedudukan_pns_id,
        rw_golongan=frozenset(rows) if with_rw else None,
        rw_invalid=invalid,
    )


def judge(decree: Decree, view: SiasnView) -> DecreeResult:
    """Whether ``view`` shows ``decree`` (see the module docstring)."""
    if not decree.expected_known:
        return DecreeResult(decree, UNVERIFIED, "expected_unknown")
    if not view.found:
        return DecreeResult(decree, NOT_APPLIED, "not_found")
    if decree.kind == "pemberhentian":
        if view.kedudukan is not None and view.kedudukan != KEDUDUKAN_AKTIF:
            return DecreeResult(decree, APPLIED)
        return DecreeResult(decree, NOT_APPLIED, "kedudukan")
    gol, tmt = decree.golongan_id, decree.tmt
    assert gol is not None and tmt is not None
    utama_ok = (view.golongan_id, view.tmt_golongan) == (gol, tmt) or (
        # a later promotion already superseded this one
        view.golongan_id is not None
        and view.tmt_golongan is not None
        and view.golongan_id > gol
        and view.tmt_golongan > tmt
    )
    rw_ok = (gol, tmt) in (view.rw_golongan or frozenset())
    if utama_ok and rw_ok:
        return DecreeResult(decree, APPLIED)
    if not rw_ok and view.rw_invalid:
        return DecreeResult(decree, UNVERIFIED, "invalid")
    missing = [name for name, ok in (("data_utama", utama_ok), ("rw_golongan", rw_ok)) if not ok]
    return DecreeResult(decree, NOT_APPLIED, "+".join(missing))


# ---------------------------------------------------------------------------------------------
# the flow
# ---------------------------------------------------------------------------------------------
async def _look(client: Any, decree: Decree) -> SiasnView | str:
    """Fetch what SIASN shows for ``decree`` (data-utama, and rw-golongan for a KP)."""
    with_rw = decree.kind == "kp"
    try:
        if with_rw:
            utama, rw = await asyncio.gather(
                client.get_data(DATA_UTAMA, nip=decree.nip),
                client.get_data(RW_GOLONGAN, nip=decree.nip),
            )
        else:
            utama, rw = await client.get_data(DATA_UTAMA, nip=decree.nip), None
    except ApiError as exc:
        log.warning("keppres_check: SIASN read failed (%s)", exc.status)
        return "fetch_error"
    return view_of(utama, rw, with_rw=with_rw)


async def check_keppres(
    ctx: RunContext,
    siasn_client: Any,
    store: Store,
    *,
    min_age_days: int,
    today: dt.date | None = None,
) -> KeppresCheckRun:
    """Cross-check every Keppres KP / pemberhentian delivered at least ``min_age_days`` before
    ``today`` (default: the run's Jakarta date) against SIASN; store each outcome in
    ``keppres_check`` and return the results with a lineage record of counts.

    Reads go through the client's bounded map (its concurrency). ``extra["keppres"]`` counts
    ``delivered``, ``not_due``, ``checked``, ``applied``, ``keppres_not_applied``,
    ``unverified`` and per kind and reason; ``failures`` is left empty (a decree not applied
    is a finding of the reconciliation, not a failed task).
    """
    if min_age_days < 0:
        raise FlowConfigError("min_age_days: must be >= 0")
    day = today or ctx.local_date
    source = Endpoint(system="siasn", endpoint=f"{DATA_UTAMA}, {RW_GOLONGAN}")
    target = Endpoint(system="hub", endpoint="keppres_check")
    with ctx.lineage_scope(
        FLOW,
        source=source,
        target=target,
        counts=Counts.named("checked", APPLIED, NOT_APPLIED, UNVERIFIED, "not_due"),
    ) as record:
        record.window = {"today": day.isoformat(), "min_age_days": str(min_age_days)}
        decrees, not_due = decrees_due(
            store.usulan.list(),
            store.outbox.list(flow=FLOW_KEPPRES, status="sent"),
            store.outbox.list(flow=FLOW_USULAN, status="sent"),
            today=day,
            min_age_days=min_age_days,
        )
        results: list[DecreeResult] = []
        askable = [d for d in decrees if d.expected_known]
        results += [judge(d, SiasnView()) for d in decrees if not d.expected_known]
        async with siasn_client as client:
            done = 0
            async for decree, view in client.api.map(lambda d: _look(client, d), askable):
                if isinstance(view, BaseException):
                    raise view
                if isinstance(view, str):
                    results.append(DecreeResult(decree, UNVERIFIED, view))
                else:
                    results.append(judge(decree, view))
                done += 1
                ctx.report_progress(done, len(askable))
            record.requests = client.metrics()
        results.sort(key=lambda r: (r.decree.usulan_id, r.decree.kind))
        stored = [
            KeppresCheck(
                r.decree.usulan_id,
                r.decree.kind,
                r.decree.nip,
                r.decree.delivered_at,
                r.status,
                r.decree.age_days,
            )
            for r in results
            if r.status != UNVERIFIED
        ]
        store.reconciliation.upsert_keppres_checks(stored, run_id=ctx.run_id, checked_at=ctx.now)
        counts = Counter(r.status for r in results)
        detail = Counter(
            f"{r.decree.kind}:{r.status}" + (f":{r.reason}" if r.reason else "") for r in results
        )
        digest = ContentDigest()
        for r in results:
            digest.add(f"{r.decree.usulan_id}:{r.decree.kind}", r.status)
        record.content_digest = digest.hexdigest()
        record.counts.add(
            checked=len(decrees),
            **{APPLIED: counts[APPLIED], NOT_APPLIED: counts[NOT_APPLIED]},
            unverified=counts[UNVERIFIED],
            not_due=not_due,
        )
        record.extra["keppres"] = {
            "delivered": len(decrees) + not_due,
            "not_due": not_due,
            "checked": len(decrees),
            APPLIED: counts[APPLIED],
            NOT_APPLIED: counts[NOT_APPLIED],
            UNVERIFIED: counts[UNVERIFIED],
            "by_reason": dict(sorted(detail.items())),
        }
        log.info(
            "keppres_check: %d checked, %d applied, %d not applied, %d unverified, %d not due",
            len(decrees),
            counts[APPLIED],
            counts[NOT_APPLIED],
            counts[UNVERIFIED],
            not_due,
        )
    return KeppresCheckRun(record=record, results=results)
