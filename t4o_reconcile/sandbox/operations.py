"""The rules of the domain (docs/api.md) as operations on one transaction.

Each write checks visibility (404), the version (428/412) and then the domain rules, and
records what it changed in the audit log. HTTP is not known here: the app turns the rows
these return into responses and ``ProblemError`` into problem documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from t4o_reconcile import national_id
from t4o_reconcile.config.tenant_models import (
    billing_problem,
    custom_email_problem,
    merge_field_problems,
)
from t4o_reconcile.engine.sections import holds_program_right
from t4o_reconcile.sandbox import bodies as m
from t4o_reconcile.sandbox import rules
from t4o_reconcile.sandbox.reads import not_found, visible_tenant
from t4o_reconcile.sandbox.rules import ProblemError
from t4o_reconcile.sandbox.store import (
    BANK_ACCOUNTS,
    CONNECTIONS,
    EMAIL_ACCOUNT,
    EMAIL_TEMPLATES,
    INVOICING,
    MEMBERSHIP,
    USERS,
    Row,
    Tx,
    Written,
    secret_out,
)
from t4o_reconcile.vocabulary import PROGRAMS, language_of_country

BANK_FLAGS = ("invoice_account", "default_for_payments")
ADMIN_ROLES = ("owner", "admin")


def etag(version: int) -> str:
    return f'"{version}"'


def _address(section: str, key: str = "") -> str:
    return section if key == "" else f'{section}["{key}"]'


def check_version(if_match: str | None, row: Row, what: str) -> None:
    if if_match is None:
        raise ProblemError(
            rules.IF_MATCH_REQUIRED,
            f"{what}: send If-Match with the version you last read (its ETag)",
            field="If-Match",
        )
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags or etag(row.version) in tags:
        return
    raise ProblemError(
        rules.VERSION_MISMATCH,
        f"{what}: If-Match {if_match.strip()} is not the current version {etag(row.version)}",
        field="If-Match",
    )


def _sent(patch: BaseModel, nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields a PATCH body sets, with secrets turned into fingerprints."""
    # Only the top level is partial: a nested object sent is stored whole.
    full = patch.model_dump()
    changes = {name: full[name] for name in patch.model_fields_set}
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise ProblemError(
                rules.INVALID_REQUEST,
                f"{name}: may not be null; leave it out to keep the current value",
                field=name,
            )
        if isinstance(value, SecretStr):
            changes[name] = secret_out(value.get_secret_value(), changes.get(f"{name}_source"))
    return _without_sources(changes)


def _created(body: BaseModel) -> dict[str, Any]:
    data = body.model_dump()
    for name, value in data.items():
        if isinstance(value, SecretStr):
            data[name] = secret_out(value.get_secret_value(), data.get(f"{name}_source"))
    return _without_sources(data)


def _without_sources(data: dict[str, Any]) -> dict[str, Any]:
    """A secret's ``<name>_source`` is stored inside the secret's own value, not beside it."""
    return {k: v for k, v in data.items() if not k.endswith("_source")}


def _require_partner_token(tx: Tx, what: str) -> None:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    if tx.principal.tenant is not None:
        raise ProblemError(
            rules.FORBIDDEN_FOR_TENANT_TOKEN, f"{what}: needs a partner token, not a tenant token"
        )


def _write(
    tx: Tx, slug: str | None, section: str, key: str, before: Row, data: dict[str, Any]
) -> Row:
    """Store a changed item with its version bumped; an unchanged one stays as it is."""
    if data == before.data:
        return before
    if slug is None:
        raise RuntimeError("slug is set for every request that gets here")
    after = tx.put(slug, section, key, data, before.version + 1)
    tx.audit(slug, "update", _address(section, key), before.out(), after.out())
    return after


# Tenants ---------------------------------------------------------------------------


