"""Issue 22 end to end: the real CLI against a `serve` process, as the domain is used
day to day. Invoices move the counters and the nightly plan stays empty; a Norwegian
client's one English template is applied and used; distribution is its own switch; an
owner-only tenant's users are administered by its owner, and an admin is refused."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import edit_tenant

pytestmark = pytest.mark.e2e

CUSTOMER = {"name": "Kari Kunde", "email": "kari@kunde.no"}


def converge(server: Server, folder: Path) -> None:
    applied = cli("apply", folder, "--auto-approve", "--allow-deletes", env=server.env())
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = cli("plan", folder, "--detailed-exitcode", env=server.env())
    assert again.returncode == 0, again.stdout + again.stderr


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})


def invoice(server: Server, slug: str, customer: dict[str, Any]) -> dict[str, Any]:
    with server.client() as client:
        sent = post(client, f"/v1/tenants/{slug}/invoices", {"customer": customer})
    assert sent.status_code == 201, sent.text
    result: dict[str, Any] = sent.json()
    return result


def test_invoices_move_the_counter_and_the_nightly_plan_stays_empty(
    server: Server, examples_copy: Path
) -> None:
    converge(server, examples_copy)  # ok-skogen: next_invoice_number 1001
    for _ in range(2):
        invoice(server, "ok-skogen", CUSTOMER)
    with server.client() as client:
        assert client.get("/v1/tenants/ok-skogen/invoicing").json()["next_invoice_number"] == 1003

    nightly = cli("plan", examples_copy, "--detailed-exitcode", env=server.env())

    assert nightly.returncode == 0, nightly.stdout + nightly.stderr
    assert "next_invoice_number" not in nightly.stdout

    # Raising the floor above live is a change, applied like any other.
    edit_tenant(
        examples_copy, "ok-skogen", lambda doc: doc["invoicing"].update(next_invoice_number=2000)
    )
    raised = cli("plan", examples_copy, "--detailed-exitcode", env=server.env())
    assert raised.returncode == 2, raised.stdout + raised.stderr
    assert "1003" in raised.stdout and "2000" in raised.stdout
    converge(server, examples_copy)
    with server.client() as client:
        assert client.get("/v1/tenants/ok-skogen/invoicing").json()["next_invoice_number"] == 2000


def test_a_norwegian_clients_english_template_is_applied_and_used(
    server: Server, examples_copy: Path
) -> None:
    converge(server, examples_copy)  # ok-skogen-ungdom: one template, invoice/en

    english = invoice(server, "ok-skogen-ungdom", {**CUSTOMER, "language": "en"})
    norwegian = invoice(server, "ok-skogen-ungdom", CUSTOMER)

    assert (english["template"], english["status"]) == ("invoice/en", "sent")
    assert (norwegian["language"], norwegian["template"]) == ("nb", None)


def test_distribution_is_switched_off_apart_from_invoicing(
    server: Server, examples_copy: Path
) -> None:
    edit_tenant(
        examples_copy, "ok-skogen", lambda doc: doc["invoicing"].update(distribution_enabled=False)
    )
    converge(server, examples_copy)
    with server.client() as client:
        live = client.get("/v1/tenants/ok-skogen/invoicing").json()
    assert (live["enabled"], live["distribution_enabled"]) == (True, False)

    entry = invoice(server, "ok-skogen", CUSTOMER)

    assert (entry["status"], entry["recipient"]) == ("not_sent", None)
    # kartverkstedet invoices from its ERP: the sandbox e-mails none of its invoices.
    external = invoice(server, "kartverkstedet", CUSTOMER)
    assert external["status"] == "not_sent" and "external system" in external["error"]


def test_an_owner_only_tenant_is_administered_by_its_owner(
    server: Server, examples_copy: Path
) -> None:
    def add_admin(doc: Any) -> None:
        doc["users"].append({"email": "nestleder@fjellrev.no", "name": "Per", "role": "admin"})

    edit_tenant(examples_copy, "il-fjellrev", add_admin)
    converge(server, examples_copy)  # the owner invites: allowed
    path = "/v1/tenants/il-fjellrev"
    with server.client() as client:
        assert client.get(path).json()["user_administration"] == "owner"
        client.post(f"{path}/users/nestleder@fjellrev.no/accept")
        refused = post(
            client,
            f"{path}/users",
            {"email": "x@fjellrev.no", "name": "X", "invited_by": "nestleder@fjellrev.no"},
        )
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/inviter-not-admin")

    # A change of the admin's role is sent with the owner as the acting user.
    def demote(doc: Any) -> None:
        doc["users"][-1]["role"] = "member"

    edit_tenant(examples_copy, "il-fjellrev", demote)
    converge(server, examples_copy)


def test_a_bic_of_another_country_stops_the_plan(server: Server, examples_copy: Path) -> None:
    def wrong_bic(doc: Any) -> None:
        doc["bank_accounts"][0]["swift"] = "ESSESESS"

    edit_tenant(examples_copy, "ok-skogen", wrong_bic)
    plan = cli("plan", examples_copy, env=server.env())
    assert plan.returncode == 1
    assert "ok-skogen.yaml" in plan.stderr + plan.stdout
    assert "expected the BIC of the account's bank, in NO" in plan.stderr + plan.stdout
