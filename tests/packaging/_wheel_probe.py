"""Run by the wheel test inside the fresh runtime venv (``python -I``): what a deployment sees.

Imports every module of the installed ``siapp_siasn`` (Alembic's migration scripts excepted:
Alembic runs them), migrates a SQLite store with the shipped migrations, parses every DAG file
with Airflow's DagBag, and reports whether the development tools are importable. Prints one JSON
object; the test asserts on it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path


def _runtime_modules(package_dir: Path) -> list[str]:
    names = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent).with_suffix("")
        if rel.parts[1:3] == ("store", "migrations"):
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(parts))
    return names


def main(dags_folder: str, work: str) -> dict[str, object]:
    import siapp_siasn

    package_dir = Path(siapp_siasn.__file__).parent
    modules = _runtime_modules(package_dir)
    import_errors = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # reported, not raised: the test shows every failure at once
            import_errors[name] = f"{type(exc).__name__}: {exc}"

    try:
        from siapp_siasn.store import Store

        store = Store(f"sqlite:///{Path(work) / 'store.sqlite'}")
        store.migrate()
        migrated: object = store.is_current()
        store.close()
    except Exception as exc:  # reported, so the other checks still run
        migrated = f"{type(exc).__name__}: {exc}"

    try:
        from siapp_siasn.models.contract import load_siasn_contract

        contract_endpoints: object = sorted(load_siasn_contract()["endpoints"])
    except Exception as exc:  # reported, so the other checks still run
        contract_endpoints = f"{type(exc).__name__}: {exc}"

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=dags_folder)
    return {
        "package_dir": str(package_dir),
        "prefix": sys.prefix,
        "modules": modules,
        "import_errors": import_errors,
        "store_migrated": migrated,
        "contract_endpoints": contract_endpoints,
        "dag_errors": {k: v.splitlines()[-1] for k, v in bag.import_errors.items()},
        "dag_ids": sorted(bag.dag_ids),
        "dev_tools_importable": {
            name: importlib.util.find_spec(name) is not None for name in ("siapp_sandbox", "bench")
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
