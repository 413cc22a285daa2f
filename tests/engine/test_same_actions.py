"""apply --plan applies only a fresh plan with exactly the saved plan's actions: the same
addresses, kinds and changed fields, in apply order, compared a tenant at a time."""

from __future__ import annotations

import copy
from dataclasses import replace

from t4o_reconcile.engine.order import iter_flat
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.review import same_actions
from tests.engine.builders import flatten
from tests.render.plans import mixed_plan, tenant_plan


def _spilled(plan: Plan) -> Plan:
    plan.tenants = TenantStore(plan.tenants, budget=0)
    return plan


def test_iter_flat_yields_what_flatten_lists_held_or_spilled() -> None:
    plan = mixed_plan()
    expected = [a.address for a in flatten(plan)]

    assert [a.address for a in iter_flat(_spilled(plan))] == expected


def test_the_same_plan_has_the_same_actions_even_spilled() -> None:
    saved, fresh = mixed_plan(), _spilled(mixed_plan())

    assert same_actions(saved, fresh)


def _changed(change: str) -> Plan:
    plan = mixed_plan()
    tenant = tenant_plan(plan, "ok-skogen")
    actions = list(tenant.actions)
    if change == "dropped":
        actions.pop()
    elif change == "added":
        actions.append(copy.deepcopy(actions[0]))
    elif change == "fields":
        at, update = next((i, a) for i, a in enumerate(actions) if a.kind == "update")
        actions[at] = replace(update, changed_paths=(*update.changed_paths, "name"))
    elif change == "kind":
        last = actions[-1]
        actions[-1] = replace(last, kind="create" if last.kind != "create" else "update")
    plan.tenants.replace(replace(tenant, actions=actions))
    return plan


def test_a_dropped_added_or_changed_action_differs() -> None:
    saved = mixed_plan()

    for change in ("dropped", "added", "fields", "kind"):
        assert not same_actions(saved, _changed(change)), change
        assert not same_actions(_changed(change), saved), change


def test_a_tenant_more_or_fewer_differs() -> None:
    saved = mixed_plan()
    fewer = mixed_plan()
    fewer.tenants = TenantStore(t for t in fewer.tenants if t.slug != "ok-new")

    assert not same_actions(saved, fewer)
    assert not same_actions(fewer, saved)
