"""The JSON bodies of the API: what clients write and what the sandbox answers.

Field types come from ``config.tenant_models`` (one model per concept); the API differs from the
YAML only where it must: secrets are plain strings on the way in and markers on the way
out (``{"stored": true}``: never a value nor a fingerprint), and every resource read
carries its ``version``.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from t4o_reconcile.config.tenant_models import (
    AccountNumber,
    Address,
    Bic,
    BillingSettings,
    Contact,
    Defaults,
    Email,
    Iban,
    KeyName,
    Language,
    Model,
    OrganizationNumber,
    PdfTemplate,
    PersonalNumber,
    Slug,
    Text,
)
from t4o_reconcile.config.tenant_models import (
    Agreement as AgreementCreate,
)
from t4o_reconcile.config.tenant_models import (
    BankAccount as BankAccountCreate,
)
from t4o_reconcile.config.tenant_models import (
    Invoicing as InvoicingSettings,
)
from t4o_reconcile.vocabulary import (
    SLUG_PATTERN,
    Connector,
    Encryption,
    Program,
    Right,
    Role,
    TemplateKind,
    TenantState,
    UserAdministration,
    UserStatus,
)

__all__ = ["AgreementCreate", "BankAccountCreate", "InvoicingSettings"]

Version = Annotated[
    str, Field(pattern=r"^[0-9]+$", description="The resource version; also sent as ETag")
]
Secret = Annotated[
    SecretStr, Field(min_length=1, max_length=4096, description="Write-only; never returned")
]
# Models holding a secret store it exactly as sent: stripping it would make the stored value
# differ from the one the client compares, a perpetual "(sensitive, changed)".
_KEEP_SECRETS_AS_SENT = ConfigDict(extra="forbid", str_strip_whitespace=False)
# Sent beside a secret (``token_source``, ``password_source``): where the client took it
# from, so that a later plan can show a changed reference. Never a secret itself.
SecretSource = Annotated[
    str, Field(min_length=1, max_length=300, pattern=r"^(env|file):[^\x00-\x1f\x7f]+$")
]
SmtpHost = Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+$", max_length=253)]
SmtpPort = Annotated[int, Field(ge=1, le=65535)]
PositiveInt = Annotated[int, Field(ge=1)]
CustomerNumber = Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
Programs = dict[Program, Right]


class Out(BaseModel):
    """Answers: every field always present."""

    model_config = ConfigDict(extra="forbid")


class SecretOut(Out):
    """A stored secret: that there is one and where it came from. Its fingerprint, keyed
    with a key that never leaves the API, is compared only by the API
    (``POST /v1/tenants/{slug}/fingerprints:compare``)."""

    stored: Literal[True]
    source: str | None = Field(
        default=None, description="The reference the client took the secret from, if sent"
    )


CompareResource = Literal["tenant", "email_account", "connections"]


class CompareField(BaseModel):
    """One candidate: ``tenant.personal_number``, ``email_account.password`` or
    ``connections`` (``key``: the connector) ``.token``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    resource: CompareResource
    key: str = Field(default="", max_length=100, description="The connector of a connection")
    field: Literal["personal_number", "password", "token"]
    value: Secret


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: list[CompareField] = Field(min_length=1, max_length=100)


class CompareResult(Out):
    resource: CompareResource
    key: str
    field: str
    same: bool = Field(description="Whether the value sent is the one stored; nothing more")


class CompareAnswer(Out):
    fields: list[CompareResult]


class TenantCompare(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG_PATTERN)
    fields: list[CompareField] = Field(min_length=1, max_length=100)


class BulkCompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenants: list[TenantCompare] = Field(min_length=1, max_length=100)


class TenantCompareAnswer(Out):
    """The tenant's answer (``fields``), or the problem its own call would have answered
    (404, 429 with ``retry_after`` seconds) in its place."""

    slug: str
    fields: list[CompareResult] | None = None
    problem: Problem | None = None
    retry_after: int | None = None


