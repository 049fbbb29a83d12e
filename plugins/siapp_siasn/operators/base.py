"""The one ``execute`` every hub operator shares: context → flow call → lineage published.

An operator is a thin adapter in the manner of providers' operators: its subclass names only
its flow call (:meth:`HubOperator.run_flow`); this base turns the Airflow context into a
:class:`~siapp_siasn.flows.context.RunContext`, gets the store and the API clients from their
hooks, runs the call, and publishes the returned lineage record three ways — XCom (the return
value), the store's ``lineage`` table and the extra of each outlet Asset event.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.lineage import LineageRecord, upstream_ids

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.clients.siapp import SiappClient
    from siapp_siasn.clients.siasn import SiasnClient
    from siapp_siasn.store import Store


class HubOperator(BaseOperator):
    """Base of the hub's operators.

    :param store_conn_id: Airflow connection of the hub's store (hash key in its extra).
    :param siasn_conn_id: connection of SIASN, for operators that call it.
    :param siapp_conn_id: connection of SIAPP NV, for operators that call it.
    :param lineage_from: tasks whose lineage records this one builds on (default: the
        direct upstream tasks).
    """

    def __init__(
        self,
        *,
        store_conn_id: str = "siapp_siasn_store",
        siasn_conn_id: str = "siasn_api",
        siapp_conn_id: str = "siapp_api",
        lineage_from: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.store_conn_id = store_conn_id
        self.siasn_conn_id = siasn_conn_id
        self.siapp_conn_id = siapp_conn_id
        self.lineage_from = list(lineage_from or [])

    # -- what a subclass names --------------------------------------------------------------

    @abc.abstractmethod
    def run_flow(
        self, store: Store, run: RunContext, context: Context
    ) -> LineageRecord | Awaitable[LineageRecord]:
        """Call the flow (a coroutine is run to completion) and return its lineage record."""

    # -- the one execute --------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        store = self.get_store()
        try:
            run = self.run_context(context)
            try:
                result = self.run_flow(store, run, context)
                record = asyncio.run(result) if inspect.isawaitable(result) else result
            except FlowConfigError as exc:
                raise AirflowFailException(f"{self.task_id}: {exc}") from None
            payload = self.publish(context, store, record)
        finally:
            store.close()
        if record.failures:
            # deterministic: a retry would meet the same data and the same gate
            raise AirflowFailException(f"{self.task_id}: " + "; ".join(record.failures))
        return payload

    # -- connections ------------------------------------------------------------------------

    def get_store(self) -> Store:
        from siapp_siasn.hooks.store import StoreHook

        return StoreHook(self.store_conn_id).get_store()

    def siasn_client(self) -> SiasnClient:
        from siapp_siasn.hooks import SiasnHook

        return SiasnHook(self.siasn_conn_id).get_client()

    def siapp_client(self) -> SiappClient:
        from siapp_siasn.hooks import SiappHook

        return SiappHook(self.siapp_conn_id).get_client()

    # -- context and lineage ----------------------------------------------------------------

    def lineage_sources(self) -> list[str]:
        """Tasks whose lineage records this one builds on: given, else the direct upstream."""
        return self.lineage_from or sorted(self.upstream_task_ids)

    def upstream_records(self, context: Context) -> list[dict[str, Any]]:
        """The lineage records (XCom) of :meth:`lineage_sources` in this run."""
        sources = self.lineage_sources()
        if not sources:
            return []
        values = context["ti"].xcom_pull(task_ids=sources)
        if isinstance(values, dict):
            values = [values]
        return [v for v in values or [] if isinstance(v, dict)]

    def run_context(self, context: Context) -> RunContext:
        ti = context["ti"]
        return RunContext(
            dag_id=ti.dag_id,
            run_id=context["dag_run"].run_id,
            task_id=ti.task_id,
            try_number=ti.try_number,
            upstream=upstream_ids(self.upstream_records(context)),
            progress=self._log_progress,
        )

    def _log_progress(self, done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        self.log.info("%s progress: %d / %d (%.1f%%)", self.task_id, done, total, pct)

    def publish(self, context: Context, store: Store, record: LineageRecord) -> dict[str, Any]:
        """Store the lineage record, attach it to the outlet Asset events, return it for XCom."""
        payload = record.to_xcom()
        store.lineage.write(payload)
        outlet_events = context["outlet_events"]
        for asset in self.outlets:
            outlet_events[asset].extra = {"lineage": payload}
        self.log.info(
            "lineage %s: flow=%s counts=%s duration=%ss",
            record.lineage_id,
            record.flow,
            record.counts.model_dump(),
            record.duration_s,
        )
        return payload
