"""The planner plans a tenant at a time, in whatever order the tenants arrive, and gives
the plan ``make_plan`` gives for the whole snapshots."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from t4o_reconcile.engine.diff import Planner, make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import Item, Snapshot

from .builders import agreements, desired_tenant, live_twin, snapshot


def _world() -> tuple[Snapshot, Snapshot]:
    """Tenants of every kind: unchanged, changed, moved between agreements, new, a live
    one without a file, one whose file was deleted, one naming an unknown agreement;
    an agreement deleted while a tenant still holds it."""
    same = desired_tenant("ok-same", agreement="NOF")
    changed = desired_tenant("ok-changed", agreement="NOF")
    moved = desired_tenant("ok-moved", agreement="BIO")
    new = desired_tenant("ok-new", agreement="NOF")
    unknown = desired_tenant("ok-unknown", agreement="Nowhere")
    have_changed = live_twin(changed)
    have_changed.sections["billing"][""].fields["licenses"] = 99
    del have_changed.sections["users"]["ola@ok-skogen.no"]
    have_moved = live_twin(desired_tenant("ok-moved", agreement="OLD"))
    unmanaged = live_twin(desired_tenant("ok-unmanaged", agreement="OLD"))
    leaving = live_twin(desired_tenant("ok-leaving"))
    desired = snapshot(
        same, changed, moved, new, unknown, agreements=agreements(("NOF", "1"), ("BIO", "2"))
    )
    live = snapshot(
        live_twin(same),
        have_changed,
        have_moved,
        unmanaged,
        leaving,
        live_twin(desired_tenant("ok-unknown")),
        agreements=agreements(("NOF", "1"), ("OLD", "3"), version="7"),
    )
    return desired, live


def _streamed(desired: Snapshot, live: Snapshot, order: list[str], **options: object) -> Plan:
    planner = Planner(target="test", live=live, **options)  # type: ignore[arg-type]
    for slug in order:
        planner.add(desired.tenants.get(slug), live.tenants.get(slug))
    return planner.finish(desired.agreements)


SLUGS = sorted(set(_world()[0].tenants) | set(_world()[1].tenants))
OPTIONS = st.sampled_from(
    [
        {},
        {"delete_unmanaged": True},
        {"leaving": {"ok-leaving"}},
        {"only": {"ok-changed", "ok-new"}, "leaving": {"ok-leaving"}},
        {"versions": False},
    ]
)


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(SLUGS), options=OPTIONS)
def test_a_plan_made_a_tenant_at_a_time_in_any_order_is_the_plan_made_whole(
    order: list[str], options: dict[str, object]
) -> None:
    desired, live = _world()
    whole = make_plan(copy.deepcopy(desired), copy.deepcopy(live), target="test", **options)  # type: ignore[arg-type]
    streamed = _streamed(desired, live, order, **options)
    streamed.plan_id = whole.plan_id  # random per plan
    assert streamed == whole


def test_the_world_plans_every_kind_of_change() -> None:
    """The scenario above is not trivially equal: it holds each kind of result."""
    desired, live = _world()
    plan = make_plan(desired, live, target="test", delete_unmanaged=True)
    kinds = {a.kind for t in plan.tenants for a in t.actions}
    assert {"create", "update", "delete", "move"} <= kinds
    assert plan.unmanaged_tenants == ["ok-leaving", "ok-unmanaged"]
    assert any("unknown agreement 'Nowhere'" in e.message for t in plan.tenants for e in t.errors)
    assert plan.errors == []  # the tenant holding OLD is deleted with it
    assert {u.agreement for u in plan.agreement_users} == {"BIO", "NOF", "OLD", "Nowhere"}


def test_an_agreement_still_held_after_the_plan_cannot_be_deleted() -> None:
    desired, live = _world()
    plan = _streamed(desired, live, list(reversed(SLUGS)))
    (error,) = plan.errors
    assert error.message.startswith("agreement OLD still holds tenants (ok-unmanaged)")


def test_an_unknown_agreement_is_found_once_the_agreements_are_known() -> None:
    desired, live = _world()
    plan = _streamed(desired, live, SLUGS)
    (tenant,) = [t for t in plan.tenants if t.slug == "ok-unknown"]
    assert tenant.errors[-1].message.startswith("unknown agreement 'Nowhere'")


def test_charged_accesses_count_a_user_once_across_tenants_added_apart() -> None:
    a = desired_tenant("ok-a", agreement="NOF")
    b = desired_tenant("ok-b", agreement="NOF")  # the same three users as ok-a
    b.sections["users"]["ny@ok-b.no"] = Item(
        {
            "email": "ny@ok-b.no",
            "role": "member",
            "programs": {"invoicing": "user", "accounting": "none", "payroll": "none"},
        }
    )
    live = snapshot(live_twin(a), live_twin(desired_tenant("ok-b", agreement="NOF")))
    planner = Planner(target="test", live=live)
    planner.add(b, live.tenants["ok-b"])
    planner.add(a, live.tenants["ok-a"])
    (users,) = planner.finish(agreements(("NOF", "1"))).agreement_users
    assert (users.before, users.after) == (3, 3)
    assert (users.pending_before, users.pending_after) == (0, 1)
