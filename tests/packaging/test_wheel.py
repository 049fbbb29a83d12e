"""The runtime wheel is what an Airflow deployment installs: `siapp_siasn` and its declared
dependencies, nothing else, and that is enough to import every module and parse every DAG.

One session builds the wheel (`uv build`), creates a fresh Python 3.11 venv and installs the wheel
with its declared dependencies only, pinned to `uv.lock` (`uv export --no-dev` as constraints, so
the install is reproducible and served from uv's cache). `_wheel_probe.py` then runs inside that
venv in isolated mode (no checkout on sys.path) and reports what a deployment would see.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from siapp_siasn import __version__
from siapp_siasn.airflow_env import PROJECT_ROOT

pytestmark = pytest.mark.integration

PROBE = Path(__file__).with_name("_wheel_probe.py")
DAGS = PROJECT_ROOT / "dags"
#: Development tools' dependencies: the runtime must not declare them.
DEV_ONLY = {"fastapi", "uvicorn", "numpy", "httpx", "python-multipart", "psutil", "siapp-sandbox"}


def _uv() -> str:
    """uv as the Makefile finds it: `uv run` exports $UV; else PATH; else the private tools venv."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), PROJECT_ROOT / ".tools/bin/uv"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail("uv not found: run `make sync` (it installs uv into .tools/)")


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment minus anything that would leak the development venv or checkout in."""
    drop = ("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, **extra}


def _run(cmd: list[str | Path], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=_clean_env(**extra), capture_output=True, text=True
    )
    assert out.returncode == 0, f"{cmd[:3]} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run([_uv(), "build", "--wheel", "--quiet", "--out-dir", dist], cwd=PROJECT_ROOT)
    (built,) = dist.glob("siapp_siasn-*.whl")
    return built


@pytest.fixture(scope="session")
def runtime_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and its declared dependencies only; returns its python."""
    work = tmp_path_factory.mktemp("runtime")
    uv = _uv()
    started = time.monotonic()
    constraints = work / "constraints.txt"
    export = ["export", "--frozen", "--no-dev", "--no-emit-workspace", "--no-hashes"]
    quiet = ["--no-header", "--no-annotate", "--quiet"]
    _run([uv, *export, *quiet, "--output-file", constraints], cwd=PROJECT_ROOT)
    venv = work / "venv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, venv], cwd=work)
    python = venv / "bin" / "python"
    _run([uv, "pip", "install", "--quiet", "--python", python, wheel, "-c", constraints], cwd=work)
    print(f"runtime venv installed in {time.monotonic() - started:.1f} s")
    return python


@pytest.fixture(scope="session")
def probe(runtime_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("probe")
    (work / "plugins").mkdir()  # an empty plugins folder: the checkout's must not be used
    env = {
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(work / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'airflow.db'}",
    }
    out = _run([runtime_venv, "-I", PROBE, DAGS, work], cwd=work, **env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_wheel_holds_the_runtime_package_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"siapp_siasn", f"siapp_siasn-{__version__}.dist-info"}
    assert not [n for n in names if "siapp_sandbox" in n or n.startswith(("bench/", "tests/"))]
    # Alembic's environment and revisions ship with the package (a deployment migrates with them).
    assert "siapp_siasn/store/migrations/env.py" in names
    assert any(n.startswith("siapp_siasn/store/migrations/versions/0001_") for n in names)


def test_the_wheel_declares_runtime_dependencies_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        meta = Parser().parsestr(zf.read(f"siapp_siasn-{__version__}.dist-info/METADATA").decode())
    declared = {Requirement(r).name.lower() for r in meta.get_all("Requires-Dist")}
    assert {"apache-airflow", "sqlalchemy", "alembic", "pydantic", "aiohttp", "pandas"} <= declared
    assert not declared & DEV_ONLY


def test_every_runtime_module_imports_in_a_fresh_venv(probe: dict, runtime_venv: Path) -> None:
    # The modules came from the installed wheel, not from the checkout.
    assert Path(probe["package_dir"]).is_relative_to(runtime_venv.parent.parent)
    assert len(probe["modules"]) > 40
    assert {"siapp_siasn.cli", "siapp_siasn.operators", "siapp_siasn.store"} <= set(
        probe["modules"]
    )
    assert probe["import_errors"] == {}


def test_the_shipped_migrations_build_a_store(probe: dict) -> None:
    assert probe["store_migrated"] is True


def test_the_wheel_ships_the_siasn_contract(probe: dict) -> None:
    # Loaded from the installed package (the probe runs outside the checkout).
    assert isinstance(probe["contract_endpoints"], list), probe["contract_endpoints"]
    assert {"data-utama", "rw-golongan", "ref-unor"} <= set(probe["contract_endpoints"])


def test_every_dag_file_parses_in_a_fresh_venv(probe: dict) -> None:
    assert probe["dag_errors"] == {}
    # Each DAG file is named after its DAG id.
    assert probe["dag_ids"] == sorted(p.stem for p in DAGS.glob("*.py"))
    assert {"siasn_asn_daily", "usulan_sync"} <= set(probe["dag_ids"])


def test_development_tools_are_not_installed(probe: dict) -> None:
    assert probe["dev_tools_importable"] == {"siapp_sandbox": False, "bench": False}


@pytest.mark.parametrize(("command", "says"), [("sandbox", "siapp-sandbox"), ("bench", "checkout")])
def test_the_cli_says_what_to_install_for_a_development_tool(
    runtime_venv: Path, tmp_path: Path, command: str, says: str
) -> None:
    cli = runtime_venv.parent / "siapp-siasn"
    listed = subprocess.run([cli, "--help"], cwd=tmp_path, env=_clean_env(), capture_output=True)
    assert listed.returncode == 0 and command.encode() in listed.stdout
    out = subprocess.run(
        [cli, command, "--help"], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True
    )
    assert out.returncode == 1
    assert f"siapp-siasn {command}" in out.stderr and "uv sync" in out.stderr
    assert says in out.stderr