class BulkCompareAnswer(Out):
    tenants: list[TenantCompareAnswer]


# Tenants ---------------------------------------------------------------------------


class WhoAmI(Out):
    """Who the token acts for: plan files record it, so a plan is applied only where
    and as whom it was made."""

    partner: str
    tenant: str | None = Field(description="The one tenant a tenant token sees; null otherwise")
    read_only: bool = Field(
        description="A read-only token: it sees no personal number's digits and cannot"
        " compare secrets, so a plan made with it leaves secrets not compared"
    )


class VocabularyOut(Out):
    """The product's lists, each sorted."""

    merge_fields: list[str] = Field(description="Written {Name} in a template")
    languages: list[str] = Field(description="ISO 639-1 codes of template languages")
    pdf_templates: list[str]


class PersonalNumberOut(Out):
    """A personal number is personal data: read back as a marker and, to a writing token
    only, its last two digits (to recognise it), never in full."""

    stored: Literal[True]
    last_digits: str | None = Field(default=None, description="Not shown to read-only tokens")


class TenantOut(Out):
    slug: str
    name: str
    organization_number: str | None
    personal_number: PersonalNumberOut | None
    state: TenantState
    user_administration: UserAdministration = "admins"
    contact: Contact | None
    address: Address | None
    defaults: Defaults
    billing: BillingSettings
    version: Version


CustomInvoiceEmail = Annotated[
    bool,
    Field(
        description="The extra access 'custom invoice e-mail' (Egendefinert fakturaepost):"
        " needs an invoicing right; a tenant's templates are written only while a user"
        " holds it"
    ),
]


class OwnerCreate(Model):
    email: Email
    name: Text
    programs: Programs = Field(default_factory=dict)
    custom_invoice_email: CustomInvoiceEmail = False


class TenantCreate(Model):
    slug: Slug
    name: Text
    organization_number: OrganizationNumber | None = None
    personal_number: PersonalNumber | None = Field(
        default=None, description="Write-only: read back as a marker and its last digits"
    )
    contact: Contact | None = None
    address: Address | None = None
    defaults: Defaults | None = None
    billing: BillingSettings | None = None
    owner: OwnerCreate
    state: TenantState | None = Field(
        default=None, description="pending: in the activation list; left out: active"
    )
    invoicing: InvoicingSettings | None = None
    agreement: KeyName | None = None
    user_administration: UserAdministration | None = Field(
        default=None,
        description="Who may invite users and change their rights: owner (the owner only)"
        " or admins (the owner and active admins); left out: admins",
    )


class TenantPatch(Model):
    """Top-level fields are partial; a nested object (contact, ...) is replaced whole."""

    slug: str | None = Field(
        default=None, max_length=63, description="Immutable: sending it is refused"
    )
    name: Text | None = None
    organization_number: OrganizationNumber | None = None
    personal_number: PersonalNumber | None = None
    contact: Contact | None = None
    address: Address | None = None
    defaults: Defaults | None = None
    billing: BillingSettings | None = None
    state: TenantState | None = Field(
        default=None, description="Activation only: pending -> active, never back"
    )
    user_administration: UserAdministration | None = Field(
        default=None,
        description="Who may invite users and change their rights: owner (the owner only)"
        " or admins (the owner and active admins); left out: admins",
    )


# Invoicing -------------------------------------------------------------------------


class InvoicingOut(Out):
    enabled: bool = Field(description="Invoicing itself (off: Deaktiver fakturering)")
    distribution_enabled: bool = Field(
        default=True, description="Invoice distribution (Aktiver); on by default"
    )
    next_invoice_number: int
    invoices_from_external_system: bool
    next_customer_number: int | None
    pdf_template: PdfTemplate
    language: Language = Field(
        description="The tenant's main language: a customer's invoice language unless the"
        " customer has its own"
    )
    last_invoice_number: int
    last_customer_number: int
    version: Version


