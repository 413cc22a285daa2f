"""A big plan holds each tenant's actions packed: the same plan, a fraction of the memory.

Packing is invisible to every reader: the actions read back equal, counts and
``has_actions`` answer without unpacking, a change is kept by assigning the actions back,
and a plan packed from its first tenant renders, saves and applies as the plain one."""

from __future__ import annotations

import asyncio
import copy

from t4o_reconcile.engine.apply import ActionOutcome, Outcomes, _TenantOutcomes, apply_plan
from t4o_reconcile.engine.attribution import LiveChange, attribute
from t4o_reconcile.engine.diff import Planner, make_plan
from t4o_reconcile.engine.plan import Action, Attribution, Plan, TenantPlan
from t4o_reconcile.engine.planfile import iter_plan_file
from t4o_reconcile.engine.snapshot import Secret, Snapshot
from t4o_reconcile.render.json import render_json
from t4o_reconcile.render.text import render_text

from .builders import agreements, desired_tenant, live_twin, snapshot
from .test_apply import FakeProvider


def _actions() -> list[Action]:
    return [
        Action("ok", "identity", "", "update", {"name": "A"}, {"name": "B"}, ["name"]),
        Action("ok", "users", "kari@ok.no", "create", None, {"email": "kari@ok.no"}),
        Action(
            "ok",
            "connections",
            "eventor",
            "create",
            None,
            {"token": Secret("s3cret", "env:T4O_SECRET_X")},
            sensitive_paths=["token"],
        ),
    ]


def test_packed_actions_read_back_equal_and_each_read_is_a_fresh_copy() -> None:
    tenant = TenantPlan("ok", actions=_actions())
    tenant.pack()
    assert tenant.packed
    assert tenant.actions == _actions()
    assert tenant.actions is not tenant.actions
    assert tenant == TenantPlan("ok", actions=_actions())


def test_counts_and_has_actions_answer_for_packed_and_plain_alike() -> None:
    plain = TenantPlan("ok", actions=_actions())
    packed = TenantPlan("ok", actions=_actions())
    packed.pack()
    assert packed.counts() == plain.counts() == {"create": 2, "update": 1, "delete": 0, "move": 0}
    assert packed.has_actions() and plain.has_actions()
    empty = TenantPlan("quiet")
    empty.pack()  # nothing to pack: stays a plain empty list
    assert not empty.packed and not empty.has_actions()


def test_assigning_the_actions_back_keeps_a_change_and_stays_packed() -> None:
    tenant = TenantPlan("ok", actions=_actions())
    tenant.pack()
    tenant.actions[0].reason = "lost"  # a copy: the change is not kept
    assert tenant.actions[0].reason == ""
    actions = tenant.actions
    actions[0].reason = "kept"
    tenant.actions = actions
    assert tenant.packed and tenant.actions[0].reason == "kept"


def test_drift_attributed_on_a_packed_tenant_is_kept() -> None:
    tenant = TenantPlan("ok", actions=_actions()[:1])
    tenant.pack()
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
    assert attribute(tenant, [logged]) == 1
    (action,) = tenant.actions
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


def _planned(pack_from: int) -> Plan:
    desired, live = _world()
    planner = Planner(target="test", live=live, delete_unmanaged=True, pack_from=pack_from)
    for slug in sorted(desired.tenants.keys() | live.tenants.keys()):
        planner.add(desired.tenants.get(slug), live.tenants.get(slug))
    plan = planner.finish(desired.agreements)
    plan.plan_id = "fixed"
    return plan


def test_the_planner_packs_tenants_once_it_holds_pack_from_actions() -> None:
    plain, packed = _planned(pack_from=10**9), _planned(pack_from=0)
    assert not any(t.packed for t in plain.tenants)
    assert all(t.packed for t in packed.tenants if t.has_actions())
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


def test_a_packed_plan_renders_and_saves_byte_for_byte_as_the_plain_one() -> None:
    plain, packed = _planned(pack_from=10**9), _planned(pack_from=0)
    assert render_text(packed, color=False) == render_text(plain, color=False)
    assert render_json(packed) == render_json(plain)
    assert "".join(iter_plan_file(packed)) == "".join(iter_plan_file(plain))
    assert packed.counts() == plain.counts() and packed.has_changes


def test_a_packed_plan_applies_as_the_plain_one() -> None:
    reports: list[dict[str, object]] = []
    writes: list[list[str]] = []
    for pack_from in (10**9, 0):
        plan = _planned(pack_from)
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
