"""The API's JSON → the normalised snapshot the engine compares (engine/snapshot.py).

Live is complete: every section is present, an absent email account is an empty section.
Values pass through ``t4o_reconcile.normalize`` where the API might write another form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from t4o_reconcile import normalize
from t4o_reconcile.engine.snapshot import Fingerprint, Item, TenantSnapshot
from t4o_reconcile.errors import UnexpectedAnswer
from t4o_reconcile.vocabulary import PROGRAMS

# The API answered JSON of an unexpected shape.
SnapshotError = UnexpectedAnswer


def _opt(fn: Callable[[str], str], value: Any) -> Any:
    return fn(value) if isinstance(value, str) else value


def _version(data: Mapping[str, Any]) -> str | None:
    version = data.get("version")
    return None if version is None else str(version)


def _fingerprint(value: Any) -> Fingerprint | None:
    if isinstance(value, Mapping):
        inner = value.get("fingerprint", value)
        if isinstance(inner, Mapping) and "salt" in inner and "hash" in inner:
            digits = value.get("last_digits")
            hint = "…" + digits if isinstance(digits, str) and digits.isdigit() else ""
            source = value.get("source")
            return Fingerprint(
                salt=str(inner["salt"]),
                hash=str(inner["hash"]),
                hint=hint,
                source=source if isinstance(source, str) else None,
            )
    return None


def _need(data: Mapping[str, Any], key: str, where: str) -> Any:
    try:
        return data[key]
    except (KeyError, TypeError):
        raise SnapshotError(f"{where}: expected a field {key!r} in the API's answer") from None


def contact_fields(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    return {
        "email": _opt(normalize.email, value.get("email")),
        "phone": _opt(normalize.phone, value.get("phone")),
    }


def address_fields(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    return {
        "street": _opt(normalize.text, value.get("street")),
        "postal_code": _opt(normalize.postal_code, value.get("postal_code")),
        "city": _opt(normalize.text, value.get("city")),
        "country": _opt(normalize.country, value.get("country")),
    }


def identity_fields(tenant: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": _opt(normalize.text, tenant.get("name")),
        "organization_number": _opt(
            normalize.organization_number, tenant.get("organization_number")
        ),
        # Personal data: read as a fingerprint and its last digits, never in full.
        "personal_number": _fingerprint(tenant.get("personal_number")),
        "contact": contact_fields(tenant.get("contact")),
        "address": address_fields(tenant.get("address")),
        "state": tenant.get("state") or "active",
    }


def defaults_fields(tenant: Mapping[str, Any]) -> dict[str, Any]:
    defaults = tenant.get("defaults") or {}
    return {
        "timing_system": defaults.get("timing_system", "none"),
        "finish_code": defaults.get("finish_code"),
    }


def billing_fields(tenant: Mapping[str, Any]) -> dict[str, Any]:
    billing = tenant.get("billing") or {}
    return {
        "licenses": billing.get("licenses", 0),
        "invoice_recipient": billing.get("invoice_recipient", "client"),
        "interval": billing.get("interval", "yearly"),
    }


def invoicing_fields(invoicing: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "enabled": invoicing.get("enabled"),
        "next_invoice_number": invoicing.get("next_invoice_number"),
        "invoices_from_external_system": invoicing.get("invoices_from_external_system"),
        "next_customer_number": invoicing.get("next_customer_number"),
        "pdf_template": invoicing.get("pdf_template"),
        "last_invoice_number": invoicing.get("last_invoice_number"),
        "last_customer_number": invoicing.get("last_customer_number"),
    }


def email_account_fields(account: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "account_name": _opt(normalize.text, account.get("account_name")),
        "display_name": _opt(normalize.text, account.get("display_name")),
        "address": _opt(normalize.email, account.get("address")),
        "username": _opt(normalize.text, account.get("username")),
        "password": _fingerprint(account.get("password")),
        "smtp_host": account.get("smtp_host"),
        "smtp_port": account.get("smtp_port"),
        "encryption": account.get("encryption"),
        "allow_unencrypted_password": bool(account.get("allow_unencrypted_password")),
    }


def connection_fields(connection: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "connector": _need(connection, "connector", "connection"),
        "token": _fingerprint(connection.get("token")),
    }


def bank_account_fields(account: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "account_number": _opt(normalize.account_number, account.get("account_number")),
        "iban": _opt(normalize.iban, account.get("iban")),
        "swift": _opt(normalize.bic, account.get("swift")),
        "invoice_account": bool(account.get("invoice_account")),
        "default_for_payments": bool(account.get("default_for_payments")),
    }


def bank_account_key(fields: Mapping[str, Any]) -> str:
    """A Norwegian account is named by its account number, any other by its IBAN."""
    key = fields.get("account_number") or fields.get("iban")
    if not key:
        raise ValueError("a bank account has neither account_number nor iban")
    return str(key)


def user_fields(user: Mapping[str, Any]) -> dict[str, Any]:
    programs = user.get("programs") or {}
    return {
        "email": normalize.email(str(_need(user, "email", "user"))),
        "name": _opt(normalize.text, user.get("name")),
        "role": user.get("role"),
        "programs": {program: programs.get(program) or "none" for program in PROGRAMS},
        "status": user.get("status"),
    }


def template_fields(template: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": _need(template, "kind", "email template"),
        "language": _need(template, "language", "email template"),
        "name": _opt(normalize.text, template.get("name")),
        "subject": _opt(normalize.text, template.get("subject")),
        "body": _opt(normalize.text, template.get("body")),
    }


def template_key(fields: Mapping[str, Any]) -> str:
    return f"{fields['kind']}/{fields['language']}"


# section -> (fields of one API object, key of those fields); used by the provider too.
COLLECTIONS: dict[
    str, tuple[Callable[[Mapping[str, Any]], dict[str, Any]], Callable[[Mapping[str, Any]], str]]
] = {
    "connections": (connection_fields, lambda f: str(f["connector"])),
    "bank_accounts": (bank_account_fields, lambda f: bank_account_key(f)),
    "users": (user_fields, lambda f: str(f["email"])),
    "email_templates": (template_fields, template_key),
}


def collection(section: str, items: Iterable[Mapping[str, Any]]) -> dict[str, Item]:
    to_fields, key_of = COLLECTIONS[section]
    result: dict[str, Item] = {}
    for raw in items:
        fields = to_fields(raw)
        result[key_of(fields)] = Item(fields, _version(raw))
    return result


def tenant_snapshot(config: Mapping[str, Any]) -> TenantSnapshot:
    """One TenantConfig (``GET /v1/tenants/{slug}/config``) as a live TenantSnapshot."""
    if not isinstance(config, Mapping):
        raise SnapshotError(f"expected a TenantConfig object, got {type(config).__name__}")
    tenant = _need(config, "tenant", "TenantConfig")
    slug = str(config.get("slug") or _need(tenant, "slug", "tenant"))
    tenant_version = _version(tenant)
    invoicing = _need(config, "invoicing", f"TenantConfig of {slug}")
    membership = config.get("agreement") or {}
    account = config.get("email_account")
    sections: dict[str, dict[str, Item]] = {
        "identity": {"": Item(identity_fields(tenant), tenant_version)},
        "defaults": {"": Item(defaults_fields(tenant), tenant_version)},
        "billing": {"": Item(billing_fields(tenant), tenant_version)},
        "agreement": {"": Item({"name": membership.get("agreement")}, _version(membership))},
        "invoicing": {"": Item(invoicing_fields(invoicing), _version(invoicing))},
        "email_account": (
            {"": Item(email_account_fields(account), _version(account))}
            if isinstance(account, Mapping)
            else {}
        ),
    }
    for section in COLLECTIONS:
        sections[section] = collection(section, config.get(section) or [])
    return TenantSnapshot(slug=slug, sections=sections)


def agreements_snapshot(items: Iterable[Mapping[str, Any]]) -> dict[str, Item]:
    """``/v1/agreements`` items as ``Snapshot.agreements``: name -> {name, customer_number}."""
    result: dict[str, Item] = {}
    for raw in items:
        name = normalize.text(str(_need(raw, "name", "agreement")))
        customer_number = raw.get("customer_number")
        result[name] = Item(
            {
                "name": name,
                "customer_number": None if customer_number is None else str(customer_number),
            },
            _version(raw),
        )
    return result
