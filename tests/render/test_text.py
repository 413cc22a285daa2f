"""The terminal plan."""

from __future__ import annotations

from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.render.text import render_text

from .plans import mixed_plan, set_first_error


def test_the_first_line_names_the_target_and_the_last_sums_up() -> None:
    plan = mixed_plan()
    lines = render_text(plan, color=False).splitlines()
    counts = plan.counts()
    assert lines[0] == "Target: sandbox (.t4o/sandbox.db)"
    assert lines[-1] == (
        f"Plan: {counts['create']} to create, {counts['update']} to update,"
        f" {counts['delete']} to delete, {counts['move']} to move."
        " 1 unmanaged tenant(s): live, no file."
    )


def test_an_empty_plan_says_there_is_nothing_to_do() -> None:
    text = render_text(Plan(target="t"), color=False)
    assert text.splitlines()[-1] == "No changes. Live state matches the configuration."


def test_each_action_kind_has_its_symbol_and_field_level_detail() -> None:
    text = render_text(mixed_plan(), color=False)
    assert "  + ok-new  # new tenant" in text
    assert "  ~ ok-skogen.identity" in text
    assert '      contact.phone: "+4799999999" → "+4722334455"' in text
    assert '  - ok-skogen.users["kari@ok-skogen.no"]' in text
    assert "  → ok-skogen.agreement  # join agreement NOF" in text
    assert '  + agreements["NOF"]' in text
    assert '      customer_number: "1001"' in text


def test_secrets_show_only_as_sensitive() -> None:
    text = render_text(mixed_plan(), color=False)
    assert "      token: (sensitive, changed)" in text
    assert "      password: (sensitive)" in text  # ok-new's email account


def test_errors_flags_unmanaged_tenants_and_user_counts_are_shown() -> None:
    text = render_text(mixed_plan(), color=False)
    assert "✗ ERROR ok-skogen.invoicing: next_invoice_number 1000" in text
    assert "1 plan error(s): apply would fail" in text
    needs = "! needs approval (pass --allow-deletes to plan and apply): deletes user kari@"
    assert needs in text
    assert (
        "Unmanaged tenants (live, no file; left alone unless deletion is requested): ok-stray"
        in text
    )
    assert "Charged accesses per agreement (program rights, each user once per agreement;" in text
    assert "  NOF: 0 → 3" in text


def test_colour_only_when_asked() -> None:
    plan = mixed_plan()
    assert "\033[" not in render_text(plan, color=False)
    assert "\033[32m+\033[0m" in render_text(plan, color=True)


def test_control_characters_in_user_text_cannot_reach_the_terminal() -> None:
    plan = mixed_plan()
    set_first_error(plan, "ok-skogen", "bad \033[2J name")
    assert "\033[2J" not in render_text(plan, color=False)


def test_pending_accesses_are_shown_apart() -> None:
    from t4o_reconcile.engine.plan import AgreementUsers
    from t4o_reconcile.render.common import accesses_text

    assert accesses_text(AgreementUsers("NOF", 4, 6, 0, 2)) == "4 → 6 (+2 pending)"
    assert accesses_text(AgreementUsers("NOF", 4, 4, 1, 1)) == "4 (+1 pending)"
