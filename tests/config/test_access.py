"""Program access, licences and the custom invoice e-mail right at the YAML layer (the
model of one file and the checks across its items).

- Program access (client manager manual): a client that gets no program has no licences
  and a confirmation e-mail address instead; one that does has no confirmation address.
- Licences: each user holding a program right that is not none takes one licence.
- The custom invoice e-mail right ("Egendefinert fakturaepost"): an extra access on top of
  invoicing; a tenant's custom templates need a user who holds it.
"""

from __future__ import annotations

from pathlib import Path

from t4o_reconcile.config.problems import Problem, format_path

from .conftest import Loader, desired_of

HEAD = 'slug: club\nname: Club\norganization_number: "914820332"\n'
OWNER = "  - {email: boss@club.no, name: Boss, role: owner, programs: {invoicing: admin}}\n"
MEMBER = "  - {email: ola@club.no, name: Ola, programs: {events: user, payroll: admin}}\n"
NO_RIGHTS = "  - {email: kari@club.no, name: Kari, programs: {events: none}}\n"
TEMPLATE = (
    "email_templates:\n"
    "  - {kind: invoice, language: nb, name: Faktura, subject: 'Faktura {Number}', body: Hei}\n"
)


def lines(problems: list[Problem]) -> list[str]:
    return [
        f"{Path(p.file).name}:{p.line}:{p.column}: {p.level}: {format_path(p.path)}: {p.message}"
        for p in problems
    ]


def billing(*fields: str) -> str:
    return "billing:\n" + "".join(f"  {field}\n" for field in fields)


# -- 8. Program access and the confirmation e-mail


def test_a_client_without_program_access_needs_a_confirmation_email(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + billing("licenses: 0", "program_access: false")})

    assert lines(result.problems) == [
        "club.yaml:4:1: error: billing.confirmation_email: a client without program access"
        " (program_access: false) needs confirmation_email: the address told that the client"
        " is set up"
    ]


def test_a_client_without_program_access_has_no_licences(load_files: Loader) -> None:
    result = load_files(
        {
            "club.yaml": HEAD
            + billing("licenses: 3", "program_access: false", "confirmation_email: a@club.no")
        }
    )

    (problem,) = result.problems
    assert problem.path == ("billing", "licenses") and problem.is_error
    assert (problem.line, problem.column) == (5, 13)
    assert "expected licenses: 0" in problem.message


def test_a_confirmation_email_only_without_program_access(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + billing("licenses: 2", "confirmation_email: a@b.no")})

    (problem,) = result.problems
    assert problem.path == ("billing", "confirmation_email") and problem.is_error
    assert (problem.line, problem.column) == (6, 23)
    assert "only used for a client without program access" in problem.message


def test_the_confirmation_email_must_be_an_email(load_files: Loader) -> None:
    result = load_files(
        {
            "club.yaml": HEAD
            + billing("licenses: 0", "program_access: false", "confirmation_email: not-an-email")
        }
    )

    (problem,) = result.problems
    assert problem.path == ("billing", "confirmation_email")
    assert "expected an e-mail address" in problem.message


def test_a_client_without_program_access_is_valid_and_managed(load_files: Loader) -> None:
    result = load_files(
        {
            "club.yaml": HEAD
            + billing("licenses: 0", "program_access: false", "confirmation_email: A@Club.no")
            + "users:\n  - {email: boss@club.no, name: Boss, role: owner}\n"
        }
    )

    assert result.problems == [], lines(result.problems)
    assert result.repository is not None
    fields = desired_of(result.repository).tenants["club"].sections["billing"][""].fields
    assert fields["program_access"] is False
    assert fields["confirmation_email"] == "a@club.no"  # normalised like every e-mail


def test_left_out_the_confirmation_email_is_managed_as_none(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + billing("licenses: 2")})

    assert result.repository is not None
    fields = desired_of(result.repository).tenants["club"].sections["billing"][""].fields
    assert fields["program_access"] is True
    assert fields["confirmation_email"] is None


def test_no_user_holds_a_right_on_a_client_without_program_access(load_files: Loader) -> None:
    result = load_files(
        {
            "club.yaml": HEAD
            + billing("licenses: 0", "program_access: false", "confirmation_email: a@club.no")
            + "users:\n"
            + OWNER
            + NO_RIGHTS
        }
    )

    (problem,) = result.problems
    assert problem.path == ("users", 0, "programs") and problem.is_error
    assert (problem.line, problem.column) == (9, 52)
    assert "boss@club.no holds a program right, but the client has no program access" in (
        problem.message
    )


