"""Hypothesis strategies for valid repositories of tenant files.

A repository is generated as the plain data a YAML file holds (``RepoData``): tenant
documents keyed by slug, the agreements list (or None: no ``_agreements.yaml``), and the
secret values the documents reference through ``env:NAME``. ``write_repository`` turns it
into a folder the real loader reads.

Values are drawn from small per-slug pools so that two generated repositories overlap
(the same bank accounts, users, connectors and templates come back with other fields),
which is where updates, moves and radio-flag hand-overs happen. Every pool is made of
valid values only; the tricky part is their spelling (spaces, case, unicode, phone
formats), which must never show as a change once applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from ruamel.yaml import YAML
from stdnum import iban as std_iban
from stdnum.no import kontonr, orgnr
from stdnum.se import orgnr as se_orgnr

from t4o_reconcile.vocabulary import (
    BILLING_INTERVALS,
    CONNECTORS,
    INVOICE_RECIPIENTS,
    MERGE_FIELDS,
    PDF_TEMPLATES,
    PROGRAM_RIGHTS,
    PROGRAMS,
    SMTP_ENCRYPTIONS,
    TEMPLATE_KINDS,
    TIMING_SYSTEMS,
)

SLUGS: tuple[str, ...] = ("ok-skogen", "il-tyrving", "bsk-o", "nydalens-sk")
SWEDISH_SLUGS: tuple[str, ...] = ("bsk-o",)
AGREEMENT_NAMES: tuple[str, ...] = ("NOF", "Kretsavtale Oslo", "Ålesund & omegn")
USER_POOL: tuple[str, ...] = (
    "anna@example.no",
    "Bjorn@Example.NO",
    "cecilie@klubb.no",
    "dag.olsen@post.no",
    "eva@example.se",
    "leder@ok-skogen.no",  # the owner of one tenant is a plain user of the others
)
LANGUAGES = ("nb", "en")  # few keys, so that templates come back and get updated
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/tenant.schema.json\n"


def _with_check_digit(base: str, valid: Any) -> str | None:
    for digit in "0123456789":
        if valid(base + digit):
            return base + digit
    return None  # MOD11 gives 10 for this base: no valid number starts with it


def _numbers(bases: list[str], valid: Any, count: int) -> list[str]:
    found = [n for n in (_with_check_digit(b, valid) for b in bases) if n is not None]
    assert len(found) >= count, "too few valid numbers in the pool bases"
    return found[:count]


def owner_of(slug: str) -> str:
    """Each slug has one owner for good: ownership transfer is a plan error by design."""
    return f"leder@{slug}.no"


def _slug_index(slug: str) -> int:
    return SLUGS.index(slug)


@cache
def org_numbers(slug: str) -> list[str]:
    """Two organisation numbers that only this slug ever uses."""
    i = _slug_index(slug)
    bases = [f"9{i}{j}{k}00{i}{j}" for j in range(4) for k in range(3)]
    return _numbers(bases, orgnr.is_valid, 2)


@cache
def swedish_org_numbers(slug: str) -> list[str]:
    """Two Swedish organisationsnummer (Luhn) that only this slug ever uses."""
    i = _slug_index(slug)
    bases = [f"80{i:02d}{j}{k}00{j}" for j in range(4) for k in range(3)]
    return _numbers(bases, se_orgnr.is_valid, 2)


@cache
def account_numbers(slug: str) -> list[str]:
    """Three bank account numbers that only this slug ever uses."""
    i = _slug_index(slug)
    bases = [f"15{i}{j}00{i}{j}{k}{k}" for j in range(4) for k in range(4)]
    return _numbers(bases, kontonr.is_valid, 3)


@cache
def org_number_spelling(slug: str) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [spelling for n in org_numbers(slug) for spelling in (n, f"{n[:3]} {n[3:6]} {n[6:]}")]
    )


def norwegian_iban(account: str) -> str:
    return "NO" + std_iban.calc_check_digits("NO00" + account) + account


# -- spellings: each gives a value the normaliser maps to one canonical form


@cache
def account_spelling(number: str) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            number,
            f"{number[:4]}.{number[4:6]}.{number[6:]}",
            f"{number[:4]} {number[4:6]} {number[6:]}",
        ]
    )


@cache
def iban_spelling(value: str) -> st.SearchStrategy[str]:
    grouped = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return st.sampled_from([value, grouped, grouped.lower(), value.lower()])


@cache
def phone() -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            "+47 22 33 44 55",
            "22334455",
            "0047 22334455",
            "+4722334455",
            "+46-8-123 456",
            "915 00 000",
        ]
    )


@cache
def text() -> st.SearchStrategy[str]:
    """Names and labels: unicode, inner and trailing spaces (trimmed by the model)."""
    words = st.sampled_from(
        ["Skogen", "Ålesund", "Øvre", "Bjørn", "Säter", "Årsmøte", "O-lag", "IL", "Émile", "鹿"]
    )
    return st.builds(
        lambda lead, parts, gap, pad: lead + gap.join(parts) + pad,
        st.sampled_from(["", " "]),
        st.lists(words, min_size=1, max_size=3),
        st.sampled_from([" ", "  "]),
        st.sampled_from(["", " ", "  "]),
    )


@cache
def template_text(multiline: bool) -> st.SearchStrategy[str]:
    piece = st.one_of(
        st.sampled_from(["Faktura", "fra", "forfall", "Hei", "Takk!", "æøå", "betal"]),
        st.sampled_from(MERGE_FIELDS).map(lambda name: "{" + name + "}"),
    )
    line = st.builds(
        lambda parts, pad: " ".join(parts) + pad,
        st.lists(piece, min_size=1, max_size=4),
        st.sampled_from(["", " ", "\t"]),
    )
    if not multiline:
        return line
    return st.builds(
        lambda lines, newline, end: newline.join(lines) + end,
        st.lists(line, min_size=1, max_size=3),
        st.sampled_from(["\n", "\r\n"]),
        st.sampled_from(["", "\n", "\n\n"]),
    )


# -- sections


@dataclass
class RepoData:
    tenants: dict[str, dict[str, Any]]
    agreements: list[dict[str, str]] | None
    secrets: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] | None = None  # _defaults.yaml, merged under every tenant

    def membership(self, slug: str) -> str | None:
        """The agreement a tenant is in once this repository is applied to a fresh target."""
        return self.tenants[slug].get("agreement")


@cache
def _maybe(section: st.SearchStrategy[Any], bias: int = 1) -> st.SearchStrategy[Any]:
    """A section: left out (unmanaged), null, or given (``bias`` times as likely)."""
    return st.one_of(st.just(_ABSENT), st.none(), *[section] * bias)


@cache
def _or_absent(section: st.SearchStrategy[Any], bias: int = 1) -> st.SearchStrategy[Any]:
    """A section: left out (unmanaged) or given (``bias`` times as likely)."""
    return st.one_of(st.just(_ABSENT), *[section] * bias)


_ABSENT = object()


def _put(doc: dict[str, Any], name: str, value: Any) -> None:
    if value is not _ABSENT:
        doc[name] = value


def _optional_fields(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping with its required fields and any subset of the optional ones."""
    return st.fixed_dictionaries(required, optional=optional)


