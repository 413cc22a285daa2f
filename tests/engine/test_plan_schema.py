"""schemas/plan.schema.json: fresh, a valid schema, and it accepts the plans the renderer
tests build and rejects a broken one. The end-to-end tests check every plan the real CLI
writes against it too (tests/e2e/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from t4o_reconcile.engine.document import plan_to_dict
from t4o_reconcile.engine.plan_schema import plan_schema
from t4o_reconcile.engine.planfile import save_plan
from tests.render.plans import mixed_plan

CHECKED_IN = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"


def check(document: Any) -> None:
    jsonschema.Draft202012Validator(json.loads(CHECKED_IN.read_text())).validate(document)


def test_checked_in_plan_schema_is_fresh_and_valid() -> None:
    assert json.loads(CHECKED_IN.read_text()) == plan_schema(), "run `t4o-reconcile schema`"
    jsonschema.Draft202012Validator.check_schema(plan_schema())


def test_the_json_plan_and_the_plan_file_validate(tmp_path: Path) -> None:
    plan = mixed_plan()
    plan.only, plan.changed_since, plan.skipped_tenants = ["ok-skogen"], "origin/main", 3
    check(plan_to_dict(plan))
    save_plan(plan, tmp_path / "p.json")
    check(json.loads((tmp_path / "p.json").read_text()))


def test_a_broken_plan_is_rejected() -> None:
    document = plan_to_dict(mixed_plan())
    document["tenants"][0]["actions"][0]["action"] = "replace"
    with pytest.raises(jsonschema.ValidationError):
        check(document)
