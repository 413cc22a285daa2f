"""Issue 11, items 11 and 12, end to end: the real CLI against a `serve` process.

A tenant changes its language while its template kinds change (one kept, one added in
two languages, one dropped): each apply succeeds and converges (since issue 22 there is
no rule tying templates to the tenant's language). A merge field
only the API knows plans and applies; one the API does not know either stops the plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import edit_tenant, items

pytestmark = pytest.mark.e2e

SLUG = "kartverkstedet"  # language nn, order templates in nn and en


def template(kind: str, language: str, body: str = "Hei {Customer.Name}") -> dict[str, Any]:
    return {"kind": kind, "language": language, "name": "T", "subject": "{Number}", "body": body}


def live_templates(server: Server) -> tuple[str, list[str]]:
    with server.client() as client:
        language = client.get(f"/v1/tenants/{SLUG}/invoicing").json()["language"]
        found = items(client, f"/v1/tenants/{SLUG}/email-templates")
    return language, sorted(f"{t['kind']}/{t['language']}" for t in found)


def converge(server: Server, folder: Path) -> None:
    applied = cli("apply", folder, "--auto-approve", "--allow-deletes", env=server.env())
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = cli("plan", folder, "--detailed-exitcode", env=server.env())
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_language_switch_with_new_and_dropped_kinds_applies_and_converges(
    server: Server, examples_copy: Path
) -> None:
    converge(server, examples_copy)
    assert live_templates(server) == ("nn", ["order/en", "order/nn"])

    def to_english(doc: Any) -> None:
        doc["invoicing"]["language"] = "en"
        doc["email_templates"] = [
            template("order", "en", "Dear {Customer.Name}"),
            template("invoice", "nb"),
            template("invoice", "en", "Dear {Customer.Name}"),
        ]

    edit_tenant(examples_copy, SLUG, to_english)
    converge(server, examples_copy)
    assert live_templates(server) == ("en", ["invoice/en", "invoice/nb", "order/en"])

    def back_to_bokmal(doc: Any) -> None:
        doc["invoicing"]["language"] = "nb"
        doc["email_templates"] = [template("invoice", "nb"), template("invoice", "en")]

    edit_tenant(examples_copy, SLUG, back_to_bokmal)
    converge(server, examples_copy)
    assert live_templates(server) == ("nb", ["invoice/en", "invoice/nb"])


def test_a_language_no_live_template_has_is_applied(server: Server, examples_copy: Path) -> None:
    # Issue 22, item 3: no fallback rule; customers in sv get the system's text.
    converge(server, examples_copy)

    def templates_unmanaged(doc: Any) -> None:
        del doc["email_templates"]  # the live ones (nn, en) stay
        doc["invoicing"]["language"] = "sv"

    edit_tenant(examples_copy, SLUG, templates_unmanaged)
    converge(server, examples_copy)
    assert live_templates(server) == ("sv", ["order/en", "order/nn"])


def test_a_merge_field_only_the_api_knows_passes_and_an_unknown_one_stops_the_plan(
    server: Server, examples_copy: Path
) -> None:
    # The examples use {YourReference}: the built-in list lacks it, the API has it.
    converge(server, examples_copy)
    with server.client() as client:
        bodies = [t["body"] for t in items(client, f"/v1/tenants/{SLUG}/email-templates")]
    assert any("{YourReference}" in body for body in bodies)

    def unknown_field(doc: Any) -> None:
        doc["email_templates"][1]["body"] = "Dear {Customer.Name}, see {Bogus.Field}"

    edit_tenant(examples_copy, SLUG, unknown_field)
    validated = cli("validate", examples_copy, env=server.env())
    strict = cli("validate", "--strict", examples_copy, env=server.env())
    planned = cli("plan", examples_copy, env=server.env())

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "warning: email_templates[1].body: merge field {Bogus.Field}" in validated.stderr
    assert strict.returncode == 1
    assert planned.returncode == 1
    output = planned.stdout + planned.stderr
    assert "the API does not know the merge field {Bogus.Field}" in output
    assert "does not know the merge field {YourReference}" not in output
