"""One test per rule of the domain (docs/api.md): the allowed change and the refused one."""

from __future__ import annotations

from .helpers import (
    ORGNR_A,
    ORGNR_B,
    PERSONAL_NUMBER,
    Api,
    account_number,
    no_iban,
    problem_type,
    tenant_body,
)

T = "/v1/tenants/ok-skogen"

# Tenants ---------------------------------------------------------------------------


def test_a_new_tenant_gets_defaults_an_owner_and_invoicing(api: Api) -> None:
    assert api.create("/v1/tenants", tenant_body("bare")).status_code == 201
    got = api.get("/v1/tenants/bare").json()
    assert got["defaults"] == {"timing_system": "none", "finish_code": None}
    assert got["billing"] == {
        "licenses": 0,
        "invoice_recipient": "client",
        "interval": "yearly",
        "program_access": True,
        "confirmation_email": None,
    }
    users = api.get("/v1/tenants/bare/users").json()["items"]
    assert [(u["email"], u["role"], u["status"], u["custom_invoice_email"]) for u in users] == [
        ("owner@bare.no", "owner", "active", False)
    ]
    assert api.get("/v1/tenants/bare/invoicing").json()["next_invoice_number"] == 1


def test_slug_must_match_the_pattern(api: Api) -> None:
    response = api.create("/v1/tenants", tenant_body("Not A Slug"))
    assert response.status_code == 422
    assert problem_type(response) == "invalid-request"
    assert response.json()["field"] == "slug"


def test_slug_is_unique(api: Api, tenant: str) -> None:
    response = api.create("/v1/tenants", tenant_body(tenant))
    assert response.status_code == 409
    assert problem_type(response) == "slug-taken"


def test_slug_is_immutable_but_other_fields_change(api: Api, tenant: str) -> None:
    refused = api.patch(T, {"slug": "new-slug"})
    assert refused.status_code == 422
    assert problem_type(refused) == "slug-immutable"
    allowed = api.patch(T, {"name": "OK Skogen IL", "contact": {"email": "Post@Skogen.no"}})
    assert allowed.status_code == 200
    assert allowed.json()["name"] == "OK Skogen IL"
    assert allowed.json()["contact"] == {"email": "post@skogen.no", "phone": None}


def test_exactly_one_identity_number(api: Api) -> None:
    both = api.create("/v1/tenants", tenant_body("both", personal_number=PERSONAL_NUMBER))
    neither = api.create("/v1/tenants", tenant_body("neither", organization_number=None))
    assert (both.status_code, neither.status_code) == (422, 422)
    assert problem_type(both) == problem_type(neither) == "identity-number-required"
    association = api.create(
        "/v1/tenants",
        tenant_body("assoc", organization_number=None, personal_number=PERSONAL_NUMBER),
    )
    assert association.status_code == 201


def test_organization_number_is_shared_only_by_tenants_with_the_same_owner(
    api: Api, tenant: str
) -> None:
    same_owner = tenant_body("ok-skogen-2", owner={"email": "owner@ok-skogen.no", "name": "O"})
    assert api.create("/v1/tenants", same_owner).status_code == 201
    other_owner = api.create("/v1/tenants", tenant_body("intruder"))
    assert other_owner.status_code == 409
    assert problem_type(other_owner) == "organization-number-in-use"
    # The same rule holds when a PATCH brings the number in.
    assert api.create("/v1/tenants", tenant_body("other", organization_number=ORGNR_B)).is_success
    moved = api.patch("/v1/tenants/other", {"organization_number": ORGNR_A})
    assert problem_type(moved) == "organization-number-in-use"


def test_deleting_a_tenant_removes_it_but_keeps_no_resources(api: Api, tenant: str) -> None:
    assert api.delete(T).status_code == 204
    assert api.get(T).status_code == 404
    # A new tenant under the same slug starts clean.
    assert api.create("/v1/tenants", tenant_body(tenant)).status_code == 201
    assert len(api.get(f"{T}/users").json()["items"]) == 1


# Invoicing -------------------------------------------------------------------------


