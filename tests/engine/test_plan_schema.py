"""schemas/plan.schema.json: fresh, a valid schema, and it accepts the plans the renderer
tests build and rejects a broken one. The end-to-end tests check every plan the real CLI
writes against it too (tests/e2e/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from t4o_reconcile.engine.plan_schema import plan_schema
from t4o_reconcile.engine.planfile import save_plan
from tests.render.plans import json_document, mixed_plan

CHECKED_IN = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"


def check(document: Any) -> None:
    jsonschema.Draft202012Validator(json.loads(CHECKED_IN.read_text())).validate(document)


def test_checked_in_plan_schema_is_fresh_and_valid() -> None:
    assert json.loads(CHECKED_IN.read_text()) == plan_schema(), "run `t4o-reconcile schema`"
    jsonschema.Draft202012Validator.check_schema(plan_schema())


def test_the_json_plan_and_the_plan_file_validate(tmp_path: Path) -> None:
    plan = mixed_plan()
    plan.only, plan.changed_since, plan.skipped_tenants = ["ok-skogen"], "origin/main", 3
    check(json_document(plan))
    save_plan(plan, tmp_path / "p.json", key=b"k" * 32)
    check_plan_file(tmp_path / "p.json")


def check_plan_file(path: Path) -> None:
    """Each line of a plan file against its part of the checked-in schema."""
    lines = path.read_bytes().splitlines()
    kinds = ["plan_file_header"] + ["tenant"] * json.loads(lines[0])["tenant_count"]
    kinds += ["plan_file_seal"] * (len(lines) - len(kinds))
    schema = json.loads(CHECKED_IN.read_text())
    for kind, line in zip(kinds, lines, strict=True):
        jsonschema.Draft202012Validator(
            {"$defs": schema["$defs"], "$ref": f"#/$defs/{kind}"}
        ).validate(json.loads(line))


def test_a_tampered_plan_file_line_is_rejected(tmp_path: Path) -> None:
    save_plan(mixed_plan(), tmp_path / "p.json", key=None)
    lines = (tmp_path / "p.json").read_text().splitlines()
    header = json.loads(lines[0])
    header["deletes_approved"] = "yes"
    (tmp_path / "p.json").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(jsonschema.ValidationError):
        check_plan_file(tmp_path / "p.json")


def test_a_broken_plan_is_rejected() -> None:
    document = json_document(mixed_plan())
    document["tenants"][0]["actions"][0]["action"] = "replace"
    with pytest.raises(jsonschema.ValidationError):
        check(document)
