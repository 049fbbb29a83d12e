"""Leak audit (issue 14): run every DAG end to end against one sandbox with faults switched on,
collect everything the hub wrote outside its own data tables, and look in each source for every
personal value of the sandbox's ground truth and every secret and bearer token.

One module-scoped run (tests/security/_leak_runner.py, all six DAGs with ``dag.test()`` in one
process): ``siasn_asn_daily`` with malformed answers and short-lived tokens, then a re-pull of a
stored selection while SIASN drifts (quarantine, failed gate); ``usulan_sync`` over simulated
days, then with a PIC grant no retry delivers (dead letter, failed push and verdict);
``dokumen_reconciliation`` with damaged documents and withheld decrees (reports, a failed
reconcile); ``api_contract_monitor`` meeting breaking drift (a notice, a failed probe);
``pks_monitoring_report`` of the period; ``hub_retention``.

Sources, scanned one by one (a failure names the source, where in it and the kind of value, never
the value): task logs (the run's stdout/stderr and any file under the logs folder), XCom values,
Asset event extras, the store's lineage rows, the exceptions failed tasks raised, quarantine
rows, report files, notice files, the rest of Airflow's metadata database (conf, rendered
fields, audit log...), the store's reference mirror and its other tables that are not data
tables. Personal data may live only in ``asn``, ``asn_history``, ``asn_family``,
``usulan_lifecycle``, ``outbox`` and ``asn_selection`` (SECURITY.md, "Where personal data may
live"). Quarantine rows keep their record's non-personal dates, so birth dates are checked there
row by row against the row's own person (``audit_quarantine``, keyed hash traced).

Needles: every personal value of the truth of each employee the hub touched (tests/flows/_truth.py
``personal_values``: NIPs, NIK, names of the employee and the family, address, phone, e-mails,
birth dates in both spellings; birth dates from 2025 on are left out: they cannot be told from
the run's own dates), as the truth stood at the first pull and after the last run; the
dead-lettered PIC's NIP; the values the drifted SIASN added under unknown field names; the
connections' secrets (client secrets, SSO password, hash keys) and every token the sandbox issued
(``/_sandbox/truth/issued-tokens``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from siapp_sandbox.testing import run_sandbox
from siapp_siasn.airflow_env import PROJECT_ROOT, AirflowEnv, sandbox_connections
from siapp_siasn.store import Store
from tests.flows._truth import PERSONAL_KEYS, audit_quarantine, fetch_truth, personal_values
from tests.flows._usulan import WORLD
from tests.security._leak_runner import DRIFT_ADDED, UNKNOWN_NIP
from tests.security._leak_scan import Finding, Item, Needles, scan

pytestmark = pytest.mark.e2e

#: the store connection's hash key: a secret of its own, looked for like the others
HASH_KEY = "leak-audit-hash-key-5c1e9a"
#: the tables personal data may live in (SECURITY.md); every other store table is scanned
DATA_TABLES = frozenset(
    {"asn", "asn_history", "asn_family", "usulan_lifecycle", "outbox", "asn_selection"}
)
SOURCES = (
    "task_logs",
    "xcom",
    "asset_events",
    "lineage",
    "exceptions",
    "quarantine",
    "reports",
    "notices",
    "airflow_metadata",
    "referensi",
    "store_other_tables",
)
#: birth dates from this day on look like the run's own dates (the sandbox's calendar starts in
#: January 2026; the runs are stamped with today's): not looked for
BIRTH_DATES_BEFORE = "2025-01-01"


@dataclass
class Audit:
    items: dict[str, list[Item]]
    needles: Needles
    #: a sample of values to inject (guard of the guard): label -> value
    sample: dict[str, str]
    runs: list[dict[str, Any]]
    people: int
    tokens: int
    #: the store's quarantine rows and the truth of whom each may concern (NIP or usulan id)
    quarantine_rows: list[dict[str, Any]]
    keyed_people: dict[str, dict[str, Any]]


def _rows(engine: sa.Engine, table: str) -> list[dict[str, Any]]:
    with engine.connect() as c:
        t = sa.Table(table, sa.MetaData(), autoload_with=c)
        return [dict(r) for r in c.execute(sa.select(t)).mappings()]


def _as_items(source: str, table: str, rows: list[dict[str, Any]]) -> list[Item]:
    return [
        Item(source, f"{table}#{i}", json.dumps(row, default=str, ensure_ascii=False))
        for i, row in enumerate(rows)
    ]


def _files(source: str, folder: Path) -> list[Item]:
    if not folder.exists():
        return []
    return [
        Item(source, p.name, p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def _secrets(connections: dict[str, dict[str, Any]]) -> dict[str, str]:
    siasn, siapp = connections["siasn_api"], connections["siapp_api"]
    return {
        siasn["password"]: "secret:siasn_api.password",
        siasn["extra"]["sso_password"]: "secret:siasn_api.sso_password",
        siapp["password"]: "secret:siapp_api.password",
        HASH_KEY: "secret:store.hash_key",
        os.environ["SIAPP_SIASN_HASH_KEY"]: "secret:SIAPP_SIASN_HASH_KEY",
    }


def _personal(truths: dict[str, dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for truth in truths.values():
        for value, label in personal_values(truth).items():
            year = value[:4] if value[4] == "-" else value[-4:]  # yyyy-mm-dd or dd-mm-yyyy
            if label.endswith("tglLahir") and year >= BIRTH_DATES_BEFORE[:4]:
                continue
            out[value] = label
        for key in PERSONAL_KEYS:  # the rest of the keys: noTelp, noNpwp, noBpjs when served
            value = truth.get(key)
            if isinstance(value, str) and value.strip() and key != "tglLahir":
                out.setdefault(value.strip().lower(), key)
    out[UNKNOWN_NIP] = "nip(dead-lettered PIC)"
    out.update({v: f"drift-added:{k}" for k, v in DRIFT_ADDED.items()})
    return out


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audit]:
    tmp = tmp_path_factory.mktemp("leak_audit")
    home, out = tmp / "airflow", tmp / "out"
    out.mkdir()
    # the metadata database is created while the sandbox starts (two processes, two cores)
    migrate = AirflowEnv(home).spawn("db", "migrate", log_path=tmp / "migrate.log")
    store_url = f"sqlite:///{tmp / 'store.sqlite'}"
    with Store(store_url, hash_key=HASH_KEY.encode()) as store:
        store.migrate()
    with run_sandbox(**WORLD) as sb:
        assert migrate.wait(300) == 0, (tmp / "migrate.log").read_text()[-3000:]
        # a client-side rate limit far above loopback's pace (null means the default, 100/s)
        connections = sandbox_connections(
            sb.siasn_url, sb.siapp_url, store_url, rate_limit_rps=10_000
        )
        connections["siapp_api"]["extra"]["rate_limit_rps"] = 10_000
        connections["siapp_siasn_store"]["extra"]["hash_key"] = HASH_KEY
        env = AirflowEnv(home, connections)
        spec = {
            "siasn_url": sb.siasn_url,
            "store_url": store_url,
            "hash_key": HASH_KEY,
            "dags_folder": str(PROJECT_ROOT / "dags"),
            "out": str(out),
            "report_dir": str(tmp / "reports"),
            "notice_dir": str(tmp / "notices"),
            "usulan_days": 2,
            # the flows stamp rows with the wall clock: the report's period is the real one
            "period_from": "2026-01-01",
            "period_to": "2030-12-31",
        }
        (tmp / "spec.json").write_text(json.dumps(spec))
        # the truth as the first pull meets it (and, below, as the last runs leave it)
        first_truths = fetch_truth(sb, sb.truth("asn", min_gol=42)["nips"])
        with (tmp / "runner.stdout").open("wb") as so, (tmp / "runner.stderr").open("wb") as se:
            code = subprocess.run(
                [sys.executable, "-m", "tests.security._leak_runner", str(tmp / "spec.json")],
                env=env.environ(),
                cwd=PROJECT_ROOT,
                stdout=so,
                stderr=se,
                timeout=600,
                check=False,
            ).returncode
        assert code == 0, (tmp / "runner.stderr").read_text(errors="replace")[-6000:]

        with Store(store_url, hash_key=HASH_KEY.encode()) as store, store.engine.connect() as c:
            nips = set(c.scalars(sa.text("select nip from asn")))
            nips |= {n for n in c.scalars(sa.text("select nip from usulan_lifecycle")) if n}
        usulan = {u["id"]: u["nip"] for u in sb.truth("usulan")["usulan"] if u.get("nip")}
        nips |= set(usulan.values())
        truths = fetch_truth(sb, nips)
        issued = sb.truth("issued-tokens")

    runner = json.loads((out / "runner.json").read_text())
    tokens = {tok: f"token:{kind}" for kind, toks in issued["issued"].items() for tok in toks} | {
        issued["static_sso"]: "token:static_sso"
    }
    personal = _personal(first_truths) | _personal(truths)
    needles = Needles.of(personal | _secrets(connections) | tokens)

    items: dict[str, list[Item]] = {s: [] for s in SOURCES}
    items["task_logs"] = [
        Item("task_logs", name, (tmp / name).read_text(errors="replace"))
        for name in ("runner.stdout", "runner.stderr")
    ] + _files("task_logs", home / "logs")
    items["exceptions"] = [
        Item("exceptions", f"{f['dag_id']}.{f['task_id']}#{i}", f["error"])
        for i, f in enumerate(runner["failures"])
    ]
    items["reports"] = _files("reports", out / "kept" / "report_dir")
    items["notices"] = _files("notices", out / "kept" / "notice_dir")

    airflow_db = sa.create_engine(f"sqlite:///{home / 'airflow.db'}")
    with airflow_db.connect() as c:
        tables = sorted(sa.inspect(c).get_table_names())
    for table in tables:
        rows = _rows(airflow_db, table)
        if table == "xcom":
            items["xcom"] = _as_items("xcom", table, rows)
        elif table == "asset_event":
            items["asset_events"] = [
                Item("asset_events", f"asset_event#{r['id']}", str(r["extra"])) for r in rows
            ]
        else:
            items["airflow_metadata"] += _as_items("airflow_metadata", table, rows)
    airflow_db.dispose()

    store_db = sa.create_engine(store_url)
    with store_db.connect() as c:
        store_tables = sorted(sa.inspect(c).get_table_names())
    quarantine: list[dict[str, Any]] = []
    for table in store_tables:
        if table in DATA_TABLES:
            continue
        rows = _rows(store_db, table)
        quarantine += rows if table == "quarantine" else []
        source = table if table in ("lineage", "quarantine", "referensi") else "store_other_tables"
        items[source] += _as_items(source, table, rows)
    store_db.dispose()

    person = next(iter(truths.values()))
    sample = {
        "nipBaru": person["nipBaru"],
        "nama": person["nama"],
        "token:gateway": issued["issued"]["gateway"][0],
    }
    keyed = truths | {uid: truths[nip] for uid, nip in usulan.items()}
    yield Audit(items, needles, sample, runner["runs"], len(truths), len(tokens), quarantine, keyed)


# ------------------------------------------------------------------------------ the scenario ran
def _states(audit: Audit, dag_id: str) -> list[dict[str, str]]:
    return [r["tasks"] for r in audit.runs if r["dag_id"] == dag_id]


def test_every_dag_ran_and_the_fault_paths_were_taken(audit: Audit) -> None:
    """The audit reads what the interesting paths write: each of the six DAGs ran, the drifted
    re-pull failed its gate, the dead letter failed the push, the orphan failed reconcile, the
    drift failed the monitor's probe; and the needles are many (hundreds of people, tokens)."""
    pulls = _states(audit, "siasn_asn_daily")
    assert [p["quality_checks"] for p in pulls] == ["success", "failed"]
    assert pulls[0]["pull_asn"] == "success"
    usulan = _states(audit, "usulan_sync")
    assert usulan[-1]["push_siasn"] == "failed" and usulan[-1]["run_verdict"] == "failed"
    assert all(u["push_siapp"] == "success" for u in usulan)
    (recon,) = _states(audit, "dokumen_reconciliation")
    assert recon == {"check_keppres": "success", "reconcile": "failed", "run_verdict": "failed"}
    assert _states(audit, "api_contract_monitor") == [{"probe": "failed"}]
    assert _states(audit, "pks_monitoring_report") == [{"monitoring_report": "success"}]
    assert _states(audit, "hub_retention") == [{"purge_expired": "success"}]
    failed = {i.where.split("#")[0] for i in audit.items["exceptions"]}
    assert {
        "siasn_asn_daily.quality_checks",
        "usulan_sync.push_siasn",
        "dokumen_reconciliation.reconcile",
        "api_contract_monitor.probe",
    } <= failed
    reasons = {r["reason"] for r in audit.quarantine_rows}
    assert {"invalid", "missing_fields"} <= reasons
    files = {i.where for i in audit.items["reports"]}
    assert {"monitoring_report.html", "flows.csv"} <= files
    assert any(f.startswith("reconciliation-") and f.endswith(".csv") for f in files)
    assert [i.where.startswith("notice-siasn-") for i in audit.items["notices"]] == [True]
    assert audit.people > 300 and audit.tokens > 3
    assert len(audit.needles) > 5 * audit.people


