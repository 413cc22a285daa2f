"""The pull-request comment."""

from __future__ import annotations

import copy
import re

from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.render.markdown import MAX_CHARS, escape, render_markdown

from .plans import mixed_plan, tenant_plan

NASTY = "<script>alert(1)</script> | * _ ` [x](y) \\ #"


def test_the_summary_table_comes_first_then_one_block_per_tenant() -> None:
    text = render_markdown(mixed_plan())
    table = text.index("| Tenant | Create |")
    first_block = text.index("<details")
    assert table < first_block
    assert "| ok-skogen | " in text
    assert text.count("<summary><strong>") == 3  # agreements, ok-new, ok-skogen


def test_errors_are_shown_prominently_before_the_tenant_blocks() -> None:
    text = render_markdown(mixed_plan())
    heading = text.index("plan error(s): apply would fail")
    assert heading < text.index("<details")
    assert "<details open><summary><strong>ok-skogen" in text


def test_user_strings_are_escaped_for_markdown_and_html() -> None:
    plan = mixed_plan()
    tenant_plan(plan, "ok-skogen").errors[0].message = NASTY
    for action in plan.all_actions():
        if action.after and "name" in action.after:
            action.after["name"] = NASTY
    text = render_markdown(plan)
    assert "<script>" not in text
    assert "| * _ `" not in text
    assert escape(NASTY) in text
    assert "&#60;script&#62;" in text


def test_escape_leaves_no_markup_character() -> None:
    out = re.sub(r"&#[0-9]+;", "", escape(NASTY + "\n| next"))
    assert not set(out) & set("<>|*_`[]\\#&\n")


def test_a_huge_plan_is_truncated_at_tenant_boundaries_below_the_limit() -> None:
    base = mixed_plan()
    plan = Plan(target=base.target)
    for n in range(2000):
        tenant = copy.deepcopy(tenant_plan(base, "ok-skogen"))
        tenant.slug = f"tenant-{n:04d}"
        plan.tenants.append(tenant)
    text = render_markdown(plan)
    assert len(text) < MAX_CHARS
    assert "Plan truncated — see the full plan artifact." in text
    assert text.count("<details") == text.count("</details>")
    assert "… and" in text  # the summary table was capped too


def test_a_small_plan_is_not_truncated() -> None:
    assert "truncated" not in render_markdown(mixed_plan())
