"""The sandbox enforces the API's rules for any client: none of its checks may be an
``assert``, which ``python -O`` strips."""

from __future__ import annotations

import ast
from pathlib import Path

import t4o_reconcile.sandbox

SANDBOX = Path(t4o_reconcile.sandbox.__file__).parent


def test_the_sandbox_has_no_assert() -> None:
    found = [
        f"{path.name}:{node.lineno}"
        for path in sorted(SANDBOX.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert found == []
