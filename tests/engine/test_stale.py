"""A saved plan is refused when anything it read, or the configuration, has changed."""

from __future__ import annotations

from t4o_reconcile.engine.plan import Action, Plan, TenantPlan
from t4o_reconcile.engine.snapshot import Item, Snapshot, TenantSnapshot
from t4o_reconcile.engine.stale import agreement_versions_of, check_stale, versions_of

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
    return Plan(
        target="fake://test",
        tenants=[TenantPlan(slug, versions=versions_of(snapshot, [slug])) for slug in slugs],
        agreement_versions=agreement_versions_of(snapshot),
        config_digest=DIGEST,
    )


def test_versions_of_maps_every_item_address_to_its_version() -> None:
    assert versions_of(live(), ["ok-skogen"]) == {
        "ok-skogen.identity": "2",
        'ok-skogen.bank_accounts["15030012345"]': "3",
    }
    assert set(versions_of(live())) == {
        "ok-skogen.identity",
        'ok-skogen.bank_accounts["15030012345"]',
        'ok-fjell.users["a@b.no"]',
    }
    assert versions_of(live(), ["no-such-tenant"]) == {}
    assert agreement_versions_of(live()) == {'agreements["NOF"]': "5"}


def test_a_plan_is_fresh_when_nothing_changed() -> None:
    assert check_stale(saved_plan(live(), "ok-skogen", "ok-fjell"), live(), DIGEST) == []


def test_a_changed_version_is_named_with_both_versions() -> None:
    plan = saved_plan(live(), "ok-skogen")
    fresh = live()
    fresh.tenants["ok-skogen"].sections["bank_accounts"]["15030012345"].version = "4"

    assert check_stale(plan, fresh, DIGEST) == [
        'the plan is stale: ok-skogen.bank_accounts["15030012345"] changed (version 3 → 4)'
    ]


def test_a_resource_that_vanished_is_reported_gone() -> None:
    plan = saved_plan(live(), "ok-fjell")
    fresh = live()
    del fresh.tenants["ok-fjell"]

    [message] = check_stale(plan, fresh, DIGEST)

    assert "a resource the plan read is gone" in message
    assert 'ok-fjell.users["a@b.no"]' in message


def test_a_resource_that_appeared_is_reported_new() -> None:
    plan = saved_plan(live(), "ok-skogen")
    fresh = live()
    fresh.tenants["ok-skogen"].sections["email_account"][""] = Item({"username": "x"}, "1")

    assert check_stale(plan, fresh, DIGEST) == [
        "the plan is stale: a new resource appeared: ok-skogen.email_account (version 1)"
    ]


def test_a_tenant_created_by_someone_else_makes_a_create_plan_stale() -> None:
    before = live()
    del before.tenants["ok-fjell"]
    plan = saved_plan(before, "ok-fjell")  # the plan would create ok-fjell

    [message] = check_stale(plan, live(), DIGEST)

    assert "a new resource appeared" in message and "ok-fjell" in message


def test_tenants_outside_the_plan_do_not_matter() -> None:
    plan = saved_plan(live(), "ok-skogen")
    fresh = live()
    fresh.tenants["ok-fjell"].sections["users"]["a@b.no"].version = "9"

    assert check_stale(plan, fresh, DIGEST) == []


def test_a_changed_configuration_makes_the_plan_stale() -> None:
    plan = saved_plan(live(), "ok-skogen")

    assert check_stale(plan, live(), "sha256:other") == [
        "the plan is stale: the configuration changed since the plan was made"
    ]


def test_agreement_changes_are_detected() -> None:
    plan = saved_plan(live(), "ok-skogen")
    fresh = live()
    assert fresh.agreements is not None
    fresh.agreements["NOF"].version = "6"
    fresh.agreements["New"] = Item({"name": "New", "customer_number": "11"}, "1")

    assert check_stale(plan, fresh, DIGEST) == [
        'the plan is stale: agreements["NOF"] changed (version 5 → 6)',
        'the plan is stale: a new resource appeared: agreements["New"] (version 1)',
    ]


def test_agreement_versions_keyed_by_bare_name_still_compare() -> None:
    plan = saved_plan(live(), "ok-skogen")
    plan.agreement_versions = {"NOF": "4"}

    assert check_stale(plan, live(), DIGEST) == [
        'the plan is stale: agreements["NOF"] changed (version 4 → 5)'
    ]


def test_a_plan_that_never_read_agreements_ignores_them() -> None:
    plan = saved_plan(live(), "ok-skogen")
    plan.agreement_versions = {}
    fresh = live()
    assert fresh.agreements is not None
    fresh.agreements["New"] = Item({"name": "New"}, "1")

    assert check_stale(plan, fresh, DIGEST) == []

    plan.agreement_actions = [Action(None, "agreements", "X", "create", None, {"name": "X"})]
    assert len(check_stale(plan, fresh, DIGEST)) == 2  # NOF and New both appeared
