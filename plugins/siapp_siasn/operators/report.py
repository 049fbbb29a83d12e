"""Operator of the ``pks_monitoring_report`` DAG: names its call into
:mod:`siapp_siasn.flows.monitoring_report`; :class:`~siapp_siasn.operators.base.HubOperator`
does the rest (the report's lineage record to XCom, the store and the Asset event).

The flow is imported inside ``run_flow`` so that parsing the DAG file imports no store, numpy or
matplotlib.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siapp_siasn.operators.base import HubOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.lineage import LineageRecord
    from siapp_siasn.store import Store

#: where reports go when no folder is given
DEFAULT_REPORT_DIR = Path(tempfile.gettempdir()) / "siapp_siasn_reports"


def run_day(context: Context) -> dt.date:
    """The Jakarta day the run stands for: its ``run_after`` (Airflow 3 sets it for every
    run, scheduled or manual), else its logical date."""
    from siapp_siasn.flows.context import LOCAL_TZ

    dag_run = context["dag_run"]
    when = getattr(dag_run, "run_after", None) or context.get("logical_date")
    if when is None:
        return dt.datetime.now(LOCAL_TZ).date()
    return when.astimezone(LOCAL_TZ).date()


class MonitoringReportOperator(HubOperator):
    """The monitoring & evaluation report of a period (HTML with charts, a CSV per table).

    :param period_from: first Jakarta day of the period (``YYYY-MM-DD``); with ``period_to``.
    :param period_to: last Jakarta day of the period, included. Both empty: the calendar month
        before the run's day (a run on 1 November reports October).
    :param report_dir: folder under which the period's folder is written (empty: the temp
        directory's ``siapp_siasn_reports``).
    """

    template_fields: Sequence[str] = ("period_from", "period_to", "report_dir")
    ui_color = "#f0e6d8"

    def __init__(
        self,
        *,
        period_from: str | None = None,
        period_to: str | None = None,
        report_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.period_from = period_from
        self.period_to = period_to
        self.report_dir = report_dir

    def period(self, context: Context) -> tuple[Any, Any]:
        """The period asked for, else the month before the run's day."""
        from siapp_siasn.flows.context import FlowConfigError
        from siapp_siasn.flows.monitoring_report import parse_period, previous_month

        first, last = (str(v or "").strip() for v in (self.period_from, self.period_to))
        if first and last:
            return parse_period(first, last)
        if first or last:
            raise FlowConfigError("give both period_from and period_to, or neither")
        return previous_month(run_day(context))

    def run_flow(self, store: Store, run: RunContext, context: Context) -> LineageRecord:
        from siapp_siasn.flows.monitoring_report import build_monitoring_report

        first, last = self.period(context)
        out_dir = Path(self.report_dir) if self.report_dir else DEFAULT_REPORT_DIR
        return build_monitoring_report(store, first, last, out_dir, run=run).record

    def publish(self, context: Context, store: Store, record: LineageRecord) -> dict[str, Any]:
        """As every hub operator, and the report's paths at the top of the Asset event."""
        payload = super().publish(context, store, record)
        report = (payload.get("extra") or {}).get("report")
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {
                "lineage": payload,
                "report": report,
                "period": {k: payload["window"].get(k) for k in ("period_from", "period_to")},
            }
        return payload
