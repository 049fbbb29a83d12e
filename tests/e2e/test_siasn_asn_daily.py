"""End to end: the real `siasn_asn_daily` DAG run by `airflow dags test` against the sandbox.

Each run is a real Airflow run (SQLite metadata under a temp AIRFLOW_HOME, the project's dags/
and plugins/), the store is a SQLite file or a real PostgreSQL database. The field-by-field
comparison with ground truth lives in tests/flows; here we check what only a DAG run shows:
tasks wired, connections read (the store's hash key among them), lineage in XCom, in the store
and on the Asset events, the second (incremental) run fetching only what changed, and the
quality gate letting a small run with one quarantined employee pass. A re-pull of some
employees takes a stored selection's id: the run pulls exactly them and Airflow's metadata
(conf, rendered fields, audit log, XCom) and the task logs hold no NIP; raw NIPs in conf fail
``pull_asn`` with what to do instead.
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

        # a re-pull of one employee (a stored selection) whose record SIASN serves malformed:
        # quarantined under the connection's key, and one of one quarantined fails no gate
        nip = sorted(truth_now)[0]
        selection = store.selection.create([nip], "e2e: re-pull one employee")
        sandbox.set_faults({"malformed_rate": 1.0})
        _run(env, tmp_path / "run3.log", conf={"selection": selection.id})
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
        [repull] = [r for r in lineage if r["flow"] == "F1" and r["window"]["mode"] == "selection"]
        assert repull["window"]["selection"] == selection.id
        pulls = [r for r in lineage if r["flow"] == "F1" and r is not repull]
        assert [p["window"]["mode"] for p in sorted(pulls, key=lambda r: r["started_at"])] == [
            "full",
            "incremental",
        ]
        referensi_ids = {r["lineage_id"] for r in lineage if r["flow"] == "F2"}
        assert all({u["lineage_id"] for u in p["upstream"]} & referensi_ids for p in pulls)

    events = _asset_event_lineage(airflow_env_home)
    by_id = {e["lineage"]["lineage_id"]: e["uri"] for e in events}
    for pull in pulls:
        assert by_id[pull["lineage_id"]].rstrip("/") == "siasn://asn"
    text = json.dumps(lineage)
    for nip in list(truth_day0)[:50]:
        assert nip not in text, "lineage must not carry NIPs"


# ------------------------------------------------------------------------------ no NIPs in the UI
SMALL_WORLD = 600


def _metadata_rows(home: Path) -> dict[str, list[str]]:
    """Every row of every table of the Airflow metadata database, as text, per table."""
    out: dict[str, list[str]] = {}
    with sqlite3.connect(home / "airflow.db") as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            rows = db.execute(f'select * from "{table}"').fetchall()
            out[table] = [
                " ".join(
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row
                )
                for row in rows
            ]
    return out


def _query(home: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(sql, args).fetchall()


def _task_logs(home: Path, run_log: Path) -> str:
    """What the run logged: the `airflow dags test` output and any task log file."""
    texts = [run_log.read_text(errors="replace")]
    texts += [
        p.read_text(errors="replace") for p in sorted((home / "logs").rglob("*")) if p.is_file()
    ]
    return "\n".join(texts)


@pytest.fixture
def small_world(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Any:
    """A fresh Airflow home, a migrated SQLite store and a small sandbox, wired together."""
    home = tmp_path_factory.mktemp("airflow-selection")
    AirflowEnv(home).migrate(log_path=home / "migrate.log")
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    Store(store_url).migrate()
    with run_sandbox(employees=SMALL_WORLD, seed=SEED) as sandbox:
        connections = sandbox_connections(sandbox.siasn_url, sandbox.siapp_url, store_url)
        connections["siapp_siasn_store"]["extra"]["hash_key"] = HASH_KEY
        yield home, AirflowEnv(home, connections), Store(store_url), sandbox


def test_a_selection_re_pull_fetches_exactly_it_and_airflow_holds_no_nip(
    small_world: Any, tmp_path: Path
) -> None:
    """Triggered with a selection id, the run pulls exactly its employees; then neither the
    rendered template fields, the run's conf, the audit log, XCom nor the task logs (nor any
    other row of Airflow's metadata database) hold a NIP of the selection: only its id."""
    home, env, store, sandbox = small_world
    truth = sorted(sandbox.truth("asn", min_gol=42)["nips"])
    chosen = truth[:: max(1, len(truth) // 5)][:5]
    selection = store.selection.create(chosen, "e2e: no NIPs in the UI")

    run_log = tmp_path / "selection.log"
    _run(env, run_log, conf={"selection": selection.id})

    assert store.asn.active_nips() == set(chosen)
    fetched = _employee_requests(sandbox)
    assert fetched["GET /apisiasn/1.0/pns/data-utama/{nipBaru}"] == len(chosen)

    # what the UI shows carries the id: conf, rendered fields, the audit log, XCom
    [(conf,)] = _query(home, "select conf from dag_run where dag_id = 'siasn_asn_daily'")
    assert conf is not None and selection.id in str(conf)
    rendered = _query(
        home,
        "select rendered_fields from rendered_task_instance_fields where task_id = 'pull_asn'",
    )
    assert rendered and selection.id in rendered[0][0]
    audit = [row for row in _metadata_rows(home)["log"] if selection.id in row]
    assert audit, "the audit log records the trigger (with the id)"
    xcom = _query(home, "select value from xcom where task_id = 'pull_asn'")
    assert xcom and any(selection.id in str(v) for (v,) in xcom)
    logs = _task_logs(home, run_log)
    assert f"re-pull of selection {selection.id}: {len(chosen)} employees" in logs

    # ... and no NIP of the selection, anywhere
    leaks = {
        table: sum(1 for row in rows if any(nip in row for nip in chosen))
        for table, rows in _metadata_rows(home).items()
    }
    assert {t: n for t, n in leaks.items() if n} == {}
    assert not [nip for nip in chosen if nip in logs]


def test_raw_nips_in_conf_fail_pull_asn_saying_what_to_do(small_world: Any, tmp_path: Path) -> None:
    """The former param (or any NIP in conf) fails the pull before it fetches anyone, with a
    message naming the fix; the task's log, rendered fields and XCom do not echo the NIPs."""
    home, env, store, sandbox = small_world
    nips = sorted(sandbox.truth("asn", min_gol=42)["nips"])[:2]
    run_log = tmp_path / "refused.log"
    code = env.dags_test("siasn_asn_daily", conf={"nips": nips}, log_path=run_log)
    assert code != 0

    states = dict(_query(home, "select task_id, state from task_instance"))
    assert states["pull_asn"] == "failed"
    assert states["quality_checks"] == "upstream_failed"
    assert store.asn.active_nips() == set()
    assert _employee_requests(sandbox).get("GET /apisiasn/1.0/pns/data-utama/{nipBaru}", 0) == 0
    logs = _task_logs(home, run_log)
    assert "'nips' (2 value(s), not shown) is no longer taken" in logs
    assert "siapp-siasn select create --file nips.txt" in logs

    rows = _metadata_rows(home)
    for table in ("rendered_task_instance_fields", "xcom", "task_instance"):
        assert not [row for row in rows[table] if any(nip in row for nip in nips)], table
