"""The pull-request comment: fenced diffs, a marker, errors and deletes first, and
numbered parts instead of truncation. Rendered with cmarkgfm, GitHub's own renderer."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.render.markdown import (
    MARKER,
    MAX_CHARS,
    comment_parts,
    escape,
    iter_markdown,
    render_markdown,
    write_comment_parts,
)
from tests.engine.builders import flatten

from .plans import mixed_plan, set_first_error, tenant_plan

NASTY = "<script>alert(1)</script> | * _ ` ``` [x](y) \\ #"


def html(text: str) -> str:
    # UNSAFE keeps raw HTML (<details>) as GitHub does; GitHub then sanitises tags we
    # never emit from user text anyway.
    rendered: str = cmarkgfm.github_flavored_markdown_to_html(
        text, options=Options.CMARK_OPT_UNSAFE
    )
    return rendered


def big_plan(tenants: int) -> Plan:
    base = mixed_plan()
    plan = Plan(target=base.target)
    for n in range(tenants):
        tenant = tenant_plan(base, "ok-skogen")
        slug = f"tenant-{n:04d}"
        actions = [replace(a, tenant=slug) for a in tenant.actions]
        plan.tenants.add(replace(tenant, slug=slug, actions=actions))
    return plan


def test_summary_then_errors_and_deletes_then_one_block_per_tenant() -> None:
    text = render_markdown(mixed_plan())
    assert text.startswith(MARKER + " part=1/1 plan=")
    errors = text.index("plan error(s): apply would fail")
    deletes = text.index("Needs approval: pass `--allow-deletes`")
    table = text.index("| Tenant | Create |")
    first_block = text.index("<details")
    assert errors < deletes < table < first_block
    assert "| ok-skogen | " in text
    assert text.count("<summary><strong>") == 3  # agreements, ok-skogen, ok-new
    # The tenant with errors comes first and is open.
    assert text.index("<details open><summary><strong>ok-skogen") < text.index(
        "<summary><strong>ok-new"
    )


def test_diffs_are_fenced_diff_blocks_github_colours() -> None:
    plan = mixed_plan()
    rendered = html(render_markdown(plan))
    blocks = re.findall(r'<pre lang="diff"><code>(.*?)</code></pre>', rendered, re.S)
    assert len(blocks) == 3
    joined = "\n".join(blocks)
    assert "\n+     " in joined  # fields of a create
    assert "@@ ~ ok-skogen.identity @@" in joined
    assert re.search(r"^-     contact\.phone: &quot;\+4799999999&quot;$", joined, re.M)
    assert re.search(r"^\+     contact\.phone: ", joined, re.M)
    assert "<pre>" not in render_markdown(plan)


def test_plan_id_and_commit_are_shown() -> None:
    plan = mixed_plan()
    plan.commit = "0123456789abcdef0123456789abcdef01234567"
    text = render_markdown(plan)
    assert f"Plan `{plan.plan_id}`" in text
    assert "commit `0123456789ab`" in text


def test_user_strings_cannot_break_out_of_prose_tables_or_fences() -> None:
    plan = mixed_plan()
    set_first_error(plan, "ok-skogen", NASTY)
    for action in flatten(plan):
        if action.after and "name" in action.after:
            action.after["name"] = NASTY  # the dict is the plan's own
    text = render_markdown(plan)
    rendered = html(text)
    assert "<script>" not in rendered
    assert escape(NASTY) in text  # in prose: character references
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | * _ ` ``` [x](y)" in rendered  # in a fence
    assert rendered.count("<details") == rendered.count("</details>")
    assert rendered.count("<pre") == 3


def test_escape_leaves_no_markup_character() -> None:
    out = re.sub(r"&#[0-9]+;", "", escape(NASTY + "\n| next"))
    assert not set(out) & set("<>|*_`[]\\#&\n")


def test_a_huge_plan_is_split_into_parts_each_tenant_exactly_once() -> None:
    plan = big_plan(2000)
    parts = comment_parts(plan)
    assert len(parts) > 1
    for number, part in enumerate(parts, start=1):
        assert len(part) < MAX_CHARS
        assert part.startswith(f"{MARKER} part={number}/{len(parts)} plan={plan.plan_id} -->")
        assert part.count("<details") == part.count("</details>")
        assert part.count("```diff") == part.count("\n```\n")
    shown = re.findall(r"<summary><strong>(tenant-\d{4})</strong>", "".join(parts))
    assert sorted(shown) == [t.slug for t in plan.tenants]
    assert "truncated" not in "".join(parts)
    assert "… and" in parts[0]  # the summary table is capped; the blocks are not


def test_a_plan_too_big_to_hold_is_rendered_twice_and_streamed_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan = big_plan(600)
    held = comment_parts(plan)
    assert len(held) > 1

    monkeypatch.setattr("t4o_reconcile.render.markdown._KEEP_BLOCKS", 0)
    assert comment_parts(plan) == held
    assert "".join(iter_markdown(plan)) == render_markdown(plan) == "\n".join(held)
    written = write_comment_parts(plan, tmp_path)
    assert [path.read_text(encoding="utf-8") for path in written] == held


def test_one_tenant_bigger_than_a_part_is_cut_between_actions() -> None:
    plan = big_plan(1)
    tenant = plan.tenants[0]
    template = tenant.actions[0]
    extra = [replace(copy.deepcopy(template), key=f"k{n}") for n in range(3000)]
    plan.tenants.replace(replace(tenant, actions=(*tenant.actions, *extra)))
    parts = comment_parts(plan)
    assert len(parts) > 1
    assert all(len(part) < MAX_CHARS for part in parts)
    found = r"<summary><strong>tenant-0000 &#40;(\d+)/(\d+)&#41;</strong>"
    pieces = re.findall(found, "".join(parts))
    assert len(pieces) > 1 and all(total == str(len(pieces)) for _, total in pieces)


def test_a_small_plan_is_one_part() -> None:
    assert len(comment_parts(mixed_plan())) == 1