@pytest.mark.parametrize("source", SOURCES)
def test_the_audit_read_the_source(audit: Audit, source: str) -> None:
    """Each source holds something (an empty source would pass the scan vacuously)."""
    items = audit.items[source]
    assert items, f"{source}: nothing collected"
    assert sum(len(i.text) for i in items) > 100, f"{source}: next to nothing collected"


def _report(findings: list[Finding]) -> str:
    return "\n".join(f"{f.source}: {f.where}: {f.label}" for f in findings[:50])


@pytest.mark.parametrize("source", SOURCES)
def test_no_personal_value_nor_secret_in(audit: Audit, source: str) -> None:
    needles = audit.needles
    if source == "quarantine":
        # a quarantined record keeps its non-personal dates (TMTs...), which may equal someone
        # else's birth date: birth dates are checked per row below, against its own person
        needles = needles.without_dates()
    if source == "referensi":
        # the mirror of SIASN's reference tables keeps each row as served, and the drift the
        # sandbox served during the re-pull added its probe fields to every answer, reference
        # rows included: there they are SIASN's data, not a leak (every other needle counts)
        needles = needles.without_labels("drift-added:")
    findings = scan(audit.items[source], needles)
    assert not findings, f"{len(findings)} leak(s) (source: where: kind):\n{_report(findings)}"
    if source == "quarantine":
        checked = audit_quarantine(audit.quarantine_rows, audit.keyed_people, HASH_KEY.encode())
        assert checked.traced > 0, "no quarantine row traced to a person: nothing checked"
        assert checked.leaks == [], f"(row id, entity kind, field): {checked.leaks[:50]}"


