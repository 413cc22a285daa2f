"""Live tenants with no file: on the operator's list (quiet, never deleted) or not (loud)."""

from __future__ import annotations

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.plan_schema import plan_schema
from tests.render.plans import json_document

from .builders import desired_tenant, live_twin, snapshot


def plan_with(**kwargs) -> Plan:  # type: ignore[no-untyped-def]
    want = desired_tenant()
    live = snapshot(
        live_twin(want), live_twin(desired_tenant("ok-kept")), live_twin(desired_tenant("ok-new"))
    )
    return make_plan(snapshot(want), live, target="test", **kwargs)


def test_listed_tenants_are_kept_outside_and_others_are_unlisted() -> None:
    plan = plan_with(kept_outside=frozenset({"ok-kept", "ok-not-live"}))
    assert plan.kept_outside == ["ok-kept"]
    assert plan.unmanaged_tenants == ["ok-new"]
    assert plan.unlisted == ["ok-new"]
    assert not plan.has_changes


def test_without_a_list_every_live_tenant_without_a_file_is_unlisted() -> None:
    plan = plan_with()
    assert plan.unlisted == ["ok-kept", "ok-new"]
    assert plan.kept_outside == []


def test_delete_unmanaged_never_deletes_a_listed_tenant() -> None:
    plan = plan_with(kept_outside=frozenset({"ok-kept"}), delete_unmanaged=True)
    deleted = [t.slug for t in plan.tenants if t.actions]
    assert deleted == ["ok-new"]


def test_a_leaving_tenant_is_unlisted_unless_the_operator_lists_it() -> None:
    plan = plan_with(leaving={"ok-kept"}, only={"ok-skogen"})
    assert plan.leaving == ["ok-kept"] and plan.unlisted == ["ok-kept"]
    listed = plan_with(leaving={"ok-kept"}, only={"ok-skogen"}, kept_outside=frozenset({"ok-kept"}))
    assert listed.leaving == ["ok-kept"] and listed.unlisted == []
    assert listed.kept_outside == ["ok-kept"]


def test_the_json_plan_counts_them_and_drift_ignores_listed_tenants() -> None:
    import jsonschema

    quiet = json_document(plan_with(kept_outside=frozenset({"ok-kept", "ok-new"})))
    assert quiet["kept_outside"] == ["ok-kept", "ok-new"]
    assert quiet["summary"]["kept_outside"] == 2
    assert quiet["has_drift"] is False
    loud = json_document(plan_with(kept_outside=frozenset({"ok-kept"})))
    assert loud["has_drift"] is True and loud["unmanaged_tenants"] == ["ok-new"]
    schema = plan_schema()
    jsonschema.validate(loud, schema)


def test_decommissioning_needs_the_approval_until_it_has_converged() -> None:
    from dataclasses import replace

    from t4o_reconcile.engine.snapshot import Item

    want = desired_tenant()
    have = live_twin(want)
    ended = replace(
        want,
        lifecycle="decommissioned",
        sections={
            **want.sections,
            "invoicing": {
                "": Item(
                    {
                        **want.sections["invoicing"][""].fields,
                        "enabled": False,
                        "distribution_enabled": False,
                    }
                )
            },
        },
    )
    plan = make_plan(snapshot(ended), snapshot(have), target="test")
    (tenant,) = plan.tenants
    assert tenant.actions
    assert tenant.deletes_need_flag[0].startswith(
        "decommissions the client (lifecycle: decommissioned)"
    )
    # Once live is the ended client, the file plans nothing and needs nothing.
    converged = make_plan(snapshot(ended), snapshot(live_twin(ended)), target="test")
    assert not converged.has_changes
    assert all(not t.deletes_need_flag for t in converged.tenants)
    # The same changes without the lifecycle need no approval (nothing is deleted).
    managed = make_plan(snapshot(replace(ended, lifecycle=None)), snapshot(have), target="test")
    assert all(not t.deletes_need_flag for t in managed.tenants)