@cache
def contact() -> st.SearchStrategy[dict[str, Any]]:
    return _optional_fields(
        {"email": st.sampled_from(["post@klubb.no", "Kasserer@Klubb.no ", "info@example.se"])},
        {"phone": phone()},
    )


@cache
def address() -> st.SearchStrategy[dict[str, Any]]:
    return _optional_fields(
        {
            "street": text(),
            "postal_code": st.sampled_from(["0123", "0 123", "5003", "SE-111 22"]),
            "city": text(),
        },
        # The country decides which identity numbers are valid: see _tenant.
        {"country": st.just("NO")},
    )


@cache
def defaults() -> st.SearchStrategy[dict[str, Any]]:
    return _optional_fields(
        {},
        {
            "timing_system": st.sampled_from(TIMING_SYSTEMS),
            "finish_code": st.one_of(st.none(), st.sampled_from(["F1", "MÅL ", "finish-2"])),
        },
    )


@cache
def billing() -> st.SearchStrategy[dict[str, Any]]:
    return _optional_fields(
        # At least one licence per user a tenant may list (the owner and three more): each
        # user holding a program right takes one, and a plan over the count is an error.
        {"licenses": st.integers(4, 50)},
        {
            "invoice_recipient": st.sampled_from(INVOICE_RECIPIENTS),
            "interval": st.sampled_from(BILLING_INTERVALS),
        },
    )


