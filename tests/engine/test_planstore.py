"""A big plan keeps its tenants on disk: the same plan, a fraction of the memory.

The store is invisible to every reader: a spilled tenant reads back equal (its secret
values too, which never reach the disk), counts answer without reading, a replaced
tenant is kept, and a plan spilled from its first tenant renders, saves and applies as
the one held in memory."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os

import pytest

from t4o_reconcile.engine.apply import ActionOutcome, Outcomes, _TenantOutcomes, apply_plan
from t4o_reconcile.engine.attribution import LiveChange, attribute
from t4o_reconcile.engine.diff import Planner, make_plan
from t4o_reconcile.engine.plan import Action, Attribution, Plan, PlanError, TenantPlan
from t4o_reconcile.engine.planfile import iter_plan_file
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.snapshot import Secret, Snapshot
from t4o_reconcile.render.json import render_json
from t4o_reconcile.render.text import render_text

from .builders import agreements, desired_tenant, live_twin, snapshot
from .test_apply import FakeProvider


def _actions(slug: str = "ok") -> list[Action]:
    return [
        Action(slug, "identity", "", "update", {"name": "A"}, {"name": "B"}, ["name"]),
        Action(slug, "users", "kari@ok.no", "create", None, {"email": "kari@ok.no"}),
        Action(
            slug,
            "connections",
            "eventor",
            "create",
            None,
            {"token": Secret("s3cret", "env:T4O_SECRET_X"), "list": [Secret("b", "env:B")]},
            sensitive_paths=["token"],
        ),
        Action(
            slug,
            "connections",
            "other",
            "update",
            {"token": Secret("old", "env:T4O_SECRET_OLD")},
            {"token": Secret("new", "env:T4O_SECRET_NEW")},
            ["token"],
        ),
    ]


def _tenant(slug: str = "ok") -> TenantPlan:
    return TenantPlan(
        slug,
        actions=_actions(slug),
        errors=[PlanError(f"{slug}.identity", "bad", "f.yaml:1:1")],
        versions={f"{slug}.identity": "3"},
        uncompared=[f"{slug}.connections.x (env:X)"],
    )


def test_domain_types_are_frozen_and_keep_tuples() -> None:
    tenant = _tenant()
    assert isinstance(tenant.actions, tuple) and isinstance(tenant.errors, tuple)
    assert isinstance(tenant.actions[0].changed_paths, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tenant.actions[0].reason = "lost"
    with pytest.raises(dataclasses.FrozenInstanceError):
        tenant.actions = ()  # type: ignore[misc]


def test_a_spilled_tenant_reads_back_equal_with_its_secret_values() -> None:
    held, spilled = TenantStore([_tenant()]), TenantStore([_tenant()], budget=0)
    assert spilled.spilled() == 1 and held.spilled() == 0
    assert spilled[0] == held[0] == _tenant()
    token = spilled[0].actions[2].after
    assert token is not None and token["token"] == Secret("s3cret", "env:T4O_SECRET_X")
    assert spilled[0].actions[3].before == {"token": Secret("old", "env:T4O_SECRET_OLD")}
    assert spilled[0] is not spilled[0]  # read afresh: nothing read is kept alive


def test_secret_values_never_reach_the_disk(tmp_path: os.PathLike[str]) -> None:
    spilled = TenantStore([_tenant()], budget=0)
    line = b"".join(spilled.lines())
    assert b"s3cret" not in line and b"env:T4O_SECRET_X" in line


def test_counts_and_flags_answer_without_reading() -> None:
    store = TenantStore([_tenant("a"), TenantPlan("b")], budget=0)
    assert store.counts() == {"create": 2, "update": 2, "delete": 0, "move": 0}
    assert store.has_actions() and store.with_actions() == 1 and store.has_errors()
    assert store.uncompared() == ["a.connections.x (env:X)"]
    assert store.slugs() == ["a", "b"] and store.get("b") == TenantPlan("b")


def test_a_replaced_or_reordered_tenant_is_kept_held_or_spilled() -> None:
    for budget in (2**30, 0):
        store = TenantStore([_tenant("b"), _tenant("a")], budget=budget)
        store.sort(key=lambda slug: slug)
        assert store.slugs() == ["a", "b"]
        changed = dataclasses.replace(_tenant("b"), errors=())
        store.replace(changed)
        assert store[1] == changed and store[0] == _tenant("a")
        assert store.has_errors() and store.counts()["create"] == 4


def test_drift_attributed_is_a_new_tenant() -> None:
    tenant = TenantPlan("ok", actions=_actions()[:1])
    logged = LiveChange(
        section="identity",
        key="",
        change="update",
        before={"name": "B"},
        after={"name": "A"},
        at="2026-11-23T21:00:01Z",
        actor="nof",
        token="kari",
        client="curl/8.5.0",
        entry=1,
        by_tool=False,
    )
    attributed, count = attribute(tenant, [logged])
    assert count == 1 and tenant.actions[0].drift is None
    (action,) = attributed.actions
    assert action.drift == Attribution(
        "2026-11-23T21:00:01Z", "nof", "kari", "curl/8.5.0", "update", 1
    )


def _world() -> tuple[Snapshot, Snapshot]:
    same = desired_tenant("ok-same", agreement="NOF")
    changed = desired_tenant("ok-changed", agreement="NOF")
    have_changed = live_twin(changed)
    have_changed.sections["billing"][""].fields["licenses"] = 99
    new = desired_tenant("ok-new", agreement="NOF")
    gone = live_twin(desired_tenant("ok-gone", agreement="NOF"))
    desired = snapshot(same, changed, new, agreements=agreements(("NOF", "1")))
    live = snapshot(live_twin(same), have_changed, gone, agreements=agreements(("NOF", "1")))
    return desired, live


def _planned(budget: int) -> Plan:
    desired, live = _world()
    planner = Planner(target="test", live=live, delete_unmanaged=True, budget=budget)
    for slug in sorted(desired.tenants.keys() | live.tenants.keys()):
        planner.add(desired.tenants.get(slug), live.tenants.get(slug))
    plan = planner.finish(desired.agreements)
    plan.plan_id = "fixed"
    return plan


def test_the_planner_spills_tenants_once_its_budget_is_spent() -> None:
    plain, packed = _planned(budget=2**30), _planned(budget=0)
    assert plain.tenants.spilled() == 0
    assert packed.tenants.spilled() == len(packed.tenants) == 4
    assert {t.slug for t in packed.tenants if t.has_actions()} == {
        "ok-changed",
        "ok-new",
        "ok-gone",
    }
    assert packed == plain
    desired, live = _world()
    whole = make_plan(desired, live, target="test", delete_unmanaged=True)
    whole.plan_id = "fixed"
    assert packed == whole


def test_a_spilled_plan_renders_and_saves_byte_for_byte_as_the_held_one() -> None:
    plain, packed = _planned(budget=2**30), _planned(budget=0)
    assert render_text(packed, color=False) == render_text(plain, color=False)
    assert render_json(packed) == render_json(plain)
    assert b"".join(iter_plan_file(packed)) == b"".join(iter_plan_file(plain))
    assert packed.counts() == plain.counts() and packed.has_changes


def test_a_spilled_plan_applies_as_the_held_one() -> None:
    reports: list[dict[str, object]] = []
    writes: list[list[str]] = []
    for budget in (2**30, 0):
        plan = _planned(budget)
        provider = FakeProvider(live=copy.deepcopy(_world()[1]))
        report = asyncio.run(apply_plan(plan, provider, plan_id="p", allow_deletes=True))
        reports.append(report.to_dict() | {"duration_seconds": 0})
        writes.append([address for address, _ in provider.calls])
    assert reports[0] == reports[1]
    assert writes[0] == writes[1]
    assert writes[1][-1] == "ok-gone"  # a whole-tenant delete still runs last


def test_a_finished_tenants_outcomes_are_held_compactly_and_read_back_whole() -> None:
    entries = [
        ActionOutcome("ok.identity", "ok", "update", "applied"),
        ActionOutcome('ok.users["odd\nkey\x00"]', "ok", "create", "failed", "409: refused"),
        ActionOutcome('ok.users["kari@ok.no"]', "ok", "delete", "skipped", "skipped: stopped"),
        ActionOutcome("ok.agreement", "ok", "move", "applied"),
    ]
    held = _TenantOutcomes.of(entries)
    assert list(held) == entries
    assert held.messages == {1: "409: refused", 2: "skipped: stopped"}
    agreement = ActionOutcome('agreements["NOF"]', None, "create", "applied")
    outcomes = Outcomes([[agreement], held, []])
    assert outcomes == [agreement, *entries] and len(outcomes) == 5
    assert outcomes[2].message == "409: refused" and outcomes[-1] == entries[-1]
    assert Outcomes() == []
    assert outcomes[1:3] == entries[:2] and outcomes[-5] == agreement
    with pytest.raises(IndexError):
        outcomes[5]
    assert repr(outcomes) == "<Outcomes of 5 action(s)>"
