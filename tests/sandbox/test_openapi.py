from __future__ import annotations

from pathlib import Path

from t4o_reconcile.sandbox.openapi import openapi_document, render
from t4o_reconcile.sandbox.rules import all_rules

CHECKED_IN = Path(__file__).parents[2] / "schemas" / "openapi.json"


def test_the_checked_in_openapi_is_fresh() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == render(openapi_document()), (
        "schemas/openapi.json is stale: run `t4o-reconcile schema`"
    )


def test_every_problem_type_is_named_in_the_document() -> None:
    description = openapi_document()["info"]["description"]
    assert all(rule.name in description for rule in all_rules())


def test_errors_are_documented_as_problem_json() -> None:
    patch = openapi_document()["paths"]["/v1/tenants/{slug}"]["patch"]["responses"]
    assert {"412", "428", "409"} <= set(patch)
    assert "application/problem+json" in patch["412"]["content"]


def test_every_problem_type_is_listed_in_the_api_contract() -> None:
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    contract = " ".join(text.split())
    missing = [rule.name for rule in all_rules() if f"`{rule.name}` {rule.status}" not in contract]
    assert missing == []