@cache
def invoicing() -> st.SearchStrategy[dict[str, Any]]:
    return _optional_fields(
        {"next_invoice_number": st.integers(1, 100_000)},
        {
            "enabled": st.booleans(),
            "invoices_from_external_system": st.booleans(),
            "next_customer_number": st.one_of(st.none(), st.integers(1, 100_000)),
            "pdf_template": st.sampled_from(PDF_TEMPLATES),
        },
    )


@cache
def programs() -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(PROGRAMS), st.sampled_from(PROGRAM_RIGHTS), max_size=4)


@cache
@st.composite
def users(draw: st.DrawFn, slug: str) -> list[dict[str, Any]]:
    owner: dict[str, Any] = {"email": owner_of(slug), "name": draw(text()), "role": "owner"}
    # The owner always holds the custom invoice e-mail right (and so an invoicing right):
    # templates are written only while a user holds it, and the owner is never removed.
    owner["programs"] = {**draw(programs()), "invoicing": draw(st.sampled_from(["user", "admin"]))}
    owner["custom_invoice_email"] = True
    others = draw(
        st.lists(
            st.sampled_from([u for u in USER_POOL if u != owner_of(slug)]),
            max_size=3,
            unique_by=str.lower,
        )
    )
    listed = [owner]
    for email in others:
        user: dict[str, Any] = {"email": email, "name": draw(text())}
        role = draw(st.sampled_from([None, "admin", "member"]))
        if role is not None:
            user["role"] = role
        if draw(st.booleans()):
            user["programs"] = draw(programs())
            if user["programs"].get("invoicing", "none") != "none" and draw(st.booleans()):
                user["custom_invoice_email"] = True
        listed.append(user)
    return draw(st.permutations(listed))


@cache
@st.composite
def bank_accounts(draw: st.DrawFn, slug: str, allow_empty: bool) -> list[dict[str, Any]]:
    numbers = draw(
        st.lists(
            st.sampled_from(account_numbers(slug)),
            min_size=0 if allow_empty else 1,
            max_size=3,
            unique=True,
        )
    )
    if not numbers:
        return []
    invoice = draw(st.sampled_from(numbers))
    default = draw(st.sampled_from(numbers))
    accounts = []
    for number in numbers:
        account: dict[str, Any] = {"account_number": draw(account_spelling(number))}
        if draw(st.booleans()):
            account["iban"] = draw(iban_spelling(norwegian_iban(number)))
        if draw(st.booleans()):
            account["swift"] = draw(st.sampled_from(["DNBANOKK", "dnbanokkxxx", "NDEANOKK"]))
        # The flag holders always say so; the others say false or leave it out.
        if number == invoice:
            account["invoice_account"] = True
        elif draw(st.booleans()):
            account["invoice_account"] = False
        if number == default:
            account["default_for_payments"] = True
        elif draw(st.booleans()):
            account["default_for_payments"] = False
        accounts.append(account)
    return accounts


def secret_name(slug: str, what: str) -> str:
    return "T4O_SECRET_" + f"{slug}_{what}".upper().replace("-", "_")


def secret_values() -> st.SearchStrategy[dict[str, str]]:
    """A value for every secret any generated file may reference; unused ones do no harm.
    A trailing space and a non-ASCII letter are part of a secret, never trimmed."""
    tokens = st.sampled_from(["token-one", "token-two", "tøken-three "])
    passwords = st.sampled_from(["smtp-pass-1", "smtp-pass-2 "])
    names = {secret_name(slug, c): tokens for slug in SLUGS for c in CONNECTORS}
    names |= {secret_name(slug, "smtp"): passwords for slug in SLUGS}
    return st.fixed_dictionaries(names)


@cache
def connections(slug: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.sampled_from(CONNECTORS), max_size=3, unique=True).map(
        lambda chosen: [
            {"connector": c, "token": {"secret": f"env:{secret_name(slug, c)}"}} for c in chosen
        ]
    )


@cache
def email_account(slug: str) -> st.SearchStrategy[dict[str, Any]]:
    password = {"secret": f"env:{secret_name(slug, 'smtp')}"}
    return _optional_fields(
        {
            "account_name": text(),
            "display_name": text(),
            "address": st.sampled_from(["faktura@klubb.no", "Regnskap@Klubb.no"]),
            "username": st.sampled_from(["faktura", "regnskap@klubb.no"]),
            "smtp_host": st.sampled_from(["smtp.klubb.no", "mail.example.se"]),
        },
        {
            "smtp_port": st.sampled_from([25, 465, 587, 2525]),
            "encryption": st.sampled_from(SMTP_ENCRYPTIONS),
        },
    ).map(lambda account: _with_password(account, password))


