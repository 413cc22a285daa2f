"""The section registry: every fact about a section in one declaration.

A hypothetical new collection section, declared only in the registry, is read from the
API's answer, diffed, ordered, guarded and routed like the sections the product has.
"""

from __future__ import annotations

import ast
import pathlib
import typing
from collections.abc import Iterator

import pytest

from t4o_reconcile.api.http_provider import resource_path
from t4o_reconcile.api.live_snapshot import tenant_snapshot
from t4o_reconcile.config.tenant_models import Tenant
from t4o_reconcile.engine import sections
from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.snapshot import Item
from t4o_reconcile.errors import UnsafePathError

from .builders import desired_tenant, live_twin, snapshot


@pytest.fixture
def tags() -> Iterator[sections.Section]:
    @sections.register
    class Tags(sections.Section):
        name = "tags"
        noun = "tag"
        key_fields = ("label",)
        fields = ("label", "colour", "uses")
        read_only = ("uses",)
        deletes_need_flag = True
        api_path = "tags"

    try:
        yield sections.get("tags")
    finally:
        del sections.REGISTRY["tags"]
        sections.derive()


def test_every_section_but_identity_is_a_key_of_the_tenant_file() -> None:
    keys = set(Tenant.model_fields)
    assert {name for name in sections.SECTIONS if name != "identity"} <= keys
    identity = sections.get("identity").fields
    assert set(identity) <= keys


def test_a_section_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        sections.register(type(sections.get("users")))


def test_the_order_is_the_order_of_registration() -> None:
    assert sections.SECTIONS[0] == "agreement"
    assert {name: rank for rank, name in enumerate(sections.SECTIONS)} == sections.RANK
    assert sections.COLLECTIONS == ("connections", "bank_accounts", "users", "email_templates")
    assert sections.TENANT_RESOURCE == ("identity", "defaults", "billing")


def test_secret_fields_and_missing_means_come_from_the_declarations() -> None:
    assert sections.SECRET_FIELDS == {"email_account": ("password",), "connections": ("token",)}
    users = sections.get("users")
    assert users.filled("programs", {"payroll": "admin"}) == {
        "invoicing": "none",
        "accounting": "none",
        "payroll": "admin",
        "events": "none",
    }
    with pytest.raises(ValueError, match="expected a mapping"):
        users.filled("programs", ["payroll"])


def test_keys_of_one_and_of_several_fields() -> None:
    templates = sections.get("email_templates")
    assert templates.key({"kind": "invoice", "language": "nb"}) == "invoice/nb"
    assert templates.key_parts("invoice/nb") == ["invoice", "nb"]
    with pytest.raises(ValueError, match="KIND/LANGUAGE"):
        templates.key_parts("invoice/nb/x")
    banks = sections.get("bank_accounts")
    assert banks.key({"account_number": None, "iban": "SE4550000000058398257466"}) == (
        "SE4550000000058398257466"
    )
    with pytest.raises(ValueError, match="neither"):
        banks.key({"account_number": None, "iban": None})


def test_a_template_key_that_is_not_kind_and_language_is_refused_as_a_path() -> None:
    with pytest.raises(UnsafePathError, match="KIND/LANGUAGE"):
        resource_path("ok-skogen", "email_templates", "invoice")


def test_vocabularies_are_the_literal_types() -> None:
    from t4o_reconcile import vocabulary

    assert typing.get_args(vocabulary.Program) == vocabulary.PROGRAMS
    assert vocabulary.ROLES == ("owner", "admin", "member")


def test_a_new_collection_section_needs_nothing_but_its_declaration(
    tags: sections.Section,
) -> None:
    want = desired_tenant()
    want.sections["tags"] = {
        "red": Item({"label": "red", "colour": "#f00"}),
        "new": Item({"label": "new", "colour": "#00f"}),
    }
    have = live_twin(desired_tenant())
    have.sections["tags"] = {
        "red": Item({"label": "red", "colour": "#0f0", "uses": 3}, "7"),
        "old": Item({"label": "old", "colour": "#000", "uses": 0}, "8"),
    }
    plan = make_plan(snapshot(want), snapshot(have), target="t")
    (tenant,) = plan.tenants
    assert [(a.address, a.kind) for a in tenant.actions] == [
        ('ok-skogen.tags["new"]', "create"),
        ('ok-skogen.tags["red"]', "update"),  # diffed by key, only the managed field
        ('ok-skogen.tags["old"]', "delete"),  # the tenant's last section: registered last
    ]
    assert tenant.actions[1].changed_paths == ("colour",)
    assert tenant.versions['ok-skogen.tags["red"]'] == "7"
    assert tenant.deletes_need_flag == ("deletes tag old",)
    assert resource_path("ok-skogen", "tags", "red") == "/v1/tenants/ok-skogen/tags/red"

    live = tenant_snapshot(
        {
            "slug": "ok-skogen",
            "tenant": {"slug": "ok-skogen", "name": "OK Skogen", "version": "1"},
            "invoicing": {},
            "tags": [{"label": "red", "colour": "#f00", "uses": 2, "version": "9"}],
        }
    )
    assert live.sections["tags"] == {
        "red": Item({"label": "red", "colour": "#f00", "uses": 2}, "9")
    }


# Literals equal to a section name that mean something else: the API's name of a tenant's
# agreement, and the plan file's fields ``identity`` (whoami's answer) and ``agreement``
# (an agreement's user counts).
_NOT_A_SECTION = {
    "api/live_snapshot.py": {"agreement"},
    "engine/document.py": {"identity", "agreement"},
    "engine/planfile.py": {"identity", "agreement"},
    "engine/plan_schema.py": {"identity", "agreement"},
}


def _section_literals(path: pathlib.Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    attribute_names = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets)
        for inner in ast.walk(node.value)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in sections.REGISTRY
            and id(node) not in attribute_names
        ):
            yield node.lineno, node.value


def test_a_section_name_is_written_only_in_the_registry() -> None:
    package = pathlib.Path(sections.__file__).parent.parent
    found: list[str] = []
    for part in ("engine", "api"):
        for path in sorted((package / part).rglob("*.py")):
            if path.name == "sections.py":
                continue
            name = path.relative_to(package).as_posix()
            allowed = _NOT_A_SECTION.get(name, set())
            found.extend(
                f"{name}:{line}: {value!r}"
                for line, value in _section_literals(path)
                if value not in allowed
            )
    assert found == [], "use the registry's name (sections.Users.name) instead:\n" + "\n".join(
        found
    )
