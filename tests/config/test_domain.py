"""The domain rules of the manuals at the YAML layer (model and cross-file checks):
identity numbers by country, personal numbers as personal data, bank accounts by IBAN,
shared numbers and accounts under one owner."""

from __future__ import annotations

from pathlib import Path

import pytest

from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.config.problems import Problem, format_path
from t4o_reconcile.engine.sensitive import mask
from t4o_reconcile.engine.snapshot import Secret

from .conftest import Loader, desired_of

SE_ORGNR = "802401-2349"
SE_PERSONNUMMER = "811218-9876"
SE_SAMORDNINGSNUMMER = "701063-2391"
NO_FNR = "15037810034"
SE_IBAN = "SE4550000000058398257466"
SE_ADDRESS = "address: {street: Stockby 1, postal_code: '181 62', city: Lidingö, country: SE}\n"
OWNER = "users:\n  - {email: boss@club.no, name: Boss, role: owner}\n"


def tenant(slug: str = "club", number: str = f'organization_number: "{SE_ORGNR}"\n') -> str:
    return f"slug: {slug}\nname: Club\n" + number


def lines(problems: list[Problem]) -> list[str]:
    return [
        f"{Path(p.file).name}:{p.line}:{p.column}: {p.level}: {format_path(p.path)}: {p.message}"
        for p in problems
    ]


# -- 1. Identity numbers by the tenant's country


@pytest.mark.parametrize(
    "number",
    [
        f'organization_number: "{SE_ORGNR}"',
        f'personal_number: "{SE_PERSONNUMMER}"',
        f'personal_number: "19{SE_PERSONNUMMER}"',
        f'personal_number: "{SE_SAMORDNINGSNUMMER}"',
    ],
    ids=["organisationsnummer", "personnummer", "personnummer-12", "samordningsnummer"],
)
def test_a_swedish_client_gives_swedish_numbers(load_files: Loader, number: str) -> None:
    result = load_files({"club.yaml": tenant(number=number + "\n") + SE_ADDRESS})

    assert result.errors == [], lines(result.problems)
    assert result.repository is not None


def test_a_swedish_organisation_number_is_stored_in_its_canonical_form(
    load_files: Loader,
) -> None:
    result = load_files({"club.yaml": tenant() + SE_ADDRESS})

    assert result.repository is not None
    assert result.repository.tenants["club"].tenant.organization_number == "8024012349"


def test_a_norwegian_number_on_a_swedish_client_is_refused_at_its_place(
    load_files: Loader,
) -> None:
    result = load_files(
        {"club.yaml": tenant(number='organization_number: "914820332"\n') + SE_ADDRESS}
    )

    assert lines(result.problems) == [
        "club.yaml:3:22: error: organization_number: not a valid Swedish organisation number"
        " (organisationsnummer: 10 digits, Luhn): The number has an invalid length."
    ]


def test_a_swedish_number_on_a_norwegian_client_is_refused(load_files: Loader) -> None:
    result = load_files({"club.yaml": tenant()})

    (problem,) = result.problems
    assert problem.path == ("organization_number",)
    assert "not a valid Norwegian organisation number" in problem.message


def test_a_bad_swedish_personal_number_does_not_repeat_the_number(load_files: Loader) -> None:
    result = load_files(
        {"club.yaml": tenant(number='personal_number: "811218-9877"\n') + SE_ADDRESS}
    )

    (problem,) = result.errors
    assert problem.path == ("personal_number",)
    assert "not a valid Swedish personal number" in problem.message
    assert "811218" not in str(problem)


def test_a_country_the_tool_does_not_know_is_a_clear_error(load_files: Loader) -> None:
    address = SE_ADDRESS.replace("country: SE", "country: DK")
    result = load_files({"club.yaml": tenant(number='organization_number: "12345678"\n') + address})

    (problem,) = result.problems
    assert problem.path == ("organization_number",)
    assert "identity numbers of country DK are not known to this tool" in problem.message
    assert "expected a tenant in NO or SE" in problem.message


# -- 1. Bank accounts: a Norwegian account number, or an IBAN for any other country


def test_a_foreign_account_is_given_by_iban_and_keyed_by_it(load_files: Loader) -> None:
    result = load_files(
        {
            "club.yaml": tenant()
            + SE_ADDRESS
            + "bank_accounts:\n  - iban: SE45 5000 0000 0583 9825 7466\n    swift: ESSESESS\n"
            "    invoice_account: true\n    default_for_payments: true\n"
        }
    )

    assert result.problems == []
    assert result.repository is not None
    section = desired_of(result.repository).tenants["club"].sections["bank_accounts"]
    assert list(section) == [SE_IBAN]
    assert "account_number" not in section[SE_IBAN].fields


