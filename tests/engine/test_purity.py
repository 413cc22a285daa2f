"""The engine is pure: no HTTP, no YAML, no rendering, no configuration loading. Render
depends on the engine, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "t4o_reconcile" / "engine"
FORBIDDEN = (
    "t4o_reconcile.render",
    "t4o_reconcile.config",
    "t4o_reconcile.api",
    "t4o_reconcile.sandbox",
    "t4o_reconcile.cli",
    "t4o_reconcile.workflow",
    "httpx",
    "ruamel",
    "jinja2",
    "fastapi",
    "click",
)


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def test_no_engine_module_imports_io_or_rendering() -> None:
    modules = sorted(ENGINE.glob("*.py"))
    assert len(modules) > 10
    bad = [
        f"{path.name}: {name}"
        for path in modules
        for name in imports(path)
        if name.startswith(FORBIDDEN)
    ]
    assert bad == []
