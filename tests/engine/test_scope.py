"""A scoped plan (issue 21.1, 21.7): what it covers, what the merge job compares within it,
and its charged-accesses figures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.planfile import load_plan, save_plan
from t4o_reconcile.engine.review import check_reviewed, unreviewed
from t4o_reconcile.render.common import PARTIAL_ACCESSES
from t4o_reconcile.render.text import render_text
from tests.engine.builders import agreements, desired_tenant, live_twin, snapshot


def _plan(
    want: list[str],
    *,
    only: set[str] | None,
    phone: dict[str, str] | None = None,
    live_version: dict[str, str] | None = None,
    number: str = "1",
    scope_agreements: bool | None = None,
) -> Plan:
    """Tenants ``want`` in agreement NOF, converged but for ``phone`` (slug -> new phone in
    the file) and ``live_version`` (slug -> the version live items are at)."""
    desired = []
    live = []
    for slug in want:
        tenant = desired_tenant(slug, agreement="NOF")
        live.append(live_twin(tenant, version=(live_version or {}).get(slug, "1")))
        if phone and slug in phone:
            tenant.sections["identity"][""].fields["contact"]["phone"] = phone[slug]
        desired.append(tenant)
    plan = make_plan(
        snapshot(*desired, agreements=agreements(("NOF", number))),
        snapshot(*live, agreements=agreements(("NOF", "1"), version="1")),
        target="t",
        only=only,
        agreements=scope_agreements,
    )
    plan.endpoint, plan.identity = "https://api.example.com", "nof"
    plan.reference_digest = "sha256:refs"
    if only is not None:
        plan.agreements_in_scope = bool(scope_agreements)
    return plan


def test_a_scoped_plan_labels_its_charged_accesses_partial() -> None:
    scoped = _plan(["ok-a", "ok-b"], only={"ok-a"})
    whole = _plan(["ok-a", "ok-b"], only=None)
    (part,) = scoped.agreement_users
    (all_of_it,) = whole.agreement_users
    assert part.partial and not all_of_it.partial
    assert PARTIAL_ACCESSES in render_text(scoped, color=False)
    assert PARTIAL_ACCESSES not in render_text(whole, color=False)


def test_a_scoped_plan_leaves_the_agreements_out_unless_they_are_in_its_scope() -> None:
    # _agreements.yaml says 2, live says 1: a change only a plan of the agreements makes.
    outside = _plan(["ok-a"], only={"ok-a"}, number="2")
    assert outside.agreement_actions == [] and outside.agreement_versions == {}
    inside = _plan(["ok-a"], only={"ok-a"}, number="2", scope_agreements=True)
    assert [a.address for a in inside.agreement_actions] == ['agreements["NOF"]']
    assert inside.agreement_versions == {'agreements["NOF"]': "1"}


def test_the_merge_is_strict_inside_the_reviewed_scope_and_blind_outside() -> None:
    reviewed = _plan(["ok-a", "ok-b"], only={"ok-a"}, phone={"ok-a": "+4799001122"})
    # Merged: the same change, and ok-b moved live (a colleague's edit) meanwhile.
    merged = _plan(
        ["ok-a", "ok-b"],
        only={"ok-a", "ok-b"},
        phone={"ok-a": "+4799001122"},
        live_version={"ok-b": "2"},
    )
    assert check_reviewed(reviewed, merged) == []
    assert unreviewed(reviewed, merged) == []
    # Inside the scope a moved version refuses nothing while the plan does there what the
    # review showed (an invoice moved a counter), and is refused when the change would
    # start from other values than the review showed.
    moved = _plan(
        ["ok-a"], only={"ok-a"}, phone={"ok-a": "+4799001122"}, live_version={"ok-a": "2"}
    )
    assert check_reviewed(reviewed, moved) == []
    mine = next(t for t in moved.tenants if t.slug == "ok-a")
    edited = [
        replace(a, before={**(a.before or {}), "contact": {"phone": "+4733445566"}})
        for a in mine.actions
    ]
    moved.tenants.replace(replace(mine, actions=edited))
    assert any(
        "ok-a.identity changed since the review (version 1 → 2)" in p
        for p in check_reviewed(reviewed, moved)
    )


def test_a_change_the_merge_brings_beyond_the_review_is_named() -> None:
    reviewed = _plan(["ok-a", "ok-b"], only={"ok-a"}, phone={"ok-a": "+4799001122"})
    merged = _plan(
        ["ok-a", "ok-b"],
        only={"ok-a", "ok-b"},
        phone={"ok-a": "+4799001122", "ok-b": "+4799001133"},
    )
    assert check_reviewed(reviewed, merged) == []
    assert unreviewed(reviewed, merged) == ["ok-b (1 to change)"]
    agreements_too = _plan(["ok-a"], only={"ok-a"}, number="2", scope_agreements=True)
    assert unreviewed(reviewed, agreements_too) == ["the agreements (1 to change)"]


def test_the_plan_file_records_the_scope(tmp_path: Path) -> None:
    plan = _plan(["ok-a", "ok-b"], only={"ok-a"})
    plan.base, plan.changed_since = "a" * 40, "origin/main"
    save_plan(plan, tmp_path / "p.plan", key=None)
    again = load_plan(tmp_path / "p.plan", key=None, require_seal=False)
    assert (again.only, again.base, again.agreements_in_scope) == (["ok-a"], "a" * 40, False)
    assert again.agreement_users[0].partial
    again.tenants.close()
