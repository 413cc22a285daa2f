"""The example tenants are valid and together use every section and every option value."""

from __future__ import annotations

from typing import Any

import pytest

from t4o_reconcile import vocabulary
from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.config.repository import Repository
from t4o_reconcile.config.tenant_models import SecretRef
from t4o_reconcile.engine import sections

from .conftest import EXAMPLES


@pytest.fixture
def repo(example_env: dict[str, str]) -> Repository:
    result = load_repository(EXAMPLES)
    assert [str(p) for p in result.problems if p not in product_only_warnings(result)] == []
    assert result.repository is not None
    return result.repository


def product_only_warnings(result: Any) -> list[Any]:
    """The one warning the examples mean to show: a merge field the API knows and the
    built-in list does not."""
    return [
        p
        for p in result.problems
        if p.level == "warning" and "{YourReference} is not in the built-in list" in p.message
    ]


def test_an_example_uses_a_merge_field_only_the_api_knows(example_env: dict[str, str]) -> None:
    (warning,) = product_only_warnings(load_repository(EXAMPLES))
    assert warning.file.endswith("kartverkstedet.yaml")
    assert warning.path == ("email_templates", 1, "body")


def test_an_example_has_templates_in_its_main_language_and_another(repo: Repository) -> None:
    tenant = repo.tenants["kartverkstedet"].tenant
    assert tenant.invoicing is not None and tenant.invoicing.language == "nn"
    languages = {t.language for t in tenant.email_templates or [] if t.kind == "order"}
    assert languages == {"nn", "en"}


def values(repo: Repository, getter: Any) -> set[Any]:
    found: set[Any] = set()
    for entry in repo.tenants.values():
        found |= set(getter(entry.tenant))
    return found


def test_there_are_at_least_five_tenants_and_two_agreements(repo: Repository) -> None:
    assert len(repo.tenants) >= 5
    assert len(repo.agreements or []) == 2


def test_every_file_names_its_schema_on_the_first_line() -> None:
    for path in EXAMPLES.glob("*.yaml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=../../schemas/"), path


def test_every_option_value_is_used_somewhere(repo: Repository) -> None:
    def each(items: Any, attr: str) -> list[Any]:
        return [getattr(item, attr) for item in items or []]

    assert values(repo, lambda t: each(t.connections, "connector")) == set(vocabulary.CONNECTORS)
    assert values(repo, lambda t: [t.defaults.timing_system] if t.defaults else []) == set(
        vocabulary.TIMING_SYSTEMS
    )
    assert values(repo, lambda t: [t.invoicing.pdf_template] if t.invoicing else []) == set(
        vocabulary.PDF_TEMPLATES
    )
    assert values(repo, lambda t: [t.email_account.encryption] if t.email_account else []) == set(
        vocabulary.SMTP_ENCRYPTIONS
    )
    assert values(repo, lambda t: [t.billing.interval] if t.billing else []) == set(
        vocabulary.BILLING_INTERVALS
    )
    assert values(repo, lambda t: [t.billing.invoice_recipient] if t.billing else []) == set(
        vocabulary.INVOICE_RECIPIENTS
    )
    assert values(repo, lambda t: each(t.users, "role")) == set(vocabulary.ROLES)
    rights = values(repo, lambda t: [r for u in t.users or [] for r in u.programs.values()])
    assert rights == set(vocabulary.PROGRAM_RIGHTS)
    assert values(repo, lambda t: each(t.email_templates, "kind")) == set(vocabulary.TEMPLATE_KINDS)


def test_every_section_is_managed_somewhere_and_null_is_used(repo: Repository) -> None:
    tenants = [e.tenant for e in repo.tenants.values()]
    for section in [*sections.SECTIONS, "safety", "contact", "address"]:
        if section == "identity":
            continue
        assert any(t.managed(section) and getattr(t, section) for t in tenants), section
    assert any(t.managed("email_account") and t.email_account is None for t in tenants)
    assert any(t.personal_number for t in tenants)


def test_two_tenants_share_an_organisation_number_and_owner(repo: Repository) -> None:
    numbers = [e.tenant.organization_number for e in repo.tenants.values()]
    shared = {n for n in numbers if n and numbers.count(n) == 2}
    assert len(shared) == 1


def test_secrets_reference_environment_variables_named_after_the_tenant(
    repo: Repository, example_env: dict[str, str]
) -> None:
    for entry in repo.tenants.values():
        prefix = entry.slug.upper().replace("-", "_") + "_"
        for secret in entry.secrets.values():
            assert secret.source.startswith("env:T4O_SECRET_"), secret.source
            name = secret.source.removeprefix("env:T4O_SECRET_")
            assert name.startswith(prefix), secret.source
            assert secret.source.removeprefix("env:") in example_env


def test_a_swedish_client_with_swedish_numbers_and_an_iban_account(repo: Repository) -> None:
    swedish = [e.tenant for e in repo.tenants.values() if e.tenant.country == "SE"]
    assert swedish, "no Swedish client"
    club = swedish[0]
    assert club.organization_number is not None and len(club.organization_number) == 10
    assert any(
        b.account_number is None and str(b.iban).startswith("SE") for b in club.bank_accounts or []
    )


def test_a_personal_number_is_given_by_reference(repo: Repository) -> None:
    by_reference = [
        e for e in repo.tenants.values() if isinstance(e.tenant.personal_number, SecretRef)
    ]
    assert by_reference
    secret = by_reference[0].secrets[("personal_number",)]
    assert secret.source.startswith("env:T4O_SECRET_")
    assert repr(secret) == "Secret(sensitive)"


def test_a_pending_client_waits_with_only_its_owner(repo: Repository) -> None:
    pending = [e.tenant for e in repo.tenants.values() if e.tenant.state == "pending"]
    assert pending, "no client in the activation list"
    assert [u.role for u in pending[0].users or []] == ["owner"]
