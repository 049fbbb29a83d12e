"""Operators of the ``siasn_asn_daily`` DAG: each names its call into
:mod:`siapp_siasn.flows.asn_pull`; :class:`~siapp_siasn.operators.base.HubOperator` does the rest.

Flows are imported inside ``run_flow`` so that parsing a DAG file imports no store or client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from siapp_siasn.flows.context import FlowConfigError
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


def _as_optional_str(value: Any) -> str | None:
    if value in (None, "", "None"):
        return None
    return value if isinstance(value, str) else json.dumps(value)


#: a NIP (18 digits) or a NIK (16): neither may pass through Airflow's conf
_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{16,18}(?![0-9])")
#: the param that took raw NIPs before selections
_OLD_PARAM = "nips"
_HOW_TO = (
    "put them in a selection instead: `siapp-siasn select create --file nips.txt "
    '--purpose \'...\'` prints its id; trigger with conf {"selection": "sel-yyyymmdd-xxxxxx"}'
)


def _id_numbers(value: Any, where: str) -> Iterator[str]:
    """Where in ``value`` (a run's conf) an 18- or 16-digit number sits: key paths only."""
    if isinstance(value, dict):
        for key, item in value.items():
            # a key may itself be a NIP: named only when it holds no long number
            name = "<key>" if _ID_NUMBER.search(str(key)) else str(key)
            if name == "<key>":
                yield f"{where}.{name}"
            yield from _id_numbers(item, f"{where}.{name}")
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _id_numbers(item, f"{where}[]")
    elif isinstance(value, int) and not isinstance(value, bool):
        if _ID_NUMBER.search(str(value)):
            yield where
    elif isinstance(value, str) and _ID_NUMBER.search(value):
        yield where


def refuse_raw_nips(conf: Any, selection: Any) -> None:
    """Raise :class:`FlowConfigError` when a run's conf carries NIPs (the old ``nips`` param,
    or any 16-18 digit number) or ``selection`` is not a selection id.

    The message counts and names where, never the values: it lands in the task log.
    """
    from siapp_siasn.store.selection import is_selection_id

    conf = conf if isinstance(conf, dict) else {}
    if conf.get(_OLD_PARAM):
        values = conf[_OLD_PARAM]
        n = len(values) if isinstance(values, list | tuple) else 1
        raise FlowConfigError(
            f"conf param {_OLD_PARAM!r} ({n} value(s), not shown) is no longer taken: raw "
            "NIPs would show in the Airflow UI (run conf, rendered fields, audit log); " + _HOW_TO
        )
    found = sorted(set(_id_numbers(conf, "conf")))
    if found:
        raise FlowConfigError(
            f"the run's conf carries NIP-like numbers at {', '.join(found)} (not shown); NIPs "
            "must not pass through Airflow; " + _HOW_TO
        )
    if selection is not None and not is_selection_id(selection):
        raise FlowConfigError(
            "selection must be the id of a stored selection (sel-yyyymmdd-xxxxxx), not a list "
            "or a NIP; " + _HOW_TO
        )


class SiasnReferensiOperator(HubOperator):
    """F2: pull SIASN reference tables into the store.

    :param refs: the tables to pull (default: every table the hub knows).
    """

    calls_siasn = True

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
    :param selection: the id of a stored selection (``siapp-siasn select create``): pull
        only its employees. Never NIPs: a run's conf with NIPs fails the task.
    :param batch_size: employees per committed batch.
    :param full_sweep_every_days: days between two automatic full sweeps.
    """

    calls_siasn = True

    template_fields: Sequence[str] = ("full_refresh", "selection", "batch_size")
    ui_color = "#cfe8f7"

    def __init__(
        self,
        *,
        full_refresh: bool | str = False,
        selection: str | None = None,
        batch_size: int | str = 500,
        full_sweep_every_days: int = 7,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.full_refresh = full_refresh
        self.selection = selection
        self.batch_size = batch_size
        self.full_sweep_every_days = full_sweep_every_days

    def run_flow(self, store: Store, run: RunContext, context: Context) -> Awaitable[LineageRecord]:
        from siapp_siasn.flows.asn_pull import PullParams, pull_asn

        selection = _as_optional_str(self.selection)
        refuse_raw_nips(getattr(context.get("dag_run"), "conf", None), selection)
        params = PullParams(
            full_refresh=_as_bool(self.full_refresh),
            selection=selection,
            batch_size=int(self.batch_size),
            full_sweep_every_days=int(self.full_sweep_every_days),
        )
        if selection:
            found = store.selection.get(selection)
            self.log.info(
                "re-pull of selection %s: %s employees",
                selection,
                found.count if found is not None else "unknown",
            )
        return pull_asn(self.siasn_client(), store, params, run)


class AsnQualityCheckOperator(HubOperator):
    """Quality gates on the mirror after the pulls it follows.

    :param max_quarantine_rate: share of the pulled records quarantined above which the
        quarantine gate fails (only with ``min_quarantined`` reached too).
    :param min_quarantined: quarantined records below which the quarantine gate never fails.
    :param max_drifted: employees quarantined for absent contract fields (drift) the run
        tolerates; one more fails it.
    """

    template_fields: Sequence[str] = ("max_quarantine_rate", "min_quarantined", "max_drifted")
    ui_color = "#f7e3cf"

    def __init__(
        self,
        *,
        max_quarantine_rate: float | str = 0.02,
        min_quarantined: int | str = 5,
        max_drifted: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_quarantine_rate = max_quarantine_rate
        self.min_quarantined = min_quarantined
        self.max_drifted = max_drifted

    def run_flow(self, store: Store, run: RunContext, context: Context) -> LineageRecord:
        from siapp_siasn.flows.asn_pull import QualityGate, check_quality

        gate = QualityGate(
            float(self.max_quarantine_rate), int(self.min_quarantined), int(self.max_drifted)
        )
        return check_quality(store, self.upstream_records(context), gate, run)