# -- 9. Licences against rights


def test_more_users_with_rights_than_licences_is_an_error(load_files: Loader) -> None:
    result = load_files(
        {"club.yaml": HEAD + billing("licenses: 1") + "users:\n" + OWNER + MEMBER + NO_RIGHTS}
    )

    assert lines(result.problems) == [
        "club.yaml:5:13: error: billing.licenses: licenses 1 is fewer than the 2 users holding"
        " a program right (boss@club.no, ola@club.no); expected licenses: 2 or more (each user"
        " with a right that is not none takes one licence)"
    ]


def test_licences_count_users_not_programs(load_files: Loader) -> None:
    # ola holds two programs and kari none: two licences are enough for three users.
    result = load_files(
        {"club.yaml": HEAD + billing("licenses: 2") + "users:\n" + OWNER + MEMBER + NO_RIGHTS}
    )

    assert result.problems == [], lines(result.problems)


def test_zero_licences_with_an_admin_is_refused(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + billing("licenses: 0") + "users:\n" + OWNER})

    (problem,) = result.problems
    assert problem.path == ("billing", "licenses")
    assert "licenses 0 is fewer than the 1 users holding a program right" in problem.message


def test_licences_from_defaults_point_into_the_defaults_file(load_files: Loader) -> None:
    result = load_files(
        {
            "_defaults.yaml": "billing:\n  licenses: 1\n",
            "club.yaml": HEAD + "users:\n" + OWNER + MEMBER,
        }
    )

    (problem,) = result.problems
    assert Path(problem.file).name == "_defaults.yaml"
    assert (problem.line, problem.column) == (2, 13)


def test_billing_null_resets_to_no_licences_and_is_counted(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + "billing: null\nusers:\n" + OWNER})

    (problem,) = result.problems
    assert problem.path == ("billing", "licenses") and problem.is_error
    assert (problem.line, problem.column) == (4, 10)  # at the null
    assert "licenses 0 is fewer than the 1 users holding a program right" in problem.message


def test_licences_are_not_counted_when_users_are_unmanaged(load_files: Loader) -> None:
    # The live users decide: plan counts them (tests/engine/test_access.py).
    result = load_files({"club.yaml": HEAD + billing("licenses: 0")})

    assert result.problems == []


# -- 10. The custom invoice e-mail right


def test_the_custom_email_right_needs_an_invoicing_right(load_files: Loader) -> None:
    users = (
        "users:\n  - email: boss@club.no\n    name: Boss\n    role: owner\n"
        "    programs: {events: admin}\n    custom_invoice_email: true\n"
    )
    result = load_files({"club.yaml": HEAD + billing("licenses: 1") + users})

    assert lines(result.problems) == [
        "club.yaml:11:27: error: users[0].custom_invoice_email: custom_invoice_email is an"
        " extra access to invoicing (Egendefinert fakturaepost); expected a right in"
        " programs.invoicing (user or admin) beside it"
    ]


def test_templates_without_a_holder_of_the_right_are_a_warning(load_files: Loader) -> None:
    result = load_files(
        {"club.yaml": HEAD + billing("licenses: 1") + "users:\n" + OWNER + TEMPLATE}
    )

    (problem,) = result.problems
    assert problem.level == "warning" and problem.path == ("email_templates",)
    assert (problem.line, problem.column) == (8, 1)
    assert "no user holds the custom invoice e-mail right" in problem.message
    assert "expected custom_invoice_email: true" in problem.message


def test_templates_with_a_holder_are_valid_and_the_right_is_managed(load_files: Loader) -> None:
    owner = OWNER.replace("}}", "}, custom_invoice_email: true}")
    result = load_files(
        {"club.yaml": HEAD + billing("licenses: 2") + "users:\n" + owner + MEMBER + TEMPLATE}
    )

    assert result.problems == [], lines(result.problems)
    assert result.repository is not None
    users = desired_of(result.repository).tenants["club"].sections["users"]
    assert users["boss@club.no"].fields["custom_invoice_email"] is True
    assert users["ola@club.no"].fields["custom_invoice_email"] is False  # left out: false


def test_the_right_is_a_boolean(load_files: Loader) -> None:
    owner = OWNER.replace("}}", "}, custom_invoice_email: maybe}")
    result = load_files({"club.yaml": HEAD + billing("licenses: 1") + "users:\n" + owner})

    (problem,) = result.problems
    assert problem.path == ("users", 0, "custom_invoice_email")
    assert "expected a valid boolean" in problem.message