def test_next_invoice_number_must_exceed_the_last_issued(api: Api, tenant: str) -> None:
    assert api.patch(f"{T}/invoicing", {"next_invoice_number": 100}).status_code == 200
    issued = api.post(f"{T}/invoicing/issue-invoice").json()
    assert (issued["last_invoice_number"], issued["next_invoice_number"]) == (100, 101)
    refused = api.patch(f"{T}/invoicing", {"next_invoice_number": 100})
    assert refused.status_code == 409
    assert problem_type(refused) == "invoice-number-too-low"
    assert refused.json()["field"] == "next_invoice_number"
    assert api.patch(f"{T}/invoicing", {"next_invoice_number": 500}).status_code == 200


def test_next_customer_number_must_exceed_the_last(api: Api, tenant: str) -> None:
    assert api.patch(f"{T}/invoicing", {"next_customer_number": 10}).status_code == 200
    added = api.post(f"{T}/invoicing/add-customer").json()
    assert (added["last_customer_number"], added["next_customer_number"]) == (10, 11)
    refused = api.patch(f"{T}/invoicing", {"next_customer_number": 9})
    assert problem_type(refused) == "customer-number-too-low"
    assert api.patch(f"{T}/invoicing", {"next_customer_number": None}).status_code == 200


def test_no_invoice_is_issued_while_invoicing_is_disabled(api: Api, tenant: str) -> None:
    assert api.patch(f"{T}/invoicing", {"enabled": False}).status_code == 200
    refused = api.post(f"{T}/invoicing/issue-invoice")
    assert refused.status_code == 409
    assert problem_type(refused) == "invoicing-disabled"


def test_a_required_field_cannot_be_patched_to_null(api: Api, tenant: str) -> None:
    refused = api.patch(f"{T}/invoicing", {"enabled": None})
    assert refused.status_code == 422
    assert refused.json()["field"] == "enabled"


# Secrets: email account and connections ----------------------------------------------

ACCOUNT = {
    "account_name": "Invoices",
    "display_name": "OK Skogen",
    "address": "faktura@skogen.no",
    "username": "faktura",
    "password": "hunter2-smtp",
    "smtp_host": "smtp.skogen.no",
}


def test_email_account_password_is_write_only(api: Api, tenant: str) -> None:
    assert api.get(f"{T}/email-account").status_code == 404
    created = api.create(f"{T}/email-account", ACCOUNT)
    assert created.status_code == 201
    assert "hunter2-smtp" not in created.text
    assert created.json()["password"] == {"stored": True}
    assert api.same(tenant, "email_account", "", "password", "hunter2-smtp")
    again = api.create(f"{T}/email-account", ACCOUNT)
    assert problem_type(again) == "email-account-exists"
    changed = api.patch(f"{T}/email-account", {"password": "new-one"}).json()
    assert changed["password"] == {"stored": True}
    assert api.same(tenant, "email_account", "", "password", "new-one")
    assert not api.same(tenant, "email_account", "", "password", "hunter2-smtp")
    assert api.delete(f"{T}/email-account").status_code == 204


def test_one_connection_per_connector(api: Api, tenant: str) -> None:
    body = {"connector": "eventor-norway", "token": "eventor-secret"}
    created = api.create(f"{T}/connections", body)
    assert created.status_code == 201
    assert "eventor-secret" not in created.text
    duplicate = api.create(f"{T}/connections", body)
    assert problem_type(duplicate) == "connection-exists"
    unknown = api.create(f"{T}/connections", {"connector": "eventor-mars", "token": "x"})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "connector"


def test_a_refused_secret_is_not_echoed(api: Api, tenant: str) -> None:
    response = api.create(f"{T}/connections", {"connector": "nope", "token": "do-not-echo-me"})
    assert response.status_code == 422
    assert "do-not-echo-me" not in response.text


# Bank accounts ---------------------------------------------------------------------

A1, A2, A3 = account_number(1), account_number(2), account_number(3)


def _flags(api: Api) -> dict[str, tuple[bool, bool]]:
    items = api.get(f"{T}/bank-accounts").json()["items"]
    return {i["account_number"]: (i["invoice_account"], i["default_for_payments"]) for i in items}


