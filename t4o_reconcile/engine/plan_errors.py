"""Plan errors: what apply would fail on, found before anything is written."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import replace
from typing import Any

from t4o_reconcile import national_id
from t4o_reconcile.engine import sections
from t4o_reconcile.engine.compare import changed_paths
from t4o_reconcile.engine.plan import AGREEMENTS, Action, PlanError, address
from t4o_reconcile.engine.snapshot import (
    Fingerprint,
    Item,
    Secret,
    Snapshot,
    TenantSnapshot,
    UnreadSecret,
    UnresolvedSecret,
)
from t4o_reconcile.vocabulary import Vocabulary, language_of_country, merge_fields_of

_IDENTITY = sections.Identity.name
_USERS = sections.Users.name
_BILLING = sections.Billing.name
_INVOICING = sections.Invoicing.name
_TEMPLATES = sections.EmailTemplates.name
_MEMBERSHIP = sections.AgreementMembership.name


def tenant_errors(
    want: TenantSnapshot, have: TenantSnapshot | None, live: Snapshot
) -> list[PlanError]:
    """The tenant's plan errors but one: an unknown agreement (``unknown_agreement``),
    which needs the desired agreements, is checked once every file is read."""
    errors = [
        *_unresolved_secrets(want),
        *_identity_numbers(want, have),
        *_activation(want, have),
        *_owner(want, have),
        *(
            error
            for section in sections.each()
            if section.radio_flags
            for error in _radio_flags(section, want, have)
        ),
        *_licenses(want, have),
        *_custom_templates(want, have),
        *_vocabulary(want, live.vocabulary),
    ]
    if have is not None:
        errors.extend(_numbers(want, have))
    return [e if e.source else replace(e, source=want.source) for e in errors]


def unread_secrets(want: TenantSnapshot, have: TenantSnapshot | None = None) -> list[str]:
    """Each secret whose value was not read, or that the API was not asked to compare
    with the stored one (a read-only token), as ``address.field (reference)``."""
    found: list[str] = []
    for section, items in want.sections.items():
        live = have.sections.get(section, {}) if have is not None else {}
        for key, item in items.items():
            stored = live.get(key)
            for name, value in item.fields.items():
                if isinstance(value, UnreadSecret) or (
                    isinstance(value, Secret)
                    and stored is not None
                    and isinstance(stored.fields.get(name), Fingerprint)
                    and not stored.fields[name].compared
                ):
                    where = value.source or "written in the file"
                    found.append(f"{address(want.slug, section, key)}.{name} ({where})")
    return found


def _unresolved_secrets(want: TenantSnapshot) -> Iterator[PlanError]:
    for section, items in want.sections.items():
        for key, item in items.items():
            for name, value in item.fields.items():
                if isinstance(value, UnresolvedSecret):
                    yield PlanError(
                        address(want.slug, section, key),
                        f"secret {value.source} for tenant {want.slug}, field {section}.{name}"
                        f" could not be resolved: {value.problem}",
                    )


def _identity_numbers(want: TenantSnapshot, have: TenantSnapshot | None) -> Iterator[PlanError]:
    """The numbers against the country the tenant will have: the file's address when it
    manages one, else the live address. validate can only assume the default country
    for a file that leaves the address out."""
    wanted = want.sections.get(_IDENTITY, {}).get("")
    if wanted is None:
        return
    address_of: Any = wanted.fields.get("address", _UNMANAGED)
    if address_of is _UNMANAGED and have is not None:
        live = have.sections.get(_IDENTITY, {}).get("")
        address_of = live.fields.get("address") if live is not None else None
    country = address_of.get("country") if isinstance(address_of, dict) else None
    country = country or national_id.DEFAULT_COUNTRY
    for field, check in (
        ("organization_number", national_id.organization_number),
        ("personal_number", national_id.personal_number),
    ):
        value = wanted.fields.get(field)
        number = value.value if isinstance(value, Secret) else value
        if not isinstance(number, str):
            continue
        try:
            check(number, country)
        except national_id.IdentityError as exc:
            where = (
                "" if "address" in wanted.fields else " (the live address; the file leaves it out)"
            )
            yield PlanError(
                address(want.slug, _IDENTITY, ""),
                f"{field}: {exc}; the tenant's country is {country}{where}",
            )


_UNMANAGED: Any = object()


def _activation(want: TenantSnapshot, have: TenantSnapshot | None) -> Iterator[PlanError]:
    """A client waits in the activation list (pending) until it is activated; it cannot go
    back, and it gets no users but its owner while it waits."""
    wanted = want.sections.get(_IDENTITY, {}).get("")
    live = have.sections.get(_IDENTITY, {}).get("") if have is not None else None
    live_state = live.fields.get("state", "active") if live is not None else None
    state = wanted.fields.get("state") if wanted is not None else None
    where = address(want.slug, _IDENTITY, "")
    if state == "pending" and live_state == "active":
        yield PlanError(
            where, "an active tenant cannot go back to the activation list (state: pending)"
        )
        return
    if (state or live_state) != "pending":
        return
    current = have.sections.get(_USERS, {}) if have is not None else {}
    for email, user in want.sections.get(_USERS, {}).items():
        if email not in current and user.fields.get("role") != "owner":
            yield PlanError(
                address(want.slug, _USERS, email),
                f"{email} cannot be invited while the tenant is pending; activate it first"
                " (state: active)",
            )


def _after(want: TenantSnapshot, have: TenantSnapshot | None, section: str) -> dict[str, Item]:
    """A section as it will be after the plan: the file's where it manages it, else live."""
    if section in want.sections:
        return want.sections[section]
    return have.sections.get(section, {}) if have is not None else {}