def _check_identity_numbers(data: dict[str, Any]) -> None:
    """Exactly one number, valid in the tenant's country. A personal number sent is
    stored as a fingerprint and its last two digits only: it is personal data."""
    if (data.get("organization_number") is None) == (data.get("personal_number") is None):
        raise ProblemError(
            rules.IDENTITY_NUMBER_REQUIRED,
            "organization_number / personal_number: expected exactly one of them"
            " (personal_number for an association without an organisation number)",
            field="organization_number",
        )
    country = (data.get("address") or {}).get("country") or national_id.DEFAULT_COUNTRY
    for field in ("organization_number", "personal_number"):
        value = data.get(field)
        if not isinstance(value, str):
            continue  # absent, or a personal number stored before (a fingerprint)
        check = (
            national_id.organization_number
            if field == "organization_number"
            else (national_id.personal_number)
        )
        try:
            canonical = check(value, country)
        except national_id.IdentityError as exc:
            raise ProblemError(
                rules.IDENTITY_NUMBER_INVALID, f"{field}: {exc}", field=field
            ) from None
        if field == "personal_number":
            data[field] = {**secret_out(canonical), "last_digits": canonical[-2:]}
        else:
            data[field] = canonical


def _check_organization_number(tx: Tx, slug: str, number: str | None, owner: str) -> None:
    if number is None:
        return
    if any(other != owner for other in tx.owners_of_organization_number(number, slug)):
        raise ProblemError(
            rules.ORGANIZATION_NUMBER_IN_USE,
            f"organization_number {number}: the organisation is already a client, with"
            " another owner; its administrator (the owner) gives access to it instead of"
            " registering it again. Two tenants may share the number only when both have"
            " the same owner",
            field="organization_number",
        )


def _owner_of(tx: Tx, slug: str) -> str | None:
    found = tx.tenant(slug)
    return found.owner_email if found is not None else None


def _check_agreement(tx: Tx, name: str | None, field: str) -> None:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    if name is not None and tx.agreement(tx.principal.partner, name) is None:
        raise ProblemError(
            rules.UNKNOWN_AGREEMENT,
            f"{field}: no agreement named {name!r}; create it under /v1/agreements first",
            field=field,
        )


def programs(given: Mapping[Any, str] | None) -> dict[str, str]:
    """Every program listed; one left out has no right ("none")."""
    given = given or {}
    return {program: given.get(program, "none") for program in PROGRAMS}


def _billing(data: dict[str, Any]) -> dict[str, Any]:
    """The tenant's billing with every field (one stored before a field existed has its
    default)."""
    return {**m.DEFAULT_BILLING, **(data.get("billing") or {})}


def _check_billing(billing: dict[str, Any]) -> None:
    problem = billing_problem(
        billing["licenses"], billing["program_access"], billing["confirmation_email"]
    )
    if problem is not None:
        field, message = problem
        raise ProblemError(
            rules.BILLING_PROGRAM_ACCESS, f"billing.{field}: {message}", field=f"billing.{field}"
        )


def _licence_holders(tx: Tx, slug: str) -> list[str]:
    """Users taking a licence: any program right but none, pending invitations included."""
    return [key for key, row in tx.items(slug, USERS) if holds_program_right(row.data["programs"])]


def _check_licences(billing: dict[str, Any], holders: list[str], field: str) -> None:
    """Each user holding a program right takes one licence; without program access the
    client has none to give."""
    if not holders:
        return
    if not billing["program_access"]:
        raise ProblemError(
            rules.NO_PROGRAM_ACCESS,
            f"{field}: the client has no program access (billing.program_access: false);"
            f" {', '.join(holders)} would hold a program right",
            field=field,
        )
    if len(holders) > billing["licenses"]:
        raise ProblemError(
            rules.LICENSES_EXCEEDED,
            f"{field}: {len(holders)} users would hold a program right"
            f" ({', '.join(holders)}) but the tenant has {billing['licenses']} licence(s);"
            " raise billing.licenses first",
            field=field,
        )


def _check_custom_email(data: Mapping[str, Any], field: str) -> None:
    problem = custom_email_problem(data.get("custom_invoice_email") is True, data["programs"])
    if problem is not None:
        raise ProblemError(rules.CUSTOM_EMAIL_NEEDS_INVOICING, f"{field}: {problem}", field=field)


def _require_custom_email_holder(tx: Tx, slug: str, key: str) -> None:
    if any(row.data.get("custom_invoice_email") is True for _, row in tx.items(slug, USERS)):
        return
    raise ProblemError(
        rules.CUSTOM_EMAIL_RIGHT_REQUIRED,
        f"email template {key}: no user of the tenant holds the custom invoice e-mail right"
        " (Egendefinert fakturaepost); give it to a user with an invoicing right first",
        field="custom_invoice_email",
    )


