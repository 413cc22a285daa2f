"""The personal number is personal data: compared by fingerprint like a secret, shown by
its last two digits in every plan format and the plan file, never in full."""

from __future__ import annotations

import json
from pathlib import Path

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.planfile import load_plan, save_plan
from t4o_reconcile.engine.snapshot import Fingerprint, Secret
from t4o_reconcile.render.json import render_json
from t4o_reconcile.render.markdown import render_markdown
from t4o_reconcile.render.text import render_text

from .builders import desired_tenant, live_twin, snapshot

OLD, NEW = "15108695088", "15037810034"


def association(number: str) -> tuple[object, object]:
    want = desired_tenant()
    identity = want.sections["identity"][""].fields
    identity.update(organization_number=None, personal_number=Secret(number, "env:PN", "…34"))
    have = live_twin(want)
    have.sections["identity"][""].fields["personal_number"] = Fingerprint("…88", "env:PN").answered(
        OLD, True
    )
    return snapshot(want), snapshot(have)


def test_the_same_number_is_no_change() -> None:
    want, have = association(OLD)
    plan = make_plan(want, have, target="t")  # type: ignore[arg-type]
    assert not plan.has_changes


def test_a_changed_number_shows_its_last_digits_in_every_format(tmp_path: Path) -> None:
    want, have = association(NEW)
    plan = make_plan(want, have, target="t")  # type: ignore[arg-type]
    (action,) = [a for t in plan.tenants for a in t.actions]
    assert action.sensitive_paths == ("personal_number",)

    text = render_text(plan, color=False)
    markdown = render_markdown(plan)
    document = render_json(plan)
    save_plan(plan, tmp_path / "plan.json", key=None)
    saved = (tmp_path / "plan.json").read_text()

    assert "personal_number: (sensitive, changed: …88 → …34)" in text
    assert "personal_number: (sensitive, changed: …88 → …34)" in markdown
    after = json.loads(document)["tenants"][0]["actions"][0]["after"]
    assert after["personal_number"] == "(sensitive …34)"
    assert json.loads(saved.splitlines()[1])["actions"][0]["after"]["personal_number"] == {
        "sensitive": True,
        "source": "env:PN",
        "hint": "…34",
    }
    for output in (text, markdown, document, saved):
        assert NEW not in output and OLD not in output
    reloaded = load_plan(tmp_path / "plan.json", key=None, require_seal=False)
    assert "(sensitive, changed: …88 → …34)" in render_text(reloaded, color=False)


def test_a_new_association_shows_only_the_last_digits() -> None:
    want, _ = association(NEW)
    plan = make_plan(want, snapshot(), target="t")  # type: ignore[arg-type]
    text = render_text(plan, color=False)
    assert "personal_number: (sensitive …34)" in text
    assert NEW not in text


def test_numbers_are_checked_against_the_live_country_when_the_file_leaves_out_the_address() -> (
    None
):
    want, have = association(NEW)
    tenant = want.tenants["ok-skogen"]  # type: ignore[attr-defined]
    del tenant.sections["identity"][""].fields["address"]
    live = have.tenants["ok-skogen"].sections["identity"][""].fields  # type: ignore[attr-defined]
    live["address"] = {**live["address"], "country": "SE"}
    plan = make_plan(want, have, target="t")  # type: ignore[arg-type]
    # (The live tenant is Swedish now, and so would its language be: its templates' rule
    # is another error, at the templates.)
    (error,) = [e for t in plan.tenants for e in t.errors if e.address == "ok-skogen.identity"]
    assert "personal_number: not a valid Swedish personal number" in error.message
    assert "the tenant's country is SE (the live address; the file leaves it out)" in error.message
    assert NEW not in error.message
