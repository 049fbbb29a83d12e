"""The development tools (sandbox, benches) hang off `siapp-siasn` without the runtime package
importing them: they resolve when invoked, and in a development install they work."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from siapp_siasn.airflow_env import PROJECT_ROOT
from siapp_siasn.cli import app

# Imports every runtime module (migration scripts excepted) and lists the development tools'
# modules that came along. Run in a child so this process's imports do not count.
_IMPORT_ALL = r"""
import importlib, json, sys
from pathlib import Path
sys.path.insert(0, %r)
from _wheel_probe import _runtime_modules
import siapp_siasn
for name in _runtime_modules(Path(siapp_siasn.__file__).parent):
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("siapp_sandbox", "bench"))))
"""


def test_no_runtime_module_imports_a_development_tool() -> None:
    probe_dir = str(PROJECT_ROOT / "tests" / "packaging")
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL % probe_dir],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_help_lists_the_development_tools() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "sandbox" in result.output and "bench" in result.output


def test_sandbox_resolves_when_invoked() -> None:
    result = CliRunner().invoke(app, ["sandbox", "serve", "--help"])
    assert result.exit_code == 0
    assert "--employees" in result.output and "--faults" in result.output


def test_bench_resolves_when_invoked() -> None:
    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    assert "--employees" in result.output and "--peers" in result.output
