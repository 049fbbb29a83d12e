"""The mail notifier against a local SMTP sink: off without recipients; a new breaking
incident and a task failure arrive with counts and endpoints, and without personal values or
secrets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from siapp_siasn.notifiers import NOTIFY_TO_ENV, HubMailNotifier, incident_mail, parse_recipients
from tests.monitor.conftest import SmtpSink

NIP = "199001012015011001"
RECORD = {
    "dag_id": "api_contract_monitor",
    "run_id": "scheduled__2026-03-02T03:10:00+00:00",
    "task_id": "probe",
    "lineage_id": "6f1c0d7e-0000-4000-8000-000000000001",
    "counts": {"probes": 45, "ok": 45, "findings": 31, "breaking": 7},
    "failures": [
        "siasn data-utama: retyped golRuangAkhirId: string → integer; "
        "missing field tglLahir (string)",
    ],
    "extra": {
        "new_breaking_incidents": [4],
        "open_incidents": [
            {
                "id": 4,
                "kind": "drift",
                "system": "siasn",
                "endpoint": "/apisiasn/1.0/pns/data-utama/{nip}",
                "severity": "breaking",
            }
        ],
        "notices": ["/srv/hub/notices/notice-siasn-20260302T031000Z-6f1c0d7e.txt"],
    },
}


def _body(sink: SmtpSink, n: int = 0) -> str:
    return sink.messages[n][1].get_content()


def test_no_recipients_no_mail(smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NOTIFY_TO_ENV, raising=False)
    notifier = HubMailNotifier(host="127.0.0.1", port=smtp_sink.port)
    assert notifier.send_incident(RECORD) is False
    assert HubMailNotifier(to="  ", host="127.0.0.1", port=smtp_sink.port).send("s", "b") is False
    assert smtp_sink.messages == []


def test_incident_mail_arrives_with_counts_and_endpoint(smtp_sink: SmtpSink) -> None:
    notifier = HubMailNotifier(
        to="ops@example.org, duty@example.org", host="127.0.0.1", port=smtp_sink.port
    )
    assert notifier.send_incident(RECORD) is True
    ((rcpt, msg),) = smtp_sink.messages
    assert rcpt == ["ops@example.org", "duty@example.org"]
    assert "1 new breaking API incident(s): siasn" in msg["Subject"]
    body = _body(smtp_sink)
    assert "probes 45, ok 45, findings 31, breaking 7" in body
    assert "/apisiasn/1.0/pns/data-utama/{nip}" in body
    assert "retyped golRuangAkhirId: string → integer" in body
    assert RECORD["extra"]["notices"][0] in body
    assert body.replace("\r\n", "\n") == incident_mail(RECORD)[1]


def test_failure_callback_mail_is_redacted(
    smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NOTIFY_TO_ENV, "ops@example.org")
    ti = SimpleNamespace(
        dag_id="api_contract_monitor",
        task_id="probe",
        xcom_pull=lambda **_: {"counts": {"probes": 3, "failed": 3}},
    )
    error = RuntimeError(
        f"probe: siasn gateway token: HTTP 503; token Bearer eyJabc.def.ghi for {NIP} "
        "sent by someone@example.org"
    )
    context = {"ti": ti, "dag_run": SimpleNamespace(run_id="manual__1"), "exception": error}
    HubMailNotifier(host="127.0.0.1", port=smtp_sink.port)(context)
    ((rcpt, msg),) = smtp_sink.messages
    assert rcpt == ["ops@example.org"]
    assert msg["Subject"].endswith("task failed: api_contract_monitor.probe")
    body = _body(smtp_sink)
    assert "siasn gateway token: HTTP 503" in body and "probes 3, failed 3" in body
    for secret in (NIP, "eyJabc", "someone@example.org"):
        assert secret not in body


def test_recipients_parse() -> None:
    assert parse_recipients("a@x; b@x ,") == ["a@x", "b@x"]
    assert parse_recipients(["a@x", ""]) == ["a@x"]
    assert parse_recipients(None) == []
