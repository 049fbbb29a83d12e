"""Operators of the ``usulan_sync`` DAG: each names its call into
:mod:`siapp_siasn.flows.usulan_sync` or :mod:`siapp_siasn.flows.usulan_push`;
:class:`~siapp_siasn.operators.base.HubOperator` does the rest.

Flows are imported inside ``run_flow`` so that parsing a DAG file imports no store or client.
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


class SiappCollectOperator(HubOperator):
    """F5-F8 in: what SIAPP NV changed since the watermarks, scope-checked, into the outbox.

    :param resources: the SIAPP NV resources to collect (default: all, usulan first).
    :param max_drifted: usulan quarantined for absent contract fields (drift) the run
        tolerates; one more fails the task after its lineage is stored (templated).
    """

    ui_color = "#e3def7"
    template_fields: Sequence[str] = ("max_drifted",)

    def __init__(
        self,
        *,
        resources: Sequence[str] | None = None,
        max_drifted: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.resources = list(resources) if resources else None
        self.max_drifted = max_drifted

    def run_flow(self, store: Store, run: RunContext, context: Context) -> Awaitable[LineageRecord]:
        from siapp_siasn.flows.usulan_sync import RESOURCES, collect_siapp

        return collect_siapp(
            self.siapp_client(),
            store,
            run,
            resources=self.resources or RESOURCES,
            max_drifted=int(self.max_drifted),
        )


class SiasnStatusBackOperator(HubOperator):
    """F3/F4: BKN status, pertek and ralat pertek since the watermark → lifecycle + outbox."""

    calls_siasn = True

    ui_color = "#d8f0e3"

    def run_flow(self, store: Store, run: RunContext, context: Context) -> Awaitable[LineageRecord]:
        from siapp_siasn.flows.usulan_sync import status_back

        return status_back(self.siasn_client(), store, run)


class OutboxPushOperator(HubOperator):
    """Deliver the due outbox items toward one side.

    :param target: ``siasn`` (F5-F8, documents first) or ``siapp`` (F3, F4 with the PDFs,
        refusals); anything else fails the task without retries.
    :param max_attempts: failed attempts after which an item is dead-lettered.
    :param push_limit: due items taken per run (the oldest).
    :param concurrency: usulan delivered in parallel.
    :param backoff_base_s: wait after the first failed attempt (doubling, with jitter).
    :param backoff_max_s: the longest wait between two attempts.
    :param max_dead_letters: items dead-lettered in one run above which the task fails (after
        publishing its lineage record; no retries: a retry would not un-dead them).
    """

    calls_siasn = True

    template_fields: Sequence[str] = (
        "max_dead_letters",
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
        max_dead_letters: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.max_attempts = max_attempts
        self.push_limit = push_limit
        self.concurrency = concurrency
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_dead_letters = max_dead_letters

    def run_flow(self, store: Store, run: RunContext, context: Context) -> Awaitable[LineageRecord]:
        from siapp_siasn.flows.usulan_push import PushParams, push_outbox
        from siapp_siasn.flows.usulan_rules import RetryPolicy

        # templated fields arrive as native numbers (render_template_as_native_obj) or strings
        params = PushParams(
            target=self.target,
            limit=int(self.push_limit),
            concurrency=int(self.concurrency),
            retry=RetryPolicy(
                max_attempts=int(self.max_attempts),
                base_s=float(self.backoff_base_s),
                max_s=float(self.backoff_max_s),
            ),
            max_dead_letters=int(self.max_dead_letters),
        )
        return push_outbox(self.siasn_client(), self.siapp_client(), store, params, run)
