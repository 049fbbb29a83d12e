"""`siapp-siasn reconcile --dry-run`: the same comparison from the command line, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from siapp_siasn.airflow_env import sandbox_connections
from siapp_siasn.cli import app
from tests.flows._usulan import WORLD
from tests.reconciliation.test_sources import new_store, traffic

pytestmark = pytest.mark.integration


def test_dry_run_prints_the_categories_and_stores_nothing(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = sandbox_factory(**WORLD)
    store = new_store(tmp_path)
    traffic(sb, store, days=4)
    sb.set_faults({"document_faults": {"missing_at_siasn": 1, "orphan_at_siasn": 1}})
    url = str(store.engine.url)
    for conn_id, conn in sandbox_connections(sb.siasn_url, sb.siapp_url, url).items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))

    result = CliRunner().invoke(
        app, ["reconcile", "--dry-run", "--url", url, "--report-dir", str(tmp_path / "r")]
    )

    assert result.exit_code == 0, result.output
    assert "documents per category (dry run)" in result.output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.output.splitlines()
        if line.count("│") == 3
    }
    assert rows["missing_at_siasn"] == "1" and rows["orphan"] == "1"
    assert "report csv:" in result.output and str(tmp_path / "r") in result.output
    assert store.reconciliation.runs() == []  # a dry run stores no run and no items
    assert store.reconciliation.open_items() == []
