"""End to end: the real `api_contract_monitor` DAG run by `airflow dags test` against the
sandbox: a drifted SIASN fails the run with its diff, writes the notice, mails the incident and
the failure (SMTP connection `smtp_default` → a sink on loopback); the next run, with the API
healthy again, is green and closes the incidents."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from siapp_sandbox.testing import run_sandbox
from siapp_siasn.airflow_env import AirflowEnv, sandbox_connections
from siapp_siasn.store import Store
from tests.flows.conftest import HASH_KEY
from tests.monitor.conftest import SmtpSink

pytestmark = pytest.mark.e2e

DRIFT = {"schema_drift": {"retype": {"golRuangAkhirId": "int"}, "add": {"flagIkd": "1"}}}


def _states(home: Path) -> list[str]:
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "select state from task_instance where dag_id = 'api_contract_monitor' "
            "and task_id = 'probe' order by start_date"
        ).fetchall()
    return [r[0] for r in rows]


def test_drifted_run_fails_notifies_then_recovers(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    AirflowEnv(home).migrate(log_path=tmp_path / "migrate.log")
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = Store(store_url, hash_key=HASH_KEY)
    store.migrate()
    notices = tmp_path / "notices"
    conf: dict[str, Any] = {"notice_dir": str(notices), "notify_to": "ops@example.org"}

    with run_sandbox(employees=300, seed=4) as sb, SmtpSink() as sink:
        connections = sandbox_connections(sb.siasn_url, sb.siapp_url, store_url)
        connections["smtp_default"] = {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": sink.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "hub@example.org"},
        }
        env = AirflowEnv(home, connections)

        sb.set_faults(DRIFT)
        log = tmp_path / "drift.log"
        code = env.dags_test("api_contract_monitor", conf=conf, log_path=log)
        assert code != 0, log.read_text()[-3000:]
        assert _states(home) == ["failed"]
        assert "siasn data-utama: retyped golRuangAkhirId: string → integer" in log.read_text()
        (record,) = store.lineage.list(dag_id="api_contract_monitor")
        assert record["extra"]["sample"] == {"nip_from": "pks-asn"}  # the store held none
        (notice,) = notices.iterdir()
        assert record["references"]["notice"]["where"] == str(notice)
        subjects = sorted(msg["Subject"] for _, msg in sink.messages)
        assert len(subjects) == 2, subjects
        assert "new breaking API incident(s): siasn" in subjects[0]
        assert subjects[1].endswith("task failed: api_contract_monitor.probe")
        assert all(rcpt == ["ops@example.org"] for rcpt, _ in sink.messages)
        incident_body = next(m for _, m in sink.messages if "incident" in m["Subject"])
        assert "/apisiasn/1.0/pns/data-utama/{nip}" in incident_body.get_content()
        assert store.findings.open_incidents()

        sb.set_faults({})
        log = tmp_path / "green.log"
        code = env.dags_test("api_contract_monitor", conf=conf, log_path=log)
        assert code == 0, log.read_text()[-3000:]
    assert _states(home) == ["failed", "success"]
    assert store.findings.open_incidents() == []
    assert len(sink.messages) == 2  # a green run mails nobody
