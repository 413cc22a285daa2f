"""Program access, licences and the custom invoice e-mail right through the real CLI and
server: apply takes the steps in an order the API accepts, plan reports what it would
refuse, and a client without program access converges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import edit_tenant, get

pytestmark = pytest.mark.e2e


def apply(server: Server, folder: Path, *extra: str) -> Any:
    return cli("apply", folder, "--auto-approve", *extra, env=server.env())


def converged(server: Server, folder: Path) -> bool:
    done = cli("plan", folder, "--detailed-exitcode", env=server.env())
    return done.returncode == 0


def test_a_client_without_program_access_is_created_and_gets_access_later(
    server: Server, examples_copy: Path
) -> None:
    assert apply(server, examples_copy).returncode == 0
    with server.client() as client:
        billing = get(client, "/v1/tenants/il-fjellrev").json()["billing"]
    assert billing["program_access"] is False
    assert billing["confirmation_email"] == "leder@fjellrev.no"

    def give_access(doc: Any) -> None:
        doc["billing"] = {"licenses": 1}
        doc["users"][0]["programs"] = {"invoicing": "admin"}

    edit_tenant(examples_copy, "il-fjellrev", give_access)
    plan = cli("plan", examples_copy, "--tenant", "il-fjellrev", env=server.env())
    assert plan.stdout.index("il-fjellrev.billing") < plan.stdout.index("il-fjellrev.users")
    done = apply(server, examples_copy, "--tenant", "il-fjellrev")
    assert done.returncode == 0, done.stdout + done.stderr
    assert converged(server, examples_copy)


def test_licences_freed_and_lowered_in_one_apply(server: Server, examples_copy: Path) -> None:
    assert apply(server, examples_copy).returncode == 0

    def fewer(doc: Any) -> None:
        doc["billing"]["licenses"] = 1
        doc["users"][1]["programs"] = {"accounting": "none"}  # lise gives her licence back

    edit_tenant(examples_copy, "kartverkstedet", fewer)
    done = apply(server, examples_copy, "--tenant", "kartverkstedet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert converged(server, examples_copy)
    with server.client() as client:
        assert get(client, "/v1/tenants/kartverkstedet").json()["billing"]["licenses"] == 1


def test_too_few_licences_is_refused_by_validate_and_by_plan_with_users_unmanaged(
    server: Server, examples_copy: Path
) -> None:
    assert apply(server, examples_copy).returncode == 0

    edit_tenant(examples_copy, "kartverkstedet", lambda d: d["billing"].update(licenses=1))
    validated = cli("validate", examples_copy, env=server.env())
    assert validated.returncode == 1
    assert "kartverkstedet.yaml:" in validated.stdout + validated.stderr
    assert "billing.licenses: licenses 1 is fewer than the 2 users holding a program right" in (
        validated.stdout + validated.stderr
    )

    edit_tenant(examples_copy, "kartverkstedet", lambda d: d.pop("users"))
    planned = cli("plan", examples_copy, "--tenant", "kartverkstedet", env=server.env())
    assert planned.returncode == 1
    assert "(the live users; the file leaves users out)" in planned.stdout
    applied = apply(server, examples_copy, "--tenant", "kartverkstedet")
    assert applied.returncode == 1
    with server.client() as client:
        assert get(client, "/v1/tenants/kartverkstedet").json()["billing"]["licenses"] == 2


def test_a_template_change_needs_the_custom_email_right(
    server: Server, examples_copy: Path
) -> None:
    assert apply(server, examples_copy).returncode == 0

    def without_right(doc: Any) -> None:
        doc["users"][0]["custom_invoice_email"] = False
        doc["email_templates"][0]["subject"] = "Ordre nr {Number}"

    edit_tenant(examples_copy, "kartverkstedet", without_right)
    planned = cli("plan", examples_copy, "--tenant", "kartverkstedet", env=server.env())
    assert planned.returncode == 1
    assert "needs a user holding the custom invoice e-mail right" in planned.stdout

    # Taking the right away alone is fine: the templates stay as they are.
    edit_tenant(
        examples_copy,
        "kartverkstedet",
        lambda d: d["email_templates"][0].update(subject="Ordre {Number} frå {Supplier.Name}"),
    )
    done = apply(server, examples_copy, "--tenant", "kartverkstedet")
    assert done.returncode == 0, done.stdout + done.stderr
    validated = cli("validate", examples_copy, env=server.env())
    assert validated.returncode == 0
    assert "warning: email_templates: 2 custom e-mail template(s) but no user holds" in (
        validated.stdout + validated.stderr
    )
    assert converged(server, examples_copy)
