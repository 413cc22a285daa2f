"""The sandbox's side of the manuals' rules: identity numbers by country, the personal
number as personal data, bank accounts by IBAN, shared accounts under one owner, and the
last bank account."""

from __future__ import annotations

from .helpers import ORGNR_A, PERSONAL_NUMBER, Api, account_number, problem_type, tenant_body

SE_ADDRESS = {"street": "Stockby 1", "postal_code": "181 62", "city": "Lidingö", "country": "SE"}
SE_ORGNR = "802401-2349"
SE_IBAN = "SE4550000000058398257466"


def test_a_swedish_tenant_is_created_with_its_number_in_canonical_form(api: Api) -> None:
    created = api.create(
        "/v1/tenants",
        tenant_body("ifk", organization_number=SE_ORGNR, address=SE_ADDRESS),
    )
    assert created.status_code == 201, created.text
    assert created.json()["organization_number"] == "8024012349"


def test_a_number_of_another_country_is_refused(api: Api) -> None:
    refused = api.create(
        "/v1/tenants", tenant_body("ifk", organization_number=ORGNR_A, address=SE_ADDRESS)
    )
    assert refused.status_code == 422
    assert problem_type(refused) == "identity-number-invalid"
    assert refused.json()["field"] == "organization_number"
    assert "Swedish organisation number" in refused.json()["detail"]
    unknown = api.create(
        "/v1/tenants",
        tenant_body("dk", organization_number="12345678", address={**SE_ADDRESS, "country": "DK"}),
    )
    assert problem_type(unknown) == "identity-number-invalid"
    assert "country DK are not known" in unknown.json()["detail"]


def test_a_swedish_personal_number_and_a_samordningsnummer_are_accepted(api: Api) -> None:
    for slug, number in (("pn", "811218-9876"), ("sn", "701063-2391")):
        body = tenant_body(slug, organization_number=None, personal_number=number)
        created = api.create("/v1/tenants", {**body, "address": SE_ADDRESS})
        assert created.status_code == 201, created.text
        assert created.json()["personal_number"]["last_digits"] == number[-2:]


def test_a_personal_number_is_never_read_back_or_logged_in_full(api: Api) -> None:
    body = tenant_body("il-fjell", organization_number=None, personal_number=PERSONAL_NUMBER)
    created = api.create("/v1/tenants", body)
    assert created.status_code == 201, created.text
    stored = created.json()["personal_number"]
    assert stored["last_digits"] == PERSONAL_NUMBER[-2:]
    assert stored == {"stored": True, "last_digits": PERSONAL_NUMBER[-2:]}
    assert api.same("il-fjell", "tenant", "", "personal_number", PERSONAL_NUMBER)
    assert not api.same("il-fjell", "tenant", "", "personal_number", "15037810034")
    api.patch("/v1/tenants/il-fjell", {"name": "Renamed"})
    reads = [
        api.get("/v1/tenants/il-fjell"),
        api.get("/v1/tenants/il-fjell/config"),
        api.get("/v1/bulk/tenants"),
        api.get("/v1/tenants/il-fjell/audit-log"),
    ]
    for read in reads:
        assert read.status_code == 200
        assert PERSONAL_NUMBER not in read.text
    bad = api.create(
        "/v1/tenants",
        tenant_body("il-bad", organization_number=None, personal_number="15037810035"),
    )
    assert problem_type(bad) == "identity-number-invalid"
    assert "15037810035" not in bad.text