def test_the_first_bank_account_takes_both_flags(api: Api, tenant: str) -> None:
    created = api.create(f"{T}/bank-accounts", {"account_number": A1}).json()
    assert (created["invoice_account"], created["default_for_payments"]) == (True, True)
    api.create(f"{T}/bank-accounts", {"account_number": A2})
    assert _flags(api) == {A1: (True, True), A2: (False, False)}


def test_a_flag_is_a_radio_button_that_bumps_the_other_accounts_version(
    api: Api, tenant: str
) -> None:
    api.create(f"{T}/bank-accounts", {"account_number": A1})
    api.create(f"{T}/bank-accounts", {"account_number": A2})
    before = api.version(f"{T}/bank-accounts/{A1}")
    assert api.patch(f"{T}/bank-accounts/{A2}", {"invoice_account": True}).status_code == 200
    assert _flags(api) == {A1: (False, True), A2: (True, False)}
    assert api.version(f"{T}/bank-accounts/{A1}") == f'"{int(before.strip(chr(34))) + 1}"'
    created = api.create(f"{T}/bank-accounts", {"account_number": A3, "default_for_payments": True})
    assert created.status_code == 201
    assert _flags(api) == {A1: (False, False), A2: (True, False), A3: (False, True)}


def test_a_flag_cannot_be_cleared_directly(api: Api, tenant: str) -> None:
    api.create(f"{T}/bank-accounts", {"account_number": A1})
    refused = api.patch(f"{T}/bank-accounts/{A1}", {"invoice_account": False})
    assert refused.status_code == 409
    assert problem_type(refused) == "bank-account-flag-required"


def test_an_account_holding_a_flag_cannot_be_deleted(api: Api, tenant: str) -> None:
    api.create(f"{T}/bank-accounts", {"account_number": A1})
    api.create(f"{T}/bank-accounts", {"account_number": A2})
    refused = api.delete(f"{T}/bank-accounts/{A1}")
    assert refused.status_code == 409
    assert problem_type(refused) == "bank-account-flag-held"
    assert api.delete(f"{T}/bank-accounts/{A2}").status_code == 204
    # The last account holds both flags and stays: a tenant with bank accounts keeps one,
    # exactly as plan refuses to delete them all.
    last = api.delete(f"{T}/bank-accounts/{A1}")
    assert last.status_code == 409
    assert problem_type(last) == "bank-account-flag-held"
    assert "last account" in last.json()["detail"]


def test_account_numbers_are_unique_across_tenants(api: Api, tenant: str) -> None:
    api.create(f"{T}/bank-accounts", {"account_number": A1})
    api.create("/v1/tenants", tenant_body("other", organization_number=ORGNR_B))
    refused = api.create("/v1/tenants/other/bank-accounts", {"account_number": A1})
    assert refused.status_code == 409
    assert problem_type(refused) == "account-number-in-use"


def test_bank_account_numbers_are_checked_and_normalised(api: Api, tenant: str) -> None:
    spaced = f"{A1[:4]}.{A1[4:6]}.{A1[6:]}"
    body = {"account_number": spaced, "iban": no_iban(A1).lower(), "swift": "dnbanokk"}
    created = api.create(f"{T}/bank-accounts", body).json()
    assert (created["account_number"], created["iban"], created["swift"]) == (
        A1,
        no_iban(A1),
        "DNBANOKK",
    )
    bad_checksum = A2[:-1] + str((int(A2[-1]) + 1) % 10)
    refused = api.create(f"{T}/bank-accounts", {"account_number": bad_checksum})
    assert refused.status_code == 422
    mismatch = api.create(f"{T}/bank-accounts", {"account_number": A2, "iban": no_iban(A3)})
    assert mismatch.status_code == 422
    patched = api.patch(f"{T}/bank-accounts/{A1}", {"iban": no_iban(A3)})
    assert patched.status_code == 422


# Users -----------------------------------------------------------------------------

OWNER = "owner@ok-skogen.no"


