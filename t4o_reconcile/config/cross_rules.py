"""Rules across the items of a tenant and across files.

Single values are checked by the models; what needs more than one value at a time is
checked here, so that each problem names its exact place: within a file as it loads, and
across files as each is added to what came before (``Across``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from t4o_reconcile.config.decommission import decommission_problems
from t4o_reconcile.config.problems import DocPath, Problem
from t4o_reconcile.config.repository import AgreementEntry, Origin, TenantEntry
from t4o_reconcile.config.tenant_models import Billing, User
from t4o_reconcile.engine import sections as registry
from t4o_reconcile.engine.snapshot import Secret
from t4o_reconcile.vocabulary import BUILT_IN, merge_fields_of


def check_tenant(entry: TenantEntry) -> list[Problem]:
    """The rules within one tenant file."""
    tenant = entry.tenant
    problems: list[Problem] = []
    stem = entry.source.stem
    if stem != tenant.slug:
        problems.append(
            entry.problem(
                ("slug",),
                f"slug {tenant.slug!r} differs from the file name {entry.source.name!r};"
                f" expected the file to be named {tenant.slug}{entry.source.suffix}",
            )
        )
    for section in registry.each():
        if not section.singleton:
            problems += _unique(entry, section)
        if section.radio_flags and getattr(tenant, section.name):
            for flag in section.radio_flags:
                problems += _one_flag(entry, section, flag)
    if tenant.managed("users"):
        problems += _one_owner(entry)
    problems += _smtp(entry)
    problems += _licenses(entry)
    problems += _custom_templates(entry)
    problems += _customer_numbers(entry)
    problems += _vocabulary(entry)
    problems += decommission_problems(entry)
    if tenant.state == "pending" and tenant.users:
        problems += [
            entry.problem(
                ("users", index),
                f"{user.email} cannot be invited while the tenant is pending (state: pending):"
                " a client in the activation list has only its owner; expected state: active"
                " to add users",
            )
            for index, user in enumerate(tenant.users)
            if user.role != "owner"
        ]
    if isinstance(tenant.personal_number, str):
        problems.append(
            entry.problem(
                ("personal_number",),
                "a personal number is personal data and should not sit in Git; expected a"
                ' secret reference, e.g. {secret: "env:T4O_SECRET_'
                + tenant.slug.upper().replace("-", "_")
                + '_PERSONAL_NUMBER"}',
                level="warning",
            )
        )
    return problems


def licence_holders(users: Iterable[User]) -> list[str]:
    """The users who take a licence: each one holding a program right that is not
    ``none`` (one licence per user, whatever the number of programs), owner and pending
    invitations included (the right is theirs from the invitation on)."""
    return [user.email for user in users if registry.holds_program_right(dict(user.programs))]


def _licenses(entry: TenantEntry) -> list[Problem]:
    """Program rights need licences, and a client without program access has none. Only
    when the file manages both billing and users: otherwise plan counts the live side."""
    tenant = entry.tenant
    billing = tenant.billing
    if billing is None and tenant.managed("billing"):
        billing = Billing(licenses=0)  # billing: null resets it: no licences
    if billing is None or not tenant.managed("users"):
        return []
    users = tenant.users or []
    if not billing.program_access:
        return [
            entry.problem(
                ("users", index, "programs"),
                f"{user.email} holds a program right, but the client has no program access"
                " (billing.program_access: false); expected every program none, or"
                " program_access: true with licences",
            )
            for index, user in enumerate(users)
            if registry.holds_program_right(dict(user.programs))
        ]
    holders = licence_holders(users)
    licenses = billing.licenses
    if len(holders) <= licenses:
        return []
    return [
        entry.problem(
            ("billing", "licenses"),
            f"licenses {licenses} is fewer than the {len(holders)} users holding a program"
            f" right ({', '.join(holders)}); expected licenses: {len(holders)} or more (each"
            " user with a right that is not none takes one licence)",
        )
    ]


def _custom_templates(entry: TenantEntry) -> list[Problem]:
    """Custom invoice e-mail templates are made by a user holding the extra access
    "Egendefinert fakturaepost" (custom_invoice_email). Without a holder, templates the
    API has stay in use but none can be created or changed: a warning here (the file may
    describe such a tenant as it is), a plan error when the plan would write one."""
    tenant = entry.tenant
    if not tenant.email_templates or not tenant.managed("users"):
        return []
    if any(user.custom_invoice_email for user in tenant.users or []):
        return []
    return [
        entry.problem(
            ("email_templates",),
            f"{len(tenant.email_templates)} custom e-mail template(s) but no user holds the"
            " custom invoice e-mail right: templates the API has stay in use, but none can"
            " be created or changed (plan refuses it); expected custom_invoice_email: true"
            " on a user with an invoicing right",
            key=True,
            level="warning",
        )
    ]


def _customer_numbers(entry: TenantEntry) -> list[Problem]:
    """Time4o assigns customer numbers (``next_customer_number``) only for a client whose
    customers and invoices go out from its own accounting system: "Dette trengs kun om
    kunder og fakturaer skal eksporteres og sendes fra eget økonomisystem"."""
    invoicing = entry.tenant.invoicing
    if invoicing is None or invoicing.next_customer_number is None:
        return []
    if invoicing.invoices_from_external_system:
        return []
    return [
        entry.problem(
            ("invoicing", "next_customer_number"),
            f"next_customer_number {invoicing.next_customer_number} is set, but the client"
            " does not invoice from an external system (invoices_from_external_system:"
            " false): customer numbers are only needed when customers and invoices are"
            " exported to the client's own accounting system; expected"
            " invoices_from_external_system: true, or no next_customer_number",
            level="warning",
        )
    ]