def create_tenant(tx: Tx, body: m.TenantCreate) -> Row:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    _require_partner_token(tx, "creating a tenant")
    slug = body.slug
    data: dict[str, Any] = {
        "slug": slug,
        "name": body.name,
        "organization_number": body.organization_number,
        "personal_number": body.personal_number,
        "contact": None if body.contact is None else body.contact.model_dump(),
        "address": None if body.address is None else body.address.model_dump(),
        "defaults": m.DEFAULT_DEFAULTS if body.defaults is None else body.defaults.model_dump(),
        "billing": m.DEFAULT_BILLING if body.billing is None else body.billing.model_dump(),
        "state": body.state or "active",
        "user_administration": body.user_administration or "admins",
    }
    _check_identity_numbers(data)
    _check_billing(data["billing"])
    owner_programs = programs(body.owner.programs)
    owner_fields = {
        "programs": owner_programs,
        "custom_invoice_email": body.owner.custom_invoice_email,
    }
    _check_custom_email(owner_fields, "owner.custom_invoice_email")
    if holds_program_right(owner_programs):
        _check_licences(data["billing"], [body.owner.email], "owner.programs")
    if tx.tenant(slug) is not None:
        raise ProblemError(
            rules.SLUG_TAKEN, f"slug {slug!r}: a tenant with this slug exists", field="slug"
        )
    owner_email = body.owner.email
    _check_organization_number(tx, slug, data["organization_number"], owner_email)
    _check_agreement(tx, body.agreement, "agreement")

    tenant = tx.insert_tenant(slug, tx.principal.partner, owner_email, data)
    tx.audit(slug, "create", "tenant", None, tenant.out())
    settings = body.invoicing.model_dump() if body.invoicing else {"next_invoice_number": 1}
    invoicing = m.InvoicingSettings.model_validate(settings).model_dump()
    invoicing["language"] = invoicing["language"] or language_of_country(
        (data["address"] or {}).get("country")
    )
    _check_offered(tx, invoicing)
    invoicing.update(last_invoice_number=0, last_customer_number=0)
    tx.audit(slug, "create", INVOICING, None, tx.put(slug, INVOICING, "", invoicing, 1).out())
    owner = {
        "email": owner_email,
        "name": body.owner.name,
        "role": "owner",
        "programs": owner_programs,
        "custom_invoice_email": body.owner.custom_invoice_email,
        "status": "active",
    }
    tx.audit(
        slug,
        "create",
        _address(USERS, owner_email),
        None,
        tx.put(slug, USERS, owner_email, owner, 1).out(),
    )
    membership = tx.put(slug, MEMBERSHIP, "", {"agreement": body.agreement}, 1)
    if body.agreement is not None:
        tx.audit(slug, "move", MEMBERSHIP, None, membership.out())
    return tenant


def update_tenant(tx: Tx, slug: str, if_match: str | None, patch: m.TenantPatch) -> Row:
    before = visible_tenant(tx, slug)
    check_version(if_match, before, f"tenant {slug!r}")
    changes = _sent(
        patch, nullable=("slug", "organization_number", "personal_number", "contact", "address")
    )
    new_slug = changes.pop("slug", slug)
    if new_slug not in (None, slug):
        raise ProblemError(
            rules.SLUG_IMMUTABLE,
            f"slug: a tenant's slug is immutable (it is {slug!r}); create a new tenant instead",
            field="slug",
        )
    data = {"state": "active", **before.data, **changes}
    if before.data.get("state", "active") == "active" and data["state"] == "pending":
        raise ProblemError(
            rules.TENANT_ALREADY_ACTIVE,
            "state: the tenant is active; it cannot go back to the activation list",
            field="state",
        )
    _check_identity_numbers(data)
    if "billing" in changes:
        billing = _billing(data)
        _check_billing(billing)
        _check_licences(billing, _licence_holders(tx, slug), "billing")
    if data["organization_number"] != before.data["organization_number"]:
        found = tx.tenant(slug)
        if found is None:
            raise RuntimeError("found is set for every request that gets here")
        _check_organization_number(tx, slug, data["organization_number"], found.owner_email)
    if data == before.data:
        return before
    after = tx.update_tenant(slug, data, before.version + 1)
    tx.audit(slug, "update", "tenant", before.out(), after.out())
    return after


def delete_tenant(tx: Tx, slug: str, if_match: str | None) -> None:
    _require_partner_token(tx, "deleting a tenant")
    before = visible_tenant(tx, slug)
    check_version(if_match, before, f"tenant {slug!r}")
    tx.delete_tenant(slug)
    tx.audit(slug, "delete", "tenant", before.out(), None)


