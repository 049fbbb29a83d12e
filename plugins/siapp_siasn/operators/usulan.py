"""Operators of the proposal traffic (F3-F8), DAG ``usulan_sync``.

Thin adapters over :mod:`siapp_siasn.flows.usulan_sync` and
:mod:`siapp_siasn.flows.usulan_push`: connections in, lineage out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from siapp_siasn.operators.base import HubOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.clients.siapp import SiappClient
    from siapp_siasn.clients.siasn import SiasnClient


class _UsulanOperator(HubOperator):
    def __init__(
        self, *, siasn_conn_id: str = "siasn_api", siapp_conn_id: str = "siapp_api", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.siasn_conn_id = siasn_conn_id
        self.siapp_conn_id = siapp_conn_id

    def siasn_client(self) -> SiasnClient:
        from siapp_siasn.hooks import SiasnHook

        return SiasnHook(siasn_conn_id=self.siasn_conn_id).get_client()

    def siapp_client(self) -> SiappClient:
        from siapp_siasn.hooks import SiappHook

        return SiappHook(siapp_conn_id=self.siapp_conn_id).get_client()


class SiappCollectOperator(_UsulanOperator):
    """F5-F8 in: SIAPP NV changes since the watermarks → scope check → outbox (one transaction
    per resource, with the watermark)."""

    ui_color = "#e3def7"

    def __init__(self, *, resources: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resources = list(resources) if resources else None

    def execute(self, context: Context) -> dict[str, Any]:
        from siapp_siasn.flows.usulan_sync import RESOURCES, collect_siapp

        store = self.get_store()
        run = self.run_context(context)
        record = asyncio.run(
            collect_siapp(self.siapp_client(), store, run, resources=self.resources or RESOURCES)
        )
        return self.publish(context, store, record)


class SiasnStatusBackOperator(_UsulanOperator):
    """F3/F4: BKN status, pertek and ralat pertek since the watermark → lifecycle + outbox."""

    ui_color = "#d8f0e3"

    def execute(self, context: Context) -> dict[str, Any]:
        from siapp_siasn.flows.usulan_sync import status_back

        store = self.get_store()
        run = self.run_context(context)
        record = asyncio.run(status_back(self.siasn_client(), store, run))
        return self.publish(context, store, record)


class OutboxPushOperator(_UsulanOperator):
    """Deliver the due outbox items toward one side: ``target="siasn"`` (F5-F8, documents
    first) or ``target="siapp"`` (F3, F4 with the PDFs, refusals)."""

    template_fields: Sequence[str] = (
        "max_attempts",
        "push_limit",
        "concurrency",
        "backoff_base_s",
        "backoff_max_s",
    )
    ui_color = "#cfe8f7"

    def __init__(
        self,
        *,
        target: str,
        max_attempts: int | str = 8,
        push_limit: int | str = 500,
        concurrency: int | str = 8,
        backoff_base_s: float | str = 60.0,
        backoff_max_s: float | str = 21600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target not in ("siasn", "siapp"):
            raise ValueError("target must be 'siasn' or 'siapp'")
        self.target = target
        self.max_attempts = max_attempts
        self.push_limit = push_limit
        self.concurrency = concurrency
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s

    def execute(self, context: Context) -> dict[str, Any]:
        from siapp_siasn.flows.usulan_push import PushParams, push_outbox
        from siapp_siasn.flows.usulan_rules import RetryPolicy

        params = PushParams(
            target=self.target,
            limit=int(self.push_limit),
            concurrency=int(self.concurrency),
            retry=RetryPolicy(
                max_attempts=int(self.max_attempts),
                base_s=float(self.backoff_base_s),
                max_s=float(self.backoff_max_s),
            ),
        )
        store = self.get_store()
        run = self.run_context(context)
        run.progress = self._log_progress
        record = asyncio.run(
            push_outbox(self.siasn_client(), self.siapp_client(), store, params, run)
        )
        dead = record.extra.get("dead_lettered", 0)
        if dead:
            self.log.warning(
                "%d outbox items went to the dead letters this run (view v_outbox_dead)", dead
            )
        return self.publish(context, store, record)

    def _log_progress(self, done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        self.log.info("push %s progress: %d / %d usulan (%.1f%%)", self.target, done, total, pct)