@pytest.mark.parametrize(
    ("account", "message"),
    [
        ("{swift: ESSESESS}", "expected account_number (a Norwegian account) or iban"),
        (
            "{iban: NO9397104560001}",
            "is a Norwegian account: give it as account_number 97104560001",
        ),
        ("{iban: SE4550000000058398257467}", "not a valid IBAN"),
        (
            "{account_number: '97104560001', iban: " + SE_IBAN + "}",
            f"iban {SE_IBAN} does not belong to account_number 97104560001",
        ),
    ],
    ids=["neither", "norwegian-iban-alone", "bad-iban", "iban-of-another-country"],
)
def test_bad_bank_accounts_are_refused(load_files: Loader, account: str, message: str) -> None:
    result = load_files({"club.yaml": tenant() + SE_ADDRESS + f"bank_accounts:\n  - {account}\n"})

    assert any(message in p.message for p in result.errors), lines(result.problems)
    assert all(p.path[:2] == ("bank_accounts", 0) for p in result.errors)


# -- 2. The personal number is personal data


def test_a_personal_number_in_the_file_is_a_warning(load_files: Loader) -> None:
    result = load_files({"club.yaml": tenant(number=f'personal_number: "{NO_FNR}"\n')})

    assert lines(result.problems) == [
        "club.yaml:3:18: warning: personal_number: a personal number is personal data and"
        " should not sit in Git; expected a secret reference, e.g."
        ' {secret: "env:T4O_SECRET_CLUB_PERSONAL_NUMBER"}'
    ]
    assert result.repository is not None


def test_a_personal_number_by_reference_is_a_secret_with_its_last_digits(
    tmp_path: Path,
) -> None:
    (tmp_path / "club.yaml").write_text(
        tenant(number="personal_number: {secret: 'env:T4O_SECRET_CLUB_PN'}\n")
    )

    result = load_repository(tmp_path, environ={"T4O_SECRET_CLUB_PN": f" {NO_FNR}"})

    assert result.problems == []
    assert result.repository is not None
    identity = desired_of(result.repository).tenants["club"].sections["identity"][""]
    value = identity.fields["personal_number"]
    assert isinstance(value, Secret)
    assert value.value == NO_FNR and value.source == "env:T4O_SECRET_CLUB_PN"
    assert mask(value) == "(sensitive …34)"
    assert NO_FNR not in repr(identity.fields)


def test_a_personal_number_by_reference_is_checked_by_country_without_showing_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "club.yaml").write_text(
        tenant(number="personal_number: {secret: 'env:T4O_SECRET_CLUB_PN'}\n") + SE_ADDRESS
    )

    result = load_repository(tmp_path, environ={"T4O_SECRET_CLUB_PN": NO_FNR})

    (problem,) = result.problems
    assert problem.path == ("personal_number",) and problem.is_error
    assert "not a valid Swedish personal number" in problem.message
    assert "(read from env:T4O_SECRET_CLUB_PN)" in problem.message
    assert NO_FNR not in str(problem)
    assert result.repository is None


# -- 3. and 6. Shared organisation numbers and bank accounts


def two(first: str, second: str) -> dict[str, str | bytes]:
    return {"a-club.yaml": tenant("a-club") + first, "b-club.yaml": tenant("b-club") + second}


ACCOUNT = (
    "bank_accounts:\n  - {account_number: '97104560001', invoice_account: true,"
    " default_for_payments: true}\n"
)


def test_the_same_bank_account_on_two_tenants_of_one_owner_is_allowed(
    load_files: Loader,
) -> None:
    result = load_files(two(SE_ADDRESS + ACCOUNT + OWNER, SE_ADDRESS + ACCOUNT + OWNER))

    assert result.problems == []


def test_the_same_bank_account_under_two_owners_is_an_error(load_files: Loader) -> None:
    other = OWNER.replace("boss@", "other@")
    result = load_files(two(SE_ADDRESS + ACCOUNT + OWNER, SE_ADDRESS + ACCOUNT + other))

    (problem,) = [p for p in result.problems if p.path[0] == "bank_accounts"]
    assert problem.is_error and Path(problem.file).name == "b-club.yaml"
    assert problem.path == ("bank_accounts", 0, "account_number")
    assert "the owners are boss@club.no and other@club.no" in problem.message


def test_a_shared_number_with_users_unmanaged_is_a_warning_not_an_error(
    load_files: Loader,
) -> None:
    result = load_files(two(SE_ADDRESS + OWNER, SE_ADDRESS))

    (problem,) = result.problems
    assert problem.level == "warning" and problem.path == ("organization_number",)
    assert "users is unmanaged on 'b-club'" in problem.message
    assert result.repository is not None


def test_a_shared_account_with_users_unmanaged_is_a_warning(load_files: Loader) -> None:
    result = load_files(
        two(
            SE_ADDRESS + ACCOUNT + OWNER,
            SE_ADDRESS.replace("Stockby 1", "Annan 2") + ACCOUNT,
        )
    )

    assert [p.level for p in result.problems] == ["warning", "warning"]
    assert result.repository is not None


# -- 5. customer_number on an agreement is optional


