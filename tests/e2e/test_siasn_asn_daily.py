"""End to end: the real `siasn_asn_daily` DAG run by `airflow dags test` against the sandbox.

Each run is a real Airflow run (SQLite metadata under a temp AIRFLOW_HOME, the project's dags/
and plugins/), the store is a SQLite file or a real PostgreSQL database. The field-by-field
comparison with ground truth lives in tests/flows; here we check what only a DAG run shows:
tasks wired, connections read (the store's hash key among them), lineage in XCom, in the store
and on the Asset events, the second (incremental) run fetching only what changed, and the
quality gate letting a small run with one quarantined employee pass.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.testing import RunningSandbox, run_sandbox
from siapp_siasn.airflow_env import AirflowEnv, sandbox_connections
from siapp_siasn.models.redact import keyed_hash
from siapp_siasn.store import Store

pytestmark = pytest.mark.e2e

EMPLOYEES = 2500
SEED = 11
#: the store connection's secret of the quarantine's keyed hashes; not the tests' default
#: ($SIAPP_SIASN_HASH_KEY, set in tests/conftest.py), so that only the connection can give it
HASH_KEY = "e2e-store-connection-hash-key"


@pytest.fixture(scope="module")
def airflow_env_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow")
    AirflowEnv(home).migrate(log_path=home / "migrate.log")
    return home


def _employee_requests(sandbox: RunningSandbox) -> dict[str, int]:
    routes = sandbox.stats()["routes"].get("siasn", {})
    return {k: v["count"] for k, v in routes.items() if "/pns/" in k}


def _changed_in_scope(sandbox: RunningSandbox, since_day: int, before: set[str]) -> set[str]:
    """NIPs that changed after `since_day` and are, or were, in the IV/b+ mirror."""
    changes = sandbox.truth("changes", since=since_day + 1)["changes"]
    now = set(sandbox.truth("asn", min_gol=42)["nips"])
    return {c["nip"] for c in changes} & (before | now)


def _asset_event_lineage(home: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "select a.uri, e.extra from asset_event e join asset a on a.id = e.asset_id"
        ).fetchall()
    return [{"uri": uri, **json.loads(extra)} for uri, extra in rows]


def _run(env: AirflowEnv, log: Path, conf: dict[str, Any] | None = None) -> None:
    code = env.dags_test("siasn_asn_daily", conf=conf, log_path=log)
    assert code == 0, f"DAG run failed; log: {log}\n{log.read_text()[-4000:]}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_nightly_runs_mirror_the_sandbox_and_the_second_fetches_only_changes(
    backend: str,
    airflow_env_home: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if backend == "postgresql":
        store_url = request.getfixturevalue("postgres_db_url")
    else:
        store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    Store(store_url).migrate()

    with run_sandbox(employees=EMPLOYEES, seed=SEED) as sandbox:
        connections = sandbox_connections(sandbox.siasn_url, sandbox.siapp_url, store_url)
        connections["siapp_siasn_store"]["extra"]["hash_key"] = HASH_KEY
        env = AirflowEnv(airflow_env_home, connections)
        truth_day0 = set(sandbox.truth("asn", min_gol=42)["nips"])
        assert truth_day0, "the sandbox world should hold IV/b+ employees"

        _run(env, tmp_path / "run1.log")
        store = Store(store_url)
        assert store.asn.active_nips() == truth_day0
        first = _employee_requests(sandbox)
        assert first["GET /apisiasn/1.0/pns/data-utama/{nipBaru}"] == len(truth_day0)

        # advance until some in-scope employees changed, then run the incremental pull
        day0 = sandbox.clock()["day"]
        for _ in range(12):
            sandbox.advance(3)
            changed = _changed_in_scope(sandbox, day0, truth_day0)
            if changed:
                break
        assert changed, "the sandbox should change some IV/b+ employees within 36 days"
        history_before = store.stats()["asn_history"]["rows"]
        sandbox.reset_stats()

        _run(env, tmp_path / "run2.log")
        second = _employee_requests(sandbox)
        fetched = second.get("GET /apisiasn/1.0/pns/data-utama/{nipBaru}", 0)
        assert fetched == len(changed)
        assert all(n == len(changed) for n in second.values())

        truth_now = set(sandbox.truth("asn", min_gol=42)["nips"])
        assert store.asn.active_nips() == truth_now
        history_after = store.stats()["asn_history"]["rows"]
        assert 0 < history_after - history_before <= len(changed)

        # a re-pull of one employee whose record SIASN serves malformed: quarantined under the
        # connection's key, and one of one quarantined fails no quality gate
        nip = sorted(truth_now)[0]
        sandbox.set_faults({"malformed_rate": 1.0})
        _run(env, tmp_path / "run3.log", conf={"nips": [nip]})
        sandbox.set_faults({})
        quarantined = store.quarantine.list(flow="F1")
        assert quarantined, "the malformed employee must be quarantined"
        assert {q["key_hash"] for q in quarantined} == {keyed_hash(nip, secret=HASH_KEY)}
        assert keyed_hash(nip, secret=os.environ["SIAPP_SIASN_HASH_KEY"]) != keyed_hash(
            nip, secret=HASH_KEY
        )

        lineage = store.lineage.list(dag_id="siasn_asn_daily")
        quality = max(
            (r for r in lineage if r["flow"] == "F1-quality"), key=lambda r: r["started_at"]
        )
        assert quality["counts"]["quarantined"] == 1 and quality["failures"] == []
        assert quality["extra"]["quarantine_rate"] == 1.0
        pulls = [r for r in lineage if r["flow"] == "F1" and r["window"]["mode"] != "nips"]
        assert [p["window"]["mode"] for p in sorted(pulls, key=lambda r: r["started_at"])] == [
            "full",
            "incremental",
        ]
        referensi_ids = {r["lineage_id"] for r in lineage if r["flow"] == "F2"}
        assert all(set(p["upstream"]) & referensi_ids for p in pulls)

    events = _asset_event_lineage(airflow_env_home)
    by_id = {e["lineage"]["lineage_id"]: e["uri"] for e in events}
    for pull in pulls:
        assert by_id[pull["lineage_id"]].rstrip("/") == "siasn://asn"
    text = json.dumps(lineage)
    for nip in list(truth_day0)[:50]:
        assert nip not in text, "lineage must not carry NIPs"