def _licenses(want: TenantSnapshot, have: TenantSnapshot | None) -> Iterator[PlanError]:
    """Each user holding a program right takes one licence; a client without program
    access has none. Counted on the tenant as the plan leaves it: the file's billing and
    users where it manages them, the live ones where it does not (validate cannot)."""
    if _BILLING not in want.sections and _USERS not in want.sections:
        return
    billing = _after(want, have, _BILLING).get("")
    fields = billing.fields if billing is not None else {}
    licenses = fields.get("licenses", 0)
    holders = sorted(
        email
        for email, user in _after(want, have, _USERS).items()
        if sections.holds_program_right(user.fields.get("programs"))
    )
    if not holders or not isinstance(licenses, int):
        return
    where = address(want.slug, _BILLING, "")
    live_users = "" if _USERS in want.sections else " (the live users; the file leaves users out)"
    if fields.get("program_access") is False:
        yield PlanError(
            where,
            f"the client has no program access (program_access: false) but"
            f" {', '.join(holders)} hold(s) a program right{live_users}; expected every"
            " program none, or program_access: true with licences",
        )
    elif len(holders) > licenses:
        live_billing = (
            ""
            if _BILLING in want.sections
            else " (the file leaves billing out: "
            + ("live)" if have is not None else "a new tenant's default)")
        )
        yield PlanError(
            where,
            f"licenses {licenses}{live_billing} is fewer than the {len(holders)} users holding"
            f" a program right{live_users}: {', '.join(holders)}; expected licenses:"
            f" {len(holders)} or more",
        )


def _custom_templates(want: TenantSnapshot, have: TenantSnapshot | None) -> Iterator[PlanError]:
    """A template written (created or changed) needs a user of the tenant who holds the
    custom invoice e-mail right when it is written: after the plan's user changes."""
    wanted = want.sections.get(_TEMPLATES)
    if not wanted:
        return
    live = have.sections.get(_TEMPLATES, {}) if have is not None else {}
    written = sorted(
        key
        for key, item in wanted.items()
        if key not in live or changed_paths(item.fields, live[key].fields)
    )
    if not written:
        return
    users = _after(want, have, _USERS)
    if any(user.fields.get("custom_invoice_email") is True for user in users.values()):
        return
    live_users = "" if _USERS in want.sections else " (the live users; the file leaves users out)"
    yield PlanError(
        address(want.slug, _TEMPLATES, written[0]),
        f"writing email template(s) {', '.join(written)} needs a user holding the custom"
        f" invoice e-mail right, and none does{live_users}; expected custom_invoice_email:"
        " true on a user with an invoicing right",
    )


