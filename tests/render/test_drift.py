"""Drift attribution in every plan format: who changed the live value and when, next to
the change that undoes it; the JSON validates against the schema and survives the plan
file; text from the API cannot steer the terminal or the Markdown."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema

from t4o_reconcile.engine.plan import Attribution, Plan
from t4o_reconcile.engine.plan_schema import plan_schema
from t4o_reconcile.engine.planfile import load_plan, save_plan
from t4o_reconcile.render.json import render_json
from t4o_reconcile.render.markdown import render_markdown
from t4o_reconcile.render.text import render_text
from tests.engine.test_plan_schema import check_plan_file

from .plans import mixed_plan, tenant_plan

KARI = Attribution(
    at="2026-11-23T21:03:11Z",
    actor="nof",
    token="kari@ok-skogen.no",
    client="curl/8.5.0",
    change="update",
    entry=42,
)
LINE = 'drift: changed live by nof (token "kari@ok-skogen.no") at 2026-11-23T21:03:11Z'


def drifted(attribution: Attribution = KARI) -> Plan:
    plan = mixed_plan()
    tenant = tenant_plan(plan, "ok-skogen")
    actions = [
        replace(a, drift=attribution) if a.address == "ok-skogen.identity" else a
        for a in tenant.actions
    ]
    plan.tenants.replace(replace(tenant, actions=actions))
    return plan


def test_text_names_who_changed_the_value_under_the_change() -> None:
    lines = render_text(drifted(), color=False).splitlines()
    start = lines.index("  ~ ok-skogen.identity")
    note = lines.index(f"      ↳ {LINE} with curl/8.5.0")
    # After the action's own field lines, before the next action.
    assert all(line.startswith("      ") for line in lines[start + 1 : note])
    assert not lines[note + 1].startswith("      ")
    assert sum("drift:" in line for line in lines) == 1
    assert "drift:" not in render_text(mixed_plan(), color=False)


def test_markdown_shows_it_inside_the_diff_as_a_note() -> None:
    text = render_markdown(drifted())
    assert f"!     ↳ {LINE} with curl/8.5.0\n" in text


def test_json_carries_it_per_action_valid_against_the_schema() -> None:
    document = json.loads(render_json(drifted()))
    jsonschema.validate(document, plan_schema())
    actions = [a for t in document["tenants"] for a in t["actions"]]
    assert [a["drift"] for a in actions if a["drift"]] == [
        {
            "at": "2026-11-23T21:03:11Z",
            "actor": "nof",
            "token": "kari@ok-skogen.no",
            "client": "curl/8.5.0",
            "change": "update",
            "entry": 42,
        }
    ]
    assert all("drift" in a for a in actions)


def test_the_plan_file_keeps_it_for_show(tmp_path: Path) -> None:
    save_plan(drifted(), tmp_path / "p.plan", key=None)
    loaded = load_plan(tmp_path / "p.plan", key=None, require_seal=False)
    assert LINE in render_text(loaded, color=False)
    check_plan_file(tmp_path / "p.plan")


def test_hostile_names_from_the_audit_log_cannot_steer_a_terminal_or_markdown() -> None:
    hostile = Attribution(
        at="2026-11-23T21:03:11Z",
        actor="nof\x1b[2J",
        token="</details><script>x</script>\n+ fake",
        client="curl\r\x07",
        change="update",
        entry=1,
    )
    text = render_text(drifted(hostile), color=False)
    assert "\x1b[2J" not in text and "\x07" not in text and "\r" not in text
    assert "nof\\u001b[2J" in text
    markdown = render_markdown(drifted(hostile))
    note = next(line for line in markdown.splitlines() if "drift:" in line)
    assert note.startswith("!     ↳ drift:")  # the newline did not start a "+" line
    assert "\x1b" not in markdown and "\n+ fake" not in markdown
