"""Issue 22 in the sandbox: counters advance with use, templates are picked by the
customer's invoice language as the manual says, who may invite and change rights, the two
invoicing switches, a BIC in its IBAN's country, and an organisation registered twice."""

from __future__ import annotations

from typing import Any

from .helpers import ORGNR_A, Api, problem_type, tenant_body

T = "/v1/tenants/ok-skogen"
OWNER = "owner@ok-skogen.no"
CUSTOMER = {"name": "Kari Kunde", "email": "kari@kunde.no"}


def template(language: str) -> dict[str, Any]:
    return {
        "kind": "invoice",
        "language": language,
        "name": "T",
        "subject": "{Number}",
        "body": "B",
    }


def invite(api: Api, email: str, by: str, role: str = "member") -> Any:
    return api.create(f"{T}/users", {"email": email, "name": "N", "role": role, "invited_by": by})


# -- 1. counters -----------------------------------------------------------------------


def test_the_counters_advance_with_every_invoice_and_customer(api: Api, tenant: str) -> None:
    api.patch(f"{T}/invoicing", {"next_invoice_number": 1001, "next_customer_number": 501})
    for _ in range(2):
        assert api.create(f"{T}/invoices", {"customer": CUSTOMER}).status_code == 201
    assert api.post(f"{T}/invoicing/add-customer").status_code == 200
    live = api.get(f"{T}/invoicing").json()
    assert (live["next_invoice_number"], live["last_invoice_number"]) == (1003, 1002)
    assert (live["next_customer_number"], live["last_customer_number"]) == (502, 501)
    # The API itself still refuses a number that was issued: plan never sends one.
    refused = api.patch(f"{T}/invoicing", {"next_invoice_number": 1001})
    assert problem_type(refused) == "invoice-number-too-low"


# -- 3. templates by the customer's invoice language -----------------------------------


def test_an_english_template_alone_serves_the_english_customers(api: Api, tenant: str) -> None:
    assert api.create(f"{T}/email-templates", template("en")).status_code == 201
    english = api.create(f"{T}/invoices", {"customer": {**CUSTOMER, "language": "en"}}).json()
    assert (english["language"], english["template"]) == ("en", "invoice/en")
    # A customer without an invoice language of its own has the tenant's (nb): no
    # template in nb, so the system's own text; there is no fallback to another template.
    norwegian = api.create(f"{T}/invoices", {"customer": CUSTOMER}).json()
    assert (norwegian["language"], norwegian["template"]) == ("nb", None)
    swedish = api.create(f"{T}/invoices", {"customer": {**CUSTOMER, "language": "sv"}}).json()
    assert swedish["template"] is None and swedish["status"] == "sent"


def test_a_customer_without_a_language_gets_the_tenants_template(api: Api, tenant: str) -> None:
    api.patch(f"{T}/invoicing", {"language": "en"})
    assert api.create(f"{T}/email-templates", template("en")).status_code == 201
    sent = api.create(f"{T}/invoices", {"customer": CUSTOMER}).json()
    assert (sent["language"], sent["template"]) == ("en", "invoice/en")


# -- 4. who may invite and change rights ----------------------------------------------


def test_by_default_the_owner_and_active_admins_administer_users(api: Api, tenant: str) -> None:
    assert api.get(T).json()["user_administration"] == "admins"
    assert invite(api, "admin@ok-skogen.no", OWNER, "admin").status_code == 201
    # Pending: not yet an admin who may act.
    assert problem_type(invite(api, "x@ok-skogen.no", "admin@ok-skogen.no")) == (
        "inviter-not-admin"
    )
    api.post(f"{T}/users/admin@ok-skogen.no/accept")
    assert invite(api, "member@ok-skogen.no", "admin@ok-skogen.no").status_code == 201
    api.post(f"{T}/users/member@ok-skogen.no/accept")
    refused = invite(api, "y@ok-skogen.no", "member@ok-skogen.no")
    assert refused.status_code == 403 and problem_type(refused) == "inviter-not-admin"
    changed = api.patch(
        f"{T}/users/member@ok-skogen.no",
        {"programs": {"events": "user"}, "changed_by": "admin@ok-skogen.no"},
    )
    assert changed.status_code == 200, changed.text


