"""Pydantic models of a tenant file and of the agreements file.

These are the one validator at run time. Rules that concern a single value live here
(as reusable annotated types, which the sandbox uses too); rules across items of a list
or across files live in ``config.cross_rules`` so that each problem can name its exact path.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Collection
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)
from pydantic_core import PydanticCustomError
from stdnum import bic as std_bic
from stdnum import iban as std_iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import kontonr

from t4o_reconcile import national_id, normalize
from t4o_reconcile.vocabulary import (
    LANGUAGE_PATTERN,
    MERGE_FIELDS,
    PDF_TEMPLATE_PATTERN,
    PDF_TEMPLATES,
    SLUG_PATTERN,
    Connector,
    Encryption,
    Interval,
    InvoiceRecipient,
    Lifecycle,
    Program,
    Right,
    Role,
    TemplateKind,
    TenantState,
    TimingSystem,
    UserAdministration,
    merge_fields_of,
)

# An e-mail is a URL path segment of the API (``/users/{email}``): beyond the shape, it
# may not hold what would make it more than one segment (``/ \ ? # %``, whitespace,
# control characters), and ``..`` is refused by ``_one_segment``.
_NOT_IN_SEGMENT = r"@\s/\\?#%\x00-\x1f\x7f"
EMAIL_PATTERN = rf"^[^{_NOT_IN_SEGMENT}]+@[^{_NOT_IN_SEGMENT}]+\.[^{_NOT_IN_SEGMENT}]+$"
# A name that is a path segment (an agreement's name): spaces inside are fine, the
# characters that end or escape a segment are not.
NAME_PATTERN = r"^[^/\\?#%\x00-\x1f\x7f]+$"
# Bounds of every string and list: the JSON Schema, the loader and the sandbox all take
# them from these models, so the three agree.
MAX_EMAIL = 254
MAX_NAME = 200
MAX_TEMPLATE = 10_000
MAX_HOST = 253
MAX_REFERENCE = 300
MAX_USERS = 1_000
MAX_BANK_ACCOUNTS = 100
MAX_CONNECTIONS = 10
MAX_TEMPLATES = 50
MAX_AGREEMENTS = 10_000


# kontonr's weights for the 11-digit form (kontonr._calc_check_digit).
_KONTONR_WEIGHTS = (6, 7, 8, 9, 4, 5, 6, 7, 8, 9)


def _account_number(value: str) -> str:
    number = normalize.account_number(value)
    # The usual form, 11 plain digits, checked as kontonr.validate checks it, without its
    # per-character clean-up: six accounts a tenant, 29 us each, were a third of its
    # validation. Anything else, and every failure, goes to kontonr for its own answer.
    if len(number) == 11 and number.isascii() and number.isdigit() and number[:4] != "0000":
        check = sum(map(operator.mul, _KONTONR_WEIGHTS, map(int, number))) % 11
        if str(check) == number[-1]:
            return number
    try:
        return str(kontonr.validate(number))
    except StdnumError as exc:
        raise ValueError(
            f"not a valid Norwegian account number (11 digits, MOD11): {exc}"
        ) from None


def _iban(value: str) -> str:
    try:
        return str(std_iban.validate(value))
    except StdnumError as exc:
        raise ValueError(f"not a valid IBAN (mod-97 check): {exc}") from None


def _bic(value: str) -> str:
    try:
        return str(std_bic.validate(value))
    except StdnumError as exc:
        raise ValueError(f"not a valid BIC/SWIFT code (8 or 11 characters): {exc}") from None


# A BIC names its bank's country (characters 5-6); an IBAN starts with its account's.
# These territories have IBANs of their own but are served by their home country's banks.
_BIC_COUNTRY_OF: dict[str, str] = {
    **dict.fromkeys(("GF", "GP", "MQ", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF"), "FR"),
    **dict.fromkeys(("GG", "JE", "IM"), "GB"),
    "AX": "FI",
}


def bic_country_problem(iban: str | None, bic: str | None) -> str | None:
    """Why ``bic`` cannot be the bank of the account ``iban`` (both valid), else None."""
    if iban is None or bic is None:
        return None
    country = iban[:2]
    expected = _BIC_COUNTRY_OF.get(country, country)
    if bic[4:6] == expected:
        return None
    return (
        f"swift {bic} is a bank in {bic[4:6]} (characters 5-6 of a BIC), but iban {iban}"
        f" is an account in {country}; expected the BIC of the account's bank, in {expected}"
    )


def _one_segment(value: str) -> str:
    if ".." in value or value.strip(".") == "":
        raise ValueError(
            "'..' and names of only dots are not allowed: the value is a URL path segment"
        )
    return value


def merge_field_problems(value: str, known: Collection[str] = MERGE_FIELDS) -> list[str]:
    """Every problem with the merge fields in a template string against the list
    ``known``, in order of appearance."""
    names, problems = merge_fields_of(value)
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if unknown:
        problems += [
            f"unknown merge field {{{name}}}; known fields: "
            + ", ".join("{" + f + "}" for f in sorted(known))
            for name in unknown
        ]
    return problems


def _merge_field_syntax(value: str) -> str:
    # Only the syntax is an error here: a name the built-in list lacks may be one the
    # API knows (validate warns, plan asks the API: see config.cross_rules).
    problems = _syntax_problems(value)
    if problems:
        raise ValueError(problems)
    return value


@functools.lru_cache(maxsize=4096)
def _syntax_problems(value: str) -> str:
    """A template's syntax problems, joined; kept by text because partners give their
    clients the same templates (8 texts a tenant, 12 us each to scan)."""
    _, problems = merge_fields_of(value)
    return "; ".join(problems)


Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
Email = Annotated[
    str,
    Field(pattern=EMAIL_PATTERN, max_length=MAX_EMAIL),
    AfterValidator(_one_segment),
    AfterValidator(normalize.email),
]
# The name of an agreement: also the last segment of /v1/agreements/{name}.
KeyName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN),
    AfterValidator(normalize.text),
    AfterValidator(_one_segment),
]
Phone = Annotated[str, Field(pattern=r"^\+?[\d ()./-]{5,20}$"), AfterValidator(normalize.phone)]
# Checked by the tenant's country (see ``check_identity_numbers``), not alone.
OrganizationNumber = Annotated[
    str, Field(min_length=1, description="Organisation number; checked by the country")
]
PersonalNumber = Annotated[
    str, Field(min_length=1, description="Personal number; checked by the country")
]
AccountNumber = Annotated[str, AfterValidator(_account_number)]
Iban = Annotated[str, AfterValidator(_iban)]
Bic = Annotated[str, AfterValidator(_bic)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
# The built-in lists are checked in config.cross_rules (a warning: the API's list may be longer).
Language = Annotated[
    str, Field(pattern=LANGUAGE_PATTERN, description="ISO 639-1 code, e.g. nb, sv, en")
]
TemplateText = Annotated[str, Field(max_length=MAX_TEMPLATE), AfterValidator(_merge_field_syntax)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(normalize.text)]

PdfTemplate = Annotated[
    str,
    Field(
        pattern=PDF_TEMPLATE_PATTERN,
        description="A PDF template of the product: " + ", ".join(PDF_TEMPLATES) + ", …",
    ),
]

IDENTITY_ERROR = "identity_number"
UNENCRYPTED_ERROR = "unencrypted_password"
# A rule a model checks across its own fields, reported at one of them (ctx: field, message).
FIELD_RULE_ERROR = "field_rule"


def field_rule(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(FIELD_RULE_ERROR, "{message}", {"field": field, "message": message})


def billing_problem(
    licenses: int, program_access: bool, confirmation_email: str | None
) -> tuple[str, str] | None:
    """(field, message) when the billing settings contradict each other, else None.

    The client manager asks whether the client itself gets access to any program; when it
    does not, the last step asks only for an e-mail address to confirm the client is set
    up, instead of a number of licences.
    """
    if not program_access:
        if confirmation_email is None:
            return (
                "confirmation_email",
                "a client without program access (program_access: false) needs"
                " confirmation_email: the address told that the client is set up",
            )
        if licenses:
            return (
                "licenses",
                f"licenses {licenses}: a client without program access (program_access:"
                " false) works with no licences; expected licenses: 0",
            )
    elif confirmation_email is not None:
        return (
            "confirmation_email",
            "confirmation_email is only used for a client without program access; expected"
            " program_access: false, or no confirmation_email",
        )
    return None


def custom_email_problem(custom_invoice_email: bool, programs: Any) -> str | None:
    """The custom invoice e-mail right is an extra access on top of invoicing."""
    if custom_invoice_email and (programs or {}).get("invoicing", "none") == "none":
        return (
            "custom_invoice_email is an extra access to invoicing (Egendefinert fakturaepost);"
            " expected a right in programs.invoicing (user or admin) beside it"
        )
    return None


def check_encryption(encryption: str | None, allowed: bool | None) -> None:
    """The SMTP password may travel unencrypted only when the file says so explicitly."""
    if encryption == "none" and not allowed:
        raise PydanticCustomError(
            UNENCRYPTED_ERROR,
            "encryption none would send the SMTP password unencrypted; expected ssl, starttls"
            " or auto, or allow_unencrypted_password: true to accept that explicitly",
        )


def checked_number(field: str, value: str | None, country: str) -> str | None:
    """``value`` in its canonical form for ``country``; an error that names ``field``
    otherwise (the message never repeats the number: it may be personal data)."""
    if value is None:
        return None
    check = (
        national_id.organization_number
        if field == "organization_number"
        else (national_id.personal_number)
    )
    try:
        return check(value, country)
    except national_id.IdentityError as exc:
        raise PydanticCustomError(
            IDENTITY_ERROR, "{message}", {"field": field, "message": str(exc)}
        ) from None


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SecretRef(Model):
    """Where a secret comes from: never the secret itself."""

    secret: str = Field(
        pattern=r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$",
        max_length=MAX_REFERENCE,
        description="env:NAME (an environment variable) or file:PATH (relative to the file)",
    )


class KeepsWritten(Model):
    """A model some of whose fields are compared in a normal form (``+4721000000``) but
    shown as the file writes them (``+47 21 00 00 00``): the file's form of each such
    field that normalising changed, for display only (the plan's ``written``)."""

    shown_as_written: ClassVar[tuple[str, ...]] = ()
    _written: dict[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        model = handler(data)
        if isinstance(data, dict):
            written = {
                name: raw.strip()
                for name in cls.shown_as_written
                if isinstance(raw := data.get(name), str) and raw.strip() != getattr(model, name)
            }
            if written:
                model._written = written
        return model

    @property
    def written(self) -> dict[str, str]:
        return self._written or {}


class Contact(KeepsWritten):
    shown_as_written = ("phone",)

    email: Email
    phone: Phone | None = None


class Address(Model):
    street: Text
    postal_code: Annotated[str, Field(pattern=r"^[0-9A-Za-z -]{3,10}$")]
    city: Text
    country: Country = "NO"


class Defaults(Model):
    """Suggested settings for new events."""

    timing_system: TimingSystem = "none"
    finish_code: Annotated[str, Field(max_length=20)] | None = None


class BillingSettings(Model):
    """What the tenant pays the vendor, and whether the client itself uses any program."""

    licenses: Annotated[int, Field(ge=0)]
    invoice_recipient: InvoiceRecipient = "client"
    interval: Interval = "yearly"
    program_access: bool = Field(
        default=True, description="Whether the client itself gets access to any program"
    )
    confirmation_email: Email | None = Field(
        default=None,
        description="Where the confirmation that the client is set up goes; required when"
        " program_access is false, and only then",
    )


class Billing(BillingSettings):
    """Billing as a tenant file gives it: the settings must agree with each other (the API
    checks the same and answers with its own problem type)."""

    @model_validator(mode="after")
    def _program_access(self) -> Billing:
        problem = billing_problem(self.licenses, self.program_access, self.confirmation_email)
        if problem is not None:
            raise field_rule(*problem)
        return self


class Connection(Model):
    connector: Connector
    token: SecretRef


class Invoicing(Model):
    # "Deaktiver fakturering": off, nobody can invoice (orders can still be made).
    enabled: bool = Field(
        default=True, description="Invoicing itself; false stops it (Deaktiver fakturering)"
    )
    # "Aktiver": invoice distribution (e-mail, print), on by default on every client.
    distribution_enabled: bool = Field(
        default=True, description="Invoice distribution (Aktiver); on by default"
    )
    # Counters: the product moves them on with every invoice and customer, so the file
    # gives a floor (engine.sections.Invoicing.floors), never a pin.
    next_invoice_number: Annotated[int, Field(ge=1)] = Field(
        description="A floor: the next invoice number is at least this; the product moves"
        " it on with every invoice, and plan never moves it back"
    )
    invoices_from_external_system: bool = False
    next_customer_number: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="A floor, as next_invoice_number; set only when Time4o assigns customer"
        " numbers for the client's own accounting system (invoices_from_external_system)",
    )
    pdf_template: PdfTemplate = "standard"
    # The tenant's main language: its invoices', and a new customer's invoice language.
    # Left out: not managed (the API gives a new tenant its country's language).
    language: Language | None = None


class EmailAccount(Model):
    """A custom SMTP account for sending invoices; absent means the system account."""

    account_name: Text
    display_name: Text
    address: Email
    username: Text
    password: SecretRef
    smtp_host: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+$", max_length=MAX_HOST)]
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    encryption: Encryption = "auto"
    # encryption: none sends the password in clear text; only an explicit yes allows it.
    allow_unencrypted_password: bool = False

    @model_validator(mode="after")
    def _password_encrypted(self) -> EmailAccount:
        check_encryption(self.encryption, self.allow_unencrypted_password)
        return self


class BankAccount(KeepsWritten):
    """A Norwegian account by its account number (the IBAN optional), or an account of
    any other country by its IBAN (and BIC)."""

    shown_as_written = ("account_number", "iban", "swift")

    account_number: AccountNumber | None = None
    iban: Iban | None = None
    swift: Bic | None = None
    invoice_account: bool = False
    default_for_payments: bool = False

    @model_validator(mode="after")
    def _iban_matches_account(self) -> BankAccount:
        if self.account_number is None:
            if self.iban is None:
                raise ValueError(
                    "expected account_number (a Norwegian account) or iban (any other country)"
                )
            if self.iban.startswith("NO"):
                raise ValueError(
                    f"iban {self.iban} is a Norwegian account: give it as account_number"
                    f" {self.iban[4:]} (the iban may stay next to it)"
                )
        # A Norwegian IBAN is NOkk followed by the 11-digit account number.
        elif self.iban and (not self.iban.startswith("NO") or self.iban[4:] != self.account_number):
            raise ValueError(
                f"iban {self.iban} does not belong to account_number {self.account_number}"
                f" (expected NOkk{self.account_number})"
            )
        country_iban = self.iban or (f"NO00{self.account_number}" if self.account_number else None)
        problem = bic_country_problem(country_iban, self.swift)
        if problem is not None:
            if self.iban is None:
                problem = f"swift {self.swift} is not a Norwegian bank; expected a BIC in NO"
            raise field_rule("swift", problem)
        return self

    @property
    def key(self) -> str:
        """What names the account: its account number, else its IBAN."""
        return self.account_number or str(self.iban)


class User(Model):
    email: Email
    name: Text
    role: Role = "member"
    programs: dict[Program, Right] = Field(default_factory=dict)
    # "Egendefinert fakturaepost": the extra access that lets a user make custom invoice
    # e-mail templates. A tenant's templates need a user who holds it.
    custom_invoice_email: bool = False

    @model_validator(mode="after")
    def _custom_email_on_invoicing(self) -> User:
        problem = custom_email_problem(self.custom_invoice_email, self.programs)
        if problem is not None:
            raise field_rule("custom_invoice_email", problem)
        return self


class EmailTemplate(Model):
    kind: TemplateKind
    language: Language
    name: Text
    subject: TemplateText
    body: TemplateText


class Safety(Model):
    """How much plan may delete before apply needs --allow-deletes."""

    max_delete_share: Annotated[float, Field(ge=0, le=1)] = 0.25
    min_delete_items: Annotated[int, Field(ge=1)] = 3


class Tenant(Model):
    """One tenant file. A section left out is unmanaged; `null` means managed and empty."""

    slug: Slug
    name: Text
    organization_number: OrganizationNumber | None = None
    personal_number: PersonalNumber | SecretRef | None = None
    contact: Contact | None = None
    address: Address | None = None
    defaults: Defaults | None = None
    billing: Billing | None = None
    agreement: KeyName | None = None
    state: TenantState | None = None
    lifecycle: Lifecycle | None = Field(
        default=None,
        description="decommissioned: the client has ended; plan turns invoicing and"
        " distribution off, removes integrations, the SMTP account and every user but the"
        " owner (who keeps no program right), and keeps the bookkeeping data; needs"
        " --allow-deletes. Left out: managed",
    )
    # Left out: unmanaged (the API's default is admins).
    user_administration: UserAdministration | None = Field(
        default=None,
        description="Who may invite users and change their rights: owner (the owner only,"
        " as SendRegning) or admins (the owner and active admins, as Fortnox)",
    )
    connections: Annotated[list[Connection], Field(max_length=MAX_CONNECTIONS)] | None = None
    invoicing: Invoicing | None = None
    email_account: EmailAccount | None = None
    bank_accounts: Annotated[list[BankAccount], Field(max_length=MAX_BANK_ACCOUNTS)] | None = None
    users: Annotated[list[User], Field(max_length=MAX_USERS)] | None = None
    email_templates: Annotated[list[EmailTemplate], Field(max_length=MAX_TEMPLATES)] | None = None
    safety: Safety | None = None

    @model_validator(mode="after")
    def _one_identity_number(self) -> Tenant:
        if (self.organization_number is None) == (self.personal_number is None):
            raise ValueError(
                "exactly one of organization_number or personal_number is required"
                " (personal_number for an association without an organisation number)"
            )
        country = national_id.country_of(self.address)
        self.organization_number = checked_number(
            "organization_number", self.organization_number, country
        )
        if isinstance(self.personal_number, str):
            self.personal_number = checked_number("personal_number", self.personal_number, country)
        return self

    @property
    def country(self) -> str:
        return national_id.country_of(self.address)

    def managed(self, field: str) -> bool:
        """A field counts as managed when the file sets it, even to null."""
        return field in self.model_fields_set


class Agreement(Model):
    name: KeyName
    # Optional: the agreement "should" carry the customer's number in the partner's ledger
    # when the partner invoices licences from the system; left out, it has none.
    customer_number: Annotated[str, Field(pattern=r"^[0-9]{1,12}$")] | None = None


class AgreementsFile(Model):
    agreements: list[Agreement] = Field(default_factory=list, max_length=MAX_AGREEMENTS)