def _with_password(account: dict[str, Any], password: Any) -> dict[str, Any]:
    # encryption: none sends the password in clear text: a file must accept that explicitly.
    if account.get("encryption") == "none":
        account = {**account, "allow_unencrypted_password": True}
    return {**account, "password": password}


@cache
@st.composite
def email_templates(draw: st.DrawFn) -> list[dict[str, Any]]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(TEMPLATE_KINDS), st.sampled_from(LANGUAGES)),
            max_size=3,
            unique=True,
        )
    )
    return [
        {
            "kind": kind,
            "language": language,
            "name": draw(text()),
            "subject": draw(template_text(multiline=False)),
            "body": draw(template_text(multiline=True)),
        }
        for kind, language in keys
    ]


@dataclass(frozen=True)
class Limits:
    """What a tenant document may say, given the live state it will be applied to."""

    needs_users: bool = True  # a new tenant must list its owner
    allow_no_accounts: bool = True  # `bank_accounts: []` only when none exist live
    agreements: tuple[str, ...] | None = ()  # names it may join; None: no agreements file
    # How much likelier a section is managed than left out: high for a tenant that exists,
    # so that its items are updated and deleted rather than left alone.
    bias: int = 1


@st.composite
def _tenant(draw: st.DrawFn, slug: str, limits: Limits) -> dict[str, Any]:
    doc: dict[str, Any] = {"slug": slug, "name": draw(text())}
    _put(doc, "contact", draw(_maybe(contact(), limits.bias)))
    swedish = slug in SWEDISH_SLUGS
    if swedish:
        # A Swedish club always manages its address: without it the file would be checked
        # as Norwegian (the default country) while the live tenant is Swedish.
        doc["address"] = {**draw(address()), "country": "SE"}
    else:
        _put(doc, "address", draw(_maybe(address(), limits.bias)))
    if draw(st.integers(0, 4)) == 0:
        # An association without an orgnr, by its personal number (given inline here).
        doc["personal_number"] = "811218-9876" if swedish else "15038545660"
    elif swedish:
        doc["organization_number"] = draw(
            st.sampled_from([s for n in swedish_org_numbers(slug) for s in (n, f"{n[:6]}-{n[6:]}")])
        )
    else:
        doc["organization_number"] = draw(org_number_spelling(slug))
    _put(doc, "defaults", draw(_maybe(defaults(), limits.bias)))
    # Never billing: null (reset to no licences) nor, for a new tenant, left out (the
    # API's default has none): the owner always holds a program right.
    if limits.needs_users:
        doc["billing"] = draw(billing())
    else:
        _put(doc, "billing", draw(_or_absent(billing(), limits.bias)))
    _put(doc, "invoicing", draw(_or_absent(invoicing(), limits.bias)))
    if limits.agreements is None:
        _put(doc, "agreement", draw(st.sampled_from([_ABSENT, None])))
    else:
        choices: list[Any] = [_ABSENT, None, *limits.agreements]
        _put(doc, "agreement", draw(st.sampled_from(choices)))
    _put(doc, "connections", draw(_or_absent(connections(slug), limits.bias)))
    _put(doc, "email_account", draw(_maybe(email_account(slug), limits.bias)))
    accounts = bank_accounts(slug, allow_empty=limits.allow_no_accounts)
    _put(doc, "bank_accounts", draw(_or_absent(accounts, limits.bias)))
    if limits.needs_users:
        doc["users"] = draw(users(slug))
    else:
        _put(doc, "users", draw(_or_absent(users(slug), limits.bias)))
    templates = draw(_or_absent(email_templates(), limits.bias))
    if isinstance(templates, list):
        # Every kind keeps a template in the tenant's language. A file that manages
        # invoicing names the language (so a change of it is generated too); one that
        # does not leaves the live language, which may be any the generator gives, or
        # the country's.
        settings = doc.get("invoicing")
        if isinstance(settings, dict):
            settings["language"] = draw(st.sampled_from(LANGUAGES))
            needed = [settings["language"]]
        else:
            needed = [*LANGUAGES, "sv" if swedish else "nb"]
        templates = covering(templates, needed)
    _put(doc, "email_templates", templates)
    return doc


