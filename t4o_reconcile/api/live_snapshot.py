"""The API's JSON → the normalised snapshot the engine compares (engine/snapshot.py).

Live is complete: every section is present, an absent email account is an empty section.
Values pass through ``t4o_reconcile.normalize`` where the API might write another form.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from t4o_reconcile import normalize
from t4o_reconcile.engine import sections
from t4o_reconcile.engine.sections import Section
from t4o_reconcile.engine.snapshot import Fingerprint, Item, TenantSnapshot
from t4o_reconcile.errors import UnexpectedAnswer
from t4o_reconcile.sharing import one, shared
from t4o_reconcile.vocabulary import (
    LANGUAGE_RE,
    MAX_VOCABULARY,
    MERGE_FIELD_RE,
    PDF_TEMPLATE_RE,
    Vocabulary,
)

# The API answered JSON of an unexpected shape.
SnapshotError = UnexpectedAnswer


def _opt(fn: Callable[[str], str], value: Any) -> Any:
    return fn(value) if isinstance(value, str) else value


def _version(data: Mapping[str, Any]) -> str | None:
    version = data.get("version")
    return None if version is None else one(str(version))


def _fingerprint(value: Any) -> Fingerprint | None:
    """A stored secret (``{"stored": true, "source"?, "last_digits"?}``) as the engine's
    ``Fingerprint``, not yet compared: only the API can tell whether a value is the one
    stored (``HttpProvider.compare_secrets``). An API of the older contract answers a
    ``fingerprint`` object instead; whatever it holds is never used to compare here."""
    if isinstance(value, Mapping) and (value.get("stored") is True or "fingerprint" in value):
        digits = value.get("last_digits")
        hint = (
            "…" + digits
            if isinstance(digits, str) and len(digits) == 2 and digits.isdigit()
            else ""
        )
        source = value.get("source")
        return Fingerprint(hint=hint, source=source if isinstance(source, str) else None)
    return None


# The API's name of a tenant's agreement: in its membership, in the body of PUT
# .../agreement and in a new tenant's body (docs/api.md).
AGREEMENT_FIELD = "agreement"


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
        # Personal data: read as a marker and its last digits, never in full.
        "personal_number": _fingerprint(tenant.get("personal_number")),
        "contact": contact_fields(tenant.get("contact")),
        "address": address_fields(tenant.get("address")),
        "state": tenant.get("state") or "active",
        "user_administration": tenant.get("user_administration") or "admins",
    }


def defaults_fields(tenant: Mapping[str, Any]) -> dict[str, Any]:
    defaults = tenant.get(sections.Defaults.name) or {}
    return {
        "timing_system": defaults.get("timing_system", "none"),
        "finish_code": defaults.get("finish_code"),
    }


def billing_fields(tenant: Mapping[str, Any]) -> dict[str, Any]:
    billing = tenant.get(sections.Billing.name) or {}
    return {
        "licenses": billing.get("licenses", 0),
        "invoice_recipient": billing.get("invoice_recipient", "client"),
        "interval": billing.get("interval", "yearly"),
        "program_access": billing.get("program_access", True) is not False,
        "confirmation_email": _opt(normalize.email, billing.get("confirmation_email")),
    }


def invoicing_fields(invoicing: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "enabled": invoicing.get("enabled"),
        # "Aktiver" is on by default: an API that does not send it has it on.
        "distribution_enabled": invoicing.get("distribution_enabled", True) is not False,
        "next_invoice_number": invoicing.get("next_invoice_number"),
        "invoices_from_external_system": invoicing.get("invoices_from_external_system"),
        "next_customer_number": invoicing.get("next_customer_number"),
        "pdf_template": invoicing.get("pdf_template"),
        "language": invoicing.get("language"),
        "last_invoice_number": invoicing.get("last_invoice_number"),
        "last_customer_number": invoicing.get("last_customer_number"),
    }


def item_fields(section: Section, raw: Mapping[str, Any]) -> dict[str, Any]:
    """One API object of a section (a collection's item, the email account) as the
    engine's fields, read by the section's declaration."""
    fields: dict[str, Any] = {}
    for name, needed, convert in _field_readers(section):
        value = _need(raw, name, section.noun) if needed else raw.get(name)
        fields[name] = shared(value if convert is None else convert(value))
    return fields


@functools.cache
def _field_readers(
    section: Section,
) -> tuple[tuple[str, bool, Callable[[Any], Any] | None], ...]:
    """Per field: its name, whether the answer must hold it, and how its value is read
    (None: as it is). Worked out once per section, not for each of 40,000 items."""
    readers: list[tuple[str, bool, Callable[[Any], Any] | None]] = []
    for name in section.fields:
        convert: Callable[[Any], Any] | None = None
        if name in section.secret_fields:
            convert = _fingerprint
        elif name in section.flags:
            convert = bool
        elif name in section.missing_means:
            convert = functools.partial(section.filled, name)
        elif name in section.normalisers:
            convert = functools.partial(_opt, section.normalisers[name])
        readers.append((name, name in section.needed, convert))
    return tuple(readers)


def reader(section: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The fields of one API object of ``section``."""
    return functools.partial(item_fields, sections.get(section))


def collection(section: str, items: Iterable[Mapping[str, Any]]) -> dict[str, Item]:
    declared = sections.get(section)
    result: dict[str, Item] = {}
    for raw in items:
        fields = item_fields(declared, raw)
        written = api_forms(raw, declared.shown_as_answered) if declared.shown_as_answered else None
        result[declared.key(fields)] = Item(fields, _version(raw), written=written)
    return result


def api_forms(raw: Any, names: tuple[str, ...], prefix: str = "") -> dict[str, str] | None:
    """The API's own form of fields it may answer otherwise than their normal form (``+47
    21 00 00 00``), where it differs: the plan shows the live side as the API answered."""
    if not isinstance(raw, Mapping):
        return None
    forms = {}
    for name in names:
        value = raw.get(name)
        if isinstance(value, str):
            normal = _SHOWN_NORMALISERS[name](value)
            if value.strip() != normal:
                forms[prefix + name] = value.strip()
    return forms or None


_SHOWN_NORMALISERS: dict[str, Callable[[str], str]] = {
    "phone": normalize.phone,
    "account_number": normalize.account_number,
    "iban": normalize.iban,
    "swift": normalize.bic,
}


def tenant_snapshot(config: Mapping[str, Any]) -> TenantSnapshot:
    """One TenantConfig (``GET /v1/tenants/{slug}/config``) as a live TenantSnapshot."""
    if not isinstance(config, Mapping):
        raise SnapshotError(f"expected a TenantConfig object, got {type(config).__name__}")
    tenant = _need(config, "tenant", "TenantConfig")
    slug = str(config.get("slug") or _need(tenant, "slug", "tenant"))
    tenant_version = _version(tenant)
    # The TenantConfig holds each section under its name (the tenant resource's sections
    # as fields of ``tenant``).
    invoicing = _need(config, sections.Invoicing.name, f"TenantConfig of {slug}")
    membership = config.get(sections.AgreementMembership.name) or {}
    account = config.get(sections.EmailAccount.name)
    read: dict[str, dict[str, Item]] = {
        sections.Identity.name: {
            "": Item(
                identity_fields(tenant),
                tenant_version,
                written=api_forms(tenant.get("contact"), ("phone",), "contact."),
            )
        },
        sections.Defaults.name: {"": Item(defaults_fields(tenant), tenant_version)},
        sections.Billing.name: {"": Item(billing_fields(tenant), tenant_version)},
        sections.AgreementMembership.name: {
            "": Item({"name": membership.get(AGREEMENT_FIELD)}, _version(membership))
        },
        sections.Invoicing.name: {"": Item(invoicing_fields(invoicing), _version(invoicing))},
        sections.EmailAccount.name: (
            {
                "": Item(
                    item_fields(sections.get(sections.EmailAccount.name), account),
                    _version(account),
                )
            }
            if isinstance(account, Mapping)
            else {}
        ),
    }
    for section in sections.COLLECTIONS:
        read[section] = collection(section, config.get(section) or [])
    return TenantSnapshot(slug=slug, sections=read)


def agreements_snapshot(items: Iterable[Mapping[str, Any]]) -> dict[str, Item]:
    """``/v1/agreements`` items as ``Snapshot.agreements``: name -> {name, customer_number}."""
    result: dict[str, Item] = {}
    for raw in items:
        name = normalize.text(str(_need(raw, "name", "an agreement")))
        customer_number = raw.get("customer_number")
        result[name] = Item(
            {
                "name": name,
                "customer_number": None if customer_number is None else str(customer_number),
            },
            _version(raw),
        )
    return result


VOCABULARY_PATH = "/v1/vocabulary"
_NAME_SHAPES = {
    "merge_fields": MERGE_FIELD_RE,
    "languages": LANGUAGE_RE,
    "pdf_templates": PDF_TEMPLATE_RE,
}


def vocabulary_of(answer: Any) -> Vocabulary:
    """The API's lists, checked: each a list of at most ``MAX_VOCABULARY`` names of the
    shape its kind has. The names end up in plan output and are compared with the
    configuration, so an answer of any other shape is refused whole."""

    def refuse(why: str) -> UnexpectedAnswer:
        return UnexpectedAnswer(
            f"the answer does not have the documented shape ({why})",
            method="GET",
            path=VOCABULARY_PATH,
        )

    if not isinstance(answer, Mapping):
        raise refuse("expected an object {merge_fields, languages, pdf_templates}")
    lists: dict[str, frozenset[str]] = {}
    for kind, shape in _NAME_SHAPES.items():
        names = answer.get(kind)
        if not isinstance(names, list):
            raise refuse(f"{kind}: expected a list of names")
        if len(names) > MAX_VOCABULARY:
            raise refuse(f"{kind}: {len(names)} names, over the limit of {MAX_VOCABULARY}")
        for name in names:
            if not isinstance(name, str) or not shape.fullmatch(name):
                shown = name[:40] if isinstance(name, str) else type(name).__name__
                raise refuse(
                    f"{kind}: {shown!r} is not a name of the expected shape ({shape.pattern})"
                )
        lists[kind] = frozenset(names)
    return Vocabulary(**lists)
