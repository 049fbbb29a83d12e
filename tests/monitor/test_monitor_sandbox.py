"""The monitor against the sandbox over loopback, on SQLite and on the real PostgreSQL.

One life of the APIs: healthy (green, nothing found) → schema drift (exactly the injected
changes, each with its severity; breaking ones fail the run and produce a notice) → healthy
again (green, the drift incidents closed) → outage (below the threshold: a warning; past it:
the run fails with a clear line and a notice per system) → recovered (green, closed). The
expected drift is derived independently: the undrifted first record of each endpoint, fetched
here over HTTP, put through the sandbox's own drift rules.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from siapp_sandbox.common import SchemaDrift, _drift
from siapp_sandbox.testing import RunningSandbox
from siapp_siasn.flows.api_monitor import MonitorParams, ProbeSpec, probe_specs, run_monitor_once
from siapp_siasn.flows.context import RunContext
from siapp_siasn.lineage import LineageRecord
from siapp_siasn.models.contract import field_paths
from siapp_siasn.store import Store
from tests.flows.conftest import pull_everything
from tests.monitor.conftest import siapp_config, siasn_config

DRIFT = {
    "rename": {"tglLahir": "tanggalLahir"},
    "retype": {"golRuangAkhirId": "int"},
    "add": {"flagIkd": "1"},
}
#: where the retype breaks the contract: SIASN documents golRuangAkhirId as a string; the
#: PKS list's model reads an integer as well, so there it is no drift
RETYPED = {("/apisiasn/1.0/pns/data-utama/{nip}", "golRuangAkhirId")}
#: keys of personal values in SIASN records (names, ids, birth data, contacts)
PERSONAL_KEYS = {
    "nama", "nik", "tglLahir", "tempatLahir", "email", "emailGov", "noHp", "noTelp",
    "alamat", "nipBaru", "nipLama", "noNpwp", "bpjs", "akteKelahiran", "noAkta",
}  # fmt: skip
SECRETS = ("sandbox-secret", "sandbox-password")


@pytest.fixture
def world(sandbox_factory: Any, store: Store) -> Iterator[tuple[RunningSandbox, Store]]:
    sb = sandbox_factory(employees=300, seed=3)
    pull_everything(sb, store, "seed-run")
    yield sb, store


def _monitor(sb: RunningSandbox, store: Store, tag: str, **params: Any) -> LineageRecord:
    run = RunContext(dag_id="api_contract_monitor", run_id=tag, task_id="probe")
    return run_monitor_once(siasn_config(sb), siapp_config(sb), store, MonitorParams(**params), run)


def _fetch(sb: RunningSandbox, spec: ProbeSpec, nip: str) -> Any:
    """The first record of ``spec``'s answer, fetched directly (not through the hub)."""
    if spec.system == "siasn":
        base, headers = sb.siasn_url, sb.siasn_headers()
    else:
        base, headers = sb.siapp_url, {"Authorization": f"Bearer {sb.siapp_token()}"}
    url = base + spec.endpoint.replace("{nip}", nip)
    body = httpx.get(url, params=dict(spec.query), headers=headers, timeout=30).json()
    if body.get("code") in (0, "0"):  # SIASN: nothing there
        return None
    data = {
        "result": lambda b: b["data"],
        "pks_list": lambda b: b["data"]["list"],
        "referensi": lambda b: b["results"],
        "siapp_page": lambda b: b["data"],
    }[spec.envelope](body)
    return data[:1] if isinstance(data, list) else data


def _paths(value: Any, opaque: frozenset[str]) -> dict[str, set[str]]:
    return {p: t for p, t in field_paths(value, opaque).items() if not p.endswith("[]")}


Samples = dict[str, tuple[ProbeSpec, Any]]


def _expected_drift(samples: Samples) -> set[tuple[str, str, str, str]]:
    """(endpoint, code, subject, severity) of every change the drift makes to the samples."""
    rules = SchemaDrift(**DRIFT)
    out: set[tuple[str, str, str, str]] = set()
    for spec, sample in samples.values():
        if sample in (None, []):
            continue
        opaque = spec.expect().opaque
        before = _paths(sample, opaque)
        after = _paths(_drift(json.loads(json.dumps(sample)), rules), opaque)
        for path in set(before) - set(after):
            out.add((spec.endpoint, "missing_field", path, "breaking"))
        added = set(after) - set(before)
        for path in added:
            parent = path.rsplit(".", 1)[0].removesuffix("[]") if "." in path else ""
            if parent not in added:
                out.add((spec.endpoint, "new_field", path, "info"))
        changed = {
            (spec.endpoint, p.removeprefix("[].")) for p in set(before) & set(after)
            if before[p] - {"null"} != after[p] - {"null"}
        }  # fmt: skip
        assert changed <= RETYPED | {("/apisiasn/1.0/siapp/asn", "golRuangAkhirId")}
        for endpoint, path in changed & RETYPED:
            out.add((endpoint, "retyped_field", path, "breaking"))
    return out


