"""Mail to people when something breaks: Airflow's notifier interface, SMTP, off by default.

:class:`HubMailNotifier` is a :class:`airflow.sdk.bases.notifier.BaseNotifier`: pass it as a
task's or DAG's ``on_failure_callback`` and it mails the failure (DAG, task, run, the error line,
the counts of the task's lineage record). The API monitor's operator also calls
:meth:`HubMailNotifier.send_incident` when a run opens a breaking incident. The SMTP server is
an Airflow connection (``smtp_default`` by default; the fields of Airflow's SMTP connection:
host, port, login, password, extra ``from_email``, ``disable_tls``, ``disable_ssl``,
``timeout``). Recipients come from ``to`` (a list or comma-separated text, templated) or
``$SIAPP_SIASN_NOTIFY_TO``; with none, nothing is sent (the default).

The mail carries ids, counts, endpoint templates, field names and statuses; error text goes
through the clients' redaction (no digits runs, e-mail addresses, tokens), so no personal value
or secret reaches a mailbox. Plain ``smtplib`` rather than the SMTP provider's notifier: the hub
composes the text itself and must control every byte of it.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from siapp_siasn.clients.errors import redact

__all__ = ["NOTIFY_TO_ENV", "HubMailNotifier", "incident_mail", "parse_recipients"]

#: recipients when none are given (comma-separated); unset: no mail
NOTIFY_TO_ENV = "SIAPP_SIASN_NOTIFY_TO"
_PREFIX = "[SIAPP NV ⇄ SIASN hub]"


def parse_recipients(value: str | Sequence[str] | None) -> list[str]:
    """Addresses from a list or from comma/semicolon-separated text (blanks dropped)."""
    if value is None:
        return []
    parts = value.replace(";", ",").split(",") if isinstance(value, str) else list(value)
    return [p.strip() for p in parts if p and p.strip()]


def _scrub(text: object) -> str:
    """Error text redacted part by part (the redaction shortens each part, not the whole)."""
    return "; ".join(redact(part) for part in str(text).split("; "))


def _counts_line(record: Mapping[str, Any] | None) -> str:
    counts = (record or {}).get("counts") or {}
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def incident_mail(record: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and body for a monitor run that opened breaking incidents (from its lineage
    record: counts, failure lines, endpoints, notice paths)."""
    extra = record.get("extra") or {}
    new = extra.get("new_breaking_incidents") or []
    failures = record.get("failures") or []
    systems = sorted({line.split(" ", 1)[0] for line in failures})
    subject = f"{_PREFIX} {len(new)} new breaking API incident(s): {', '.join(systems) or 'API'}"
    lines = [
        f"The API contract and health monitor opened {len(new)} breaking incident(s) "
        f"(ids {', '.join(str(i) for i in new)}).",
        "",
        f"DAG {record.get('dag_id')}, run {record.get('run_id')}, task {record.get('task_id')}",
        f"Counts: {_counts_line(record)}",
        "",
        "What broke:",
        *(f"  - {_scrub(line)}" for line in failures),
        "",
        "Open incidents:",
        *(
            f"  #{i['id']} {i['kind']} {i['system']} {i['endpoint']} ({i['severity']})"
            for i in extra.get("open_incidents") or []
        ),
        "",
        "Notice(s) for the other party, ready to send (art. 16 correspondents):",
        *(f"  {path}" for path in extra.get("notices") or []),
        "",
        f"Findings: table finding, lineage_id={record.get('lineage_id')}",
    ]
    return subject, "\n".join(lines) + "\n"


class HubMailNotifier(BaseNotifier):
    """Mail a failure (``on_failure_callback``) or a new breaking incident over SMTP.

    :param to: recipients (list or comma-separated; templated); empty: ``$SIAPP_SIASN_NOTIFY_TO``;
        none at all: no mail.
    :param smtp_conn_id: Airflow connection of the SMTP server.
    :param sender: From address (default: the connection's ``from_email``, else its login).
    :param host, port: the SMTP server without a connection (tests, the CLI).
    """

    template_fields = ("to",)

    def __init__(
        self,
        *,
        to: str | Sequence[str] | None = None,
        smtp_conn_id: str = "smtp_default",
        sender: str | None = None,
        host: str | None = None,
        port: int | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__()
        self.to = to
        self.smtp_conn_id = smtp_conn_id
        self.sender = sender
        self.host = host
        self.port = port
        self.timeout = timeout

    # -- who and where ----------------------------------------------------------------------

    def recipients(self) -> list[str]:
        return parse_recipients(self.to) or parse_recipients(os.environ.get(NOTIFY_TO_ENV))

    def _server(self) -> dict[str, Any]:
        if self.host:
            return {"host": self.host, "port": self.port or 25, "tls": False, "ssl": False}
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(self.smtp_conn_id)
        extra = conn.extra_dejson or {}

        def flag(name: str) -> bool:
            return str(extra.get(name, "false")).lower() in ("1", "true", "yes")

        use_ssl = not flag("disable_ssl")
        return {
            "host": conn.host or "localhost",
            "port": conn.port or (465 if use_ssl else 25),
            "login": conn.login,
            "password": conn.password,
            "from": extra.get("from_email"),
            "ssl": use_ssl,
            "tls": not use_ssl and not flag("disable_tls"),
            "timeout": float(extra.get("timeout") or self.timeout),
        }

    # -- sending ----------------------------------------------------------------------------

    def send(self, subject: str, body: str) -> bool:
        """Send one plain-text mail; False (nothing sent) without recipients."""
        to = self.recipients()
        if not to:
            self.log.info("no recipients configured: notification not sent")
            return False
        server = self._server()
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = self.sender or server.get("from") or server.get("login") or "siapp-siasn-hub"
        msg["To"] = ", ".join(to)
        msg.set_content(body)
        timeout = server.get("timeout", self.timeout)
        if server["ssl"]:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                server["host"],
                server["port"],
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(server["host"], server["port"], timeout=timeout)
        with smtp:
            if server["tls"]:
                smtp.starttls(context=ssl.create_default_context())
            if server.get("login") and server.get("password"):
                smtp.login(server["login"], server["password"])
            smtp.send_message(msg)
        self.log.info("notification sent to %d recipient(s)", len(to))
        return True

    def send_incident(self, record: Mapping[str, Any]) -> bool:
        """Mail a monitor run's new breaking incidents (see :func:`incident_mail`)."""
        return self.send(*incident_mail(record))

    def notify(self, context: Any) -> None:
        """``on_failure_callback``: which task of which run failed, why, and its counts."""
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
        task_id = getattr(ti, "task_id", "?")
        run = context.get("dag_run")
        run_id = getattr(run, "run_id", None) or context.get("run_id", "?")
        error = context.get("exception")
        record = None
        if ti is not None:
            try:
                record = ti.xcom_pull(task_ids=task_id, key="return_value")
            except Exception:  # a mail without counts beats no mail
                record = None
        subject = f"{_PREFIX} task failed: {dag_id}.{task_id}"
        body = "\n".join(
            [
                f"DAG {dag_id}, run {run_id}: task {task_id} failed.",
                "",
                f"Error: {_scrub(error) if error is not None else '-'}",
                f"Counts: {_counts_line(record if isinstance(record, Mapping) else None)}",
                "",
                "The task log and the lineage record (table lineage) tell the rest.",
            ]
        )
        self.send(subject, body + "\n")
