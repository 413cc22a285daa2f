"""The fixed vocabularies of the domain, listed once.

The YAML models, the generated JSON Schema, the sandbox's rules and the docs all read
these lists; nothing else spells them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

# Each vocabulary is written once, as the Literal type the models validate with; the
# tuples the schema, the sandbox, the docs and the tests list are derived from it.
Connector = Literal["eventor-norway", "eventor-norway-test", "eventor-sweden"]
TimingSystem = Literal["emit", "sportident", "none"]
InvoiceRecipient = Literal["client", "partner"]
Interval = Literal["monthly", "quarterly", "yearly"]
Encryption = Literal["auto", "ssl", "starttls", "none"]
Role = Literal["owner", "admin", "member"]
TenantState = Literal["pending", "active"]
# A tenant file's place in the client's life: managed (the default), or decommissioned:
# the client has ended and the plan ends its invoicing, integrations and users' access,
# keeping its bookkeeping data (docs/lifecycle.md).
Lifecycle = Literal["managed", "decommissioned"]
# Who may invite users and change their rights: the owner only (SendRegning: "Invitasjoner
# kan bare sendes av brukeren som opprettet kontoen"), or the owner and active admins
# (Fortnox: a system administrator "kan skapa användare ... och redigera behörigheter").
UserAdministration = Literal["owner", "admins"]
UserStatus = Literal["pending", "active"]  # an invitation not yet accepted is pending
Program = Literal["invoicing", "accounting", "payroll", "events"]
Right = Literal["none", "user", "admin"]
TemplateKind = Literal["invoice", "order"]

CONNECTORS: tuple[str, ...] = get_args(Connector)
TIMING_SYSTEMS: tuple[str, ...] = get_args(TimingSystem)
INVOICE_RECIPIENTS: tuple[str, ...] = get_args(InvoiceRecipient)
BILLING_INTERVALS: tuple[str, ...] = get_args(Interval)
SMTP_ENCRYPTIONS: tuple[str, ...] = get_args(Encryption)
ROLES: tuple[str, ...] = get_args(Role)
PROGRAMS: tuple[str, ...] = get_args(Program)
PROGRAM_RIGHTS: tuple[str, ...] = get_args(Right)
TEMPLATE_KINDS: tuple[str, ...] = get_args(TemplateKind)
# Not a Literal: the product may offer more (GET /v1/vocabulary); these are the built-in.
PDF_TEMPLATES: tuple[str, ...] = ("standard", "compact", "detailed")

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

# The built-in lists above are what this tool knows without asking. The product's own
# lists (GET /v1/vocabulary) may be longer: a name missing here is a warning in validate,
# and plan decides against the live list. A name from either list must have these shapes,
# since it ends up inside templates, URL path segments and plan output.
MERGE_FIELD_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,39}(\.[A-Za-z][A-Za-z0-9_]{0,39}){0,3}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"
PDF_TEMPLATE_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
MERGE_FIELD_RE = re.compile(MERGE_FIELD_PATTERN)
LANGUAGE_RE = re.compile(LANGUAGE_PATTERN)
PDF_TEMPLATE_RE = re.compile(PDF_TEMPLATE_PATTERN)
# The most names an API's list may hold: an answer over it is refused, not truncated.
MAX_VOCABULARY = 1_000

# The tenant's language when nothing says otherwise: that of its country (address.country),
# else English. A new tenant gets it, and a customer without an invoice language has it.
COUNTRY_LANGUAGES: dict[str, str] = {
    "NO": "nb",
    "SE": "sv",
    "DK": "da",
    "FI": "fi",
    "DE": "de",
}
FALLBACK_LANGUAGE = "en"


def language_of_country(country: str | None) -> str:
    return COUNTRY_LANGUAGES.get(country or "NO", FALLBACK_LANGUAGE)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The names templates and settings may use: the merge fields, the template
    languages and the PDF templates."""

    merge_fields: frozenset[str]
    languages: frozenset[str]
    pdf_templates: frozenset[str]

    def lists(self) -> dict[str, frozenset[str]]:
        return {
            "merge_fields": self.merge_fields,
            "languages": self.languages,
            "pdf_templates": self.pdf_templates,
        }


BUILT_IN = Vocabulary(frozenset(MERGE_FIELDS), frozenset(LANGUAGES), frozenset(PDF_TEMPLATES))

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"

# The sections of a tenant and their facts (keys, secrets, paths) are in engine/sections.py.


_BRACE_TOKEN = re.compile(r"[{}]")


def merge_fields_of(value: str) -> tuple[list[str], list[str]]:
    """The merge fields a template string uses, in order, and the problems of its
    syntax (a brace left open or unmatched, a name of a shape no field has)."""
    problems: list[str] = []
    names: list[str] = []
    pos = 0
    while True:
        match = _BRACE_TOKEN.search(value, pos)
        if match is None:
            return names, problems
        if match.group() == "}":
            problems.append(f"unmatched '}}' at character {match.start() + 1}")
            pos = match.end()
            continue
        close = value.find("}", match.end())
        nested = value.find("{", match.end())
        if close == -1 or (nested != -1 and nested < close):
            problems.append(f"unclosed '{{' at character {match.start() + 1}")
            pos = match.end()
            continue
        name = value[match.end() : close]
        if MERGE_FIELD_RE.fullmatch(name):
            names.append(name)
        else:
            problems.append(
                f"{{{name[:50]}}} at character {match.start() + 1} is not a merge field name;"
                " expected letters and digits, dotted like {Supplier.Name}"
            )
        pos = close + 1
