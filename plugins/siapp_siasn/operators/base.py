"""What every hub operator shares: run identity, the store, and publishing lineage.

An operator is a thin adapter: it reads its connections, calls a pure function from `flows/`
with a `RunContext`, and publishes the returned lineage record three ways — XCom (its return
value), the store's `lineage` table, and the extra of each outlet Asset event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from siapp_siasn.flows.context import RunContext
from siapp_siasn.lineage import LineageRecord, upstream_ids

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.store import Store


class HubOperator(BaseOperator):
    """Base of the hub's operators."""

    def __init__(
        self,
        *,
        store_conn_id: str = "siapp_siasn_store",
        lineage_from: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.store_conn_id = store_conn_id
        self.lineage_from = list(lineage_from or [])

    def get_store(self) -> Store:
        from siapp_siasn.store import Store, store_url_from_airflow

        return Store(store_url_from_airflow(self.store_conn_id))

    def lineage_sources(self) -> list[str]:
        """Tasks whose lineage records this one builds on: given, else the direct upstream."""
        return self.lineage_from or sorted(self.upstream_task_ids)

    def run_context(self, context: Context) -> RunContext:
        ti = context["ti"]
        dag_run = context["dag_run"]
        upstream = (
            upstream_ids(ti.xcom_pull(task_ids=self.lineage_sources()))
            if self.lineage_sources()
            else []
        )
        return RunContext(
            dag_id=ti.dag_id,
            run_id=dag_run.run_id,
            task_id=ti.task_id,
            try_number=ti.try_number,
            upstream=upstream,
        )

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
