"""apply --plan applies only a fresh plan with exactly the saved plan's actions: the same
addresses, kinds and changed fields, in apply order, compared a tenant at a time."""

from __future__ import annotations

import copy

from t4o_reconcile.engine.order import flatten, iter_flat
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.review import same_actions
from tests.render.plans import mixed_plan, tenant_plan


def test_iter_flat_yields_what_flatten_lists_packed_or_not() -> None:
    plan = mixed_plan()
    expected = [a.address for a in flatten(plan)]
    for tenant in plan.tenants:
        tenant.pack()

    assert [a.address for a in iter_flat(plan)] == expected


def test_the_same_plan_has_the_same_actions_even_packed() -> None:
    saved, fresh = mixed_plan(), mixed_plan()
    for tenant in fresh.tenants:
        tenant.pack()

    assert same_actions(saved, fresh)


def _changed(change: str) -> Plan:
    plan = mixed_plan()
    tenant = tenant_plan(plan, "ok-skogen")
    actions = tenant.actions
    if change == "dropped":
        actions.pop()
    elif change == "added":
        actions.append(copy.deepcopy(actions[0]))
    elif change == "fields":
        update = next(a for a in actions if a.kind == "update")
        update.changed_paths = [*update.changed_paths, "name"]
    elif change == "kind":
        actions[-1].kind = "create" if actions[-1].kind != "create" else "update"
    tenant.actions = actions
    return plan


def test_a_dropped_added_or_changed_action_differs() -> None:
    saved = mixed_plan()

    for change in ("dropped", "added", "fields", "kind"):
        assert not same_actions(saved, _changed(change)), change
        assert not same_actions(_changed(change), saved), change


def test_a_tenant_more_or_fewer_differs() -> None:
    saved = mixed_plan()
    fewer = mixed_plan()
    fewer.tenants = [t for t in fewer.tenants if t.slug != "ok-new"]

    assert not same_actions(saved, fewer)
    assert not same_actions(fewer, saved)
