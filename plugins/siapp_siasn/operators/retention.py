"""Operator of the ``hub_retention`` DAG: names its call into
:mod:`siapp_siasn.flows.retention`; :class:`~siapp_siasn.operators.base.HubOperator` does the
rest (the purge's lineage record to XCom and the store).

The flow is imported inside ``run_flow`` so that parsing the DAG file imports no store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from siapp_siasn.operators.base import HubOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.lineage import LineageRecord
    from siapp_siasn.store import Store


def as_days(value: int | str) -> int:
    """``max_age_days`` as an int: a rendered template gives text."""
    from siapp_siasn.flows.context import FlowConfigError

    try:
        return int(str(value).strip())
    except ValueError:
        raise FlowConfigError("max_age_days must be a whole number of days") from None


class RetentionOperator(HubOperator):
    """Purge raw payloads, quarantine rows, finished outbox bodies and report files older than
    ``max_age_days`` (PKS art. 11); lineage rows stay.

    :param max_age_days: age in days past which data is purged (templated; at least 1).
    """

    template_fields: Sequence[str] = ("max_age_days",)
    ui_color = "#e8e0f0"

    def __init__(self, *, max_age_days: int | str = 365, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_age_days = max_age_days

    def run_flow(self, store: Store, run: RunContext, context: Context) -> LineageRecord:
        from siapp_siasn.flows.retention import purge_expired

        return purge_expired(store, as_days(self.max_age_days), run=run)
