"""The checked-in JSON Schemas are fresh, valid, accept the examples and reject bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from t4o_reconcile.config.schema import write_schemas
from t4o_reconcile.config.yamlfile import parse
from t4o_reconcile.vocabulary import MERGE_FIELDS

from .conftest import EXAMPLES

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NAMES = ("tenant", "defaults", "agreements")


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return loaded


def schema_for(path: Path) -> dict[str, Any]:
    return schema({"_defaults": "defaults", "_agreements": "agreements"}.get(path.stem, "tenant"))


def test_checked_in_schemas_are_fresh(tmp_path: Path) -> None:
    for written in write_schemas(tmp_path):
        checked_in = SCHEMAS / written.name
        assert checked_in.read_text() == written.read_text(), f"regenerate {checked_in}"


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema(name))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_schema_accepts_every_example(path: Path) -> None:
    jsonschema.Draft202012Validator(schema_for(path)).validate(parse(path.read_text()))


@pytest.mark.parametrize(
    "document",
    [
        {"slug": "club"},
        {"slug": "Club!", "name": "C"},
        {"slug": "club", "name": "C", "biling": {}},
        {"slug": "club", "name": "C", "billing": {"licenses": -1}},
        {"slug": "club", "name": "C", "connections": [{"connector": "x", "token": {}}]},
        {
            "slug": "club",
            "name": "C",
            "connections": [{"connector": "eventor-norway", "token": "plain"}],
        },
        {"slug": "club", "name": "C", "users": [{"email": "a@b.no", "name": "A", "role": "god"}]},
    ],
)
def test_tenant_schema_rejects_invalid_files(document: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema("tenant")).validate(document)


def test_schema_allows_secret_references() -> None:
    document = {
        "slug": "club",
        "name": "C",
        "connections": [{"connector": "eventor-norway", "token": {"secret": "env:X"}}],
    }
    jsonschema.Draft202012Validator(schema("tenant")).validate(document)


def test_template_fields_document_every_merge_field() -> None:
    subject = schema("tenant")["$defs"]["EmailTemplate"]["properties"]["subject"]
    for name in MERGE_FIELDS:
        assert "{" + name + "}" in subject["description"]


def test_agreements_schema_takes_an_optional_customer_number_and_rejects_a_bad_one() -> None:
    validator = jsonschema.Draft202012Validator(schema("agreements"))
    validator.validate({"agreements": [{"name": "NOF"}, {"name": "K", "customer_number": "7"}]})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"agreements": [{"name": "NOF", "customer_number": "x7"}]})