def test_a_foreign_account_is_created_and_addressed_by_its_iban(api: Api, tenant: str) -> None:
    created = api.create(
        f"/v1/tenants/{tenant}/bank-accounts", {"iban": "SE45 5000 0000 0583 9825 7466"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["account_number"] is None
    assert created.json()["iban"] == SE_IBAN
    path = f"/v1/tenants/{tenant}/bank-accounts/{SE_IBAN}"
    assert api.patch(path, {"swift": "ESSESESS"}).json()["swift"] == "ESSESESS"
    norwegian_alone = api.create(f"/v1/tenants/{tenant}/bank-accounts", {"iban": "NO9397104560001"})
    assert norwegian_alone.status_code == 422


def test_a_bank_account_is_shared_only_by_tenants_with_the_same_owner(
    api: Api, tenant: str
) -> None:
    number = account_number(1)
    assert api.create(f"/v1/tenants/{tenant}/bank-accounts", {"account_number": number}).is_success
    same_owner = tenant_body("ok-skogen-2", owner={"email": "owner@ok-skogen.no", "name": "O"})
    assert api.create("/v1/tenants", same_owner).status_code == 201
    shared = api.create("/v1/tenants/ok-skogen-2/bank-accounts", {"account_number": number})
    assert shared.status_code == 201, shared.text
    other_owner = tenant_body("other", organization_number="923609016")
    assert api.create("/v1/tenants", other_owner).status_code == 201
    refused = api.create("/v1/tenants/other/bank-accounts", {"account_number": number})
    assert refused.status_code == 409
    assert problem_type(refused) == "account-number-in-use"
    again = api.create(f"/v1/tenants/{tenant}/bank-accounts", {"account_number": number})
    assert problem_type(again) == "account-number-in-use"  # twice on one tenant


def test_the_last_bank_account_cannot_be_deleted(api: Api, tenant: str) -> None:
    number = account_number(2)
    api.create(f"/v1/tenants/{tenant}/bank-accounts", {"account_number": number})
    refused = api.delete(f"/v1/tenants/{tenant}/bank-accounts/{number}")
    assert refused.status_code == 409
    assert problem_type(refused) == "bank-account-flag-held"
    assert "last account" in refused.json()["detail"]
    # The tenant itself can still go, with everything it holds.
    assert api.delete(f"/v1/tenants/{tenant}").status_code == 204


def test_an_agreement_may_have_no_customer_number(api: Api) -> None:
    created = api.create("/v1/agreements", {"name": "Uten nummer"})
    assert created.status_code == 201, created.text
    assert created.json()["customer_number"] is None
    numbered = api.patch("/v1/agreements/Uten nummer", {"customer_number": "10001"})
    assert numbered.json()["customer_number"] == "10001"
    cleared = api.patch("/v1/agreements/Uten nummer", {"customer_number": None})
    assert cleared.status_code == 200 and cleared.json()["customer_number"] is None
    assert api.get("/v1/agreements").json()["items"][0]["customer_number"] is None


def test_an_unencrypted_smtp_password_needs_an_explicit_yes(api: Api, tenant: str) -> None:
    body = {
        "account_name": "A",
        "display_name": "A",
        "address": "a@ok-skogen.no",
        "username": "a",
        "password": "pw-1",
        "smtp_host": "smtp.ok-skogen.no",
        "smtp_port": 25,
        "encryption": "none",
    }
    refused = api.create(f"/v1/tenants/{tenant}/email-account", body)
    assert refused.status_code == 422
    assert problem_type(refused) == "unencrypted-password"
    assert "pw-1" not in refused.text
    accepted = api.create(
        f"/v1/tenants/{tenant}/email-account", {**body, "allow_unencrypted_password": True}
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["allow_unencrypted_password"] is True
    taken_back = api.patch(
        f"/v1/tenants/{tenant}/email-account", {"allow_unencrypted_password": False}
    )
    assert problem_type(taken_back) == "unencrypted-password"
    encrypted = api.patch(
        f"/v1/tenants/{tenant}/email-account",
        {"encryption": "ssl", "smtp_port": 465, "allow_unencrypted_password": False},
    )
    assert encrypted.status_code == 200, encrypted.text


def test_a_pending_tenant_waits_for_activation_and_never_goes_back(api: Api) -> None:
    created = api.create("/v1/tenants", tenant_body("ny-klubb", state="pending"))
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "pending"
    invite = {"email": "x@ny-klubb.no", "name": "X", "invited_by": "owner@ny-klubb.no"}
    refused = api.create("/v1/tenants/ny-klubb/users", invite)
    assert refused.status_code == 409
    assert problem_type(refused) == "tenant-pending"
    assert problem_type(api.post("/v1/tenants/ny-klubb/invoicing/issue-invoice")) == (
        "tenant-pending"
    )
    activated = api.patch("/v1/tenants/ny-klubb", {"state": "active"})
    assert activated.status_code == 200 and activated.json()["state"] == "active"
    assert api.create("/v1/tenants/ny-klubb/users", invite).status_code == 201
    back = api.patch("/v1/tenants/ny-klubb", {"state": "pending"})
    assert back.status_code == 409
    assert problem_type(back) == "tenant-already-active"


def test_a_tenant_created_without_a_state_is_active(api: Api, tenant: str) -> None:
    assert api.get(f"/v1/tenants/{tenant}").json()["state"] == "active"