def _vocabulary(entry: TenantEntry) -> list[Problem]:
    """Names the built-in lists lack. The API's lists may be longer (the manuals name
    three merge fields and say the product shows the rest), so these are warnings; plan
    checks them against the live list and errs only when the API lacks them too."""
    tenant = entry.tenant
    problems = []
    later = "; plan checks it against the API's list (GET /v1/vocabulary)"

    def unknown(path: tuple[str | int, ...], noun: str, name: str, known: frozenset[str]) -> None:
        problems.append(
            entry.problem(
                path,
                f"{noun} {name!r} is not in the built-in list ("
                + ", ".join(sorted(known))
                + ")"
                + later,
                level="warning",
            )
        )

    for index, template in enumerate(tenant.email_templates or []):
        if template.language not in BUILT_IN.languages:
            unknown(
                ("email_templates", index, "language"),
                "language",
                template.language,
                BUILT_IN.languages,
            )
        for field in ("subject", "body"):
            names, _ = merge_fields_of(getattr(template, field))
            for name in dict.fromkeys(names):
                if name not in BUILT_IN.merge_fields:
                    problems.append(
                        entry.problem(
                            ("email_templates", index, field),
                            f"merge field {{{name}}} is not in the built-in list{later}",
                            level="warning",
                        )
                    )
    invoicing = tenant.invoicing
    if invoicing is not None:
        if invoicing.pdf_template not in BUILT_IN.pdf_templates:
            unknown(
                ("invoicing", "pdf_template"),
                "PDF template",
                invoicing.pdf_template,
                BUILT_IN.pdf_templates,
            )
        if invoicing.language is not None and invoicing.language not in BUILT_IN.languages:
            unknown(("invoicing", "language"), "language", invoicing.language, BUILT_IN.languages)
    return problems


# The port each encryption is served on by convention: 465 is implicit TLS (ssl), 587 is
# submission with STARTTLS. The other way round the connection usually hangs or fails.
_PORT_OF: dict[str, int] = {"ssl": 465, "starttls": 587}


