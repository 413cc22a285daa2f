"""The sections of a tenant: every fact about each one, declared once.

Like octoDNS's ``record/`` package: one class per section, registered once with
``@register``; the diff, the apply order, the plan checks, the delete guard, both
snapshot builders, export and the HTTP provider ask the registry instead of naming
sections. A section's facts:

- its key fields (singletons have none and hold one item under the key ``""``);
- whether it is part of the tenant resource (one version, one PATCH of the tenant) or a
  resource of its own, and whether a new tenant's create makes it;
- whether its items can be deleted, and whether deleting one needs ``--allow-deletes``;
- what one item is called in messages;
- its radio flags (true on exactly one item; setting one clears it on the others);
- its secret fields (compared by fingerprint, never shown) and read-only fields;
- the value a missing entry of a per-key map means ("a program left out is none");
- its counters: numbers the product moves on with use, which the file gives as floors;
- its URL path below ``/v1/tenants/{slug}``;
- its place in the apply order: the order of registration.

A new collection section is its class here, its model (a list field of
``config.tenant_models.Tenant`` named like the section) and its routes in the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from t4o_reconcile import normalize
from t4o_reconcile.vocabulary import PROGRAMS

Normaliser = Callable[[str], str]
_NONE: Mapping[str, Any] = MappingProxyType({})


class Section:
    """One section of a tenant file and of the API's ``TenantConfig``."""

    name: ClassVar[str]
    # Singletons hold one item under the key ""; collections are keyed by ``key_fields``.
    singleton: ClassVar[bool] = False
    key_fields: ClassVar[tuple[str, ...]] = ()
    # Held by the tenant resource itself: read and written with the tenant, never
    # created or deleted alone.
    part_of_tenant: ClassVar[bool] = False
    # A new tenant's create makes it; every other section follows as its own creates.
    created_with_tenant: ClassVar[bool] = False
    # Items left out of the configuration are deleted (a managed section is
    # authoritative). False: the resource always exists.
    deletable: ClassVar[bool] = True
    # Deleting any item needs --allow-deletes.
    deletes_need_flag: ClassVar[bool] = False
    # What one item is called in messages.
    noun: ClassVar[str] = "item"
    # Every field, in the order a tenant file and the plan list them.
    fields: ClassVar[tuple[str, ...]] = ()
    # Fields the API computes: never written to a file nor sent.
    read_only: ClassVar[tuple[str, ...]] = ()
    # Fields the API's answer must hold (the key fields unless said otherwise).
    required: ClassVar[tuple[str, ...] | None] = None
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Where the secret is sent (an SMTP account's host, port and user name): changing one
    # while the secret stays the same is a sensitive change, approved as a delete is.
    destination_fields: ClassVar[tuple[str, ...]] = ()
    # Money, access and where secrets go: a create or delete of an item, or a change to
    # one of these fields, is called out at the top of every plan (engine.callouts).
    callout_fields: ClassVar[tuple[str, ...]] = ()
    # Fields normalised for comparison that a plan shows as the API answered them.
    shown_as_answered: ClassVar[tuple[str, ...]] = ()
    # Booleans: an absent one in the API's answer is false.
    flags: ClassVar[tuple[str, ...]] = ()
    # True on exactly one item; setting it true on one item clears it on the others.
    radio_flags: ClassVar[tuple[str, ...]] = ()
    # field -> what the file may leave out: a per-key map's missing keys, or a scalar
    # (export leaves such values out, both snapshots fill them in).
    missing_means: ClassVar[Mapping[str, Any]] = _NONE
    # How text fields of the API's answer are normalised (the API may answer another
    # form); the file side's models normalise the same fields the same way, except these,
    # which the desired snapshot normalises itself.
    normalisers: ClassVar[Mapping[str, Normaliser]] = _NONE
    normalised_from_file: ClassVar[tuple[str, ...]] = ()
    # Counters the product moves on with use (every invoice, every customer): the file's
    # value is a floor, so live at or above it is no change and plan never lowers one.
    floors: ClassVar[tuple[str, ...]] = ()
    # The URL path below /v1/tenants/{slug}; "" is the tenant resource itself.
    api_path: ClassVar[str] = ""
    # What the tenant file's key holds, for the JSON Schema (editors show it).
    description: ClassVar[str] = ""

    @property
    def needed(self) -> tuple[str, ...]:
        return self.key_fields if self.required is None else self.required

    def key(self, fields: Mapping[str, Any]) -> str:
        """The natural key of an item with these fields."""
        if self.singleton:
            return ""
        if len(self.key_fields) == 1:
            return str(fields[self.key_fields[0]])
        return "/".join(str(fields[name]) for name in self.key_fields)

    def key_parts(self, key: str) -> list[str]:
        """The key as one value per key field: the URL path segments of the item."""
        if len(self.key_fields) <= 1:
            return [key]
        parts = key.split("/")
        if len(parts) != len(self.key_fields):
            raise ValueError(
                f"the {self.name} key {key!r}: expected {'/'.join(self.key_fields).upper()}"
            )
        return parts

    def secret_env_parts(self, key: str, field: str) -> tuple[str, ...]:
        """What names the environment variable export proposes for a secret field."""
        return (key, field)

    def filled(self, name: str, value: Any) -> Any:
        """``value`` with what its missing entries mean (``missing_means``)."""
        default = self.missing_means.get(name)
        if not isinstance(default, dict):
            return value
        given = value or {}
        # dict first: this runs for every user of every tenant, and an ABC check is slow.
        if not isinstance(given, dict) and not isinstance(given, Mapping):
            raise ValueError(f"{name}: expected a mapping, got {type(given).__name__}")
        return {k: given.get(k) or none for k, none in default.items()}


REGISTRY: dict[str, Section] = {}

# Views of the registry, in apply order; rebuilt by ``register``, read at call time.
SECTIONS: tuple[str, ...] = ()
TENANT_RESOURCE: tuple[str, ...] = ()
COLLECTIONS: tuple[str, ...] = ()
SECRET_FIELDS: dict[str, tuple[str, ...]] = {}
RANK: dict[str, int] = {}
READ_ONLY: frozenset[str] = frozenset()


def register(cls: type[Section]) -> type[Section]:
    """Add a section; its place in the apply order is its place of registration."""
    if cls.name in REGISTRY:
        raise ValueError(f"section {cls.name!r} is registered twice")
    REGISTRY[cls.name] = cls()
    derive()
    return cls


def derive() -> None:
    """Rebuild the views after the registry changed."""
    global SECTIONS, TENANT_RESOURCE, COLLECTIONS, SECRET_FIELDS, RANK, READ_ONLY
    SECTIONS = tuple(REGISTRY)
    TENANT_RESOURCE = tuple(s.name for s in each() if s.part_of_tenant)
    COLLECTIONS = tuple(s.name for s in each() if not s.singleton)
    SECRET_FIELDS = {s.name: s.secret_fields for s in each() if s.secret_fields}
    RANK = {name: rank for rank, name in enumerate(SECTIONS)}
    READ_ONLY = frozenset(name for s in each() for name in s.read_only)


def get(name: str) -> Section:
    return REGISTRY[name]


def each() -> Iterator[Section]:
    return iter(REGISTRY.values())


@register
class AgreementMembership(Section):
    """The customer agreement the tenant is in: moved, never created or deleted."""

    name = "agreement"
    description = "Name of the customer agreement (from _agreements.yaml); null: in no agreement."
    singleton = True
    created_with_tenant = True
    deletable = False
    fields = ("name",)
    api_path = "agreement"


@register
class Identity(Section):
    name = "identity"
    singleton = True
    part_of_tenant = True
    created_with_tenant = True
    deletable = False
    fields = (
        "name",
        "organization_number",
        "personal_number",
        "contact",
        "address",
        "state",
        "user_administration",
    )


@register
class Defaults(Section):
    name = "defaults"
    description = "Suggested settings for new events."
    singleton = True
    part_of_tenant = True
    created_with_tenant = True
    deletable = False
    fields = ("timing_system", "finish_code")


@register
class Billing(Section):
    name = "billing"
    description = (
        "What the tenant pays the vendor, and whether the client itself gets access to any"
        " program: each user holding a program right takes one licence; a client without"
        " program access has no licences and a confirmation e-mail address instead."
    )
    singleton = True
    part_of_tenant = True
    created_with_tenant = True
    deletable = False
    fields = ("licenses", "invoice_recipient", "interval", "program_access", "confirmation_email")
    # A client gets program access unless the file says otherwise (export leaves it out).
    missing_means = MappingProxyType({"program_access": True})
    normalisers = MappingProxyType({"confirmation_email": normalize.email})


@register
class Invoicing(Section):
    name = "invoicing"
    description = "Invoice numbering, distribution and layout."
    singleton = True
    created_with_tenant = True
    deletable = False
    fields = (
        "enabled",
        "distribution_enabled",
        "next_invoice_number",
        "invoices_from_external_system",
        "next_customer_number",
        "pdf_template",
        "language",
        "last_invoice_number",
        "last_customer_number",
    )
    read_only = ("last_invoice_number", "last_customer_number")
    floors = ("next_invoice_number", "next_customer_number")
    # "Aktiver" (invoice distribution) is on by default on every client.
    missing_means = MappingProxyType({"distribution_enabled": True})
    api_path = "invoicing"


@register
class EmailAccount(Section):
    """The tenant's own SMTP account; none means the system account."""

    name = "email_account"
    description = "Custom SMTP account for sending invoices; null: use the system account."
    noun = "email account"
    singleton = True
    fields = (
        "account_name",
        "display_name",
        "address",
        "username",
        "password",
        "smtp_host",
        "smtp_port",
        "encryption",
        "allow_unencrypted_password",
    )
    secret_fields = ("password",)
    destination_fields = ("smtp_host", "smtp_port", "username")
    callout_fields = ("address", "username", "smtp_host", "smtp_port", "encryption")
    flags = ("allow_unencrypted_password",)
    missing_means = MappingProxyType({"allow_unencrypted_password": False})
    normalisers = MappingProxyType(
        {
            "account_name": normalize.text,
            "display_name": normalize.text,
            "address": normalize.email,
            "username": normalize.text,
        }
    )
    api_path = "email-account"

    def secret_env_parts(self, key: str, field: str) -> tuple[str, ...]:
        return ("smtp", field)


@register
class Connections(Section):
    name = "connections"
    description = "Integrations, at most one per connector. Left out: unmanaged."
    noun = "connection"
    key_fields = ("connector",)
    fields = ("connector", "token")
    secret_fields = ("token",)
    api_path = "connections"


@register
class BankAccounts(Section):
    """A Norwegian account is named by its account number, any other by its IBAN."""

    name = "bank_accounts"
    description = (
        "Bank accounts, keyed by account_number. When any is listed, exactly one has"
        " invoice_account and exactly one default_for_payments."
    )
    key_fields = ("account_number",)
    required = ()
    deletes_need_flag = True
    noun = "bank account"
    fields = ("account_number", "iban", "swift", "invoice_account", "default_for_payments")
    callout_fields = fields
    shown_as_answered = ("account_number", "iban", "swift")
    flags = ("invoice_account", "default_for_payments")
    radio_flags = ("invoice_account", "default_for_payments")
    normalisers = MappingProxyType(
        {
            "account_number": normalize.account_number,
            "iban": normalize.iban,
            "swift": normalize.bic,
        }
    )
    api_path = "bank-accounts"

    def key(self, fields: Mapping[str, Any]) -> str:
        key = fields.get("account_number") or fields.get("iban")
        if not key:
            raise ValueError("a bank account has neither account_number nor iban")
        return str(key)


@register
class Users(Section):
    name = "users"
    description = "Users, keyed by email; exactly one has role owner."
    key_fields = ("email",)
    deletes_need_flag = True
    noun = "user"
    fields = ("email", "name", "role", "programs", "custom_invoice_email", "status")
    read_only = ("status",)
    callout_fields = ("role", "programs", "custom_invoice_email")
    # The extra access "custom invoice e-mail": absent (or not true) means not held.
    flags = ("custom_invoice_email",)
    missing_means = MappingProxyType(
        {"programs": {program: "none" for program in PROGRAMS}, "custom_invoice_email": False}
    )
    normalisers = MappingProxyType({"email": normalize.email, "name": normalize.text})
    api_path = "users"


def gives_access(right: object) -> bool:
    """A program right that lets its user into the program: any but ``none``."""
    return right not in (None, "none")


def holds_program_right(programs: object) -> bool:
    """A user holding any program right but ``none`` takes one licence."""
    return isinstance(programs, dict) and any(gives_access(r) for r in programs.values())


@register
class EmailTemplates(Section):
    name = "email_templates"
    description = "E-mail templates, one per (kind, language)."
    noun = "email template"
    key_fields = ("kind", "language")
    fields = ("kind", "language", "name", "subject", "body")
    normalisers = MappingProxyType(
        {"name": normalize.text, "subject": normalize.text, "body": normalize.text}
    )
    normalised_from_file = ("subject", "body")  # the model checks merge fields only
    api_path = "email-templates"