def covering(templates: list[dict[str, Any]], languages: list[str]) -> list[dict[str, Any]]:
    """``templates`` with, for every kind they hold, one in each of ``languages``."""
    have = {(t["kind"], t["language"]) for t in templates}
    added = []
    for template in templates:
        for language in languages:
            if (template["kind"], language) not in have:
                have.add((template["kind"], language))
                added.append({**template, "language": language})
    return templates + added


@cache
def repository_defaults() -> st.SearchStrategy[dict[str, Any] | None]:
    """``_defaults.yaml``: only sections whose every required field it gives itself."""
    return st.one_of(
        st.none(),
        _optional_fields(
            {}, {"defaults": defaults(), "billing": billing(), "invoicing": invoicing()}
        ),
    )


@cache
def tenant(slug: str, limits: Limits) -> st.SearchStrategy[dict[str, Any]]:
    # Built once per (slug, limits): hypothesis analyses each new strategy object, which
    # cost a third of the run time when they were made afresh on every draw.
    return _tenant(slug, limits)


def _agreements(names: list[str], numbers: st.DrawFn) -> list[dict[str, str]]:
    return [
        {"name": name, "customer_number": numbers(st.sampled_from(["1001", "1002", "77"]))}
        for name in names
    ]


@st.composite
def first_repository(draw: st.DrawFn) -> RepoData:
    """A repository applied to an empty target: every tenant is new."""
    slugs = draw(st.lists(st.sampled_from(SLUGS), min_size=1, max_size=3, unique=True))
    agreement_file = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(AGREEMENT_NAMES), unique=True)) if agreement_file else []
    limits = Limits(agreements=tuple(names) if agreement_file else None)
    tenants = {slug: draw(tenant(slug, limits)) for slug in sorted(slugs)}
    agreements = _agreements(names, draw) if agreement_file else None
    return RepoData(tenants, agreements, draw(secret_values()), draw(repository_defaults()))


@st.composite
def next_repository(draw: st.DrawFn, before: RepoData, delete_unmanaged: bool) -> RepoData:
    """A repository for the live state ``before`` left, valid against it.

    Agreements still holding a tenant that this repository does not move out (a tenant
    without a file, or one whose agreement is unmanaged) are kept in the agreements file.
    """
    # Mostly the same tenants again (changed), sometimes one dropped or one new.
    kept = draw(st.lists(st.sampled_from(sorted(before.tenants)), unique=True))
    kept += draw(st.lists(st.sampled_from(SLUGS), max_size=1))
    slugs = sorted(set(kept)) or sorted(before.tenants)
    agreement_file = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(AGREEMENT_NAMES), unique=True)) if agreement_file else []
    tenants: dict[str, dict[str, Any]] = {}
    for slug in sorted(slugs):
        live = before.tenants.get(slug)
        limits = Limits(
            needs_users=live is None,
            allow_no_accounts=live is None or not live.get("bank_accounts"),
            agreements=tuple(names) if agreement_file else None,
            bias=1 if live is None else 4,
        )
        tenants[slug] = draw(tenant(slug, limits))
    if agreement_file:
        held = set()
        for slug in before.tenants:
            stays = slug not in tenants and not delete_unmanaged
            unmanaged = slug in tenants and "agreement" not in tenants[slug]
            if stays or unmanaged:
                held.add(before.membership(slug))
        names += sorted(name for name in held if name is not None and name not in names)
    agreements = _agreements(names, draw) if agreement_file else None
    return RepoData(tenants, agreements, draw(secret_values()), draw(repository_defaults()))


def write_repository(repo: RepoData, folder: Path) -> Path:
    """The tenant files as a user writes them: one YAML file per slug, schema line first."""
    folder.mkdir(parents=True, exist_ok=True)
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    for slug, doc in repo.tenants.items():
        with (folder / f"{slug}.yaml").open("w", encoding="utf-8") as out:
            out.write(SCHEMA_LINE)
            yaml.dump(doc, out)
    if repo.defaults is not None:
        with (folder / "_defaults.yaml").open("w", encoding="utf-8") as out:
            yaml.dump(repo.defaults, out)
    if repo.agreements is not None:
        with (folder / "_agreements.yaml").open("w", encoding="utf-8") as out:
            out.write(SCHEMA_LINE.replace("tenant.schema", "agreements.schema"))
            yaml.dump({"agreements": repo.agreements}, out)
    return folder
