"""The fixed vocabularies of the domain, listed once.

The YAML models, the generated JSON Schema, the sandbox's rules and the docs all read
these lists; nothing else spells them out.
"""

from __future__ import annotations

from typing import Literal, get_args

# Each vocabulary is written once, as the Literal type the models validate with; the
# tuples the schema, the sandbox, the docs and the tests list are derived from it.
Connector = Literal["eventor-norway", "eventor-norway-test", "eventor-sweden"]
TimingSystem = Literal["emit", "sportident", "none"]
InvoiceRecipient = Literal["client", "partner"]
Interval = Literal["monthly", "quarterly", "yearly"]
PdfTemplate = Literal["standard", "compact", "detailed"]
Encryption = Literal["auto", "ssl", "starttls", "none"]
Role = Literal["owner", "admin", "member"]
TenantState = Literal["pending", "active"]
UserStatus = Literal["pending", "active"]  # an invitation not yet accepted is pending
Program = Literal["invoicing", "accounting", "payroll", "events"]
Right = Literal["none", "user", "admin"]
TemplateKind = Literal["invoice", "order"]

CONNECTORS: tuple[str, ...] = get_args(Connector)
TIMING_SYSTEMS: tuple[str, ...] = get_args(TimingSystem)
INVOICE_RECIPIENTS: tuple[str, ...] = get_args(InvoiceRecipient)
BILLING_INTERVALS: tuple[str, ...] = get_args(Interval)
PDF_TEMPLATES: tuple[str, ...] = get_args(PdfTemplate)
SMTP_ENCRYPTIONS: tuple[str, ...] = get_args(Encryption)
ROLES: tuple[str, ...] = get_args(Role)
PROGRAMS: tuple[str, ...] = get_args(Program)
PROGRAM_RIGHTS: tuple[str, ...] = get_args(Right)
TEMPLATE_KINDS: tuple[str, ...] = get_args(TemplateKind)

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

# The sections of a tenant and their facts (keys, secrets, paths) are in engine/sections.py.