class InvoicingPatch(Model):
    enabled: bool | None = None
    distribution_enabled: bool | None = None
    next_invoice_number: PositiveInt | None = None
    invoices_from_external_system: bool | None = None
    next_customer_number: PositiveInt | None = None
    pdf_template: PdfTemplate | None = None
    language: Language | None = None


# Email account ---------------------------------------------------------------------


class EmailAccountCreate(Model):
    model_config = _KEEP_SECRETS_AS_SENT
    account_name: Text
    display_name: Text
    address: Email
    username: Text
    password: Secret
    password_source: SecretSource | None = None
    smtp_host: SmtpHost
    smtp_port: SmtpPort = 587
    encryption: Encryption = "auto"
    allow_unencrypted_password: bool = False


class EmailAccountPatch(Model):
    model_config = _KEEP_SECRETS_AS_SENT
    account_name: Text | None = None
    display_name: Text | None = None
    address: Email | None = None
    username: Text | None = None
    password: Secret | None = None
    password_source: SecretSource | None = None
    smtp_host: SmtpHost | None = None
    smtp_port: SmtpPort | None = None
    encryption: Encryption | None = None
    allow_unencrypted_password: bool | None = None


class EmailAccountOut(Out):
    account_name: str
    display_name: str
    address: str
    username: str
    password: SecretOut
    smtp_host: str
    smtp_port: int
    encryption: Encryption
    allow_unencrypted_password: bool
    version: Version


# Connections -----------------------------------------------------------------------


class ConnectionCreate(Model):
    model_config = _KEEP_SECRETS_AS_SENT
    connector: Connector
    token: Secret
    token_source: SecretSource | None = None


class ConnectionPatch(Model):
    model_config = _KEEP_SECRETS_AS_SENT
    token: Secret
    token_source: SecretSource | None = None


class ConnectionOut(Out):
    connector: Connector
    token: SecretOut
    version: Version


# Bank accounts ---------------------------------------------------------------------


class BankAccountPatch(Model):
    iban: Iban | None = None
    swift: Bic | None = None
    invoice_account: bool | None = None
    default_for_payments: bool | None = None


class BankAccountOut(Out):
    account_number: AccountNumber | None
    iban: str | None
    swift: str | None
    invoice_account: bool
    default_for_payments: bool
    version: Version


# Users -----------------------------------------------------------------------------


class UserCreate(Model):
    email: Email
    name: Text
    role: Role = "member"
    programs: Programs = Field(default_factory=dict)
    custom_invoice_email: CustomInvoiceEmail = False
    invited_by: Email = Field(
        description="E-mail of the acting user: the owner, or an active admin where the"
        " tenant's user_administration is admins"
    )


class UserPatch(Model):
    name: Text | None = None
    role: Role | None = None
    programs: Programs | None = Field(
        default=None, description="Replaces the map; a program left out is 'none'"
    )
    custom_invoice_email: CustomInvoiceEmail | None = None
    changed_by: Email = Field(
        description="E-mail of the acting user, as invited_by: the owner, or an active admin"
        " where the tenant's user_administration is admins"
    )


class ProgramsOut(Out):
    invoicing: Right
    accounting: Right
    payroll: Right
    events: Right


class UserOut(Out):
    email: str
    name: str
    role: Role
    programs: ProgramsOut
    custom_invoice_email: bool = False
    status: UserStatus
    version: Version


# Email templates -------------------------------------------------------------------


class EmailTemplateCreate(Model):
    """Merge fields are checked by the sandbox so that the problem has its own type."""

    kind: TemplateKind
    language: Language
    name: Text
    subject: Text
    body: Text


class EmailTemplatePatch(Model):
    name: Text | None = None
    subject: Text | None = None
    body: Text | None = None


class EmailTemplateOut(Out):
    kind: TemplateKind
    language: str
    name: str
    subject: str
    body: str
    version: Version


