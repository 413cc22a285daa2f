"""The week's harness evaluates the shipped workflows' expressions as GitHub does: the
conditions and values that decide which step runs with which flags."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ci.workflows import GITHUB, load
from tests.e2e.actions_expressions import (
    ExpressionError,
    Status,
    condition,
    evaluate,
    interpolate,
)

CONTEXTS: dict[str, Any] = {
    "github": {
        "event_name": "pull_request",
        "event": {
            "pull_request": {
                "number": 7,
                "head": {"sha": "abc"},
                "labels": [{"name": "t4o:allow-deletes"}, {"name": "docs"}],
            }
        },
    },
    "steps": {
        "plan": {"outputs": {"planned": "true", "status": "2"}, "outcome": "failure"},
        "skipped": {"outputs": {}, "outcome": "skipped"},
    },
    "needs": {"plan": {"result": "success", "outputs": {"planned": "true"}}},
    "inputs": {"tenants": ""},
    "runner": {"temp": "/tmp/r"},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("contains(github.event.pull_request.labels.*.name, 't4o:allow-deletes')", True),
        ("contains(github.event.pull_request.labels.*.name, 't4o:other')", False),
        ("steps.plan.outputs.planned == 'true'", True),
        ("steps.plan.outputs.status != '0'", True),
        ("steps.plan.outputs.status == 2", True),  # a string and a number: as numbers
        ("steps.skipped.outputs.planned == 'true'", False),  # a missing output is null
        ("github.event_name == 'PULL_REQUEST'", True),  # strings compare case-insensitively
        ("needs.plan.outputs.planned == 'true' && 'yes' || 'no'", "yes"),
        ("inputs.tenants || 'all'", "all"),
        ("!startsWith(github.event_name, 'push')", True),
        ("format('t4o-plan-{0}', github.event.pull_request.head.sha)", "t4o-plan-abc"),
        ("join(github.event.pull_request.labels.*.name, ', ')", "t4o:allow-deletes, docs"),
        ("github['event']['pull_request']['number'] >= 7", True),
    ],
)
def test_expressions(expression: str, expected: Any) -> None:
    assert evaluate(expression, CONTEXTS) == expected


def test_conditions_imply_success_unless_a_status_function_is_named() -> None:
    failed = Status(failed=True)
    assert condition(None, CONTEXTS, Status()) is True
    assert condition(None, CONTEXTS, failed) is False
    assert condition("steps.plan.outputs.planned == 'true'", CONTEXTS, failed) is False
    assert condition("${{ always() && steps.plan.outputs.planned == 'true' }}", CONTEXTS, failed)
    assert condition("failure()", CONTEXTS, failed) is True
    assert condition("${{ steps.plan.outcome != 'skipped' }}", CONTEXTS, Status()) is True


def test_interpolation_writes_values_as_the_runner_does() -> None:
    assert interpolate("${{ runner.temp }}/t4o", CONTEXTS) == "/tmp/r/t4o"
    assert interpolate("n=${{ github.event.pull_request.number }}", CONTEXTS) == "n=7"
    assert interpolate("${{ steps.plan.outputs.planned == 'true' }}", CONTEXTS) == "true"
    assert interpolate("${{ steps.nothing.outputs.x }}", CONTEXTS) == ""


@pytest.mark.parametrize(
    "expression", ["hashFiles('**/*.yml')", "nosuch.context", "unknown()", "a ==", "'open"]
)
def test_what_the_harness_cannot_evaluate_is_an_error(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXTS)


def test_every_expression_in_the_shipped_workflows_evaluates() -> None:
    """A construct the harness does not know would fail the week's step with a confusing
    error: find it here first."""
    contexts = {
        **CONTEXTS,
        "vars": {},
        "secrets": {},
        "env": {},
        "job": {},
        "matrix": {},
        "strategy": {},
    }
    contexts["github"] = {**CONTEXTS["github"], "sha": "abc", "token": "t"}
    found = 0
    for path in sorted(GITHUB.glob("*.yml")):
        for source in _expressions(load(path)):
            found += 1
            if "${{" in source:
                interpolate(source, contexts)
            else:
                condition(source, contexts, Status())
    assert found > 10


def _expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["if"])] if "if" in node else []
        for key, value in node.items():
            if key != "if":
                found += _expressions(value)
        return found
    if isinstance(node, list):
        return [e for item in node for e in _expressions(item)]
    return [node] if isinstance(node, str) and "${{" in node else []
