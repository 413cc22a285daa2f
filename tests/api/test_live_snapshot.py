"""TenantConfig JSON → the live TenantSnapshot the engine compares."""

from __future__ import annotations

import json
from typing import Any

import pytest

from t4o_reconcile.api.live_snapshot import SnapshotError, agreements_snapshot, tenant_snapshot
from t4o_reconcile.engine.sections import SECTIONS
from t4o_reconcile.engine.snapshot import Fingerprint, Secret


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "slug": "ok-skogen",
        "tenant": {
            "slug": "ok-skogen",
            "name": "OK Skogen  ",
            "organization_number": "912 345 678",
            "personal_number": None,
            "contact": {"email": "Post@OK-Skogen.no", "phone": "22 33 44 55"},
            "address": {
                "street": "Skogveien 1",
                "postal_code": "0123",
                "city": "Oslo",
                "country": "no",
            },
            "defaults": {"timing_system": "emit", "finish_code": None},
            "billing": {"licenses": 3, "invoice_recipient": "client", "interval": "yearly"},
            "version": "3",
        },
        "invoicing": {
            "enabled": True,
            "next_invoice_number": 10,
            "invoices_from_external_system": False,
            "next_customer_number": None,
            "pdf_template": "standard",
            "last_invoice_number": 9,
            "last_customer_number": 0,
            "version": "2",
        },
        "email_account": None,
        "connections": [
            {
                "connector": "eventor-norway",
                "token": {"stored": True, "source": "env:T4O_SECRET_OK_SKOGEN_TOKEN"},
                "version": "1",
            }
        ],
        "bank_accounts": [
            {
                "account_number": "15030012345",
                "iban": "no93 8601 1117 947",
                "swift": "dnbanokk",
                "invoice_account": True,
                "default_for_payments": True,
                "version": "4",
            }
        ],
        "users": [
            {
                "email": "Kari@OK-Skogen.no",
                "name": "Kari",
                "role": "owner",
                "programs": {"invoicing": "admin"},
                "status": "active",
                "version": "1",
            }
        ],
        "email_templates": [
            {
                "kind": "invoice",
                "language": "nb",
                "name": "Faktura",
                "subject": "Faktura {Number}",
                "body": "Hei  \nBetal\n",
                "version": "5",
            }
        ],
        "agreement": {"agreement": None, "version": "1"},
    }
    base.update(overrides)
    return base


def test_every_section_is_present_because_live_is_complete() -> None:
    snapshot = tenant_snapshot(config())
    assert snapshot.slug == "ok-skogen"
    assert set(snapshot.sections) == set(SECTIONS)
    assert snapshot.sections["email_account"] == {}


def test_identity_defaults_and_billing_share_the_tenant_version() -> None:
    sections = tenant_snapshot(config()).sections
    assert {sections[s][""].version for s in ("identity", "defaults", "billing")} == {"3"}
    assert sections["invoicing"][""].version == "2"
    assert sections["agreement"][""].version == "1"


def test_values_are_normalised_as_the_yaml_side_normalises_them() -> None:
    sections = tenant_snapshot(config()).sections
    identity = sections["identity"][""].fields
    assert identity["name"] == "OK Skogen"
    assert identity["organization_number"] == "912345678"
    assert identity["contact"] == {"email": "post@ok-skogen.no", "phone": "+4722334455"}
    assert identity["address"]["country"] == "NO"
    account = sections["bank_accounts"]["15030012345"].fields
    assert account["iban"] == "NO9386011117947"
    assert account["swift"] == "DNBANOKK"
    assert "kari@ok-skogen.no" in sections["users"]
    assert sections["email_templates"]["invoice/nb"].fields["body"] == "Hei\nBetal"


def test_secrets_become_fingerprints_only_the_api_can_compare() -> None:
    token = tenant_snapshot(config()).sections["connections"]["eventor-norway"].fields["token"]
    assert token == Fingerprint(source="env:T4O_SECRET_OK_SKOGEN_TOKEN")
    assert not token.compared and not Secret("tok").matches(token)
    # The API's answer holds for the value it was about, and only for it.
    answered = token.answered("tok", True)
    assert Secret("tok").matches(answered)
    assert not Secret("other").matches(answered)
    assert not Secret("tok").matches(token.answered("tok", False))


def test_users_list_all_four_programs_and_keep_their_status() -> None:
    user = tenant_snapshot(config()).sections["users"]["kari@ok-skogen.no"]
    assert user.fields["programs"] == {
        "invoicing": "admin",
        "accounting": "none",
        "payroll": "none",
        "events": "none",
    }
    assert user.fields["status"] == "active"
    assert user.version == "1"


def test_short_values_read_from_two_answers_are_one_string_object() -> None:
    # json.loads gives every value its own object; 400,000 users' rights need not.
    first, second = (tenant_snapshot(json.loads(json.dumps(config()))) for _ in range(2))
    mine = first.sections["users"]["kari@ok-skogen.no"]
    theirs = second.sections["users"]["kari@ok-skogen.no"]
    assert mine.fields == theirs.fields
    assert mine.fields["programs"]["invoicing"] is theirs.fields["programs"]["invoicing"]
    assert mine.fields["status"] is theirs.fields["status"] and mine.version is theirs.version
    # A long value (an e-mail address, a name) is its own: sharing would only grow the cache.
    assert mine.fields["email"] is not theirs.fields["email"]


def test_program_access_and_the_custom_right_default_when_the_api_leaves_them_out() -> None:
    sections = tenant_snapshot(config()).sections
    billing = sections["billing"][""].fields
    assert (billing["program_access"], billing["confirmation_email"]) == (True, None)
    assert sections["users"]["kari@ok-skogen.no"].fields["custom_invoice_email"] is False

    given = config()
    given["tenant"]["billing"].update(
        licenses=0, program_access=False, confirmation_email="Leder@Club.NO"
    )
    given["users"][0]["custom_invoice_email"] = True
    sections = tenant_snapshot(given).sections
    billing = sections["billing"][""].fields
    assert (billing["program_access"], billing["confirmation_email"]) == (False, "leder@club.no")
    assert sections["users"]["kari@ok-skogen.no"].fields["custom_invoice_email"] is True


def test_an_email_account_is_one_item_with_its_password_as_fingerprint() -> None:
    account = {
        "account_name": "Faktura",
        "display_name": "OK Skogen",
        "address": "Faktura@ok.no",
        "username": "faktura",
        "password": {"stored": True},
        "smtp_host": "smtp.ok.no",
        "smtp_port": 587,
        "encryption": "starttls",
        "version": "7",
    }
    item = tenant_snapshot(config(email_account=account)).sections["email_account"][""]
    assert item.version == "7"
    assert item.fields["password"] == Fingerprint()
    assert item.fields["address"] == "faktura@ok.no"


def test_agreement_membership_is_an_item_holding_the_name() -> None:
    membership = {"agreement": "NOF", "version": "2"}
    item = tenant_snapshot(config(agreement=membership)).sections["agreement"][""]
    assert (item.fields, item.version) == ({"name": "NOF"}, "2")


def test_agreements_are_keyed_by_name_with_versions() -> None:
    items = agreements_snapshot(
        [{"name": "NOF", "customer_number": "1001", "tenant_count": 3, "version": "4"}]
    )
    assert items["NOF"].fields == {"name": "NOF", "customer_number": "1001"}
    assert items["NOF"].version == "4"


def test_a_config_without_a_needed_part_names_what_was_expected() -> None:
    broken = config()
    del broken["invoicing"]
    with pytest.raises(SnapshotError, match="expected a field 'invoicing'"):
        tenant_snapshot(broken)
