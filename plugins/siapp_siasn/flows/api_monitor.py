"""The API contract and health monitor: probe both APIs, classify drift, track incidents.

One call of :func:`monitor_apis` probes every endpoint family of SIASN and SIAPP NV through the
hub's own clients (they carry the tokens, the retries and the redaction): each token endpoint
once, each read endpoint ``repeats`` times for its latency, reading at most ONE record per
endpoint (the first row of a list page, or one NIP the store already holds for the per-employee
endpoints). The first answer of each endpoint is checked against what it should look like
(:mod:`siapp_siasn.checks`: the SIASN contract for the endpoints BKN documents, the hub's models
for the PKS and SIAPP NV ones) and the differences become findings; failed calls become outage
findings. Findings of one endpoint and kind belong to one incident, open until a run finds the
endpoint healthy again. Breaking drift, or an outage open for ``outage_after_s`` or longer,
puts a readable line into the lineage record's ``failures`` (the task fails) and a notice for
the other party (the agreement's art. 16 correspondent) into a text file, once per incident.

The inbound endpoints (SIASN ``siapp/usulan`` …, SIAPP NV ``inbound/*``) take POSTs only: a
probe would create data on the other side, so they are not called (listed as not probed).

Why not providers-http's ``HttpSensor``/``HttpHook``: a reachability check that is not
authenticated says little here (every SIASN read needs two rotating tokens, a gateway client
credential and an SSO password grant; SIAPP NV its own), and rebuilding that in an
``HttpHook`` connection would duplicate the secrets, the proxy and the TLS settings, and bypass
the clients' redaction of concrete URLs and error bodies. The clients already time, retry and
redact every call; the monitor measures through them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from siapp_siasn.checks import (
    Expectation,
    Finding,
    compare,
    describe,
    expectation_from_contract,
    expectation_from_model,
    unwrap_envelope,
    worst,
)
from siapp_siasn.clients import siapp as siapp_api
from siapp_siasn.clients import siasn as siasn_api
from siapp_siasn.clients.errors import ApiError
from siapp_siasn.flows.context import LOCAL_TZ, RunContext
from siapp_siasn.lineage import Endpoint, LineageRecord
from siapp_siasn.models.pks import PksAsnRow, StatusUsulanRow
from siapp_siasn.models.referensi import GolonganRef
from siapp_siasn.models.siapp import (
    SiappDokumenInventoryRow,
    SiappKeppres,
    SiappPic,
    SiappUsulan,
    SiappVerifikasi,
)
from siapp_siasn.store.findings import ProbeRow, percentile

__all__ = [
    "CORRESPONDENTS",
    "FLOW",
    "NOT_PROBED",
    "MonitorParams",
    "ProbeSpec",
    "monitor_apis",
    "probe_specs",
    "run_monitor_once",
]

FLOW = "api_monitor"

#: The agreement's art. 16 correspondents: who is told about a problem of each system's API.
CORRESPONDENTS: dict[str, dict[str, str]] = {
    "siasn": {
        "party": "PIHAK KEDUA — Badan Kepegawaian Negara (BKN), pemilik SIASN",
        "to": "Direktur Pengelolaan Data dan Penyajian Informasi Kepegawaian, Deputi Bidang "
        "Sistem Informasi Kepegawaian, Badan Kepegawaian Negara",
        "address": "Jalan Mayjend. Sutoyo No. 12, Cililitan, Kramat Jati, Jakarta Timur 13620",
        "email": "pdpik@bkn.go.id",
    },
    "siapp": {
        "party": "PIHAK KESATU — Kementerian Sekretariat Negara, pemilik SIAPP NV",
        "to": "Kepala Biro Administrasi Pejabat Pemerintahan, Deputi Bidang Administrasi "
        "Aparatur, Kementerian Sekretariat Negara",
        "address": "Jalan Veteran No. 17-18, Jakarta Pusat, DKI Jakarta 10110",
        "email": "biro_app@setneg.go.id",
    },
}

#: POST-only endpoints: never probed (a call would create data on the other side)
NOT_PROBED: dict[str, list[str]] = {
    "siasn": [
        *sorted(siasn_api.PKS_POST.values()),
        siasn_api.UPLOAD_DOK,
        siasn_api.UPLOAD_DOK_SK_KP,
    ],
    "siapp": [siapp_api.INBOUND.replace("{kind}", k) for k in sorted(siapp_api.INBOUND_KINDS)],
}

#: code fields -> the reference table whose ids they hold (checked when the store holds it)
_UTAMA_CODES = {
    "golRuangAkhirId": "golongan",
    "golRuangAwalId": "golongan",
    "agamaId": "agama",
    "kedudukanPnsId": "kedudukan-hukum",
    "jenisJabatanId": "jenis-jabatan",
    "tkPendidikanTerakhirId": "tingkat-pendidikan",
}
_RW_GOLONGAN_CODES = {"[].golonganId": "golongan", "[].jenisKPId": "jenis-kp"}
_PKS_ASN_CODES = {"[].golRuangAkhirId": "golongan", "[].kedudukanPnsId": "kedudukan-hukum"}
_OUTAGE_CODES = ("unreachable", "http_error", "auth_failed")


@dataclass(frozen=True)
class ProbeSpec:
    """One read endpoint the monitor calls.

    :param name: short name in findings' lines and notices (``data-utama``, ``usulan``).
    :param endpoint: the template (what findings and probes store; never a concrete key).
    :param envelope: the answer's shape (:data:`siapp_siasn.checks.contract.ENVELOPES`).
    :param path: template values (``{"nip": None}`` is filled with the sampled NIP).
    :param query: query string (``limit=1``: one record).
    :param first_row: validate the first row of a list only (the one sampled record).
    """

    system: str
    name: str
    endpoint: str
    envelope: str
    expect: Callable[[], Expectation]
    path: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    first_row: bool = True
    needs_nip: bool = False


@dataclass(frozen=True)
class MonitorParams:
    """What one monitor run does.

    :param repeats: calls per read endpoint (latency p50/p95 over them); the same record.
    :param outage_after_s: an outage open this long (since its incident opened) fails the
        run; 0: the first run that sees it.
    :param slow_ms: p95 latency above which an endpoint gets a ``slow`` warning.
    :param notice_dir: folder of the notice files (None: the system's temp directory).
    :param systems: which APIs to probe.
    :param max_retries: retries of one call (few: the monitor reports, it does not insist).
    """

    repeats: int = 3
    outage_after_s: float = 0.0
    slow_ms: float = 5000.0
    notice_dir: str | None = None
    systems: tuple[str, ...] = ("siasn", "siapp")
    max_retries: int = 2

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")
        if self.outage_after_s < 0 or self.slow_ms <= 0:
            raise ValueError("outage_after_s must be >= 0 and slow_ms > 0")
        unknown = set(self.systems) - {"siasn", "siapp"}
        if unknown:
            raise ValueError(f"unknown systems {sorted(unknown)}")


def _contract(
    name: str, template: str, codes: Mapping[str, str] | None = None
) -> Callable[[], Expectation]:
    return lambda: expectation_from_contract("siasn", template, name, codes)


def _model(
    system: str, template: str, model: Any, codes: Mapping[str, str] | None = None
) -> Callable[[], Expectation]:
    return lambda: expectation_from_model(system, template, model, array=True, codes=codes)


def probe_specs(api_mode: str, today: datetime) -> dict[str, list[ProbeSpec]]:
    """The read endpoints of each system, by SIASN's ``api_mode`` (``pks`` or ``public``)."""
    nip = {"nip": None}
    # a static path value (a table, a resource) is part of the endpoint's name; a NIP never is
    referensi = siasn_api.REFERENSI.replace("{ref}", "golongan")
    siasn = [
        ProbeSpec(
            "siasn",
            "data-utama",
            siasn_api.DATA_UTAMA,
            "result",
            _contract("data-utama", siasn_api.DATA_UTAMA, _UTAMA_CODES),
            nip,
            needs_nip=True,
        ),
        ProbeSpec(
            "siasn",
            "data-pasangan",
            siasn_api.DATA_PASANGAN,
            "result",
            _contract("data-pasangan", siasn_api.DATA_PASANGAN),
            nip,
            needs_nip=True,
        ),
        ProbeSpec(
            "siasn",
            "data-anak",
            siasn_api.DATA_ANAK,
            "result",
            _contract("data-anak", siasn_api.DATA_ANAK),
            nip,
            needs_nip=True,
        ),
        ProbeSpec(
            "siasn",
            "data-ortu",
            siasn_api.DATA_ORTU,
            "result",
            _contract("data-ortu", siasn_api.DATA_ORTU),
            nip,
            needs_nip=True,
        ),
        ProbeSpec(
            "siasn",
            "rw-golongan",
            siasn_api.RW_GOLONGAN,
            "result",
            _contract("rw-golongan", siasn_api.RW_GOLONGAN, _RW_GOLONGAN_CODES),
            nip,
            needs_nip=True,
        ),
        ProbeSpec(
            "siasn",
            "referensi",
            referensi,
            "referensi",
            _model("siasn", referensi, GolonganRef),
            query={"limit": 1, "offset": 0},
        ),
        ProbeSpec(
            "siasn",
            "ref-unor",
            siasn_api.REF_UNOR,
            "result",
            _contract("ref-unor", siasn_api.REF_UNOR),
        ),
    ]
    if api_mode == "public":
        local = today.astimezone(LOCAL_TZ).date()
        siasn += [
            ProbeSpec(
                "siasn",
                "list-kp-instansi",
                siasn_api.LIST_KP_INSTANSI,
                "result",
                _contract("list-kp-instansi", siasn_api.LIST_KP_INSTANSI),
                query={"periode": local.replace(day=1).isoformat(), "limit": 1, "offset": 0},
            ),
            ProbeSpec(
                "siasn",
                "list-pensiun-instansi",
                siasn_api.LIST_PENSIUN_INSTANSI,
                "result",
                _contract("list-pensiun-instansi", siasn_api.LIST_PENSIUN_INSTANSI),
                query={
                    "tglAwal": siasn_api.siasn_date(local - timedelta(days=30)),
                    "tglAkhir": siasn_api.siasn_date(local),
                },
            ),
        ]
    else:
        siasn += [
            ProbeSpec(
                "siasn",
                "pks-asn",
                siasn_api.PKS_ASN,
                "pks_list",
                _model("siasn", siasn_api.PKS_ASN, PksAsnRow, _PKS_ASN_CODES),
                query={"limit": 1, "offset": 0},
            ),
            ProbeSpec(
                "siasn",
                "pks-status-usulan",
                siasn_api.PKS_STATUS_USULAN,
                "pks_list",
                _model("siasn", siasn_api.PKS_STATUS_USULAN, StatusUsulanRow),
                query={"limit": 1, "offset": 0},
            ),
        ]
    lists = {
        "usulan": SiappUsulan,
        "verifikasi": SiappVerifikasi,
        "keppres": SiappKeppres,
        "pic": SiappPic,
    }
    siapp = [
        ProbeSpec(
            "siapp",
            resource,
            siapp_api.LIST.replace("{resource}", resource),
            "siapp_page",
            _model("siapp", siapp_api.LIST.replace("{resource}", resource), model),
            query={"limit": 1},
        )
        for resource, model in lists.items()
    ]
    siapp.append(
        ProbeSpec(
            "siapp",
            "dokumen",
            siapp_api.DOKUMEN_LIST,
            "siapp_page",
            _model("siapp", siapp_api.DOKUMEN_LIST, SiappDokumenInventoryRow),
            query={"limit": 1},
        )
    )
    # the pks-asn probe first: its row is the NIP sample when the store holds none
    siasn.sort(key=lambda s: (s.needs_nip, 0 if s.name == "pks-asn" else 1))
    return {"siasn": siasn, "siapp": siapp}


# ------------------------------------------------------------------------------ probing


def _outage_code(exc: ApiError) -> str:
    if exc.status is None:
        return "unreachable"
    if exc.status in (401, 403):
        return "auth_failed"
    return "http_error"


@dataclass
class _EndpointResult:
    system: str
    name: str
    endpoint: str
    latencies: list[float] = field(default_factory=list)
    statuses: list[int | None] = field(default_factory=list)
    error: ApiError | None = None
    validated: bool = False
    skipped: str | None = None

    def summary(self) -> dict[str, Any]:
        answered = [ms for ms, st in zip(self.latencies, self.statuses, strict=True) if st]
        out: dict[str, Any] = {
            "endpoint": self.endpoint,
            "probes": len(self.latencies),
            "ok": self.error is None and not self.skipped,
            "status": self.statuses[-1] if self.statuses else None,
            "p50_ms": _ms(percentile(answered, 0.5)),
            "p95_ms": _ms(percentile(answered, 0.95)),
        }
        if self.skipped:
            out["skipped"] = self.skipped
        return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class _Prober:
    """The calls of one run, their latencies and what the first answers showed."""

    def __init__(self, params: MonitorParams, known_codes: Mapping[str, set[str]]) -> None:
        self.params = params
        self.known_codes = known_codes
        self.results: list[_EndpointResult] = []
        self.findings: list[Finding] = []
        self.probes: list[ProbeRow] = []

    def _record(self, res: _EndpointResult, status: int | None, ms: float, ok: bool) -> None:
        res.latencies.append(ms)
        res.statuses.append(status)
        self.probes.append(ProbeRow(res.system, res.endpoint, status, ms, ok))

    def _failed(self, res: _EndpointResult, exc: ApiError) -> None:
        res.error = exc
        detail = {"status": exc.status, "attempts": exc.attempts}
        self.findings.append(
            Finding(
                "outage", "warning", res.system, res.endpoint, _outage_code(exc), res.name, detail
            )
        )

    async def tokens(self, system: str, client: Any) -> bool:
        """Fetch each token of ``client`` once; False when one failed (the system's other
        endpoints cannot be called)."""
        auth = client.api.auth
        healthy = True
        for source in auth.sources if auth is not None else []:
            endpoint = getattr(source, "endpoint", None)
            if endpoint is None:  # a static token: nothing to call
                continue
            res = _EndpointResult(system, f"{source.name} token", endpoint)
            self.results.append(res)
            started = time.perf_counter()
            try:
                await source.get(client.api)
            except ApiError as exc:
                self._record(res, exc.status, _elapsed(started), False)
                self._failed(res, exc)
                healthy = False
                continue
            self._record(res, 200, _elapsed(started), True)
        return healthy

    async def read(self, spec: ProbeSpec, client: Any, nip: str | None) -> Any:
        """Call ``spec`` ``repeats`` times; check its first answer; return its data."""
        res = _EndpointResult(spec.system, spec.name, spec.endpoint)
        self.results.append(res)
        path = {k: (nip if v is None else v) for k, v in spec.path.items()}
        first: Any = None
        for attempt in range(self.params.repeats):
            started = time.perf_counter()
            try:
                resp = await client.api.request(
                    "GET", spec.endpoint, path=path, query=dict(spec.query), allow_404=True
                )
            except ApiError as exc:
                self._record(res, exc.status, _elapsed(started), False)
                self._failed(res, exc)
                return None
            self._record(res, resp.status, _elapsed(started), True)
            if attempt == 0:
                first = resp.data
        data, broken = unwrap_envelope(spec.envelope, first, spec.system, spec.endpoint)
        if broken is not None:
            self.findings.append(broken)
            return None
        if (
            spec.envelope == "result"
            and isinstance(data, Mapping)
            and spec.name.startswith("list-")
        ):
            # published lists: some gateways wrap the rows once more
            data = next((data[k] for k in ("data", "list") if isinstance(data.get(k), list)), data)
        sample = data[:1] if spec.first_row and isinstance(data, list) else data
        if sample is not None and sample != []:
            self.findings += compare(spec.expect(), sample, self.known_codes)
        res.validated = True
        return data

    def skip(self, spec: ProbeSpec, why: str) -> None:
        self.results.append(_EndpointResult(spec.system, spec.name, spec.endpoint, skipped=why))

    def slow(self) -> None:
        for res in self.results:
            p95 = percentile(
                [ms for ms, st in zip(res.latencies, res.statuses, strict=True) if st], 0.95
            )
            if p95 is not None and p95 > self.params.slow_ms:
                detail = {
                    "p50_ms": _ms(percentile(res.latencies, 0.5)),
                    "p95_ms": _ms(p95),
                    "threshold_ms": self.params.slow_ms,
                }
                self.findings.append(
                    Finding("outage", "warning", res.system, res.endpoint, "slow", res.name, detail)
                )


def _elapsed(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


# ------------------------------------------------------------------------------ incidents


def _incident_worthy(f: Finding) -> bool:
    """Outages and drift from warning up open incidents; new fields and slowness do not."""
    if f.kind == "outage":
        return f.code in _OUTAGE_CODES
    return f.kind == "drift" and f.rank >= 1


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _notice_text(
    system: str,
    items: Sequence[tuple[Any, str, list[Finding]]],
    run: RunContext,
    lineage_id: str,
) -> str:
    """The notice for ``system``'s party: what broke, where, since when; names, JSON types,
    statuses only (no record, no value, no credential)."""
    who = CORRESPONDENTS[system]
    label = {"siasn": "SIASN (BKN)", "siapp": "SIAPP NV (Kementerian Sekretariat Negara)"}[system]
    lines = [
        f"Kepada   : {who['to']}",
        f"           {who['address']}",
        f"           e-mail: {who['email']}",
        f"           ({who['party']}; korespondensi menurut Pasal 16 PKS)",
        "Dari     : Hub integrasi SIAPP NV ⇄ SIASN (pemantauan API otomatis)",
        f"Perihal  : Pemberitahuan gangguan/perubahan API {label}",
        "Dasar    : PKS SIAPP NV ⇄ SIASN, Pasal 4 huruf e dan Pasal 5 ayat (2) huruf g "
        "(pemberitahuan permasalahan, perbaikan atau perubahan API)",
        f"Tanggal  : {_stamp(run.now)} ({run.now.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} WIB)",
        "",
        f"Pemantauan otomatis hub menemukan permasalahan berikut pada API {label}:",
        "",
    ]
    for n, (incident, name, findings) in enumerate(items, 1):
        kind = "perubahan kontrak (drift)" if incident.kind == "drift" else "gangguan (outage)"
        lines.append(f"{n}. {name} — {incident.endpoint}")
        lines.append(
            f"   jenis: {kind}; sejak: {_stamp(incident.opened_at)}; insiden #{incident.id}"
        )
        for f in findings:
            lines.append(f"   - {describe(f)}")
        lines.append("")
    lines += [
        "Mohon konfirmasi apakah perubahan/gangguan ini disengaja, dan perkiraan waktu",
        "perbaikannya. Hub akan menutup insiden secara otomatis setelah API kembali sesuai",
        "kontrak. Pemberitahuan ini tidak memuat data pribadi atau kredensial; rujukan",
        f"internal: lineage {lineage_id}.",
        "",
    ]
    return "\n".join(lines)


def _write_notice(
    params: MonitorParams,
    system: str,
    items: Sequence[tuple[Any, str, list[Finding]]],
    run: RunContext,
    lineage_id: str,
) -> Path:
    folder = Path(params.notice_dir or Path(tempfile.gettempdir()) / "siapp_siasn_notices")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"notice-{system}-{run.now:%Y%m%dT%H%M%SZ}-{lineage_id[:8]}.txt"
    path.write_text(_notice_text(system, items, run, lineage_id), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ the flow


async def monitor_apis(
    siasn: Any | None,
    siapp: Any | None,
    store: Any,
    params: MonitorParams,
    run: RunContext,
) -> LineageRecord:
    """Probe both APIs once (see the module docstring); findings, probes and incidents go to
    ``store``; the record's ``failures`` name breaking drift and outages past the threshold."""
    api_mode = getattr(siasn, "api_mode", "pks") if siasn is not None else "pks"
    specs = probe_specs(api_mode, run.now)
    clients = {"siasn": siasn, "siapp": siapp}
    known = {
        t: store.referensi.ids(t)
        for t in {*_UTAMA_CODES.values(), *_RW_GOLONGAN_CODES.values(), *_PKS_ASN_CODES.values()}
    }
    target = Endpoint(system="hub", endpoint="tables finding, incident, probe")
    source = Endpoint(system="siasn+siapp", endpoint="every read endpoint, one record each")
    with run.lineage_scope(FLOW, source, target, title="API contract and health monitor") as record:
        record.counts = record.counts.named(
            "probes",
            "ok",
            "failed",
            "findings",
            "breaking",
            "warning",
            "info",
            "incidents_opened",
            "incidents_closed",
            "open_incidents",
        )
        prober = _Prober(params, known)
        nip_source = None
        for system in params.systems:
            client = clients.get(system)
            if client is None:
                continue
            async with client:
                if not await prober.tokens(system, client):
                    for spec in specs[system]:
                        prober.skip(spec, "no token")
                    record.requests[system] = client.metrics()
                    continue
                nip = store.findings.sample_nip() if system == "siasn" else None
                if nip:
                    nip_source = "store"
                for spec in specs[system]:
                    if spec.needs_nip and not nip:
                        prober.skip(spec, "no NIP to sample (empty store, no PKS list)")
                        continue
                    data = await prober.read(spec, client, nip)
                    if spec.name == "pks-asn" and not nip and isinstance(data, list) and data:
                        first = data[0]
                        nip = first.get("nipBaru") if isinstance(first, Mapping) else None
                        nip_source = "pks-asn" if nip else None
                record.requests[system] = client.metrics()
        prober.slow()
        _settle(store, prober, params, run, record)
        record.extra["sample"] = {"nip_from": nip_source}
        record.extra["not_probed"] = {s: NOT_PROBED[s] for s in params.systems}
        record.extra["api_mode"] = api_mode
    return record


def _settle(
    store: Any, prober: _Prober, params: MonitorParams, run: RunContext, record: LineageRecord
) -> None:
    """Incidents opened, raised, closed; findings and probes stored; failures and notices."""
    now = run.now
    by_key: dict[tuple[str, str, str], list[Finding]] = {}
    names: dict[tuple[str, str], str] = {}
    for res in prober.results:
        names[(res.system, res.endpoint)] = res.name
    for f in prober.findings:
        if _incident_worthy(f):
            by_key.setdefault((f.kind, f.system, f.endpoint), []).append(f)
    answered = {(r.system, r.endpoint) for r in prober.results if r.statuses and r.error is None}
    validated = {(r.system, r.endpoint) for r in prober.results if r.validated}
    open_before = {
        i.key: i for i in store.findings.open_incidents() if i.kind in ("drift", "outage")
    }

    stored: list[dict[str, Any]] = []
    new_breaking: list[int] = []
    notices: dict[str, list[tuple[Any, str, list[Finding]]]] = {}
    opened = closed = 0
    with store.transaction() as conn:
        for key, findings in sorted(by_key.items()):
            kind, system, endpoint = key
            incident = open_before.get(key)
            if incident is None:
                incident_id = store.findings.open_incident(
                    kind, system, endpoint, worst(findings) or "warning", opened_at=now, conn=conn
                )
                opened += 1
                opened_at, notice_path, was = now, None, None
            else:
                incident_id, opened_at = incident.id, incident.opened_at
                notice_path, was = incident.notice_path, incident.severity
            if kind == "outage":
                # an outage becomes breaking once it has lasted the threshold
                lasted = (now - opened_at).total_seconds()
                severity = "breaking" if lasted >= params.outage_after_s else "warning"
                findings = [
                    Finding(
                        f.kind,
                        severity,
                        f.system,
                        f.endpoint,
                        f.code,
                        f.subject,
                        {**f.detail, "open_s": round(lasted)},
                    )
                    for f in findings
                ]
            severity = worst(findings) or "warning"
            if severity != was:
                store.findings.update_incident(incident_id, severity=severity, conn=conn)
            for f in findings:
                stored.append({**f.as_dict(), "incident_id": incident_id})
            if severity != "breaking":
                continue
            name = names.get((system, endpoint), endpoint)
            line = "; ".join(describe(f) for f in findings if f.severity == "breaking")
            if kind == "outage":
                line += f" (open since {_stamp(opened_at)}, threshold {params.outage_after_s:g} s)"
            record.failures.append(f"{system} {name}: {line}")
            if notice_path is None:
                new_breaking.append(incident_id)
                view = _IncidentView(incident_id, kind, endpoint, opened_at)
                notices.setdefault(system, []).append((view, name, findings))
        for f in prober.findings:
            if not _incident_worthy(f):
                stored.append(f.as_dict())
        for key, incident in open_before.items():
            if key in by_key:
                continue
            kind, system, endpoint = key
            healthy = (system, endpoint) in (answered if kind == "outage" else validated)
            if healthy:
                store.findings.close_incident(incident.id, closed_at=now, conn=conn)
                closed += 1
        paths = []
        for system, items in sorted(notices.items()):
            path = _write_notice(params, system, items, run, record.lineage_id)
            paths.append(str(path))
            for view, _name, _f in items:
                store.findings.update_incident(view.id, notice_path=str(path), conn=conn)
        store.findings.add_findings(
            stored, observed_at=now, lineage_id=record.lineage_id, conn=conn
        )
        store.findings.add_probes(
            prober.probes, observed_at=now, lineage_id=record.lineage_id, conn=conn
        )
    open_after = store.findings.open_incidents()

    severities = [row["severity"] for row in stored]
    record.counts.add(
        probes=len(prober.probes),
        ok=sum(1 for p in prober.probes if p.ok),
        failed=sum(1 for p in prober.probes if not p.ok),
        findings=len(stored),
        breaking=severities.count("breaking"),
        warning=severities.count("warning"),
        info=severities.count("info"),
        incidents_opened=opened,
        incidents_closed=closed,
        open_incidents=len(open_after),
    )
    endpoints: dict[str, dict[str, Any]] = {}
    for res in prober.results:
        endpoints.setdefault(res.system, {})[res.name] = res.summary()
    record.extra["endpoints"] = endpoints
    record.extra["findings"] = [
        {k: row[k] for k in ("severity", "system", "endpoint", "code", "subject")} for row in stored
    ]
    record.extra["new_breaking_incidents"] = new_breaking
    record.extra["open_incidents"] = [
        {
            "id": i.id,
            "kind": i.kind,
            "system": i.system,
            "endpoint": i.endpoint,
            "severity": i.severity,
        }
        for i in open_after
    ]
    record.extra["notices"] = paths
    record.reference("findings", len(stored), f"table finding, lineage_id={record.lineage_id}")
    for n, path in enumerate(paths):
        record.reference(f"notice_{n + 1}" if n else "notice", 1, path)


@dataclass(frozen=True)
class _IncidentView:
    """What a notice names of an incident."""

    id: int
    kind: str
    endpoint: str
    opened_at: datetime


# ------------------------------------------------------------------------------ outside Airflow


def run_monitor_once(
    siasn_config: Any | None,
    siapp_config: Any | None,
    store: Any,
    params: MonitorParams | None = None,
    run: RunContext | None = None,
) -> LineageRecord:
    """One monitor run from validated client settings (``SiasnConfig`` / ``SiappConfig``; None
    skips that API): what ``siapp-siasn monitor --once`` calls. The lineage record is stored too."""
    import asyncio

    params = params or MonitorParams()
    run = run or RunContext(dag_id="cli", run_id=f"monitor-{time.time_ns()}", task_id="monitor")

    def client(config: Any, cls: Any) -> Any:
        if config is None:
            return None
        return cls.from_config(config.model_copy(update={"max_retries": params.max_retries}))

    systems = tuple(
        s for s, c in (("siasn", siasn_config), ("siapp", siapp_config)) if c is not None
    )
    params = MonitorParams(**{**params.__dict__, "systems": systems})
    record = asyncio.run(
        monitor_apis(
            client(siasn_config, siasn_api.SiasnClient),
            client(siapp_config, siapp_api.SiappClient),
            store,
            params,
            run,
        )
    )
    store.lineage.write(record.to_xcom())
    return record
