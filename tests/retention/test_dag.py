"""The `hub_retention` DAG: daily in Asia/Jakarta, one thin task, a documented age param."""

from __future__ import annotations

import pytest

from siapp_siasn.flows.context import FlowConfigError
from siapp_siasn.operators.retention import RetentionOperator, as_days


def test_dag_wiring() -> None:
    from dags.hub_retention import dag

    assert dag.dag_id == "hub_retention"
    assert dag.timetable.expression == "30 2 * * *"
    assert str(dag.timetable.timezone) == "Asia/Jakarta"
    param = dag.params.get_param("max_age_days")
    assert param.value == 365 and param.schema["minimum"] == 1
    assert "art. 11" in param.description
    assert "PKS" in (dag.doc_md or "") and "365" in (dag.doc_md or "")
    (task,) = dag.tasks
    assert isinstance(task, RetentionOperator)
    assert task.max_age_days == "{{ params.max_age_days }}"


def test_rendered_age_is_read_as_days() -> None:
    assert as_days("365") == 365
    assert as_days(30) == 30
    with pytest.raises(FlowConfigError):
        as_days("a year")
