"""The DAG takes a selection id, validated by the trigger form, and never NIPs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from siapp_siasn.airflow_env import PROJECT_ROOT, AirflowEnv
from siapp_siasn.store.selection import SELECTION_ID_PATTERN

NIP = "197203151998031002"
PROBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=%r).dags["siasn_asn_daily"]
param = dag.params.get_param("selection")
samples = json.loads(sys.argv[1])
print(json.dumps({
    "params": sorted(dag.params.keys()),
    "schema": param.schema,
    "default": param.value,
    "accepted": [param.resolve(v, suppress_exception=True) is not None or v is None
                 for v in samples],
    "template_fields": list(dag.get_task("pull_asn").template_fields),
    "inlets": {t.task_id: [a.uri for a in t.inlets] for t in dag.tasks},
}))
"""


@pytest.fixture(scope="module")
def dag_facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = AirflowEnv(tmp_path_factory.mktemp("airflow-home")).environ()
    samples = [None, "sel-20261130-ab12cd", NIP, [NIP], "sel-20261130-AB12CD", ""]
    out = subprocess.run(
        [sys.executable, "-c", PROBE % str(PROJECT_ROOT / "dags"), json.dumps(samples)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_selection_param_replaces_nips(dag_facts: dict[str, Any]) -> None:
    assert "nips" not in dag_facts["params"]
    assert "selection" in dag_facts["params"]
    assert dag_facts["default"] is None
    assert dag_facts["template_fields"] == ["full_refresh", "selection", "batch_size"]


def test_the_trigger_form_accepts_ids_only(dag_facts: dict[str, Any]) -> None:
    """The param's JSON schema (which the trigger form and the API check) takes an id or
    nothing; a NIP, a list of NIPs or an upper-case id is refused before a run exists."""
    assert dag_facts["schema"]["pattern"] == SELECTION_ID_PATTERN
    assert dag_facts["accepted"] == [True, True, False, False, False, False]


def test_quality_checks_declares_the_assets_it_reads(dag_facts: dict[str, Any]) -> None:
    assert sorted(u.rstrip("/") for u in dag_facts["inlets"]["quality_checks"]) == [
        "siasn://asn",
        "siasn://referensi",
    ]


def test_the_dag_file_does_not_import_the_store() -> None:
    """The pattern is written out in the DAG file (parsing stays fast): this keeps it equal."""
    text = Path(PROJECT_ROOT / "dags" / "siasn_asn_daily.py").read_text()
    assert f'SELECTION_ID_PATTERN = r"{SELECTION_ID_PATTERN}"' in text
    assert "import siapp_siasn.store" not in text and "from siapp_siasn.store" not in text