@pytest.mark.parametrize("source", SOURCES)
def test_the_scanner_finds_a_value_injected_into_a_copy_of(audit: Audit, source: str) -> None:
    """Guard of the guard: a NIP in a URL path, a name in capitals and a token in a header,
    written into a copy of the source's first item, are each found and named."""
    first = audit.items[source][0]
    nip, name, token = audit.sample["nipBaru"], audit.sample["nama"], audit.sample["token:gateway"]
    planted = (
        f"{first.text}\nGET /apisiasn/1.0/pns/data-utama/{nip} name={name.upper()} "
        f"Authorization: Bearer {token}\n"
    )
    copy = [Item(source, first.where, planted), *audit.items[source][1:]]
    found = {(f.where, f.label) for f in scan(copy, audit.needles)}
    # the labels the needles give these values (a name may be another person's too)
    labels = {label for v in (nip, name, token) for label in audit.needles.find(v)}
    assert {"nipBaru", "token:gateway"} < labels
    assert {(first.where, label) for label in labels} <= found


def test_the_scanner_matches_values_as_the_hub_would_write_them() -> None:
    """Without the run: digits inside paths, query strings and longer runs, both date
    spellings, any case; a near miss (one digit off, a shorter run) is not a finding."""
    nip, nik = "196207142000072989", "6475045407627995"
    needles = Needles.of(
        {
            nip: "nipBaru",
            nik: "nik",
            "Nita Hutapea": "nama",
            "1962-07-14": "tglLahir",
            "085391534063": "noHp",
        }
    )
    texts = {
        "phone": "hp +6285391534063",
        "path": f"GET /pns/data-utama/{nip}",
        "query": f"?nip={nip}&x=1",
        "glued": f"id_{nik}99",
        "case": "nama: NITA HUTAPEA",
        "dmy": "lahir 14-07-1962",
        "iso": "born 1962-07-14T00:00",
        "near": f"{nip[:-1]}8 {nip[:12]} nita  hutapea 1962-07-15 85391534063",
    }
    found = scan([Item("t", k, v) for k, v in texts.items()], needles)
    assert [(f.where, f.label) for f in found] == [
        ("case", "nama"),
        ("dmy", "tglLahir"),
        ("glued", "nik"),
        ("iso", "tglLahir"),
        ("path", "nipBaru"),
        ("phone", "noHp"),
        ("query", "nipBaru"),
    ]
