"""The deployment's cluster policy puts every task that calls SIASN into the one SIASN pool."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from siapp_siasn.airflow_env import PROJECT_ROOT
from siapp_siasn.operators.siasn import AsnQualityCheckOperator, SiasnAsnPullOperator
from siapp_siasn.operators.usulan import OutboxPushOperator, SiappCollectOperator


def _policy() -> ModuleType:
    path = PROJECT_ROOT / "deploy" / "airflow_local_settings.py"
    spec = importlib.util.spec_from_file_location("hub_cluster_policy", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_siasn_callers_take_the_siasn_pool_and_the_others_stay() -> None:
    policy = _policy()
    pull = SiasnAsnPullOperator(task_id="pull_asn")
    push = OutboxPushOperator(task_id="push_siapp", target="siapp")
    collect = SiappCollectOperator(task_id="collect")
    quality = AsnQualityCheckOperator(task_id="quality_checks")
    for task in (pull, push, collect, quality):
        policy.task_policy(task)
    assert (pull.pool, push.pool) == ("siasn_api", "siasn_api")
    assert (collect.pool, quality.pool) == ("default_pool", "default_pool")


def test_a_pool_named_by_the_dag_is_kept() -> None:
    task = SiasnAsnPullOperator(task_id="pull_asn", pool="siasn_backfill")
    _policy().task_policy(task)
    assert task.pool == "siasn_backfill"