# Invoicing -------------------------------------------------------------------------


def invoicing(tx: Tx, slug: str) -> Row:
    visible_tenant(tx, slug)
    row = tx.get(slug, INVOICING)
    if row is None:
        raise RuntimeError("every tenant has invoicing settings")
    return row


def _check_numbers(data: dict[str, Any]) -> None:
    if data["next_invoice_number"] <= data["last_invoice_number"]:
        raise ProblemError(
            rules.INVOICE_NUMBER_TOO_LOW,
            f"next_invoice_number {data['next_invoice_number']}: expected a number greater"
            f" than the last issued invoice number {data['last_invoice_number']}",
            field="next_invoice_number",
        )
    nxt = data["next_customer_number"]
    if nxt is not None and nxt <= data["last_customer_number"]:
        raise ProblemError(
            rules.CUSTOMER_NUMBER_TOO_LOW,
            f"next_customer_number {nxt}: expected a number greater than the last customer"
            f" number {data['last_customer_number']}",
            field="next_customer_number",
        )


def update_invoicing(tx: Tx, slug: str, if_match: str | None, patch: m.InvoicingPatch) -> Row:
    before = invoicing(tx, slug)
    check_version(if_match, before, f"invoicing of {slug!r}")
    data = {**before.data, **_sent(patch, nullable=("next_customer_number",))}
    _check_numbers(data)
    _check_offered(tx, data)
    return _write(tx, slug, INVOICING, "", before, data)


def _check_offered(tx: Tx, data: dict[str, Any]) -> None:
    """The PDF template and the language are ones the product offers."""
    offered = tx.vocabulary
    for field, known, rule in (
        ("pdf_template", offered.pdf_templates, rules.UNKNOWN_PDF_TEMPLATE),
        ("language", offered.languages, rules.UNKNOWN_LANGUAGE),
    ):
        value = data.get(field)
        if value is not None and value not in known:
            raise ProblemError(
                rule,
                f"{field} {value!r}: expected one of {', '.join(sorted(known))}"
                " (GET /v1/vocabulary)",
                field=field,
            )


def main_language(tx: Tx, slug: str) -> str:
    """The tenant's language: its invoicing setting, else its country's."""
    row = tx.get(slug, INVOICING)
    language = row.data.get("language") if row is not None else None
    if isinstance(language, str):
        return language
    address = visible_tenant(tx, slug).data.get("address") or {}
    return language_of_country(address.get("country"))


def issue_invoice(tx: Tx, slug: str) -> Row:
    _require_active(tx, slug, "invoicing")
    before = invoicing(tx, slug)
    if not before.data["enabled"]:
        raise ProblemError(
            rules.INVOICING_DISABLED,
            "enabled: invoicing is off for this tenant; no invoice can be issued",
            field="enabled",
        )
    number = before.data["next_invoice_number"]
    data = {**before.data, "last_invoice_number": number, "next_invoice_number": number + 1}
    return _write(tx, slug, INVOICING, "", before, data)


# The sender of e-mailed invoices when the tenant has no email account of its own.
SYSTEM_SENDER = "noreply@invoice.t4o.example"


def distribute_invoice(tx: Tx, slug: str, body: m.InvoiceCreate) -> dict[str, Any]:
    """Issue the next invoice and distribute it; the distribution log's entry.

    "Systemet velger mal automatisk basert på «Fakturaspråk» under innstillingene på
    kundekortene": an e-mail uses the invoice template in the customer's invoice language
    (a customer without one has the tenant's), and a language without a template gets the
    system's own text; it goes out through the tenant's email account, or the system
    account. Nothing goes out while distribution is off ("Aktiver"), nor for a client that
    sends its invoices from its external system. A host under ``.invalid`` (RFC 6761: it
    never resolves) fails as a real SMTP server that cannot be reached would, so that
    tests can see a failed distribution logged.
    """
    customer = body.customer
    if body.channel == "email" and customer.email is None:
        raise ProblemError(
            rules.INVALID_REQUEST,
            "customer.email: required to distribute by e-mail (or send channel: print)",
            field="customer.email",
        )
    language = customer.language or main_language(tx, slug)
    invoicing = issue_invoice(tx, slug).data
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    entry: dict[str, Any] = {
        "invoice_number": invoicing["last_invoice_number"],
        "issued_by": tx.principal.actor,
        "token": tx.principal.token_name,
        "channel": body.channel,
        "customer": customer.name,
        "recipient": None,
        "language": language,
        "template": None,
        "pdf_template": invoicing["pdf_template"],
        "sender": None,
        "status": "sent",
        "error": None,
    }
    held = _not_distributed(invoicing)
    if held is not None:
        entry.update(status="not_sent", error=held)
    elif body.channel == "email":
        recipient = str(customer.email)
        key = f"invoice/{language}"
        account = tx.get(slug, EMAIL_ACCOUNT)
        entry["recipient"] = recipient
        entry["template"] = key if tx.get(slug, EMAIL_TEMPLATES, key) is not None else None
        entry["sender"] = account.data["address"] if account is not None else SYSTEM_SENDER
        if account is not None and account.data["smtp_host"].lower().endswith(".invalid"):
            host, port = account.data["smtp_host"], account.data["smtp_port"]
            entry.update(status="failed", error=f"could not connect to SMTP server {host}:{port}")
        elif recipient.lower().endswith(".invalid"):
            entry.update(status="failed", error=f"550 5.1.1 <{recipient}>: recipient unknown")
    return tx.record_distribution(slug, entry)


