"""Operators of the nightly ASN pull (F1) and the reference pull (F2).

Thin adapters over `siapp_siasn.flows.asn_pull`: connections in, lineage out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from siapp_siasn.operators.base import HubOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


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


class _SiasnOperator(HubOperator):
    def __init__(self, *, siasn_conn_id: str = "siasn_api", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.siasn_conn_id = siasn_conn_id

    def siasn_client(self):
        from siapp_siasn.hooks import SiasnHook

        return SiasnHook(siasn_conn_id=self.siasn_conn_id).get_client()


class SiasnReferensiOperator(_SiasnOperator):
    """F2: pull every SIASN reference table into the store."""

    template_fields: Sequence[str] = ("refs",)
    ui_color = "#d8f0e3"

    def __init__(self, *, refs: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refs = list(refs) if refs else None

    def execute(self, context: Context) -> dict[str, Any]:
        from siapp_siasn.flows.asn_pull import DEFAULT_REFS, pull_referensi

        store = self.get_store()
        run = self.run_context(context)
        record = asyncio.run(
            pull_referensi(self.siasn_client(), store, self.refs or DEFAULT_REFS, run)
        )
        return self.publish(context, store, record)


class SiasnAsnPullOperator(_SiasnOperator):
    """F1: pull data utama + keluarga of ASN golongan IV/b and above (incremental, resumable)."""

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

    def execute(self, context: Context) -> dict[str, Any]:
        from siapp_siasn.flows.asn_pull import PullParams, pull_asn

        params = PullParams(
            full_refresh=_as_bool(self.full_refresh),
            nips=_as_list(self.nips),
            batch_size=int(self.batch_size),
            full_sweep_every_days=self.full_sweep_every_days,
        )
        store = self.get_store()
        run = self.run_context(context)
        run.progress = self._log_progress
        record = asyncio.run(pull_asn(self.siasn_client(), store, params, run))
        return self.publish(context, store, record)

    def _log_progress(self, done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        self.log.info("pull_asn progress: %d / %d employees (%.1f%%)", done, total, pct)


class AsnQualityCheckOperator(HubOperator):
    """Quality gates on the mirror after a pull; fails with counts when a gate is not met."""

    template_fields: Sequence[str] = ("max_quarantine_rate",)
    ui_color = "#f7e3cf"

    def __init__(self, *, max_quarantine_rate: float | str = 0.02, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_quarantine_rate = max_quarantine_rate

    def execute(self, context: Context) -> dict[str, Any]:
        from siapp_siasn.flows.asn_pull import check_quality

        store = self.get_store()
        run = self.run_context(context)
        pulls = context["ti"].xcom_pull(task_ids=self.lineage_sources()) or []
        result = check_quality(store, pulls, float(self.max_quarantine_rate), run)
        payload = self.publish(context, store, result.record)
        if result.failures:
            raise AirflowException("quality checks failed: " + "; ".join(result.failures))
        return payload
