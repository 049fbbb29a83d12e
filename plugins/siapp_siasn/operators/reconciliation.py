"""Operators of the ``dokumen_reconciliation`` DAG: each names its call into
:mod:`siapp_siasn.flows.keppres_check` or :mod:`siapp_siasn.flows.reconciliation_run`;
:class:`~siapp_siasn.operators.base.HubOperator` does the rest.

Flows are imported inside ``run_flow`` so that parsing a DAG file imports no store, client or
pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siapp_siasn.operators.base import HubOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from siapp_siasn.flows.context import RunContext
    from siapp_siasn.lineage import LineageRecord
    from siapp_siasn.store import Store


class KeppresCheckOperator(HubOperator):
    """F7 cross-check: every Keppres delivered ``min_age_days`` ago or more shows in SIASN.

    :param min_age_days: days after delivery before a decree must show in SIASN.
    """

    calls_siasn = True

    template_fields: Sequence[str] = ("min_age_days",)
    ui_color = "#f7e8cf"

    def __init__(self, *, min_age_days: int | str = 7, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_age_days = min_age_days

    async def run_flow(self, store: Store, run: RunContext, context: Context) -> LineageRecord:
        from siapp_siasn.flows.keppres_check import check_keppres

        result = await check_keppres(
            run, self.siasn_client(), store, min_age_days=int(self.min_age_days)
        )
        return result.record


class DokumenReconciliationOperator(HubOperator):
    """F4/F7 documents: inventories of SIAPP NV, SIASN and the ledger compared, repaired, reported.

    :param repair_limit: items re-transferred per run at most (0: compare and record only).
    :param max_attempts: runs that may try to repair an item before it is flagged.
    :param report_dir: folder of the CSV and HTML reports (default: the temp directory).
    :param no_answer_days: days after which an usulan with no answer is reported.
    :param max_unrepairable: documents flagged unrepairable in one run above which the task
        fails (after publishing its lineage record; no retries).
    """

    calls_siasn = True

    template_fields: Sequence[str] = (
        "max_unrepairable",
        "repair_limit",
        "max_attempts",
        "report_dir",
        "no_answer_days",
    )
    ui_color = "#e8f7cf"

    def __init__(
        self,
        *,
        repair_limit: int | str = 50,
        max_attempts: int | str = 3,
        report_dir: str | None = None,
        no_answer_days: int | str = 14,
        max_unrepairable: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.no_answer_days = no_answer_days
        self.repair_limit = repair_limit
        self.max_attempts = max_attempts
        self.report_dir = report_dir
        self.max_unrepairable = max_unrepairable

    async def run_flow(self, store: Store, run: RunContext, context: Context) -> LineageRecord:
        from siapp_siasn.flows.reconciliation_run import ReconcileParams, reconcile

        params = ReconcileParams(
            repair_limit=int(self.repair_limit),
            max_attempts=int(self.max_attempts),
            report_dir=Path(self.report_dir) if self.report_dir else None,
            no_answer_days=int(self.no_answer_days),
            max_unrepairable=int(self.max_unrepairable),
        )
        return await reconcile(run, self.siasn_client(), self.siapp_client(), store, params)
