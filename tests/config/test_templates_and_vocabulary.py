"""Issue 11, items 11 and 12, at the YAML layer (model and checks across items and
files): every template kind in use has a template in the tenant's language, and names
the built-in lists lack are warnings (the API's list decides, at plan time)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from t4o_reconcile.cli import main
from t4o_reconcile.config.problems import Problem, format_path

from .conftest import Loader

HEAD = 'slug: club\nname: Club\norganization_number: "974760673"\n'


def templates(*pairs: str, body: str = "Hei {Customer.Name}") -> str:
    lines = ["email_templates:"]
    for pair in pairs:
        kind, language = pair.split("/")
        lines.append(
            f"  - {{kind: {kind}, language: {language}, name: T, subject: 'S {{Number}}',"
            f" body: '{body}'}}"
        )
    return "\n".join(lines) + "\n"


def language(code: str) -> str:
    return f"invoicing:\n  next_invoice_number: 1\n  language: {code}\n"


def lines(problems: list[Problem]) -> list[str]:
    return [
        f"{Path(p.file).name}:{p.line}:{p.column}: {p.level}: {format_path(p.path)}: {p.message}"
        for p in problems
    ]


# -- item 11: templates by language ---------------------------------------------------


def test_a_template_kind_without_one_in_the_tenants_language_is_an_error(
    load_files: Loader,
) -> None:
    files: dict[str, str | bytes] = {
        "club.yaml": HEAD + language("en") + templates("invoice/nb", "order/en")
    }

    result = load_files(files)

    (problem,) = result.problems
    assert lines([problem]) == [
        "club.yaml:8:12: error: email_templates[0].kind: the invoice templates (nb) have"
        " none in the tenant's language en (invoicing.language); expected a template of"
        " kind invoice in en: a customer whose invoice language has no template gets the"
        " tenant's"
    ]


def test_every_kind_with_one_in_the_tenants_language_is_valid(load_files: Loader) -> None:
    files: dict[str, str | bytes] = {
        "club.yaml": HEAD + language("en") + templates("invoice/nb", "invoice/en", "order/en")
    }

    assert load_files(files).problems == []


def test_without_a_language_the_countrys_is_assumed_with_a_warning(load_files: Loader) -> None:
    # The file leaves invoicing.language out: the live tenant's decides (plan checks it),
    # so here it is a warning against the language a new tenant in Norway gets, nb.
    result = load_files({"club.yaml": HEAD + templates("order/en")})

    (problem,) = result.problems
    assert problem.level == "warning"
    assert (problem.line, problem.column, problem.path) == (5, 12, ("email_templates", 0, "kind"))
    assert "the order templates (en) have none in nb, the language of a new tenant in NO" in (
        problem.message
    )
    assert load_files({"club.yaml": HEAD + templates("order/nb", "order/en")}).problems == []


def test_the_language_may_come_from_the_defaults(load_files: Loader) -> None:
    files: dict[str, str | bytes] = {
        "_defaults.yaml": "invoicing:\n  language: sv\n",
        "club.yaml": HEAD + "invoicing: {next_invoice_number: 7}\n" + templates("invoice/nb"),
    }

    result = load_files(files)

    (problem,) = result.errors
    assert Path(problem.file).name == "club.yaml"
    assert "none in the tenant's language sv" in problem.message


# -- item 12: names the built-in lists lack ---------------------------------------------


def test_a_merge_field_the_built_in_list_lacks_is_a_warning(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + templates("invoice/nb", body="Ref {YourReference}")})

    assert result.errors == []
    assert lines(result.problems) == [
        "club.yaml:5:73: warning: email_templates[0].body: merge field {YourReference} is"
        " not in the built-in list; plan checks it against the API's list"
        " (GET /v1/vocabulary)"
    ]


def test_languages_and_pdf_templates_the_built_in_lists_lack_are_warnings(
    load_files: Loader,
) -> None:
    files: dict[str, str | bytes] = {
        "club.yaml": HEAD
        + "invoicing: {next_invoice_number: 1, pdf_template: letterhead, language: pl}\n"
        + templates("invoice/pl")
    }

    result = load_files(files)

    assert result.errors == []
    assert [(p.level, format_path(p.path)) for p in result.problems] == [
        ("warning", "invoicing.pdf_template"),
        ("warning", "invoicing.language"),
        ("warning", "email_templates[0].language"),
    ]
    assert "PDF template 'letterhead' is not in the built-in list (compact, detailed," in (
        result.problems[0].message
    )


def test_validate_exits_0_on_an_unknown_field_and_strict_fails(tmp_path: Path) -> None:
    (tmp_path / "club.yaml").write_text(HEAD + templates("invoice/nb", body="{YourReference}"))

    relaxed = CliRunner().invoke(main, ["validate", str(tmp_path)])
    strict = CliRunner().invoke(main, ["validate", "--strict", str(tmp_path)])

    assert relaxed.exit_code == 0, relaxed.output
    assert "warning: email_templates[0].body: merge field {YourReference}" in relaxed.output
    assert strict.exit_code == 1
    assert "Warnings fail with --strict." in strict.output


def test_a_merge_field_name_of_no_fields_shape_is_an_error(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + templates("invoice/nb", body="Hei {../etc}")})

    (problem,) = result.errors
    assert format_path(problem.path) == "email_templates[0].body"
    assert "{../etc} at character 5 is not a merge field name" in problem.message