def _not_distributed(invoicing: Mapping[str, Any]) -> str | None:
    """Why an issued invoice is not distributed by the product, if it is not."""
    if invoicing.get("invoices_from_external_system"):
        return (
            "the client sends its invoices from its external system"
            " (invoices_from_external_system: true)"
        )
    if invoicing.get("distribution_enabled", True) is False:
        return "invoice distribution is off (distribution_enabled: false; Aktiver turns it on)"
    return None


def add_customer(tx: Tx, slug: str) -> Row:
    before = invoicing(tx, slug)
    nxt = before.data["next_customer_number"]
    number = nxt if nxt is not None else before.data["last_customer_number"] + 1
    data = {**before.data, "last_customer_number": number}
    if nxt is not None:
        data["next_customer_number"] = number + 1
    return _write(tx, slug, INVOICING, "", before, data)


# Keyed items: email account, connections, templates ---------------------------------


def item(tx: Tx, slug: str, section: str, key: str, what: str) -> Row:
    visible_tenant(tx, slug)
    row = tx.get(slug, section, key)
    if row is None:
        raise not_found(what)
    return row


def _insert(tx: Tx, slug: str, section: str, key: str, data: dict[str, Any]) -> Row:
    row = tx.put(slug, section, key, data, 1)
    tx.audit(slug, "create", _address(section, key), None, row.out())
    return row


def delete_item(tx: Tx, slug: str, section: str, key: str, if_match: str | None) -> None:
    before = item(tx, slug, section, key, _address(section, key))
    check_version(if_match, before, _address(section, key))
    if section == BANK_ACCOUNTS:
        _check_bank_account_deletable(tx, slug, key, before)
    if section == USERS and before.data["role"] == "owner":
        raise ProblemError(
            rules.OWNER_PROTECTED,
            f"email {key}: the owner cannot be removed through the API",
            field="email",
        )
    tx.remove(slug, section, key)
    tx.audit(slug, "delete", _address(section, key), before.out(), None)


def create_email_account(tx: Tx, slug: str, body: m.EmailAccountCreate) -> Row:
    visible_tenant(tx, slug)
    if tx.get(slug, EMAIL_ACCOUNT) is not None:
        raise ProblemError(
            rules.EMAIL_ACCOUNT_EXISTS,
            "email_account: the tenant has one already; PATCH it or DELETE it first",
        )
    data = _created(body)
    _check_encryption(data)
    return _insert(tx, slug, EMAIL_ACCOUNT, "", data)


def update_email_account(
    tx: Tx, slug: str, if_match: str | None, patch: m.EmailAccountPatch
) -> Row:
    before = item(tx, slug, EMAIL_ACCOUNT, "", "email_account (the system account is used)")
    check_version(if_match, before, "email_account")
    data = {**before.data, **_sent(patch)}
    _check_encryption(data)
    return _write(tx, slug, EMAIL_ACCOUNT, "", before, data)


def _check_encryption(data: dict[str, Any]) -> None:
    data.setdefault("allow_unencrypted_password", False)  # accounts stored before the flag
    if data.get("encryption") == "none" and not data["allow_unencrypted_password"]:
        raise ProblemError(
            rules.UNENCRYPTED_PASSWORD,
            "encryption: none would send the password unencrypted; use ssl, starttls or"
            " auto, or send allow_unencrypted_password: true",
            field="encryption",
        )


