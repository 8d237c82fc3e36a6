"""The package layers, checked from the source: who may import whom.

``contract`` imports nothing of kratix-py's; ``api`` and ``core`` (the pure decisions) never reach
into the adapter, the state-store writers, the operator or the local platform; the operator and the
adapter never import the local platform or the test fixtures (the operator image leaves them out).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "kratix_py"


def imports_of(path: Path) -> set[str]:
    """Every kratix_py module a file imports, at any depth (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("kratix_py")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "kratix_py":
                found |= {f"kratix_py.{alias.name}" for alias in node.names}
            elif node.module.startswith("kratix_py."):
                found.add(node.module)
    return found


def modules_under(relative: str) -> list[Path]:
    target = PACKAGE / relative
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


RULES = [
    ("contract.py", ("kratix_py",), ("kratix_py.contract",)),
    ("api", ("kratix_py.adapter", "kratix_py.statestores", "kratix_py.operator", "kratix_py.core"), ()),
    ("core", ("kratix_py.adapter", "kratix_py.statestores", "kratix_py.operator", "kratix_py.kube"), ()),
    ("operator", ("kratix_py.local_platform", "kratix_py.testing", "kratix_py.authoring"), ()),
    ("adapter", ("kratix_py.local_platform", "kratix_py.testing", "kratix_py.authoring"), ()),
    ("statestores", ("kratix_py.local_platform", "kratix_py.testing", "kratix_py.operator"), ()),
]


@pytest.mark.parametrize(("where", "forbidden", "allowed"), RULES, ids=[rule[0] for rule in RULES])
def test_layer_imports(where: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    offending = []
    for path in modules_under(where):
        for module in imports_of(path):
            if module.startswith(allowed) or not module.startswith(forbidden):
                continue
            offending.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not offending, "\n".join(offending)


def test_the_scan_sees_imports() -> None:
    """If the scan found nothing it would pass every rule: make sure it reads real imports."""
    assert "kratix_py.contract" in imports_of(PACKAGE / "core" / "layout.py")
    assert "kratix_py.core.changes" in imports_of(PACKAGE / "statestores" / "base.py")
