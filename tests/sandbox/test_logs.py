"""The audit log names who changed what; the distribution log says who invoiced, to whom
and how each invoice went out (the product's "Logg": who invoiced, the template, the
sender, and the error of a failed distribution)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.operations import SYSTEM_SENDER
from t4o_reconcile.sandbox.store import Store

from .helpers import PERSONAL_NUMBER, Api, problem_type, tenant_body

T = "/v1/tenants/ok-skogen"
CUSTOMER = {"name": "Kari Kunde", "email": "kari@kunde.no", "language": "en"}


def _items(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = api.get(path, **query)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


def test_the_audit_log_names_the_token_and_the_client_that_made_each_change(
    api: Api, store: Store, tenant: str
) -> None:
    kari = Api(api.client, store.create_token(partner="nof", name="kari@ok-skogen.no"))
    kari.headers["User-Agent"] = "curl/8.5.0\x1b[31m"
    assert kari.patch(T, {"name": "Renamed by Kari"}).status_code == 200
    entries = _items(api, f"{T}/audit-log")
    created, renamed = entries[0], entries[-1]
    assert created["token"] is None  # the fixture's token has no name
    assert (renamed["actor"], renamed["token"]) == ("nof", "kari@ok-skogen.no")
    assert renamed["client"] == "curl/8.5.0 [31m"  # no control character is kept
    assert renamed["at"].endswith("Z")


def test_a_replaced_secret_is_marked_and_a_personal_number_shows_its_last_digits(
    api: Api, tenant: str
) -> None:
    api.create(f"{T}/connections", {"connector": "eventor-norway", "token": "one"})
    api.patch(f"{T}/connections/eventor-norway", {"token": "two"})
    api.create(
        "/v1/tenants",
        tenant_body("il-fjell", organization_number=None, personal_number=PERSONAL_NUMBER),
    )
    replaced = _items(api, f"{T}/audit-log")[-1]
    assert (replaced["before"]["token"], replaced["after"]["token"]) == (
        "(sensitive)",
        "(sensitive, replaced)",
    )
    log = api.get("/v1/tenants/il-fjell/audit-log")
    assert PERSONAL_NUMBER not in log.text
    assert log.json()["items"][0]["after"]["personal_number"] == "(sensitive …88)"


def test_the_audit_log_pages_newest_first_and_filters_by_time(api: Api, tenant: str) -> None:
    for n in range(5):
        api.patch(T, {"name": f"Name {n}"})
    oldest_first = _items(api, f"{T}/audit-log", limit=2)
    newest_first = _items(api, f"{T}/audit-log", limit=2, order="desc")
    assert [e["id"] for e in newest_first] == [e["id"] for e in reversed(oldest_first)]
    middle = oldest_first[4]["at"]
    recent = _items(api, f"{T}/audit-log", since=middle)
    assert recent and all(e["at"] >= middle for e in recent)
    assert [e["id"] for e in recent] == [e["id"] for e in oldest_first if e["at"] >= middle]
    assert _items(api, f"{T}/audit-log", since="2999-01-01T00:00:00+02:00") == []
    # A cursor of one order is refused by the other, not misread.
    page = api.get(f"{T}/audit-log", limit=2, order="desc").json()
    wrong = api.get(f"{T}/audit-log", limit=2, cursor=page["next_cursor"])
    assert problem_type(wrong) == "invalid-cursor"
    assert problem_type(api.get(f"{T}/audit-log", since="yesterday")) == "invalid-request"


def test_an_invoice_is_issued_distributed_and_logged_with_who_invoiced(
    api: Api, store: Store, tenant: str
) -> None:
    # The tenant's own language (nb) first: a template in another language needs it.
    assert (
        api.create(
            f"{T}/email-templates",
            {
                "kind": "invoice",
                "language": "nb",
                "name": "Norsk",
                "subject": "Faktura {Number}",
                "body": "Forfall {DueDate}",
            },
        ).status_code
        == 201
    )
    api.create(
        f"{T}/email-templates",
        {
            "kind": "invoice",
            "language": "en",
            "name": "English",
            "subject": "Invoice {Number}",
            "body": "Due {DueDate}",
        },
    )
    kari = Api(api.client, store.create_token(partner="nof", name="kari"))
    sent = kari.create(f"{T}/invoices", {"customer": CUSTOMER})
    assert sent.status_code == 201, sent.text
    entry = sent.json()
    assert entry | {"id": 0, "at": ""} == {
        "id": 0,
        "at": "",
        "invoice_number": 1,
        "issued_by": "nof",
        "token": "kari",
        "channel": "email",
        "customer": "Kari Kunde",
        "recipient": "kari@kunde.no",
        "language": "en",
        "template": "invoice/en",  # chosen by the customer's invoice language
        "pdf_template": "standard",
        "sender": SYSTEM_SENDER,  # no email account of its own: the system account
        "status": "sent",
        "error": None,
    }
    printed = api.create(
        f"{T}/invoices", {"customer": {"name": "B", "language": "sv"}, "channel": "print"}
    ).json()
    assert (printed["invoice_number"], printed["recipient"], printed["template"]) == (2, None, None)
    assert api.get(f"{T}/invoicing").json()["last_invoice_number"] == 2
    log = _items(api, f"{T}/distribution-log", limit=1)
    assert [e["invoice_number"] for e in log] == [1, 2]
    assert log[0] == entry
    # Issuing is a change like any other: the audit log has it too, by the same token.
    issued = [e for e in _items(api, f"{T}/audit-log") if e["resource"] == "invoicing"]
    assert issued[-2]["token"] == "kari"


def test_a_failed_distribution_is_logged_with_its_error(api: Api, tenant: str) -> None:
    api.create(
        f"{T}/email-account",
        {
            "account_name": "Faktura",
            "display_name": "OK Skogen",
            "address": "faktura@skogen.no",
            "username": "faktura",
            "password": "pw",
            "smtp_host": "smtp.skogen.invalid",
        },
    )
    failed = api.create(f"{T}/invoices", {"customer": CUSTOMER}).json()
    assert failed["sender"] == "faktura@skogen.no"
    assert (failed["status"], failed["error"]) == (
        "failed",
        "could not connect to SMTP server smtp.skogen.invalid:587",
    )
    assert "pw" not in api.get(f"{T}/distribution-log").text


def test_invoices_are_refused_as_the_domain_says(api: Api, tenant: str) -> None:
    no_address = api.create(f"{T}/invoices", {"customer": {"name": "No Mail"}})
    assert problem_type(no_address) == "invalid-request"
    assert "customer.email" in no_address.json()["detail"]
    api.patch(f"{T}/invoicing", {"enabled": False})
    assert problem_type(api.create(f"{T}/invoices", {"customer": CUSTOMER})) == (
        "invoicing-disabled"
    )
    pending = api.create(
        "/v1/tenants", tenant_body("ny-klubb", state="pending", organization_number="923609016")
    )
    assert pending.status_code == 201, pending.text
    refused = api.create("/v1/tenants/ny-klubb/invoices", {"customer": CUSTOMER})
    assert problem_type(refused) == "tenant-pending"
    assert _items(api, f"{T}/distribution-log") == []
    assert _items(api, "/v1/tenants/ny-klubb/distribution-log") == []


def test_an_invoice_retried_with_its_key_is_issued_once(api: Api, tenant: str) -> None:
    first = api.create(f"{T}/invoices", {"customer": CUSTOMER}, key="order-17")
    again = api.create(f"{T}/invoices", {"customer": CUSTOMER}, key="order-17")
    assert again.json() == first.json()
    assert len(_items(api, f"{T}/distribution-log")) == 1


def test_logs_are_read_with_a_read_only_token_and_only_for_visible_tenants(
    api: Api, store: Store, tenant: str
) -> None:
    api.create(f"{T}/invoices", {"customer": CUSTOMER})
    reader = Api(api.client, store.create_token(partner="nof", read_only=True))
    assert len(_items(reader, f"{T}/distribution-log")) == 1
    assert _items(reader, f"{T}/audit-log")
    assert problem_type(reader.create(f"{T}/invoices", {"customer": CUSTOMER})) == (
        "read-only-token"
    )
    stranger = Api(api.client, store.create_token(partner="other"))
    assert problem_type(stranger.get(f"{T}/distribution-log")) == "not-found"
    assert problem_type(stranger.get(f"{T}/audit-log")) == "not-found"


def test_a_token_name_must_be_printable(store: Store) -> None:
    with pytest.raises(ValueError, match="printable"):
        store.create_token(partner="nof", name="evil\x1b[2J")
    with pytest.raises(ValueError, match="printable"):
        store.create_token(partner="nof", name="  ")


def test_a_database_made_before_token_names_opens_and_logs(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE tokens (id TEXT PRIMARY KEY, salt TEXT NOT NULL, hash TEXT NOT NULL,"
        " partner TEXT NOT NULL, tenant TEXT, created_at TEXT NOT NULL);"
        "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT, at TEXT NOT NULL,"
        " actor TEXT NOT NULL, action TEXT NOT NULL, resource TEXT NOT NULL, before TEXT,"
        " after TEXT);"
        "INSERT INTO audit (slug, at, actor, action, resource) VALUES"
        " ('ok-skogen', '2026-01-01T00:00:00.000Z', 'nof', 'create', 'tenant');"
    )
    conn.close()
    app: FastAPI = create_app(db)
    try:
        store: Store = app.state.store
        token = store.create_token(partner="nof", name="ci")
        principal = store.authenticate(token)
        assert principal is not None and principal.token_name == "ci"
        with store.transaction(principal, write=False) as tx:
            old = tx.audit_entries("ok-skogen", 0, 10)
        assert (old[0]["token"], old[0]["client"]) == (None, None)
    finally:
        app.state.store.close()