def _invite(api: Api, email: str, role: str = "member", by: str = OWNER) -> int:
    body = {"email": email, "name": email.split("@")[0], "role": role, "invited_by": by}
    response = api.create(f"{T}/users", body)
    return response.status_code


def test_a_new_user_is_a_pending_invitation_until_accepted(api: Api, tenant: str) -> None:
    assert _invite(api, "Kari@Skogen.no") == 201
    user = api.get(f"{T}/users/kari@skogen.no").json()
    assert user["status"] == "pending"
    assert user["programs"] == dict.fromkeys(
        ("invoicing", "accounting", "payroll", "events"), "none"
    )
    accepted = api.post(f"{T}/users/kari@skogen.no/accept").json()
    assert accepted["status"] == "active"
    assert accepted["version"] == "2"


def test_a_pending_invitation_counts_as_present(api: Api, tenant: str) -> None:
    _invite(api, "kari@skogen.no")
    response = api.create(
        f"{T}/users", {"email": "kari@skogen.no", "name": "K", "invited_by": OWNER}
    )
    assert response.status_code == 409
    assert problem_type(response) == "user-exists"


def test_only_active_admins_and_the_owner_may_invite(api: Api, tenant: str) -> None:
    assert _invite(api, "admin@skogen.no", role="admin") == 201
    assert _invite(api, "member@skogen.no") == 201
    api.post(f"{T}/users/member@skogen.no/accept")
    for inviter in ("member@skogen.no", "admin@skogen.no", "nobody@skogen.no"):
        body = {"email": "new@skogen.no", "name": "N", "invited_by": inviter}
        response = api.create(f"{T}/users", body)
        assert response.status_code == 403, inviter
        assert problem_type(response) == "inviter-not-admin"
    api.post(f"{T}/users/admin@skogen.no/accept")
    assert _invite(api, "new@skogen.no", by="admin@skogen.no") == 201


def test_there_is_exactly_one_owner(api: Api, tenant: str) -> None:
    response = api.create(
        f"{T}/users", {"email": "x@skogen.no", "name": "X", "role": "owner", "invited_by": OWNER}
    )
    assert problem_type(response) == "owner-exists"
    _invite(api, "admin@skogen.no", role="admin")
    promoted = api.patch(f"{T}/users/admin@skogen.no", {"role": "owner", "changed_by": OWNER})
    assert problem_type(promoted) == "owner-exists"


def test_the_owner_cannot_be_removed_or_demoted(api: Api, tenant: str) -> None:
    assert problem_type(api.delete(f"{T}/users/{OWNER}")) == "owner-protected"
    assert (
        problem_type(api.patch(f"{T}/users/{OWNER}", {"role": "admin", "changed_by": OWNER}))
        == "owner-protected"
    )
    granted = api.patch(
        f"{T}/users/{OWNER}", {"programs": {"invoicing": "admin"}, "changed_by": OWNER}
    )
    assert granted.json()["programs"]["invoicing"] == "admin"
    _invite(api, "member@skogen.no")
    assert api.delete(f"{T}/users/member@skogen.no").status_code == 204


# Email templates -------------------------------------------------------------------

TEMPLATE = {
    "kind": "invoice",
    "language": "nb",
    "name": "Faktura",
    "subject": "Faktura {Number} fra {Supplier.Name}",
    "body": "Forfall {DueDate}.",
}


def test_templates_accept_only_known_merge_fields(api: Api, tenant: str) -> None:
    assert api.create(f"{T}/email-templates", TEMPLATE).status_code == 201
    unknown = api.create(f"{T}/email-templates", {**TEMPLATE, "language": "en", "body": "{Foo}"})
    assert unknown.status_code == 422
    assert problem_type(unknown) == "unknown-merge-field"
    assert unknown.json()["field"] == "body"
    patched = api.patch(f"{T}/email-templates/invoice/nb", {"subject": "{Number"})
    assert problem_type(patched) == "unknown-merge-field"


def test_one_template_per_kind_and_language(api: Api, tenant: str) -> None:
    api.create(f"{T}/email-templates", TEMPLATE)
    assert problem_type(api.create(f"{T}/email-templates", TEMPLATE)) == "template-exists"
    assert api.create(f"{T}/email-templates", {**TEMPLATE, "kind": "order"}).status_code == 201


