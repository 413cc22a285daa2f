"""Every rule the sandbox enforces, as a stable problem type (RFC 9457).

A client matches on ``type``; the URIs never change meaning. ``detail`` names the field
and what was expected, and never holds a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM_BASE = "https://t4o-reconcile.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    status: int
    title: str

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.name


_RULES: dict[str, Rule] = {}


def _rule(name: str, status: int, title: str) -> Rule:
    rule = Rule(name, status, title)
    _RULES[name] = rule
    return rule


# Protocol: auth, versions, idempotency, paging, faults.
UNAUTHENTICATED = _rule("unauthenticated", 401, "A valid bearer token is required")
FORBIDDEN_FOR_TENANT_TOKEN = _rule(
    "tenant-token-forbidden", 403, "A tenant token cannot do this; use a partner token"
)
READ_ONLY_TOKEN = _rule(
    "read-only-token", 403, "This token may only read; writes need a token made without --read-only"
)
BODY_TOO_LARGE = _rule("body-too-large", 413, "The request body is over the limit (1 MiB)")
NOT_FOUND = _rule("not-found", 404, "No such resource")
METHOD_NOT_ALLOWED = _rule("method-not-allowed", 405, "Method not allowed on this resource")
IF_MATCH_REQUIRED = _rule("if-match-required", 428, "If-Match with the current version required")
VERSION_MISMATCH = _rule("version-mismatch", 412, "The resource changed since it was read")
IDEMPOTENCY_KEY_REQUIRED = _rule(
    "idempotency-key-required", 400, "An Idempotency-Key header is required on every create"
)
IDEMPOTENCY_KEY_REUSED = _rule(
    "idempotency-key-reused", 422, "The Idempotency-Key was already used with another request"
)
INVALID_REQUEST = _rule("invalid-request", 422, "The request does not match the schema")
INVALID_CURSOR = _rule("invalid-cursor", 422, "The cursor is not one this API returned")
RATE_LIMITED = _rule("rate-limited", 429, "Too many requests for this token")
INTERNAL_ERROR = _rule("internal-error", 500, "Internal error")
UNAVAILABLE = _rule("unavailable", 503, "Service temporarily unavailable")
TIMED_OUT = _rule("timed-out", 504, "The request timed out and was not run")

# Tenants.
SLUG_TAKEN = _rule("slug-taken", 409, "A tenant with this slug already exists")
SLUG_IMMUTABLE = _rule("slug-immutable", 422, "A tenant's slug cannot be changed")
IDENTITY_NUMBER_REQUIRED = _rule(
    "identity-number-required",
    422,
    "Exactly one of organization_number or personal_number is required",
)
TENANT_PENDING = _rule(
    "tenant-pending", 409, "The tenant is in the activation list; activate it first"
)
TENANT_ALREADY_ACTIVE = _rule(
    "tenant-already-active", 409, "An active tenant cannot go back to the activation list"
)
IDENTITY_NUMBER_INVALID = _rule(
    "identity-number-invalid",
    422,
    "The organisation or personal number is not valid in the tenant's country",
)
ORGANIZATION_NUMBER_IN_USE = _rule(
    "organization-number-in-use",
    409,
    "The organization number belongs to a tenant with another owner",
)

# Billing: licences and program access.
BILLING_PROGRAM_ACCESS = _rule(
    "billing-program-access",
    422,
    "A client without program access has a confirmation e-mail and no licences; one with"
    " program access has no confirmation e-mail",
)
NO_PROGRAM_ACCESS = _rule(
    "no-program-access", 409, "The client has no program access: no user may hold a program right"
)
LICENSES_EXCEEDED = _rule(
    "licenses-exceeded",
    409,
    "More users would hold a program right than the tenant has licences",
)

# Invoicing.
INVOICE_NUMBER_TOO_LOW = _rule(
    "invoice-number-too-low", 409, "next_invoice_number must exceed the last issued number"
)
CUSTOMER_NUMBER_TOO_LOW = _rule(
    "customer-number-too-low", 409, "next_customer_number must exceed the last customer number"
)
INVOICING_DISABLED = _rule("invoicing-disabled", 409, "Invoicing is disabled for this tenant")

# Email account and connections.
EMAIL_ACCOUNT_EXISTS = _rule("email-account-exists", 409, "The tenant already has an account")
UNENCRYPTED_PASSWORD = _rule(
    "unencrypted-password",
    422,
    "The SMTP password would be sent unencrypted without allow_unencrypted_password",
)
CONNECTION_EXISTS = _rule("connection-exists", 409, "The tenant already has this connector")

# Bank accounts.
ACCOUNT_NUMBER_IN_USE = _rule(
    "account-number-in-use",
    409,
    "The bank account belongs to a tenant with another owner",
)
BANK_ACCOUNT_FLAG_HELD = _rule(
    "bank-account-flag-held",
    409,
    "An account holding invoice_account or default_for_payments (the last one always"
    " does) cannot be deleted",
)
BANK_ACCOUNT_FLAG_REQUIRED = _rule(
    "bank-account-flag-required",
    409,
    "A flag cannot be cleared directly; set it on another account instead",
)

# Users.
INVITER_NOT_ADMIN = _rule(
    "inviter-not-admin",
    403,
    "The acting user may not invite users or change their rights: the owner may, and an"
    " active admin where the tenant's user_administration is admins",
)
USER_EXISTS = _rule("user-exists", 409, "The user is already present (or invited)")
OWNER_EXISTS = _rule("owner-exists", 409, "A tenant has exactly one owner")
OWNER_PROTECTED = _rule("owner-protected", 409, "The owner cannot be removed or demoted")

# Email templates.
CUSTOM_EMAIL_RIGHT_REQUIRED = _rule(
    "custom-invoice-email-right-required",
    409,
    "Writing a custom e-mail template needs a user holding the custom invoice e-mail right",
)
CUSTOM_EMAIL_NEEDS_INVOICING = _rule(
    "custom-invoice-email-needs-invoicing",
    422,
    "The custom invoice e-mail right is an extra access to invoicing: it needs an invoicing right",
)
TEMPLATE_EXISTS = _rule("template-exists", 409, "A template for this kind and language exists")
UNKNOWN_MERGE_FIELD = _rule("unknown-merge-field", 422, "The template uses an unknown merge field")
UNKNOWN_LANGUAGE = _rule("unknown-language", 422, "The language is not one the product offers")
UNKNOWN_PDF_TEMPLATE = _rule(
    "unknown-pdf-template", 422, "The PDF template is not one the product offers"
)

# Agreements.
UNKNOWN_AGREEMENT = _rule("unknown-agreement", 422, "No agreement with this name")
AGREEMENT_EXISTS = _rule("agreement-exists", 409, "An agreement with this name exists")
AGREEMENT_NOT_EMPTY = _rule(
    "agreement-not-empty", 409, "An agreement that still holds tenants cannot be deleted"
)


def all_rules() -> list[Rule]:
    return list(_RULES.values())


class ProblemError(Exception):
    """Raised anywhere in the sandbox; answered as application/problem+json."""

    def __init__(
        self,
        rule: Rule,
        detail: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail
        self.field = field
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return problem_body(self.rule, self.detail, field=self.field, errors=self.errors)


def problem_body(
    rule: Rule,
    detail: str,
    *,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": rule.type,
        "title": rule.title,
        "status": rule.status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if errors is not None:
        body["errors"] = errors
    return body
