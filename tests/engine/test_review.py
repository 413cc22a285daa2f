"""plan --reviewed: a plan made now matches the reviewed plan, or says how it differs."""

from __future__ import annotations

import copy
from dataclasses import replace

from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.review import DIFFERS, check_reviewed
from tests.engine.builders import flatten
from tests.render.plans import mixed_plan


def twin(plan: Plan) -> Plan:
    again = copy.deepcopy(plan)
    again.plan_id = "0" * 32
    return again


def reviewed_plan() -> Plan:
    plan = mixed_plan()
    plan.endpoint, plan.identity = "https://api.example.com", "nof"
    plan.config_digest, plan.reference_digest = "sha256:values", "sha256:refs"
    return plan


def test_the_same_plan_matches() -> None:
    reviewed = reviewed_plan()
    assert check_reviewed(reviewed, twin(reviewed)) == []


def test_other_target_config_or_actions_differ() -> None:
    reviewed = reviewed_plan()
    fresh = twin(reviewed)
    fresh.endpoint = "https://staging.example.com"
    fresh.reference_digest = "sha256:other"
    first = fresh.tenants[0]
    *kept, dropped = first.actions
    fresh.tenants.replace(replace(first, actions=kept))
    problems = check_reviewed(reviewed, fresh)
    assert all(p.startswith(DIFFERS) for p in problems)
    text = "\n".join(problems)
    assert "made for https://api.example.com as nof, this is https://staging.example.com" in text
    assert "the configuration changed since the review" in text
    assert f"{dropped.kind} {dropped.address} is no longer planned" in text


def _moved(plan: Plan, slug: str, where: str) -> Plan:
    moved = copy.deepcopy(plan)
    mine = next(t for t in moved.tenants if t.slug == slug)
    moved.tenants.replace(replace(mine, versions={**mine.versions, where: "99"}))
    return moved


def test_a_version_that_moved_under_the_same_change_refuses_nothing() -> None:
    """An invoice moves a counter, a colleague edits another field: the resource's version
    moves, and the plan still does there exactly what the review showed (If-Match guards
    the write against the version read now)."""
    reviewed = reviewed_plan()
    for tenant in reviewed.tenants:
        for where in tenant.versions:
            assert check_reviewed(reviewed, _moved(twin(reviewed), tenant.slug, where)) == []


def test_a_version_that_moved_under_other_values_differs() -> None:
    reviewed = reviewed_plan()
    tenant, action = next(
        (t, a)
        for t in reviewed.tenants
        for a in t.actions
        if a.kind == "update" and a.address in t.versions and a.before
        and set(a.changed_paths) - set(a.sensitive_paths)
    )  # fmt: skip
    path = next(p for p in action.changed_paths if p not in action.sensitive_paths)
    fresh = _moved(twin(reviewed), tenant.slug, action.address)
    mine = next(t for t in fresh.tenants if t.slug == tenant.slug)
    edited = [
        replace(a, before={**(a.before or {}), path.split(".")[0]: "edited live"})
        if a.address == action.address
        else a
        for a in mine.actions
    ]
    fresh.tenants.replace(replace(mine, actions=edited))
    problems = check_reviewed(reviewed, fresh)
    assert any(action.address in p and "changed since the review" in p for p in problems), problems


def test_a_secret_the_review_did_not_compare_may_change() -> None:
    reviewed = reviewed_plan()
    fresh = twin(reviewed)
    extra = replace(
        next(a for a in flatten(fresh) if a.kind == "update"),
        section="connections",
        key="eventor-sweden",
        changed_paths=["token"],
    )
    first = fresh.tenants[0]
    fresh.tenants.replace(replace(first, actions=(*first.actions, extra)))
    assert check_reviewed(reviewed, fresh)
    allowed = {f"{extra.address}.token"}
    assert check_reviewed(reviewed, fresh, uncompared=allowed) == []


def _global_differences(reviewed: Plan, fresh: Plan) -> list[str]:
    """The comparison as it was written first: every action of each plan in one set."""

    def shapes(plan: Plan) -> set[tuple[str, str, tuple[str, ...]]]:
        return {(a.address, a.kind, tuple(a.changed_paths)) for a in flatten(plan)}

    seen, now = shapes(reviewed), shapes(fresh)
    return [
        DIFFERS + f"{kind} {address} was not in it" for address, kind, _ in sorted(now - seen)
    ] + [
        DIFFERS + f"{kind} {address} is no longer planned"
        for address, kind, _ in sorted(seen - now)
    ]


def test_comparing_tenant_by_tenant_finds_what_comparing_whole_plans_finds() -> None:
    reviewed = reviewed_plan()
    variants = []
    for index in range(len(reviewed.tenants)):
        fewer = twin(reviewed)
        one = fewer.tenants[index]
        fewer.tenants.replace(replace(one, actions=one.actions[1:]))
        gone = twin(reviewed)
        gone.tenants = TenantStore(t for i, t in enumerate(gone.tenants) if i != index)
        variants += [fewer, gone]
    more = twin(reviewed)
    first = more.tenants[0]
    more.tenants.add(
        replace(
            first,
            slug="ok-extra",
            actions=[replace(a, tenant="ok-extra") for a in first.actions],
        )
    )
    agreements = twin(reviewed)
    agreements.agreement_actions = []
    variants += [more, agreements, twin(reviewed)]

    for fresh in variants:
        fresh.tenants = TenantStore(fresh.tenants, budget=0)  # on disk: the same findings
        expected = _global_differences(reviewed, fresh)
        problems = [
            p for p in check_reviewed(reviewed, fresh) if "planned" in p or "not in it" in p
        ]
        assert problems == expected
        assert bool(expected) == (fresh is not variants[-1])