# Agreements ------------------------------------------------------------------------


def _agreement(api: Api, name: str) -> int:
    response = api.create("/v1/agreements", {"name": name, "customer_number": "10001"})
    return response.status_code


def test_moving_a_tenant_between_agreements_is_one_put(api: Api, tenant: str) -> None:
    _agreement(api, "Norges Orienteringsforbund")
    _agreement(api, "Oslo Krets")
    assert api.put(f"{T}/agreement", {"agreement": "Oslo Krets"}).status_code == 200
    moved = api.put(f"{T}/agreement", {"agreement": "Norges Orienteringsforbund"})
    assert moved.json() == {"agreement": "Norges Orienteringsforbund", "version": "3"}
    counts = {a["name"]: a["tenant_count"] for a in api.get("/v1/agreements").json()["items"]}
    assert counts == {"Norges Orienteringsforbund": 1, "Oslo Krets": 0}


def test_a_tenant_moves_only_into_an_existing_agreement(api: Api, tenant: str) -> None:
    refused = api.put(f"{T}/agreement", {"agreement": "Nowhere"})
    assert refused.status_code == 422
    assert problem_type(refused) == "unknown-agreement"
    body = tenant_body("new", organization_number=ORGNR_B, agreement="Nowhere")
    created = api.create("/v1/tenants", body)
    assert problem_type(created) == "unknown-agreement"


def test_an_agreement_holding_tenants_cannot_be_deleted(api: Api, tenant: str) -> None:
    _agreement(api, "Oslo Krets")
    api.put(f"{T}/agreement", {"agreement": "Oslo Krets"})
    refused = api.delete("/v1/agreements/Oslo Krets")
    assert refused.status_code == 409
    assert problem_type(refused) == "agreement-not-empty"
    api.put(f"{T}/agreement", {"agreement": None})
    assert api.delete("/v1/agreements/Oslo Krets").status_code == 204


def test_agreement_names_are_unique_per_partner(api: Api) -> None:
    assert _agreement(api, "Oslo Krets") == 201
    response = api.create("/v1/agreements", {"name": "Oslo Krets", "customer_number": "2"})
    assert problem_type(response) == "agreement-exists"
    patched = api.patch("/v1/agreements/Oslo Krets", {"customer_number": "20002"})
    assert patched.json()["customer_number"] == "20002"


# Audit log -------------------------------------------------------------------------


def test_every_change_is_audited_with_actor_before_after_and_masked_secrets(
    api: Api, tenant: str
) -> None:
    api.patch(T, {"name": "Renamed"})
    api.create(f"{T}/connections", {"connector": "eventor-sweden", "token": "very-secret"})
    log = api.get(f"{T}/audit-log")
    assert "very-secret" not in log.text
    entries = log.json()["items"]
    rename = next(e for e in entries if e["action"] == "update" and e["resource"] == "tenant")
    assert (rename["before"]["name"], rename["after"]["name"]) == ("Club ok-skogen", "Renamed")
    assert rename["actor"] == "nof"
    connection = entries[-1]
    assert connection["resource"] == 'connections["eventor-sweden"]'
    assert connection["after"]["token"] == "(sensitive)"
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids)


def test_a_flag_taken_names_the_accounts_that_lost_it(api: Api, tenant: str) -> None:
    api.create(f"{T}/bank-accounts", {"account_number": A1})
    api.create(f"{T}/bank-accounts", {"account_number": A2})
    before = int(api.version(f"{T}/bank-accounts/{A1}").strip('"'))
    answer = api.patch(f"{T}/bank-accounts/{A2}", {"invoice_account": True}).json()
    assert answer["also_changed"] == [api.get(f"{T}/bank-accounts/{A1}").json()]
    assert answer["also_changed"][0]["version"] == str(before + 1)
    assert answer["also_changed"][0]["invoice_account"] is False
    unchanged = api.patch(f"{T}/bank-accounts/{A2}", {"swift": "DNBANOKK"}).json()
    assert unchanged["also_changed"] == []  # nothing else moved