def main_language(want: TenantSnapshot, have: TenantSnapshot | None) -> str:
    """The tenant's language after the plan: the file's ``invoicing.language``, else the
    live one, else the language of the country a new tenant is created in."""
    for side in (want, have):
        invoicing = side.sections.get(_INVOICING, {}).get("") if side is not None else None
        language = invoicing.fields.get("language") if invoicing is not None else None
        if isinstance(language, str):
            return language
    country = None
    for side in (want, have):
        identity_item = side.sections.get(_IDENTITY, {}).get("") if side is not None else None
        found = identity_item.fields.get("address") if identity_item is not None else None
        if isinstance(found, dict) and found.get("country"):
            country = found["country"]
            break
    return language_of_country(country)


def _vocabulary(want: TenantSnapshot, vocabulary: Vocabulary | None) -> Iterator[PlanError]:
    """The names the file uses against the API's own lists: a name the built-in list
    lacks is fine when the API knows it, and an error only when it does not."""
    if vocabulary is None:
        return  # the provider cannot say; validate has warned against the built-in list
    slug = want.slug
    invoicing = want.sections.get(_INVOICING, {}).get("")
    if invoicing is not None:
        for field, known in (
            ("pdf_template", vocabulary.pdf_templates),
            ("language", vocabulary.languages),
        ):
            value = invoicing.fields.get(field)
            if isinstance(value, str) and value not in known:
                yield PlanError(
                    address(slug, _INVOICING, ""),
                    f"{field} {value!r} is not one the API offers ({_listed(known)})",
                )
    for key, item in want.sections.get(_TEMPLATES, {}).items():
        where = address(slug, _TEMPLATES, key)
        language = item.fields.get("language")
        if isinstance(language, str) and language not in vocabulary.languages:
            yield PlanError(
                where,
                f"language {language!r} is not one the API offers"
                f" ({_listed(vocabulary.languages)})",
            )
        for field in ("subject", "body"):
            text = item.fields.get(field)
            names, _ = merge_fields_of(text) if isinstance(text, str) else ([], [])
            for name in dict.fromkeys(names):
                if name not in vocabulary.merge_fields:
                    yield PlanError(
                        where,
                        f"{field}: the API does not know the merge field {{{name}}}"
                        f" (it offers {_listed(vocabulary.merge_fields, brace=True)})",
                    )


def _listed(names: frozenset[str], *, brace: bool = False, limit: int = 30) -> str:
    shown = sorted(names)[:limit]
    text = ", ".join("{" + n + "}" if brace else n for n in shown)
    more = len(names) - len(shown)
    return text + (f" and {more} more" if more > 0 else "") if text else "none"


def _numbers(want: TenantSnapshot, have: TenantSnapshot) -> Iterator[PlanError]:
    wanted = want.sections.get(_INVOICING, {}).get("")
    current = have.sections.get(_INVOICING, {}).get("")
    if wanted is None or current is None:
        return
    where = address(want.slug, _INVOICING, "")
    for kind in ("invoice", "customer"):
        next_number = wanted.fields.get(f"next_{kind}_number")
        last = current.fields.get(f"last_{kind}_number")
        if next_number is None or last is None:
            continue
        live_next = current.fields.get(f"next_{kind}_number")
        if isinstance(live_next, int) and isinstance(next_number, int) and next_number <= live_next:
            continue  # a floor the live counter meets: no change (engine.diff.floor_met)
        if next_number <= last:
            yield PlanError(
                where,
                f"next_{kind}_number {next_number} must be greater than the last issued"
                f" {kind} number {last}; set it to {last + 1} or more",
            )