def test_an_agreement_without_customer_number_is_valid(load_files: Loader) -> None:
    result = load_files(
        {
            "club.yaml": tenant() + SE_ADDRESS + "agreement: NOF\n",
            "_agreements.yaml": (
                "agreements:\n  - {name: NOF}\n  - {name: Krets, customer_number: '7'}\n"
            ),
        }
    )

    assert result.problems == []
    assert result.repository is not None
    agreements = desired_of(result.repository).agreements or {}
    assert agreements["NOF"].fields == {"name": "NOF", "customer_number": None}


# -- 13. SMTP: no password in clear text unless the file says so


SMTP = (
    "email_account:\n  account_name: A\n  display_name: A\n  address: a@club.no\n"
    "  username: a\n  password: {secret: 'env:T4O_SECRET_CLUB_TOKEN'}\n  smtp_host: smtp.club.no\n"
    "  smtp_port: 25\n  encryption: none\n"
)


def test_an_unencrypted_password_is_refused_at_the_encryption(load_files: Loader) -> None:
    result = load_files({"club.yaml": tenant(number='organization_number: "914820332"\n') + SMTP})

    (problem,) = result.problems
    assert problem.path == ("email_account", "encryption") and problem.is_error
    assert "would send the SMTP password unencrypted" in problem.message
    assert (problem.line, problem.column) == (12, 15)


def test_an_unencrypted_password_is_accepted_when_the_file_says_so(load_files: Loader) -> None:
    result = load_files(
        {
            "club.yaml": tenant(number='organization_number: "914820332"\n')
            + SMTP
            + "  allow_unencrypted_password: true\n"
        }
    )

    assert result.problems == []


# -- 14. Each club has its own Eventor API key


def eventor(
    slug: str, variable: str, connector: str = "eventor-norway", number: str = "914820332"
) -> str:
    return (
        f'slug: {slug}\nname: Club\norganization_number: "{number}"\n'
        f"connections:\n  - {{connector: {connector}, token: {{secret: 'env:{variable}'}}}}\n"
    )


def test_two_clubs_with_the_same_production_key_get_a_warning(tmp_path: Path) -> None:
    (tmp_path / "a-club.yaml").write_text(eventor("a-club", "T4O_SECRET_A_CLUB_KEY"))
    (tmp_path / "b-club.yaml").write_text(
        eventor("b-club", "T4O_SECRET_B_CLUB_KEY", number="974760673")
    )
    (tmp_path / "c-club.yaml").write_text(
        eventor("c-club", "T4O_SECRET_C_CLUB_KEY", "eventor-norway-test", "987654325")
    )
    environ = {
        "T4O_SECRET_A_CLUB_KEY": "same-key-1234",
        "T4O_SECRET_B_CLUB_KEY": "same-key-1234",
        "T4O_SECRET_C_CLUB_KEY": "same-key-1234",
    }

    result = load_repository(tmp_path, environ=environ)

    (problem,) = [p for p in result.problems if p.path[0] == "connections"]
    assert problem.level == "warning" and Path(problem.file).name == "b-club.yaml"
    assert problem.path == ("connections", 0, "token")
    assert (
        "eventor-norway token (env:T4O_SECRET_B_CLUB_KEY) is the same API key as the token of"
        " tenant 'a-club'" in problem.message
    )
    assert "same-key-1234" not in str(problem)


def test_different_keys_are_fine(tmp_path: Path) -> None:
    (tmp_path / "a-club.yaml").write_text(eventor("a-club", "T4O_SECRET_A_CLUB_KEY"))
    (tmp_path / "b-club.yaml").write_text(eventor("b-club", "T4O_SECRET_B_CLUB_KEY"))

    result = load_repository(
        tmp_path, environ={"T4O_SECRET_A_CLUB_KEY": "key-a", "T4O_SECRET_B_CLUB_KEY": "key-b"}
    )

    assert [p for p in result.problems if p.path[0] == "connections"] == []


# -- 7. Activation


def test_a_pending_tenant_lists_only_its_owner(load_files: Loader) -> None:
    users = OWNER + "  - {email: ola@club.no, name: Ola, role: member}\n"
    result = load_files({"club.yaml": tenant() + SE_ADDRESS + "state: pending\n" + users})

    (problem,) = result.problems
    assert problem.path == ("users", 1) and problem.is_error
    assert "ola@club.no cannot be invited while the tenant is pending" in problem.message


def test_a_pending_tenant_with_its_owner_only_is_valid(load_files: Loader) -> None:
    result = load_files({"club.yaml": tenant() + SE_ADDRESS + "state: pending\n" + OWNER})

    assert result.problems == []
    assert result.repository is not None
    identity = desired_of(result.repository).tenants["club"].sections["identity"][""]
    assert identity.fields["state"] == "pending"


def test_state_is_pending_or_active(load_files: Loader) -> None:
    result = load_files({"club.yaml": tenant() + SE_ADDRESS + "state: waiting\n"})

    (problem,) = result.problems
    assert problem.path == ("state",)
    assert "expected one of 'pending' or 'active'" in problem.message