def create_connection(tx: Tx, slug: str, body: m.ConnectionCreate) -> Row:
    visible_tenant(tx, slug)
    if tx.get(slug, CONNECTIONS, body.connector) is not None:
        raise ProblemError(
            rules.CONNECTION_EXISTS,
            f"connector {body.connector!r}: the tenant has this connection already",
            field="connector",
        )
    return _insert(tx, slug, CONNECTIONS, body.connector, _created(body))


def update_connection(
    tx: Tx, slug: str, connector: str, if_match: str | None, patch: m.ConnectionPatch
) -> Row:
    before = item(tx, slug, CONNECTIONS, connector, _address(CONNECTIONS, connector))
    check_version(if_match, before, _address(CONNECTIONS, connector))
    return _write(tx, slug, CONNECTIONS, connector, before, {**before.data, **_sent(patch)})


def _template_problems(tx: Tx, fields: dict[str, Any]) -> None:
    for name in ("subject", "body"):
        value = fields.get(name)
        known = tx.vocabulary.merge_fields
        problems = merge_field_problems(value, known) if isinstance(value, str) else []
        if problems:
            raise ProblemError(rules.UNKNOWN_MERGE_FIELD, f"{name}: {problems[0]}", field=name)


def create_email_template(tx: Tx, slug: str, body: m.EmailTemplateCreate) -> Row:
    visible_tenant(tx, slug)
    data = body.model_dump()
    _template_problems(tx, data)
    _check_offered(tx, {"language": body.language})
    key = f"{body.kind}/{body.language}"
    if tx.get(slug, EMAIL_TEMPLATES, key) is not None:
        raise ProblemError(
            rules.TEMPLATE_EXISTS,
            f"kind/language {key}: the tenant has this template already",
            field="kind",
        )
    _require_custom_email_holder(tx, slug, key)
    return _insert(tx, slug, EMAIL_TEMPLATES, key, data)


def update_email_template(
    tx: Tx, slug: str, key: str, if_match: str | None, patch: m.EmailTemplatePatch
) -> Row:
    before = item(tx, slug, EMAIL_TEMPLATES, key, _address(EMAIL_TEMPLATES, key))
    check_version(if_match, before, _address(EMAIL_TEMPLATES, key))
    changes = _sent(patch)
    _template_problems(tx, changes)
    data = {**before.data, **changes}
    if data != before.data:
        # Existing templates stay in use without a holder; changing one needs the right.
        _require_custom_email_holder(tx, slug, key)
    return _write(tx, slug, EMAIL_TEMPLATES, key, before, data)


# Bank accounts ---------------------------------------------------------------------


def _take_flags(tx: Tx, slug: str, holder: str, flags: list[str]) -> list[Row]:
    """Radio buttons: the flags now on ``holder`` are cleared on every other account.
    Returns the accounts that changed (as written), for the answer's ``also_changed``."""
    changed: list[Row] = []
    if not flags:
        return changed
    for key, other in tx.items(slug, BANK_ACCOUNTS):
        if key == holder:
            continue
        data = {**other.data, **{flag: False for flag in flags}}
        after = _write(tx, slug, BANK_ACCOUNTS, key, other, data)
        if after.version != other.version:
            changed.append(after)
    return changed


def create_bank_account(tx: Tx, slug: str, body: m.BankAccountCreate) -> Written:
    visible_tenant(tx, slug)
    number = body.key
    field = "account_number" if body.account_number else "iban"
    owner = _owner_of(tx, slug)
    holders = tx.key_holders(BANK_ACCOUNTS, number)
    if slug in holders or any(_owner_of(tx, other) != owner for other in holders):
        raise ProblemError(
            rules.ACCOUNT_NUMBER_IN_USE,
            f"{field} {number}: already registered on a tenant with another owner; two"
            " tenants may share a bank account only when both have the same owner",
            field=field,
        )
    data = body.model_dump()
    if not tx.items(slug, BANK_ACCOUNTS, limit=1):
        # The first account carries both flags: "exactly one" must hold from the start.
        data.update(invoice_account=True, default_for_payments=True)
    also_changed = _take_flags(tx, slug, number, [flag for flag in BANK_FLAGS if data[flag]])
    row = _insert(tx, slug, BANK_ACCOUNTS, number, data)
    return Written(row.data, row.version, also_changed)


