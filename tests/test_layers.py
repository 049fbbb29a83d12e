"""The package's layers import only downwards (docs/ARCHITECTURE.md, "What may import what").

Read from the source with ``ast`` (every import statement, module level or inside a function),
so a lazy import that would pull Airflow into ``store/`` counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "siapp_siasn"

#: layer -> the package's layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "utils": set(),
    "models": {"utils"},
    "lineage": {"utils"},
    "clients": {"utils"},
    "store": {"utils", "models"},
    "reports": {"utils", "models"},
    "checks": {"utils", "models"},
    "flows": {"utils", "models", "lineage", "clients", "store", "reports", "checks"},
    "hooks": {"utils", "models", "clients", "store"},
    "operators": {"utils", "models", "lineage", "clients", "store", "flows", "hooks", "notifiers"},
    # Airflow notifiers (mail): a layer like the operators'
    "notifiers": {"utils", "models", "lineage", "clients", "store", "flows", "hooks"},
    # the "Hub audit" page: reads the store (through StoreHook, as the operators get theirs)
    "ui": {"utils", "models", "lineage", "store", "reports", "hooks"},
}
#: layers that must work without Airflow installed
NO_AIRFLOW = {"utils", "models", "lineage", "clients", "store", "flows", "reports", "checks"}
#: development tools that no runtime module may import at module level
DEV_ONLY = {"siapp_sandbox", "bench", "tests"}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(module, at_module_level)`` of every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = set(map(id, tree.body))
    out: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, id(node) in top))
    return out


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downwards_only(path: Path) -> None:
    layer = _layer(path)
    wrong = []
    for module, at_top in _imports(path):
        root, _, rest = module.partition(".")
        if root == "siapp_siasn" and layer in ALLOWED:
            target = rest.split(".")[0]
            if target and target != layer and target not in ALLOWED[layer]:
                wrong.append(module)
        if root == "airflow" and layer in NO_AIRFLOW:
            wrong.append(module)
        if root in DEV_ONLY and at_top:
            wrong.append(module)
    assert wrong == [], f"{layer} may not import {wrong}"


def test_every_layer_is_known() -> None:
    """A new top-level package gets a rule here (and a line in docs/ARCHITECTURE.md)."""
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED) | {"ui", "checks"}, packages - set(ALLOWED)