def _smtp(entry: TenantEntry) -> list[Problem]:
    account = entry.tenant.email_account
    if account is None:
        return []
    problems = []
    for encryption, port in _PORT_OF.items():
        other = next(e for e in _PORT_OF if e != encryption)
        if account.encryption == encryption and account.smtp_port == _PORT_OF[other]:
            problems.append(
                entry.problem(
                    ("email_account", "smtp_port"),
                    f"port {account.smtp_port} is for {other}, but encryption is {encryption};"
                    f" expected port {port} with {encryption} (or encryption: {other})",
                    level="warning",
                )
            )
    return problems


def _unique(entry: TenantEntry, declared: registry.Section) -> list[Problem]:
    """At most one item per key in a collection."""
    section = declared.name
    keys = [declared.key(item.__dict__) for item in getattr(entry.tenant, section) or []]
    field = declared.key_fields[0]
    what = None
    if len(declared.key_fields) > 1:
        what = f"{declared.noun} for {'/'.join(declared.key_fields)}"
    problems = []
    first: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in first:
            problems.append(
                entry.problem(
                    (section, index, field),
                    f"{what or field} {key!r} is listed twice (first at {section}[{first[key]}]);"
                    f" expected at most one item per {what or field}",
                )
            )
        else:
            first[key] = index
    return problems


def _one_owner(entry: TenantEntry) -> list[Problem]:
    users = entry.tenant.users or []
    owners = [i for i, user in enumerate(users) if user.role == "owner"]
    if not owners:
        return [
            entry.problem(
                ("users",),
                "no user has role 'owner'; expected exactly one owner when users are listed",
                key=True,
            )
        ]
    return [
        entry.problem(
            ("users", index, "role"),
            f"a second owner (the first is users[{owners[0]}]); expected exactly one owner",
        )
        for index in owners[1:]
    ]


def _one_flag(entry: TenantEntry, section: registry.Section, flag: str) -> list[Problem]:
    """A radio flag is true on exactly one item of its section."""
    name = section.name
    items = getattr(entry.tenant, name) or []
    holders = [i for i, item in enumerate(items) if getattr(item, flag)]
    if not holders:
        return [
            entry.problem(
                (name,),
                f"no {section.noun} has {flag}: true; expected exactly one",
                key=True,
            )
        ]
    return [
        entry.problem(
            (name, index, flag),
            f"{flag} is also true on {name}[{holders[0]}]; expected exactly one",
            key=True,
        )
        for index in holders[1:]
    ]


