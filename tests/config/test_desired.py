"""The desired snapshot: managed sections only, defaults applied, secrets kept safe."""

from __future__ import annotations

from pathlib import Path

from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.engine.snapshot import Secret, Snapshot, UnresolvedSecret

from .conftest import EXAMPLES, HEAD, desired_of


def load(tmp_path: Path, files: dict[str, str], environ: dict[str, str] | None = None) -> Snapshot:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = load_repository(tmp_path, environ=environ or {})
    assert result.repository is not None, [str(p) for p in result.problems]
    return desired_of(result.repository)


def test_sections_left_out_are_unmanaged(tmp_path: Path) -> None:
    snapshot = load(tmp_path, {"club.yaml": HEAD})

    club = snapshot.tenants["club"]
    assert list(club.sections) == ["identity"]
    assert club.sections["identity"][""].fields == {
        "name": "Club",
        "organization_number": "914820332",
        "personal_number": None,
    }
    assert snapshot.agreements is None


def test_explicit_null_is_managed_and_empty(tmp_path: Path) -> None:
    snapshot = load(
        tmp_path,
        {"club.yaml": HEAD + "email_account: null\nconnections: []\nagreement: null\n"},
    )

    sections = snapshot.tenants["club"].sections
    assert sections["email_account"] == {}
    assert sections["connections"] == {}
    assert sections["agreement"][""].fields == {"name": None}


def test_defaults_are_applied_but_optional_fields_left_out_stay_unmanaged(
    tmp_path: Path,
) -> None:
    snapshot = load(
        tmp_path,
        {
            "_defaults.yaml": "billing:\n  interval: monthly\n",
            "club.yaml": HEAD
            + "billing: {licenses: 4}\ninvoicing: {next_invoice_number: 7}\n"
            + "contact: {email: Post@Club.no}\n"
            + "bank_accounts:\n  - {account_number: '1503.42.10001', iban: 'no74 1503 4210 001',"
            " invoice_account: true, default_for_payments: true}\n",
        },
    )

    sections = snapshot.tenants["club"].sections
    assert sections["billing"][""].fields == {
        "licenses": 4,
        "invoice_recipient": "client",
        "interval": "monthly",
        "program_access": True,
        "confirmation_email": None,  # left out: none, and that is managed
    }
    assert "next_customer_number" not in sections["invoicing"][""].fields
    assert sections["invoicing"][""].fields["pdf_template"] == "standard"
    assert sections["identity"][""].fields["contact"] == {"email": "post@club.no"}
    assert sections["bank_accounts"]["15034210001"].fields == {
        "account_number": "15034210001",
        "iban": "NO7415034210001",
        "invoice_account": True,
        "default_for_payments": True,
    }


def test_users_list_all_four_programs(tmp_path: Path) -> None:
    snapshot = load(
        tmp_path,
        {
            "club.yaml": HEAD + "users:\n  - {email: Boss@club.no, name: Boss, role: owner,"
            " programs: {events: admin}}\n"
        },
    )

    user = snapshot.tenants["club"].sections["users"]["boss@club.no"]
    assert user.fields["programs"] == {
        "invoicing": "none",
        "accounting": "none",
        "payroll": "none",
        "events": "admin",
    }


def test_secrets_are_secret_or_unresolved(tmp_path: Path) -> None:
    files = {
        "club.yaml": HEAD
        + "connections:\n  - connector: eventor-norway\n"
        + "    token: {secret: 'env:T4O_SECRET_CLUB_T'}\n"
    }

    resolved = load(tmp_path, files, {"T4O_SECRET_CLUB_T": "tok"})
    missing = load(tmp_path, files, {})

    token = resolved.tenants["club"].sections["connections"]["eventor-norway"].fields["token"]
    assert token == Secret("tok", "env:T4O_SECRET_CLUB_T")
    unresolved = missing.tenants["club"].sections["connections"]["eventor-norway"]
    assert isinstance(unresolved.fields["token"], UnresolvedSecret)
    assert unresolved.fields["token"].source == "env:T4O_SECRET_CLUB_T"


def test_examples_become_a_snapshot_with_safety_and_agreements(
    example_env: dict[str, str],
) -> None:
    result = load_repository(EXAMPLES)
    assert result.repository is not None
    snapshot = desired_of(result.repository)

    assert snapshot.agreements is not None
    assert snapshot.agreements["Norges Orienteringsforbund"].fields == {
        "name": "Norges Orienteringsforbund",
        "customer_number": "10001",
    }
    kart = snapshot.tenants["kartverkstedet"]
    assert kart.safety is not None and kart.safety.max_delete_share == 0.5
    assert kart.source is not None and kart.source.endswith("kartverkstedet.yaml")
    templates = snapshot.tenants["ok-skogen"].sections["email_templates"]
    assert set(templates) == {"invoice/nb", "order/nb", "invoice/en"}
    assert not templates["invoice/nb"].fields["body"].endswith("\n")
