"""Snapshots for engine and renderer tests: a realistic desired tenant and its live twin."""

from __future__ import annotations

import copy
from typing import Any

from t4o_reconcile.engine.order import iter_flat
from t4o_reconcile.engine.plan import Action, Plan
from t4o_reconcile.engine.snapshot import Fingerprint, Item, Secret, Snapshot, TenantSnapshot

EVENTOR_TOKEN = "eventor-token-value-0001"
SMTP_PASSWORD = "smtp-password-value-0001"


def items(*entries: tuple[str, dict[str, Any]]) -> dict[str, Item]:
    return {key: Item(dict(fields)) for key, fields in entries}


def desired_tenant(slug: str = "ok-skogen", *, agreement: str | None = None) -> TenantSnapshot:
    """Every section managed, as the YAML side produces it (defaults applied)."""
    sections: dict[str, dict[str, Item]] = {
        "identity": items(
            (
                "",
                {
                    "name": "OK Skogen",
                    "organization_number": "923609016",
                    "personal_number": None,
                    "contact": {"email": "post@ok-skogen.no", "phone": "+4722334455"},
                    "address": {
                        "street": "Skogveien 1",
                        "postal_code": "0123",
                        "city": "Oslo",
                        "country": "NO",
                    },
                },
            )
        ),
        "defaults": items(("", {"timing_system": "emit", "finish_code": None})),
        "billing": items(
            (
                "",
                {
                    "licenses": 5,
                    "invoice_recipient": "client",
                    "interval": "yearly",
                    "program_access": True,
                    "confirmation_email": None,
                },
            )
        ),
        "agreement": items(("", {"name": agreement})),
        "invoicing": items(
            (
                "",
                {
                    "enabled": True,
                    "next_invoice_number": 1000,
                    "invoices_from_external_system": False,
                    "next_customer_number": 500,
                    "pdf_template": "standard",
                },
            )
        ),
        "email_account": items(
            (
                "",
                {
                    "account_name": "Faktura",
                    "display_name": "OK Skogen faktura",
                    "address": "faktura@ok-skogen.no",
                    "username": "faktura",
                    "password": Secret(SMTP_PASSWORD, "env:OK_SKOGEN_SMTP"),
                    "smtp_host": "smtp.ok-skogen.no",
                    "smtp_port": 587,
                    "encryption": "starttls",
                },
            )
        ),
        "connections": items(
            (
                "eventor-norway",
                {
                    "connector": "eventor-norway",
                    "token": Secret(EVENTOR_TOKEN, "env:OK_SKOGEN_EVENTOR"),
                },
            )
        ),
        "bank_accounts": items(
            (
                "15030012345",
                {
                    "account_number": "15030012345",
                    "iban": "NO9315030012345",
                    "swift": "DNBANOKK",
                    "invoice_account": True,
                    "default_for_payments": True,
                },
            ),
            (
                "12345678903",
                {
                    "account_number": "12345678903",
                    "iban": None,
                    "swift": None,
                    "invoice_account": False,
                    "default_for_payments": False,
                },
            ),
        ),
        "users": items(
            (
                "eva@ok-skogen.no",
                {
                    "email": "eva@ok-skogen.no",
                    "name": "Eva Eier",
                    "role": "owner",
                    "programs": _programs(invoicing="admin"),
                    "custom_invoice_email": True,
                },
            ),
            (
                "ola@ok-skogen.no",
                {
                    "email": "ola@ok-skogen.no",
                    "name": "Ola Nordmann",
                    "role": "admin",
                    "programs": _programs(invoicing="user", events="admin"),
                    "custom_invoice_email": False,
                },
            ),
            (
                "kari@ok-skogen.no",
                {
                    "email": "kari@ok-skogen.no",
                    "name": "Kari Medlem",
                    "role": "member",
                    "programs": _programs(),
                    "custom_invoice_email": False,
                },
            ),
        ),
        "email_templates": items(
            (
                "invoice/nb",
                {
                    "kind": "invoice",
                    "language": "nb",
                    "name": "Faktura",
                    "subject": "Faktura {Number}",
                    "body": "Hei {Customer.Name}\nForfall {DueDate}.",
                },
            ),
        ),
    }
    return TenantSnapshot(slug=slug, sections=sections, source=f"tenants/{slug}.yaml")


def _programs(**rights: str) -> dict[str, str]:
    return {p: rights.get(p, "none") for p in ("invoicing", "accounting", "payroll", "events")}


def live_twin(want: TenantSnapshot, *, version: str = "1") -> TenantSnapshot:
    """The live tenant after a successful apply of ``want``: what the API would read."""
    sections: dict[str, dict[str, Item]] = {}
    for section, entries in want.sections.items():
        sections[section] = {
            key: Item(_live_fields(section, item.fields), version=version)
            for key, item in entries.items()
        }
    sections.setdefault("agreement", {"": Item({"name": None}, version=version)})
    for section in ("connections", "bank_accounts", "users", "email_templates", "email_account"):
        sections.setdefault(section, {})
    inv = sections.get("invoicing", {}).get("")
    if inv is not None:
        inv.fields.setdefault("last_invoice_number", inv.fields["next_invoice_number"] - 1)
        inv.fields.setdefault("last_customer_number", 0)
    return TenantSnapshot(slug=want.slug, sections=sections)


def _live_fields(section: str, fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, Secret):
            # As the API answered when the provider asked: the very value is stored.
            out[name] = Fingerprint(hint=value.hint, source=value.source).answered(
                value.value, True
            )
        else:
            out[name] = copy.deepcopy(value)
    if section == "users":
        out["status"] = "active"
    return out


def snapshot(*tenants: TenantSnapshot, agreements: dict[str, Item] | None = None) -> Snapshot:
    return Snapshot(tenants={t.slug: t for t in tenants}, agreements=agreements)


def agreements(*names_numbers: tuple[str, str], version: str | None = None) -> dict[str, Item]:
    return {
        name: Item({"name": name, "customer_number": number}, version=version)
        for name, number in names_numbers
    }


def flatten(plan: Plan) -> list[Action]:
    """Every action of the plan in the order apply runs them, as a list."""
    return list(iter_flat(plan))
