"""Operator of the ``api_contract_monitor`` DAG: one call of
:func:`siapp_siasn.flows.api_monitor.monitor_apis`; :class:`HubOperator` publishes the record.

The clients come from the same connections as every other task (tokens, proxy, TLS), with
fewer retries: the monitor reports an API that does not answer, it does not insist. A run that
opens a breaking incident mails the recipients (:class:`~siapp_siasn.notifiers.HubMailNotifier`,
off without recipients) before the task fails on the record's ``failures``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from siapp_siasn.operators.base import HubOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.lineage import LineageRecord
    from siapp_siasn.store import Store


class ApiMonitorOperator(HubOperator):
    """Probe SIASN and SIAPP NV, classify contract drift, open and close incidents.

    :param repeats: calls per read endpoint (latency p50/p95 over them).
    :param outage_after_s: seconds an outage may last before the task fails (0: at once).
    :param slow_ms: p95 latency above which an endpoint is reported ``slow`` (warning).
    :param notice_dir: folder of the notices for the other party (empty: temp directory).
    :param max_retries: retries of one call.
    :param notify_to: recipients of the new-breaking-incident mail (list or comma-separated;
        empty: ``$SIAPP_SIASN_NOTIFY_TO``; none: no mail).
    :param smtp_conn_id: Airflow connection of the SMTP server.
    """

    template_fields: Sequence[str] = (
        "repeats",
        "outage_after_s",
        "slow_ms",
        "notice_dir",
        "notify_to",
    )
    ui_color = "#f7e3d8"

    def __init__(
        self,
        *,
        repeats: int | str = 3,
        outage_after_s: float | str = 0.0,
        slow_ms: float | str = 5000.0,
        notice_dir: str | None = None,
        max_retries: int = 2,
        notify_to: str | Sequence[str] | None = None,
        smtp_conn_id: str = "smtp_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repeats = repeats
        self.outage_after_s = outage_after_s
        self.slow_ms = slow_ms
        self.notice_dir = notice_dir
        self.max_retries = max_retries
        self.notify_to = notify_to
        self.smtp_conn_id = smtp_conn_id

    def run_flow(self, store: Store, run: RunContext, context: Context) -> Awaitable[LineageRecord]:
        from siapp_siasn.flows.api_monitor import MonitorParams, monitor_apis
        from siapp_siasn.hooks import SiappHook, SiasnHook

        params = MonitorParams(
            repeats=int(self.repeats),
            outage_after_s=float(self.outage_after_s),
            slow_ms=float(self.slow_ms),
            notice_dir=str(self.notice_dir) if self.notice_dir else None,
            max_retries=int(self.max_retries),
        )
        overrides = {"max_retries": params.max_retries}
        siasn = SiasnHook(self.siasn_conn_id, **overrides).get_client()
        siapp = SiappHook(self.siapp_conn_id, **overrides).get_client()
        return monitor_apis(siasn, siapp, store, params, run)

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            return super().execute(context)
        finally:
            # the record is published before a failing task raises: mail its new incidents
            record = self.lineage_record
            if record and (record.get("extra") or {}).get("new_breaking_incidents"):
                self.notify_incidents(record)

    def notify_incidents(self, record: dict[str, Any]) -> None:
        from siapp_siasn.notifiers import HubMailNotifier

        notifier = HubMailNotifier(to=self.notify_to, smtp_conn_id=self.smtp_conn_id)
        try:
            notifier.send_incident(record)
        except Exception:  # a mail server down must not hide the incident itself
            self.log.exception("the incident mail could not be sent")