def test_owner_only_tenants_refuse_admins_invitations_and_changes(api: Api, tenant: str) -> None:
    assert invite(api, "admin@ok-skogen.no", OWNER, "admin").status_code == 201
    api.post(f"{T}/users/admin@ok-skogen.no/accept")
    assert api.patch(T, {"user_administration": "owner"}).json()["user_administration"] == "owner"

    refused = invite(api, "x@ok-skogen.no", "admin@ok-skogen.no")
    assert refused.status_code == 403 and problem_type(refused) == "inviter-not-admin"
    assert refused.json()["field"] == "invited_by"
    assert "only the owner" in refused.json()["detail"]
    rights = api.patch(
        f"{T}/users/admin@ok-skogen.no",
        {"programs": {"events": "admin"}, "changed_by": "admin@ok-skogen.no"},
    )
    assert problem_type(rights) == "inviter-not-admin" and rights.json()["field"] == "changed_by"
    assert invite(api, "x@ok-skogen.no", OWNER).status_code == 201
    by_owner = api.patch(
        f"{T}/users/admin@ok-skogen.no", {"programs": {"events": "admin"}, "changed_by": OWNER}
    )
    assert by_owner.status_code == 200, by_owner.text


def test_changing_a_user_needs_an_acting_user(api: Api, tenant: str) -> None:
    anonymous = api.patch(f"{T}/users/{OWNER}", {"programs": {"events": "user"}})
    assert anonymous.status_code == 422 and anonymous.json()["field"] == "changed_by"
    stranger = api.patch(
        f"{T}/users/{OWNER}", {"programs": {"events": "user"}, "changed_by": "nobody@x.no"}
    )
    assert problem_type(stranger) == "inviter-not-admin"


def test_user_administration_is_set_at_creation(api: Api) -> None:
    body = tenant_body("sr-konto", user_administration="owner")
    created = api.create("/v1/tenants", body)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["tenant"]["user_administration"] == "owner"
    bad = api.create("/v1/tenants", tenant_body("sr-2", user_administration="all"))
    assert bad.status_code == 422


# -- 5. two switches; 6. an external system -------------------------------------------


def test_distribution_off_issues_the_invoice_without_sending_it(api: Api, tenant: str) -> None:
    off = api.patch(f"{T}/invoicing", {"distribution_enabled": False})
    assert off.json()["distribution_enabled"] is False and off.json()["enabled"] is True
    held = api.create(f"{T}/invoices", {"customer": CUSTOMER})
    assert held.status_code == 201
    entry = held.json()
    assert (entry["invoice_number"], entry["status"], entry["sender"]) == (1, "not_sent", None)
    assert "distribution_enabled: false" in entry["error"]
    # Invoicing itself is the other switch.
    api.patch(f"{T}/invoicing", {"distribution_enabled": True, "enabled": False})
    assert problem_type(api.create(f"{T}/invoices", {"customer": CUSTOMER})) == (
        "invoicing-disabled"
    )


def test_a_new_tenant_has_distribution_on(api: Api, tenant: str) -> None:
    assert api.get(f"{T}/invoicing").json()["distribution_enabled"] is True


def test_an_external_system_sends_its_own_invoices(api: Api, tenant: str) -> None:
    api.patch(f"{T}/invoicing", {"invoices_from_external_system": True})
    entry = api.create(f"{T}/invoices", {"customer": CUSTOMER}).json()
    assert (entry["status"], entry["recipient"], entry["sender"]) == ("not_sent", None, None)
    assert "external system" in entry["error"]


def test_a_bic_of_another_country_is_refused(api: Api, tenant: str) -> None:
    path = f"{T}/bank-accounts"
    wrong = api.create(path, {"iban": "SE4550000000058398257466", "swift": "DNBANOKK"})
    assert wrong.status_code == 422 and "swift" in wrong.text
    right = api.create(path, {"iban": "SE4550000000058398257466", "swift": "ESSESESS"})
    assert right.status_code == 201, right.text
    patched = api.patch(f"{path}/SE4550000000058398257466", {"swift": "DNBANOKK"})
    assert problem_type(patched) == "invalid-request" and patched.json()["field"] == "swift"


def test_an_organisation_already_a_client_is_refused_to_another_owner(
    api: Api, tenant: str
) -> None:
    other = tenant_body("ok-skogen-2", organization_number=ORGNR_A)
    refused = api.create("/v1/tenants", other)
    assert problem_type(refused) == "organization-number-in-use"
    assert "its administrator (the owner) gives access" in refused.json()["detail"]
    same = tenant_body(
        "ok-skogen-ungdom", organization_number=ORGNR_A, owner={"email": OWNER, "name": "O"}
    )
    assert api.create("/v1/tenants", same).status_code == 201