# Agreements ------------------------------------------------------------------------


class MembershipPut(Model):
    agreement: KeyName | None


class MembershipOut(Out):
    agreement: str | None
    version: Version


class AgreementPatch(Model):
    customer_number: CustomerNumber | None = Field(description="null: no customer number")


class AgreementOut(Out):
    name: str
    customer_number: str | None
    tenant_count: int = Field(ge=0, description="Derived; changing it does not bump version")
    version: Version


# Audit, bulk, pages, problems ------------------------------------------------------


class AuditEntry(Out):
    id: int
    at: str = Field(description="UTC, ISO 8601 with milliseconds and Z")
    actor: str = Field(description="The token's partner (partner/slug for a tenant token)")
    token: str | None = Field(
        description="The name of the token that made the change (sandbox token create"
        " --name); null for a token made without one"
    )
    client: str | None = Field(description="The User-Agent of the request that made it")
    action: str
    resource: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# Invoices and their distribution ------------------------------------------------------


class InvoiceCustomer(Model):
    name: Text
    email: Email | None = Field(default=None, description="Required for channel email")
    language: Language | None = Field(
        default=None,
        description="The customer's invoice language (fakturaspråk): picks the e-mail"
        " template; left out: the tenant's language (invoicing.language)",
    )


class InvoiceCreate(Model):
    """Invoice an order and distribute the invoice, as a user does in the product."""

    customer: InvoiceCustomer
    channel: Literal["email", "print"] = "email"


class DistributionEntry(Out):
    """One issued invoice and how it was distributed: who invoiced, to whom, how, with
    which template and sender, and whether it went out (the product's "Logg")."""

    id: int
    at: str = Field(description="UTC, ISO 8601 with milliseconds and Z")
    invoice_number: int
    issued_by: str = Field(description="The token's partner (partner/slug for a tenant token)")
    token: str | None = Field(description="The name of the token that issued it, if any")
    channel: Literal["email", "print"]
    customer: str
    recipient: str | None = Field(description="The e-mail address (channel email)")
    language: str
    template: str | None = Field(
        description="kind/language of the e-mail template used; null: the system's own text"
    )
    pdf_template: str
    sender: str | None = Field(
        description="The From address: the tenant's email account, or the system account"
    )
    status: Literal["sent", "failed", "not_sent"] = Field(
        description="not_sent: distribution is off (distribution_enabled: false), or the"
        " client sends its invoices from an external system"
    )
    error: str | None = Field(description="Why the distribution failed, or was not made")


class BankAccountWritten(BankAccountOut):
    """A bank account write's answer: the account, and every other account of the tenant
    the write changed as a side effect (a radio flag moved away from it), as read
    afterwards, so a client learns their new versions without listing them again."""

    also_changed: list[BankAccountOut] = Field(default_factory=list)


class TenantConfig(Out):
    slug: str
    tenant: TenantOut
    invoicing: InvoicingOut
    email_account: EmailAccountOut | None
    connections: list[ConnectionOut]
    bank_accounts: list[BankAccountOut]
    users: list[UserOut]
    email_templates: list[EmailTemplateOut]
    agreement: MembershipOut


class TenantCreated(TenantOut):
    """A tenant create's answer: the tenant, and everything created with it (invoicing,
    membership, owner) as the config read gives it, so a client needs no second read to
    learn their versions."""

    config: TenantConfig


T = TypeVar("T")


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None


class ProblemItem(Out):
    loc: list[str | int]
    msg: str
    type: str


class Problem(Out):
    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[ProblemItem] | None = None


# What a new tenant starts with when the create leaves these out.
DEFAULT_DEFAULTS: dict[str, Any] = {"timing_system": "none", "finish_code": None}
DEFAULT_BILLING: dict[str, Any] = {
    "licenses": 0,
    "invoice_recipient": "client",
    "interval": "yearly",
    "program_access": True,
    "confirmation_email": None,
}