def update_bank_account(
    tx: Tx, slug: str, number: str, if_match: str | None, patch: m.BankAccountPatch
) -> Written:
    what = _address(BANK_ACCOUNTS, number)
    before = item(tx, slug, BANK_ACCOUNTS, number, what)
    check_version(if_match, before, what)
    changes = _sent(patch, nullable=("iban", "swift"))
    for flag in BANK_FLAGS:
        if changes.get(flag) is False and before.data[flag]:
            raise ProblemError(
                rules.BANK_ACCOUNT_FLAG_REQUIRED,
                f"{flag}: cannot be cleared directly; set {flag}: true on another account",
                field=flag,
            )
    data = {**before.data, **changes}
    try:
        m.BankAccountCreate.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str((error.get("ctx") or {}).get("field") or "iban")
        raise ProblemError(rules.INVALID_REQUEST, f"{field}: {error['msg']}", field=field) from None
    after = _write(tx, slug, BANK_ACCOUNTS, number, before, data)
    moved = [f for f in BANK_FLAGS if data[f] and not before.data[f]]
    return Written(after.data, after.version, _take_flags(tx, slug, number, moved))


def _check_bank_account_deletable(tx: Tx, slug: str, number: str, row: Row) -> None:
    # The last account holds both flags too: a tenant that has bank accounts keeps one
    # (invoices show the invoice account), exactly as plan refuses to delete them all.
    held = [flag for flag in BANK_FLAGS if row.data[flag]]
    if held:
        last = len(tx.items(slug, BANK_ACCOUNTS, limit=2)) == 1
        raise ProblemError(
            rules.BANK_ACCOUNT_FLAG_HELD,
            f"bank account {number}: holds {' and '.join(held)};"
            + (
                " it is the tenant's last account, and a tenant with bank accounts keeps one"
                if last
                else " set the flag on another account first"
            ),
            field=held[0],
        )


# Users -----------------------------------------------------------------------------


def _require_active(tx: Tx, slug: str, what: str) -> None:
    if visible_tenant(tx, slug).data.get("state", "active") == "pending":
        raise ProblemError(
            rules.TENANT_PENDING,
            f"state: the tenant is pending (in the activation list); activate it before {what}",
            field="state",
        )


def _require_user_administrator(tx: Tx, slug: str, email: str, field: str, what: str) -> None:
    """The acting user may administer users: the owner always (SendRegning: "Invitasjoner
    kan bare sendes av brukeren som opprettet kontoen"), an active admin only where the
    tenant's ``user_administration`` is ``admins`` (Fortnox: a system administrator "kan
    skapa användare ... och redigera behörigheter för alla användare")."""
    allowed: tuple[str, ...] = ("owner",)
    if visible_tenant(tx, slug).data.get("user_administration", "admins") == "admins":
        allowed = ADMIN_ROLES
    actor = tx.get(slug, USERS, email)
    if actor is None or actor.data["status"] != "active" or actor.data["role"] not in allowed:
        who = "the owner" if allowed == ("owner",) else "the owner or an active admin"
        setting = (
            " (user_administration: owner: only the owner invites and changes rights)"
            if allowed == ("owner",)
            else ""
        )
        raise ProblemError(
            rules.INVITER_NOT_ADMIN,
            f"{field} {email}: only {who} of this tenant may {what}{setting}",
            field=field,
        )


def create_user(tx: Tx, slug: str, body: m.UserCreate) -> Row:
    _require_active(tx, slug, "inviting users")
    if body.role == "owner":
        raise ProblemError(
            rules.OWNER_EXISTS,
            "role: a tenant has exactly one owner; invite as admin or member",
            field="role",
        )
    _require_user_administrator(tx, slug, body.invited_by, "invited_by", "invite users")
    if tx.get(slug, USERS, body.email) is not None:
        raise ProblemError(
            rules.USER_EXISTS,
            f"email {body.email}: already a user (or invited) of this tenant",
            field="email",
        )
    data = {
        "email": body.email,
        "name": body.name,
        "role": body.role,
        "programs": programs(body.programs),
        "custom_invoice_email": body.custom_invoice_email,
        "status": "pending",
    }
    _check_custom_email(data, "custom_invoice_email")
    if holds_program_right(data["programs"]):
        holders = [*_licence_holders(tx, slug), body.email]
        _check_licences(_billing(visible_tenant(tx, slug).data), holders, "programs")
    return _insert(tx, slug, USERS, body.email, data)


