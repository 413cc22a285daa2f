"""The sandbox's side of program access, licences and the custom invoice e-mail right:
refused whatever client sends it, each with its own problem type."""

from __future__ import annotations

from typing import Any

from .helpers import Api, problem_type, tenant_body

T = "/v1/tenants/ok-skogen"
OWNER = "owner@ok-skogen.no"
NO_ACCESS = {"licenses": 0, "program_access": False, "confirmation_email": "Leder@Club.no"}
TEMPLATE = {"kind": "invoice", "language": "nb", "name": "F", "subject": "{Number}", "body": "b"}


def invite(api: Api, email: str, **fields: Any) -> Any:
    body = {"email": email, "name": "N", "invited_by": OWNER, **fields}
    return api.create(f"{T}/users", body)


def owner(**fields: Any) -> dict[str, Any]:
    return {"email": "boss@club.no", "name": "Boss", **fields}


# -- 8. Program access and the confirmation e-mail


def test_a_client_without_program_access_is_created_with_its_confirmation_email(
    api: Api,
) -> None:
    created = api.create("/v1/tenants", tenant_body("club", billing=NO_ACCESS, owner=owner()))
    assert created.status_code == 201, created.text
    assert created.json()["billing"] == {
        "licenses": 0,
        "invoice_recipient": "client",
        "interval": "yearly",
        "program_access": False,
        "confirmation_email": "leder@club.no",
    }


def test_billing_that_contradicts_itself_is_refused_at_the_field(api: Api, tenant: str) -> None:
    cases = [
        ({"licenses": 0, "program_access": False}, "billing.confirmation_email"),
        ({**NO_ACCESS, "licenses": 2}, "billing.licenses"),
        ({"licenses": 2, "confirmation_email": "a@b.no"}, "billing.confirmation_email"),
    ]
    for billing, field in cases:
        for response in (
            api.create("/v1/tenants", tenant_body("club", billing=billing, owner=owner())),
            api.patch(T, {"billing": billing}),
        ):
            assert response.status_code == 422, (billing, response.text)
            assert problem_type(response) == "billing-program-access"
            assert response.json()["field"] == field
    assert api.get("/v1/tenants/club").status_code == 404  # nothing half-made


def test_no_program_right_on_a_client_without_program_access(api: Api) -> None:
    refused = api.create(
        "/v1/tenants",
        tenant_body("club", billing=NO_ACCESS, owner=owner(programs={"events": "user"})),
    )
    assert refused.status_code == 409
    assert problem_type(refused) == "no-program-access"
    assert refused.json()["field"] == "owner.programs"

    created = api.create("/v1/tenants", tenant_body("club", billing=NO_ACCESS, owner=owner()))
    assert created.status_code == 201
    path = "/v1/tenants/club"
    granted = api.patch(
        f"{path}/users/boss@club.no",
        {"programs": {"invoicing": "user"}, "changed_by": "boss@club.no"},
    )
    assert granted.status_code == 409 and problem_type(granted) == "no-program-access"
    assert api.get(f"{path}/users/boss@club.no").json()["programs"]["invoicing"] == "none"


def test_program_access_is_taken_away_only_after_the_rights(api: Api, tenant: str) -> None:
    refused = api.patch(T, {"billing": NO_ACCESS})
    assert refused.status_code == 409 and problem_type(refused) == "no-program-access"
    assert OWNER in refused.json()["detail"]

    released = api.patch(
        f"{T}/users/{OWNER}", {"programs": {}, "custom_invoice_email": False, "changed_by": OWNER}
    )
    assert released.status_code == 200
    taken = api.patch(T, {"billing": NO_ACCESS})
    assert taken.status_code == 200, taken.text
    assert taken.json()["billing"]["program_access"] is False


# -- 9. Licences against rights


def test_an_invitation_with_a_right_needs_a_free_licence(api: Api, tenant: str) -> None:
    assert api.patch(T, {"billing": {"licenses": 2}}).status_code == 200
    assert invite(api, "a@ok-skogen.no", programs={"events": "user"}).status_code == 201
    refused = invite(api, "b@ok-skogen.no", programs={"payroll": "admin", "events": "user"})
    assert refused.status_code == 409
    assert problem_type(refused) == "licenses-exceeded"
    assert refused.json()["field"] == "programs"
    assert "3 users would hold a program right" in refused.json()["detail"]
    assert "2 licence(s)" in refused.json()["detail"]
    # No right, no licence; and a pending invitation holds its licence already.
    assert invite(api, "c@ok-skogen.no", programs={"events": "none"}).status_code == 201
    granted = api.patch(
        f"{T}/users/c@ok-skogen.no", {"programs": {"events": "user"}, "changed_by": OWNER}
    )
    assert granted.status_code == 409 and problem_type(granted) == "licenses-exceeded"