def _owner(want: TenantSnapshot, have: TenantSnapshot | None) -> Iterator[PlanError]:
    users = want.sections.get(_USERS)
    slug = want.slug
    where = f"{slug}.users"
    if have is None:
        owners = _owners(users or {})
        if not owners:
            yield PlanError(
                where, "a new tenant needs its owner in users (a user with role: owner)"
            )
        elif len(owners) > 1:
            yield PlanError(where, f"a tenant has exactly one owner, found: {', '.join(owners)}")
        return
    if users is None:
        return
    live_owners = _owners(have.sections.get(_USERS, {}))
    wanted_owners = _owners(users)
    for email in live_owners:
        if email not in users:
            yield PlanError(
                address(slug, _USERS, email),
                f"removing the owner {email} is not possible through the API",
            )
        elif email not in wanted_owners:
            role = users[email].fields.get("role")
            yield PlanError(
                address(slug, _USERS, email),
                f"demoting the owner {email} to {role} is not possible through the API",
            )
    for email in wanted_owners:
        if email not in live_owners:
            yield PlanError(
                address(slug, _USERS, email),
                f"{email} cannot become owner: the owner is "
                f"{', '.join(live_owners) or 'unknown'} and ownership transfer is not"
                " possible through the API",
            )


def _owners(users: dict[str, Item]) -> list[str]:
    return [key for key, user in users.items() if user.fields.get("role") == "owner"]


def _radio_flags(
    section: sections.Section, want: TenantSnapshot, have: TenantSnapshot | None
) -> Iterator[PlanError]:
    """Exactly one item holds each radio flag, so the last item cannot be deleted."""
    wanted = want.sections.get(section.name)
    if wanted is None:
        return
    where = f"{want.slug}.{section.name}"
    noun = section.noun
    current = have.sections.get(section.name, {}) if have is not None else {}
    if not wanted:
        if current:
            yield PlanError(
                where,
                f"deleting all {noun}s is not possible: the {noun} holding"
                f" {' / '.join(section.radio_flags)} cannot be deleted",
            )
        return
    for flag in section.radio_flags:
        holders = [key for key, item in wanted.items() if item.fields.get(flag) is True]
        if not holders:
            yield PlanError(
                where,
                f"no {noun} would be {flag}: exactly one {noun} must have {flag}: true",
            )
        elif len(holders) > 1:
            yield PlanError(
                where,
                f"only one {noun} can be {flag}, found: {', '.join(holders)}",
            )


def unknown_agreement(
    slug: str, name: str, known: Collection[str] | None, source: str | None
) -> list[PlanError]:
    """The agreement a tenant's file names, if it is not among the ``known`` ones (the
    files' agreements when they manage them, else the live ones; None: not checked)."""
    if known is None or name in known:
        return []
    error = PlanError(
        address(slug, _MEMBERSHIP, ""),
        f"unknown agreement {name!r}; known agreements: {', '.join(sorted(known)) or 'none'}",
        source,
    )
    return [error]


def agreement_errors(actions: list[Action], after: dict[str, str | None]) -> list[PlanError]:
    """An agreement that still holds tenants after the plan cannot be deleted.
    ``after`` maps each live tenant to its agreement once the plan is applied."""
    deleting = {a.key for a in actions if a.kind == "delete"}
    if not deleting:
        return []
    holders: dict[str, list[str]] = {}
    for slug, name in sorted(after.items()):
        if name in deleting:
            holders.setdefault(name, []).append(slug)
    return [
        PlanError(
            address(None, AGREEMENTS, name),
            f"agreement {name} still holds tenants ({', '.join(slugs)}): move them out"
            " before deleting it",
        )
        for name, slugs in sorted(holders.items())
    ]
