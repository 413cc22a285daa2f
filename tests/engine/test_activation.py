"""Activation: a client waits in the activation list (pending) until it is activated."""

from __future__ import annotations

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import Item, Snapshot
from tests.engine.builders import flatten

from .builders import desired_tenant, live_twin, snapshot


def plan_of(want: Snapshot, have: Snapshot) -> Plan:
    return make_plan(want, have, target="test")


def errors(plan: Plan) -> list[str]:
    return [e.message for t in plan.tenants for e in t.errors]


def with_state(state: str, *, only_owner: bool = False):  # type: ignore[no-untyped-def]
    want = desired_tenant()
    want.sections["identity"][""].fields["state"] = state
    if only_owner:
        users = want.sections["users"]
        for email in [e for e, u in users.items() if u.fields["role"] != "owner"]:
            del users[email]
    return want


def test_activation_comes_before_the_users_it_allows() -> None:
    want = with_state("active")
    have = live_twin(with_state("pending", only_owner=True))
    plan = plan_of(snapshot(want), snapshot(have))
    assert errors(plan) == []
    order = [(a.section, a.kind) for a in flatten(plan)]
    assert order[0] == ("identity", "update")
    assert plan.tenants[0].actions[0].after == {"state": "active"} or any(
        a.after == {"state": "active"} for a in plan.tenants[0].actions
    )
    assert order.index(("identity", "update")) < order.index(("users", "create"))


def test_a_pending_tenant_gets_no_users_but_its_owner() -> None:
    plan = plan_of(snapshot(with_state("pending")), Snapshot())
    found = errors(plan)
    assert found and all("cannot be invited while the tenant is pending" in m for m in found)
    assert errors(plan_of(snapshot(with_state("pending", only_owner=True)), Snapshot())) == []


def test_an_active_tenant_cannot_go_back_to_the_activation_list() -> None:
    want = with_state("pending", only_owner=True)
    have = live_twin(with_state("active", only_owner=True))
    (message,) = errors(plan_of(snapshot(want), snapshot(have)))
    assert "cannot go back to the activation list" in message


def test_a_file_that_leaves_state_out_leaves_it_alone() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["identity"][""].fields["state"] = "active"
    assert not plan_of(snapshot(want), snapshot(have)).has_changes
    assert isinstance(have.sections["identity"][""], Item)
