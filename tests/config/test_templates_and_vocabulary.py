"""Issue 11, items 11 and 12, at the YAML layer (model and checks across items and
files): templates by language (no fallback rule since issue 22), and names the built-in
lists lack are warnings (the API's list decides, at plan time)."""

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


def test_a_norwegian_client_may_have_one_english_template(load_files: Loader) -> None:
    # Manual 004's worked example: one template, for the English-speaking customers; no
    # rule asks for one in the tenant's language first (issue 22, item 3).
    assert load_files({"club.yaml": HEAD + templates("invoice/en")}).problems == []
    assert load_files({"club.yaml": HEAD + language("en") + templates("invoice/nb")}).problems == []


def test_every_kind_with_one_in_the_tenants_language_is_valid(load_files: Loader) -> None:
    files: dict[str, str | bytes] = {
        "club.yaml": HEAD + language("en") + templates("invoice/nb", "invoice/en", "order/en")
    }

    assert load_files(files).problems == []


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