def owner_of(entry: TenantEntry) -> str | None:
    owners = [u.email for u in entry.tenant.users or [] if u.role == "owner"]
    return owners[0] if len(owners) == 1 else None


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a later tenant file is compared against, of one that came before: its slug,
    where it is, its owner; never its model (validate then holds one model at a time)."""

    slug: str
    origin: Origin
    owner: str | None
    users_managed: bool
    organization_number: str | None = None

    def same_club(self, other: _Seen) -> bool:
        """Two tenants of one club: the same organisation number and owner (like
        ``ok-skogen`` and ``ok-skogen-ungdom``). An owner not listed is not compared: the
        organisation number rule already makes the API refuse another owner."""
        if (
            self.organization_number is None
            or self.organization_number != other.organization_number
        ):
            return False
        return self.owner is None or other.owner is None or self.owner == other.owner

    def locate(self, path: DocPath) -> str:
        file, line, column = self.origin.locate(path)
        return f"{file}:{line}:{column}"


class Across:
    """The rules across tenant files, checked as each file is added: a slug or file name
    used twice, an organisation number or bank account shared by two tenants, an Eventor
    key shared by two clubs, an agreement the agreements file does not define."""

    def __init__(self, agreements: list[AgreementEntry] | None, agreements_path: Path) -> None:
        self.agreements = agreements
        self.agreements_path = agreements_path
        self.agreement_names = {a.agreement.name for a in agreements or []}
        self.slugs: dict[str, _Seen] = {}
        self.stems: dict[str, str] = {}  # casefolded stem -> the file name first seen
        self.organization_numbers: dict[str, _Seen] = {}
        self.accounts: dict[str, tuple[_Seen, int, str]] = {}
        # Keys are compared as HMACs under a key drawn for this run, never as values.
        self.run_key = secrets.token_bytes(32)
        self.eventor_keys: dict[tuple[str, str], list[tuple[_Seen, int]]] = {}

    def add(self, entry: TenantEntry) -> list[Problem]:
        seen = _Seen(
            entry.slug,
            entry.origin,
            owner_of(entry),
            entry.tenant.managed("users"),
            entry.tenant.organization_number,
        )
        problems = self._names(entry, seen)
        problems += self._organization_number(entry, seen)
        problems += self._bank_accounts(entry, seen)
        problems += self._eventor_keys(entry, seen)
        problems += self._agreement(entry)
        return problems

    def finish(self) -> list[Problem]:
        return _unique_agreements(self.agreements) if self.agreements else []

    def _names(self, entry: TenantEntry, seen: _Seen) -> list[Problem]:
        problems = []
        other = self.slugs.setdefault(entry.slug, seen)
        if other is not seen:
            problems.append(
                entry.problem(
                    ("slug",),
                    f"slug {entry.slug!r} is already used by {other.locate(('slug',))};"
                    " expected each slug in one file only",
                )
            )
        name = entry.source.name
        twin = self.stems.setdefault(entry.source.stem.casefold(), name)
        if twin != name and Path(twin).stem != entry.source.stem:
            problems.append(
                entry.problem(
                    (),
                    f"file name {name!r} differs only in case from {twin!r};"
                    " expected one file per tenant",
                )
            )
        return problems

    def _organization_number(self, entry: TenantEntry, seen: _Seen) -> list[Problem]:
        number = entry.tenant.organization_number
        if number is None:
            return []
        other = self.organization_numbers.setdefault(number, seen)
        if other is seen:
            return []
        where = other.locate(("organization_number",))
        problem = _same_owner(
            entry,
            seen,
            other,
            ("organization_number",),
            f"organization number {number} is also used by tenant {other.slug!r} ({where})"
            " (an organisation already a client is not registered again by someone else:"
            " its administrator gives access)",
        )
        return [problem] if problem is not None else []

    def _bank_accounts(self, entry: TenantEntry, seen: _Seen) -> list[Problem]:
        problems = []
        seen_here: set[str] = set()
        for index, account in enumerate(entry.tenant.bank_accounts or []):
            number = account.key
            if number in seen_here:
                continue  # reported by check_tenant
            seen_here.add(number)
            field = "account_number" if account.account_number else "iban"
            other, other_index, other_field = self.accounts.setdefault(number, (seen, index, field))
            if other is seen:
                continue
            where = other.locate(("bank_accounts", other_index, other_field))
            problem = _same_owner(
                entry,
                seen,
                other,
                ("bank_accounts", index, field),
                f"bank account {number} is also used by tenant {other.slug!r} ({where})",
            )
            if problem is not None:
                problems.append(problem)
        return problems

    def _eventor_keys(self, entry: TenantEntry, seen: _Seen) -> list[Problem]:
        """Two clubs whose production connections hold the same key: a warning ("Alle
        klubber har en egen API-nøkkel"). Tenants of one club share its key freely.

        Without the values (validate without --resolve-secrets), two tokens from the same
        reference (the same variable, the same file) are the same key; different
        references holding the same value are found only once the values are read."""
        problems = []
        for index, connection in enumerate(entry.tenant.connections or []):
            if connection.connector not in PRODUCTION_CONNECTORS:
                continue
            value = entry.secrets.get(("connections", index, "token"))
            reference = _same_reference(entry, connection.token.secret)
            digests = [("reference", reference)]
            if isinstance(value, Secret):
                digest = hmac.new(self.run_key, value.value.encode(), hashlib.sha256).hexdigest()
                digests.append(("value", digest))
            for kind, digest in digests:
                seen_before = self.eventor_keys.setdefault((connection.connector, digest), [])
                other = next(
                    (o for o in seen_before if o[0] is not seen and not o[0].same_club(seen)),
                    None,
                )
                if all(s is not seen for s, _ in seen_before):
                    seen_before.append((seen, index))
                if other is None:
                    continue
                where = other[0].locate(("connections", other[1], "token"))
                how = (
                    "comes from the same reference as"
                    if kind == "reference"
                    else "is the same API key as"
                )
                problems.append(
                    entry.problem(
                        ("connections", index, "token"),
                        f"{connection.connector} token ({connection.token.secret}) {how}"
                        f" the token of tenant {other[0].slug!r} ({where}), another club"
                        " (another organisation number or owner); expected each club to"
                        " have its own Eventor API key"
                        + (
                            ""
                            if isinstance(value, Secret)
                            else " (keys from different references are compared only with"
                            " --resolve-secrets)"
                        ),
                        level="warning",
                    )
                )
                break  # one warning per connection
        return problems

    def _agreement(self, entry: TenantEntry) -> list[Problem]:
        name = entry.tenant.agreement
        if name is None or name in self.agreement_names:
            return []
        if self.agreements is None:
            message = (
                f"agreement {name!r} is named but there is no {self.agreements_path.name};"
                f" expected it to define the agreement"
            )
        else:
            known = ", ".join(repr(n) for n in sorted(self.agreement_names)) or "none"
            message = (
                f"unknown agreement {name!r}; expected one defined in"
                f" {self.agreements_path.name} (defined: {known})"
            )
        return [entry.problem(("agreement",), message)]


def _same_owner(
    entry: TenantEntry, this: _Seen, other: _Seen, path: DocPath, shared: str
) -> Problem | None:
    """Two tenants may share an organisation number or a bank account only when the same
    user owns both (SendRegning: "denne sperren gjelder ikke når kontoeieren … er den
    samme"). Where a tenant leaves users unmanaged its owner is not known here: the API
    decides, and validate only warns."""
    unmanaged = [seen.slug for seen in (other, this) if not seen.users_managed]
    if unmanaged:
        return entry.problem(
            path,
            f"{shared}; the owners cannot be compared here (users is unmanaged on"
            f" {' and '.join(repr(s) for s in unmanaged)}): the API refuses it unless both"
            " tenants have the same owner",
            level="warning",
        )
    mine, theirs = this.owner, other.owner
    if mine is not None and mine == theirs:
        return None
    owners = (
        f"the owners are {theirs} and {mine}"
        if mine and theirs
        else "an owner is not listed in users on both"
    )
    return entry.problem(
        path, f"{shared} and {owners}; expected the same owner (user with role owner) on both"
    )


def _same_reference(entry: TenantEntry, reference: str) -> str:
    """A secret reference as one name for what it reads: a variable's name, or the file's
    path made absolute against the tenant file's directory (the file is not read)."""
    if reference.startswith("file:"):
        path = reference.removeprefix("file:")
        return "file:" + os.path.normpath(os.path.join(entry.source.parent.absolute(), path))
    return reference


# Connectors to the production Eventor of a country: each club has its own API key there
# ("Alle klubber har en egen API-nøkkel"). A test server connection may share one.
PRODUCTION_CONNECTORS = ("eventor-norway", "eventor-sweden")


def _unique_agreements(agreements: list[AgreementEntry]) -> list[Problem]:
    problems = []
    first: dict[str, AgreementEntry] = {}
    for entry in agreements:
        other = first.setdefault(entry.agreement.name, entry)
        if other is not entry:
            problems.append(
                entry.problem(
                    "name",
                    f"agreement {entry.agreement.name!r} is defined twice (first at"
                    f" agreements[{other.index}]); expected unique names",
                )
            )
    return problems