def _personal_values(samples: Samples) -> set[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                null_form = str(v).strip().lower() in ("null", "undefined", "01-01-0001")
                if (
                    k in PERSONAL_KEYS
                    and isinstance(v, str)
                    and len(v.strip()) >= 4
                    and not null_form
                ):
                    found.add(v.strip())
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for spec, sample in samples.values():
        if spec.system == "siasn":
            walk(sample)
    return found


def _drift_findings(store: Store, record: LineageRecord) -> set[tuple[str, str, str, str]]:
    return {
        (r["endpoint"], r["code"], r["subject"], r["severity"])
        for r in store.findings.list(lineage_id=record.lineage_id)
        if r["kind"] == "drift"
    }


def test_drift_outage_and_recovery(
    world: tuple[RunningSandbox, Store], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sb, store = world
    caplog.set_level(logging.INFO)
    notices = tmp_path / "notices"
    nip = store.findings.sample_nip()
    assert nip is not None

    # 1. healthy: every endpoint answered, nothing found, nothing open
    green = _monitor(sb, store, "green", notice_dir=str(notices))
    assert green.failures == []
    assert store.findings.list(lineage_id=green.lineage_id) == []
    assert store.findings.open_incidents() == []
    endpoints = green.extra["endpoints"]
    assert all(e["ok"] for system in endpoints.values() for e in system.values()), endpoints
    assert green.extra["sample"] == {"nip_from": "store"}
    utama = endpoints["siasn"]["data-utama"]
    assert utama["probes"] == 3 and utama["p50_ms"] <= utama["p95_ms"]
    assert len(store.findings.probes()) == green.counts.probes

    specs = probe_specs("pks", dt.datetime.now(dt.UTC))
    # the test's own HTTP client logs concrete URLs: not the monitor's logs
    caplog.set_level(logging.WARNING, logger="httpx")
    samples = {s.name: (s, _fetch(sb, s, nip)) for system in specs.values() for s in system}

    # 2. drift: exactly the injected changes, breaking ones fail the run
    sb.set_faults({"schema_drift": DRIFT})
    drifted = _monitor(sb, store, "drift", notice_dir=str(notices))
    expected = _expected_drift(samples)
    assert {c for _, c, _, _ in expected} == {"missing_field", "new_field", "retyped_field"}
    assert _drift_findings(store, drifted) == expected
    utama_line = next(f for f in drifted.failures if f.startswith("siasn data-utama:"))
    assert "retyped golRuangAkhirId: string → integer" in utama_line
    assert "missing field tglLahir (string)" in utama_line
    assert not any("siapp" in f.split(":")[0] for f in drifted.failures)  # info only there
    (notice,) = drifted.extra["notices"]
    assert drifted.references["notice"].where == notice
    text = Path(notice).read_text()
    assert "pdpik@bkn.go.id" in text and "Pasal 16" in text
    assert "retyped golRuangAkhirId: string → integer" in text
    breaking = {i.endpoint for i in store.findings.open_incidents() if i.severity == "breaking"}
    assert breaking == {e for e, _, _, s in expected if s == "breaking"}
    # still drifted an hour later: the same incidents, no second notice
    again = _monitor(sb, store, "drift-2", notice_dir=str(notices))
    assert again.failures and again.extra["notices"] == []
    assert again.counts.incidents_opened == 0

    # 3. healthy again: green, every drift incident closed
    sb.set_faults({})
    healed = _monitor(sb, store, "healed", notice_dir=str(notices))
    assert healed.failures == []
    assert healed.counts.incidents_closed == len(breaking)
    assert store.findings.open_incidents() == []

    # 4. outage: below the threshold a warning, past it a failure and a notice per system
    sb.set_faults({"error_5xx_rate": 1.0})
    early = _monitor(sb, store, "outage-1", notice_dir=str(notices), outage_after_s=3600)
    assert early.failures == []
    outages = store.findings.list(lineage_id=early.lineage_id)
    assert {(r["system"], r["code"], r["severity"]) for r in outages} == {
        ("siasn", "http_error", "warning"),
        ("siapp", "http_error", "warning"),
    }
    down = _monitor(sb, store, "outage-2", notice_dir=str(notices), outage_after_s=0)
    assert sorted(f.split(":")[0] for f in down.failures) == [
        "siapp siapp token",
        "siasn gateway token",
        "siasn sso token",
    ]
    assert all("HTTP 50" in f and "threshold 0 s" in f for f in down.failures)
    assert len(down.extra["notices"]) == 2
    siapp_notice = next(p for p in down.extra["notices"] if "notice-siapp" in p)
    assert "biro_app@setneg.go.id" in Path(siapp_notice).read_text()
    assert all(i.notice_path for i in store.findings.open_incidents())
    skipped = down.extra["endpoints"]["siasn"]["data-utama"]
    assert skipped["skipped"] == "no token" and skipped["probes"] == 0

    # 5. recovered: green, the outage incidents closed
    sb.set_faults({})
    back = _monitor(sb, store, "back", notice_dir=str(notices))
    assert back.failures == []
    assert back.counts.incidents_closed == 3
    assert store.findings.open_incidents() == []
    closed = store.findings.incidents(kind="outage")
    assert len(closed) == 3 and all(i.closed_at is not None for i in closed)

    # nothing personal, nothing secret, anywhere the monitor wrote
    personal = _personal_values(samples) | {nip}
    assert len(personal) > 5
    written = [
        json.dumps(store.findings.list(), default=str),
        json.dumps(store.lineage.list(dag_id="api_contract_monitor"), default=str),
        caplog.text,
        *(p.read_text() for p in notices.iterdir()),
    ]
    leaks = {v for v in personal | set(SECRETS) for text in written if v in text}
    assert leaks == set()
