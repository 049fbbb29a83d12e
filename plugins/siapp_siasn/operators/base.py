"""The one ``execute`` every hub operator shares: context → flow call → lineage published.

An operator is a thin adapter in the manner of providers' operators: its subclass names only
its flow call (:meth:`HubOperator.run_flow`); this base turns the Airflow context into a
:class:`~siapp_siasn.flows.context.RunContext`, gets the store and the API clients from their
hooks, runs the call, and publishes the returned lineage record three ways — XCom (the return
value), the store's ``lineage`` table and the extra of each outlet Asset event — with the HTTP
telemetry under its own XCom key (:data:`HTTP_METRICS_KEY`). A record with ``failures`` (a gate
not met, dead letters over their threshold) is published first, then fails the task without
retries; with `apache-airflow-providers-openlineage` installed the same record becomes the
task's OpenLineage facets (:mod:`siapp_siasn.operators.openlineage`).
"""

from __future__ import annotations

import abc
import asyncio
import inspect
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from siapp_siasn.flows.context import FlowConfigError, RunContext
from siapp_siasn.lineage import LineageRecord, UpstreamRef, http_totals, upstream_ids

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.clients.siapp import SiappClient
    from siapp_siasn.clients.siasn import SiasnClient
    from siapp_siasn.store import Store


#: XCom key of the clients' full HTTP telemetry (requests, statuses, latency per endpoint)
HTTP_METRICS_KEY = "http_metrics"


class HubOperator(BaseOperator):
    """Base of the hub's operators.

    :param store_conn_id: Airflow connection of the hub's store (hash key in its extra).
    :param siasn_conn_id: connection of SIASN, for operators that call it.
    :param siapp_conn_id: connection of SIAPP NV, for operators that call it.
    :param lineage_from: tasks whose lineage records this one builds on (default: the
        direct upstream tasks).
    """

    #: whether the task calls SIASN: a deployment's cluster policy puts such tasks into one pool
    #: so that all workers together stay within SIASN's rate limit
    #: (deploy/airflow_local_settings.py)
    calls_siasn: ClassVar[bool] = False

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
        #: the record this task published (for the OpenLineage facets after execute)
        self.lineage_record: dict[str, Any] | None = None

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
            # the return value of a failed task is not kept: downstream tasks and the audit
            # read the record from XCom all the same
            context["ti"].xcom_push(key="return_value", value=payload)
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

    def resolve_upstream(self, context: Context, store: Store, record: LineageRecord) -> None:
        """Upstream ids → ``{lineage_id, dag_id, task_id, flow}``: from this run's XCom, else
        from the store's lineage table (a record of another DAG)."""
        known = {r["lineage_id"]: r for r in self.upstream_records(context) if "lineage_id" in r}
        for i, ref in enumerate(record.upstream):
            if ref.dag_id is not None:
                continue
            found = known.get(ref.lineage_id) or store.lineage.get(ref.lineage_id)
            if found:
                record.upstream[i] = UpstreamRef.of({**found, "lineage_id": ref.lineage_id})

    def publish(self, context: Context, store: Store, record: LineageRecord) -> dict[str, Any]:
        """Store the lineage record, attach it to the outlet Asset events, return it for XCom;
        the HTTP telemetry goes under its own XCom key."""
        self.resolve_upstream(context, store, record)
        if "quarantine" not in record.references:
            # flows that do not say otherwise quarantine under the DAG run's id
            where = f"table quarantine, run_id={record.run_id}"
            record.reference("quarantine", record.counts.quarantined, where)
        payload = record.to_xcom()
        store.lineage.write(payload)
        if record.requests:
            context["ti"].xcom_push(key=HTTP_METRICS_KEY, value=record.requests)
        outlet_events = context["outlet_events"]
        for asset in self.outlets:
            outlet_events[asset].extra = {"lineage": payload}
        self.lineage_record = payload
        self.log.info(
            "lineage %s: %s counts=%s duration=%ss http=%s",
            record.lineage_id,
            record.title,
            record.counts.as_dict(),
            record.duration_s,
            http_totals(record.requests) if record.requests else {},
        )
        return payload

    # -- OpenLineage (optional provider) ----------------------------------------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs, outputs and a counts run facet from the published record (None without
        the OpenLineage provider or without a record)."""
        from siapp_siasn.operators.openlineage import operator_lineage

        return operator_lineage(self.lineage_record)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """A task failed by its record's ``failures`` still reports what it did."""
        return self.get_openlineage_facets_on_complete(task_instance)


#: task states that make a run's verdict a failure
_FAILED = {"failed": "failed", "upstream_failed": "not run (an upstream task failed)"}


def verdict_problems(
    states: dict[str, str | None], records: dict[str, dict[str, Any]]
) -> list[str]:
    """One line per task of the run that failed: its record's ``failures`` (counts named) when
    it published one, else its state; sorted by task id."""
    problems = []
    for task_id in sorted(states):
        state = str(states[task_id] or "")
        if state not in _FAILED:
            continue
        failures = (records.get(task_id) or {}).get("failures") or []
        if state == "failed" and failures:
            problems.append(f"{task_id}: " + "; ".join(str(f) for f in failures))
        else:
            problems.append(f"{task_id}: {_FAILED[state]} — see its log")
    return problems


class RunVerdictOperator(BaseOperator):
    """The run's last task: fails when a task of the run failed, naming each one's problem.

    Airflow sets a DAG run's state from its leaf tasks only, so a task that failed (dead
    letters, a gate) followed by tasks that run anyway (trigger rule ``all_done``, so that one
    direction's failure does not stop the other) would leave the run green. This leaf runs
    after every task whatever happened, does nothing when all went well, and otherwise fails
    (no retries) with one line per failed task, e.g. ``push_siasn: 13 dead letters this run
    (threshold 0); 40 sent, 2 deferred — view v_outbox_dead``.
    """

    ui_color = "#eeeeee"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)

    def execute(self, context: Context) -> None:
        ti = context["ti"]
        run_id = context["dag_run"].run_id
        tasks = sorted(self.upstream_task_ids)
        found = ti.get_task_states(dag_id=ti.dag_id, run_ids=[run_id], task_ids=tasks)
        states = {t: found.get(run_id, {}).get(t) for t in tasks}
        failed = [t for t, state in states.items() if state == "failed"]
        records: dict[str, dict[str, Any]] = {}
        if failed:
            values = ti.xcom_pull(task_ids=failed)
            values = values if isinstance(values, list) else [values]
            records = {v["task_id"]: v for v in values if isinstance(v, dict) and "task_id" in v}
        problems = verdict_problems(states, records)
        if problems:
            raise AirflowFailException("; ".join(problems))
        self.log.info("no problems: %s", ", ".join(f"{t} {s}" for t, s in states.items()))
