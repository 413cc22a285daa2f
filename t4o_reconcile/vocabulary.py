"""The fixed vocabularies of the domain, listed once.

The YAML models, the generated JSON Schema, the sandbox's rules and the docs all read
these lists; nothing else spells them out.
"""

from __future__ import annotations

import re

CONNECTORS: tuple[str, ...] = ("eventor-norway", "eventor-norway-test", "eventor-sweden")
TIMING_SYSTEMS: tuple[str, ...] = ("emit", "sportident", "none")
INVOICE_RECIPIENTS: tuple[str, ...] = ("client", "partner")
BILLING_INTERVALS: tuple[str, ...] = ("monthly", "quarterly", "yearly")
PDF_TEMPLATES: tuple[str, ...] = ("standard", "compact", "detailed")
SMTP_ENCRYPTIONS: tuple[str, ...] = ("auto", "ssl", "starttls", "none")
ROLES: tuple[str, ...] = ("owner", "admin", "member")
PROGRAMS: tuple[str, ...] = ("invoicing", "accounting", "payroll", "events")
PROGRAM_RIGHTS: tuple[str, ...] = ("none", "user", "admin")
TEMPLATE_KINDS: tuple[str, ...] = ("invoice", "order")

# Merge fields an email template may use, as written inside braces: {Number}.
MERGE_FIELDS: tuple[str, ...] = (
    "Number",
    "InvoiceDate",
    "DueDate",
    "OrderDate",
    "Amount",
    "Currency",
    "KID",
    "Link",
    "Customer.Name",
    "Customer.Number",
    "Customer.Email",
    "Supplier.Name",
    "Supplier.OrganizationNumber",
    "Supplier.Email",
    "Supplier.Phone",
)

# ISO 639-1 codes accepted for template languages: the languages the product ships in.
LANGUAGES: tuple[str, ...] = ("nb", "nn", "en", "sv", "da", "fi", "de", "se")

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
SLUG_RE = re.compile(SLUG_PATTERN)

# Sections of a tenant. Singletons hold one item (key ""), collections are keyed.
SINGLETON_SECTIONS: tuple[str, ...] = (
    "identity",
    "defaults",
    "billing",
    "agreement",
    "invoicing",
    "email_account",
)
COLLECTION_SECTIONS: tuple[str, ...] = (
    "connections",
    "bank_accounts",
    "users",
    "email_templates",
)
SECTIONS: tuple[str, ...] = SINGLETON_SECTIONS + COLLECTION_SECTIONS

# Fields that hold a secret, per section: never printed, compared by fingerprint only.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "connections": ("token",),
    "email_account": ("password",),
}
