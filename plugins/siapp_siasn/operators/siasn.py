"""Operators of the ``siasn_asn_daily`` DAG: each names its call into
:mod:`siapp_siasn.flows.asn_pull`; :class:`~siapp_siasn.operators.base.HubOperator` does the rest.

Flows are imported inside ``run_flow`` so that parsing a DAG file imports no store or client.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from siapp_siasn.operators.base import HubOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.lineage import LineageRecord
    from siapp_siasn.store import Store


# Templated fields arrive as native values (render_template_as_native_obj) or as strings.
def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _as_list(value: Any) -> list[str]:
    if value in (None, "", "None"):
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [str(v) for v in value]


class SiasnReferensiOperator(HubOperator):
    """F2: pull SIASN reference tables into the store.

    :param refs: the tables to pull (default: every table the hub knows).
    """

    template_fields: Sequence[str] = ("refs",)
    ui_color = "#d8f0e3"

    def __init__(self, *, refs: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refs = list(refs) if refs else None

    def run_flow(self, store: Store, run: RunContext, context: Context) -> Awaitable[LineageRecord]:
        from siapp_siasn.flows.asn_pull import pull_referensi
        from siapp_siasn.models.siasn import REFERENCE_TABLES

        return pull_referensi(self.siasn_client(), store, self.refs or REFERENCE_TABLES, run)


class SiasnAsnPullOperator(HubOperator):
    """F1: pull data utama + keluarga of ASN golongan IV/b and above.

    :param full_refresh: sweep every employee, not only the changes.
    :param nips: pull only these NIPs.
    :param batch_size: employees per committed batch.
    :param full_sweep_every_days: days between two automatic full sweeps.
    """

    template_fields: Sequence[str] = ("full_refresh", "nips", "batch_size")
    ui_color = "#cfe8f7"

    def __init__(
        self,
        *,
        full_refresh: bool | str = False,
        nips: Sequence[str] | str | None = None,
        batch_size: int | str = 500,
        full_sweep_every_days: int = 7,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.full_refresh = full_refresh
        self.nips = nips
        self.batch_size = batch_size
        self.full_sweep_every_days = full_sweep_every_days

    def run_flow(self, store: Store, run: RunContext, context: Context) -> Awaitable[LineageRecord]:
        from siapp_siasn.flows.asn_pull import PullParams, pull_asn

        params = PullParams(
            full_refresh=_as_bool(self.full_refresh),
            nips=_as_list(self.nips),
            batch_size=int(self.batch_size),
            full_sweep_every_days=int(self.full_sweep_every_days),
        )
        return pull_asn(self.siasn_client(), store, params, run)


class AsnQualityCheckOperator(HubOperator):
    """Quality gates on the mirror after the pulls it follows.

    :param max_quarantine_rate: share of the pulled records quarantined above which the
        quarantine gate fails (only with ``min_quarantined`` reached too).
    :param min_quarantined: quarantined records below which the quarantine gate never fails.
    """

    template_fields: Sequence[str] = ("max_quarantine_rate", "min_quarantined")
    ui_color = "#f7e3cf"

    def __init__(
        self,
        *,
        max_quarantine_rate: float | str = 0.02,
        min_quarantined: int | str = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_quarantine_rate = max_quarantine_rate
        self.min_quarantined = min_quarantined

    def run_flow(self, store: Store, run: RunContext, context: Context) -> LineageRecord:
        from siapp_siasn.flows.asn_pull import QualityGate, check_quality

        gate = QualityGate(float(self.max_quarantine_rate), int(self.min_quarantined))
        return check_quality(store, self.upstream_records(context), gate, run)
