"""A saved plan is refused when anything it read, or the configuration, has changed."""

from __future__ import annotations

from t4o_reconcile.engine.plan import AGREEMENTS, Action, Plan, TenantPlan, address, versions_of
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.snapshot import Item, Snapshot, TenantSnapshot
from t4o_reconcile.engine.stale import check_stale

DIGEST = "sha256:abc"


def live() -> Snapshot:
    return Snapshot(
        tenants={
            "ok-skogen": TenantSnapshot(
                "ok-skogen",
                {
                    "identity": {"": Item({"name": "OK Skogen"}, "2")},
                    "bank_accounts": {
                        "15030012345": Item({"account_number": "15030012345"}, "3"),
                    },
                    "email_account": {},
                },
            ),
            "ok-fjell": TenantSnapshot(
                "ok-fjell", {"users": {"a@b.no": Item({"email": "a@b.no"}, "1")}}
            ),
        },
        agreements={"NOF": Item({"name": "NOF", "customer_number": "10"}, "5")},
    )


def saved_plan(snapshot: Snapshot, *slugs: str) -> Plan:
    """A plan of ``slugs`` made over ``snapshot``, with the versions a planner records."""
    return Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                TenantPlan(
                    slug,
                    versions=versions_of(snapshot.tenants[slug])
                    if slug in snapshot.tenants
                    else {},
                )
                for slug in slugs
            ]
        ),
        agreement_versions={
            address(None, AGREEMENTS, name): item.version
            for name, item in (snapshot.agreements or {}).items()
            if item.version is not None
        },
        config_digest=DIGEST,
    )


def fresh_plan(snapshot: Snapshot) -> Plan:
    """The plan made now: every tenant the files name, here every live one."""
    return saved_plan(snapshot, *snapshot.tenants)


def test_a_plan_records_every_item_address_with_its_version() -> None:
    plan = saved_plan(live(), "ok-skogen", "no-such-tenant")

    assert plan.tenants[0].versions == {
        "ok-skogen.identity": "2",
        'ok-skogen.bank_accounts["15030012345"]': "3",
    }
    assert plan.tenants[1].versions == {}
    assert plan.agreement_versions == {'agreements["NOF"]': "5"}


def test_a_plan_is_fresh_when_nothing_changed() -> None:
    assert (
        check_stale(saved_plan(live(), "ok-skogen", "ok-fjell"), fresh_plan(live()), DIGEST) == []
    )


def test_a_changed_version_is_named_with_both_versions() -> None:
    plan = saved_plan(live(), "ok-skogen")
    fresh = live()
    fresh.tenants["ok-skogen"].sections["bank_accounts"]["15030012345"].version = "4"

    assert check_stale(plan, fresh_plan(fresh), DIGEST) == [
        'the plan is stale: ok-skogen.bank_accounts["15030012345"] changed (version 3 → 4)'
    ]


def test_a_resource_that_vanished_is_reported_gone() -> None:
    plan = saved_plan(live(), "ok-fjell")
    fresh = live()
    del fresh.tenants["ok-fjell"]

    [message] = check_stale(plan, fresh_plan(fresh), DIGEST)

    assert "a resource the plan read is gone" in message
    assert 'ok-fjell.users["a@b.no"]' in message


def test_a_resource_that_appeared_is_reported_new() -> None:
    plan = saved_plan(live(), "ok-skogen")
    fresh = live()
    fresh.tenants["ok-skogen"].sections["email_account"][""] = Item({"username": "x"}, "1")

    assert check_stale(plan, fresh_plan(fresh), DIGEST) == [
        "the plan is stale: a new resource appeared: ok-skogen.email_account (version 1)"
    ]


def test_a_tenant_created_by_someone_else_makes_a_create_plan_stale() -> None:
    before = live()
    del before.tenants["ok-fjell"]
    plan = saved_plan(before, "ok-fjell")  # the plan would create ok-fjell

    [message] = check_stale(plan, fresh_plan(live()), DIGEST)

    assert "a new resource appeared" in message and "ok-fjell" in message


def test_tenants_outside_the_plan_do_not_matter() -> None:
    plan = saved_plan(live(), "ok-skogen")
    fresh = live()
    fresh.tenants["ok-fjell"].sections["users"]["a@b.no"].version = "9"

    assert check_stale(plan, fresh_plan(fresh), DIGEST) == []


def test_a_changed_configuration_makes_the_plan_stale() -> None:
    plan = saved_plan(live(), "ok-skogen")

    assert check_stale(plan, fresh_plan(live()), "sha256:other") == [
        "the plan is stale: the configuration changed since the plan was made"
    ]


def test_agreement_changes_are_detected() -> None:
    plan = saved_plan(live(), "ok-skogen")
    fresh = live()
    assert fresh.agreements is not None
    fresh.agreements["NOF"].version = "6"
    fresh.agreements["New"] = Item({"name": "New", "customer_number": "11"}, "1")

    assert check_stale(plan, fresh_plan(fresh), DIGEST) == [
        'the plan is stale: agreements["NOF"] changed (version 5 → 6)',
        'the plan is stale: a new resource appeared: agreements["New"] (version 1)',
    ]


def test_agreement_versions_keyed_by_bare_name_still_compare() -> None:
    plan = saved_plan(live(), "ok-skogen")
    plan.agreement_versions = {"NOF": "4"}

    assert check_stale(plan, fresh_plan(live()), DIGEST) == [
        'the plan is stale: agreements["NOF"] changed (version 4 → 5)'
    ]


def test_a_plan_that_never_read_agreements_ignores_them() -> None:
    plan = saved_plan(live(), "ok-skogen")
    plan.agreement_versions = {}
    fresh = live()
    assert fresh.agreements is not None
    fresh.agreements["New"] = Item({"name": "New"}, "1")

    assert check_stale(plan, fresh_plan(fresh), DIGEST) == []

    plan.agreement_actions = [Action(None, "agreements", "X", "create", None, {"name": "X"})]
    assert len(check_stale(plan, fresh_plan(fresh), DIGEST)) == 2  # NOF and New both appeared