def update_user(tx: Tx, slug: str, email: str, if_match: str | None, patch: m.UserPatch) -> Row:
    what = _address(USERS, email)
    before = item(tx, slug, USERS, email, what)
    check_version(if_match, before, what)
    changes = _sent(patch)
    actor = changes.pop("changed_by")
    _require_user_administrator(tx, slug, actor, "changed_by", "change users and their rights")
    role = changes.get("role", before.data["role"])
    if before.data["role"] == "owner" and role != "owner":
        raise ProblemError(
            rules.OWNER_PROTECTED, f"role: {email} is the owner and cannot be demoted", field="role"
        )
    if role == "owner" and before.data["role"] != "owner":
        raise ProblemError(rules.OWNER_EXISTS, "role: a tenant has exactly one owner", field="role")
    if "programs" in changes:
        changes["programs"] = programs(changes["programs"])
    data = {**before.data, **changes}
    _check_custom_email(data, "custom_invoice_email")
    if holds_program_right(data["programs"]) and not holds_program_right(before.data["programs"]):
        holders = [*_licence_holders(tx, slug), email]
        _check_licences(_billing(visible_tenant(tx, slug).data), holders, "programs")
    return _write(tx, slug, USERS, email, before, data)


def accept_invitation(tx: Tx, slug: str, email: str) -> Row:
    before = item(tx, slug, USERS, email, _address(USERS, email))
    return _write(tx, slug, USERS, email, before, {**before.data, "status": "active"})


# Agreements ------------------------------------------------------------------------


def membership(tx: Tx, slug: str) -> Row:
    visible_tenant(tx, slug)
    row = tx.get(slug, MEMBERSHIP)
    if row is None:
        raise RuntimeError("every tenant has a membership row")
    return row


def move(tx: Tx, slug: str, if_match: str | None, body: m.MembershipPut) -> Row:
    before = membership(tx, slug)
    check_version(if_match, before, f"agreement membership of {slug!r}")
    _check_agreement(tx, body.agreement, "agreement")
    if body.agreement == before.data["agreement"]:
        return before
    after = tx.put(slug, MEMBERSHIP, "", {"agreement": body.agreement}, before.version + 1)
    tx.audit(slug, "move", MEMBERSHIP, before.out(), after.out())
    return after


def agreement_out(tx: Tx, row: Row) -> dict[str, Any]:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    count = tx.tenant_counts(tx.principal.partner, [row.data["name"]])[row.data["name"]]
    return {**row.out(), "tenant_count": count}


def agreement(tx: Tx, name: str) -> Row:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    row = tx.agreement(tx.principal.partner, name)
    if row is None:
        raise not_found(f"agreement {name!r}")
    return row


def create_agreement(tx: Tx, body: m.AgreementCreate) -> Row:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    _require_partner_token(tx, "creating an agreement")
    if tx.agreement(tx.principal.partner, body.name) is not None:
        raise ProblemError(
            rules.AGREEMENT_EXISTS, f"name {body.name!r}: the agreement exists", field="name"
        )
    row = tx.put_agreement(tx.principal.partner, body.name, body.customer_number, 1)
    tx.audit(None, "create", _address("agreements", body.name), None, row.out())
    return row


def update_agreement(tx: Tx, name: str, if_match: str | None, patch: m.AgreementPatch) -> Row:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    _require_partner_token(tx, "changing an agreement")
    before = agreement(tx, name)
    check_version(if_match, before, _address("agreements", name))
    if patch.customer_number == before.data["customer_number"]:
        return before
    after = tx.put_agreement(tx.principal.partner, name, patch.customer_number, before.version + 1)
    tx.audit(None, "update", _address("agreements", name), before.out(), after.out())
    return after


def delete_agreement(tx: Tx, name: str, if_match: str | None) -> None:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    _require_partner_token(tx, "deleting an agreement")
    before = agreement(tx, name)
    check_version(if_match, before, _address("agreements", name))
    count = tx.tenant_counts(tx.principal.partner, [name])[name]
    if count:
        raise ProblemError(
            rules.AGREEMENT_NOT_EMPTY,
            f"name {name!r}: still holds {count} tenant(s); move them out first",
            field="name",
        )
    tx.delete_agreement(tx.principal.partner, name)
    tx.audit(None, "delete", _address("agreements", name), before.out(), None)