def test_a_user_holding_rights_may_change_them_at_the_limit(api: Api, tenant: str) -> None:
    assert api.patch(T, {"billing": {"licenses": 1}}).status_code == 200
    changed = api.patch(
        f"{T}/users/{OWNER}",
        {"programs": {"invoicing": "user", "events": "admin"}, "changed_by": OWNER},
    )
    assert changed.status_code == 200, changed.text


def test_licences_cannot_drop_below_the_users_holding_rights(api: Api, tenant: str) -> None:
    assert invite(api, "a@ok-skogen.no", programs={"events": "user"}).status_code == 201
    refused = api.patch(T, {"billing": {"licenses": 1}})
    assert refused.status_code == 409 and problem_type(refused) == "licenses-exceeded"
    assert refused.json()["field"] == "billing"
    assert api.get(T).json()["billing"]["licenses"] == 10

    assert api.delete(f"{T}/users/a@ok-skogen.no").status_code == 204
    assert api.patch(T, {"billing": {"licenses": 1}}).status_code == 200


def test_zero_licences_with_an_admin_owner_is_refused_at_create(api: Api) -> None:
    refused = api.create(
        "/v1/tenants", tenant_body("club", owner=owner(programs={"invoicing": "admin"}))
    )
    assert refused.status_code == 409 and problem_type(refused) == "licenses-exceeded"
    assert refused.json()["field"] == "owner.programs"


# -- 10. The custom invoice e-mail right


def test_the_right_needs_an_invoicing_right(api: Api, tenant: str) -> None:
    refused = invite(api, "a@ok-skogen.no", programs={"events": "user"}, custom_invoice_email=True)
    assert refused.status_code == 422
    assert problem_type(refused) == "custom-invoice-email-needs-invoicing"
    assert refused.json()["field"] == "custom_invoice_email"
    dropped = api.patch(
        f"{T}/users/{OWNER}", {"programs": {"events": "admin"}, "changed_by": OWNER}
    )
    assert dropped.status_code == 422
    assert problem_type(dropped) == "custom-invoice-email-needs-invoicing"
    created = api.create(
        "/v1/tenants",
        tenant_body("club", billing={"licenses": 1}, owner=owner(custom_invoice_email=True)),
    )
    assert created.status_code == 422
    assert created.json()["field"] == "owner.custom_invoice_email"


def test_templates_are_written_only_while_a_user_holds_the_right(api: Api, tenant: str) -> None:
    assert api.create(f"{T}/email-templates", TEMPLATE).status_code == 201
    # Taking the right from its last holder is allowed: the template stays in use...
    taken = api.patch(f"{T}/users/{OWNER}", {"custom_invoice_email": False, "changed_by": OWNER})
    assert taken.status_code == 200 and taken.json()["custom_invoice_email"] is False
    assert api.get(f"{T}/email-templates/invoice/nb").status_code == 200
    # ... but none is created or changed until a user holds it again.
    for refused in (
        api.create(f"{T}/email-templates", {**TEMPLATE, "language": "en"}),
        api.patch(f"{T}/email-templates/invoice/nb", {"subject": "Faktura {Number}"}),
    ):
        assert refused.status_code == 409, refused.text
        assert problem_type(refused) == "custom-invoice-email-right-required"
    unchanged = api.patch(f"{T}/email-templates/invoice/nb", {"subject": "{Number}"})
    assert unchanged.status_code == 200  # a write that changes nothing needs no right
    assert api.delete(f"{T}/email-templates/invoice/nb").status_code == 204

    helper = invite(
        api, "a@ok-skogen.no", programs={"invoicing": "user"}, custom_invoice_email=True
    )
    assert helper.status_code == 201 and helper.json()["custom_invoice_email"] is True
    assert api.create(f"{T}/email-templates", TEMPLATE).status_code == 201


def test_the_right_is_in_the_audit_log(api: Api, tenant: str) -> None:
    assert (
        api.patch(
            f"{T}/users/{OWNER}", {"custom_invoice_email": False, "changed_by": OWNER}
        ).status_code
        == 200
    )
    entries = api.get(f"{T}/audit-log").json()["items"]
    last = entries[-1]
    assert last["before"]["custom_invoice_email"] is True
    assert last["after"]["custom_invoice_email"] is False
