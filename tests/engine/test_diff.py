"""The keyed diff: which actions a pair of snapshots produces."""

from __future__ import annotations

from t4o_reconcile import normalize
from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import AGREEMENTS, WHOLE_TENANT, Action, Plan
from t4o_reconcile.engine.snapshot import Fingerprint, Item, Secret, UnresolvedSecret
from tests.engine.builders import flatten

from .builders import agreements, desired_tenant, live_twin, snapshot


def plan_of(want, have, **kwargs) -> Plan:  # type: ignore[no-untyped-def]
    return make_plan(want, have, target="test", **kwargs)


def actions(plan: Plan) -> list[Action]:
    return flatten(plan)


def test_live_state_that_matches_the_configuration_plans_nothing() -> None:
    want = desired_tenant()
    plan = plan_of(snapshot(want), snapshot(live_twin(want)))
    assert not plan.has_changes
    assert not plan.has_errors
    assert [t.slug for t in plan.tenants] == ["ok-skogen"]


def test_a_new_tenant_is_one_tenant_create_followed_by_creates_of_its_items() -> None:
    want = desired_tenant(agreement="NOF")
    plan = plan_of(snapshot(want, agreements=agreements(("NOF", "1"))), snapshot())
    kinds = {a.kind for a in actions(plan)}
    assert kinds == {"create"}
    first = plan.tenants[0].actions[0]
    assert (first.section, first.kind, first.address) == (WHOLE_TENANT, "create", "ok-skogen")
    assert first.after is not None
    assert first.after["name"] == "OK Skogen"
    assert first.after["agreement"] == "NOF"
    assert first.after["owner"] == {
        "email": "eva@ok-skogen.no",
        "name": "Eva Eier",
        "programs": {
            "invoicing": "admin",
            "accounting": "none",
            "payroll": "none",
            "events": "none",
        },
        "custom_invoice_email": True,
    }
    assert first.after["invoicing"]["next_invoice_number"] == 1000
    assert first.after["defaults"] == {"timing_system": "emit", "finish_code": None}
    created = {a.address for a in plan.tenants[0].actions[1:] if a.kind == "create"}
    assert 'ok-skogen.users["eva@ok-skogen.no"]' not in created  # the owner comes with it
    assert 'ok-skogen.users["ola@ok-skogen.no"]' in created
    assert 'ok-skogen.bank_accounts["15030012345"]' in created
    assert "ok-skogen.email_account" in created


def test_a_new_tenant_creates_its_owner_with_the_owner_programs_in_one_step() -> None:
    plan = plan_of(snapshot(desired_tenant()), snapshot())
    assert [a for a in plan.tenants[0].actions if a.kind == "update"] == []
    owner = plan.tenants[0].actions[0].after["owner"]  # type: ignore[index]
    assert owner["programs"]["invoicing"] == "admin"


def test_an_update_lists_only_the_changed_fields_with_dotted_paths() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["identity"][""].fields["contact"]["phone"] = "+4799999999"
    have.sections["billing"][""].fields["licenses"] = 2
    plan = plan_of(snapshot(want), snapshot(have))
    by_address = {a.address: a for a in actions(plan)}
    assert set(by_address) == {"ok-skogen.identity", "ok-skogen.billing"}
    identity = by_address["ok-skogen.identity"]
    assert identity.kind == "update"
    assert identity.changed_paths == ("contact.phone",)
    assert identity.before == {"contact": {"email": "post@ok-skogen.no", "phone": "+4799999999"}}
    assert identity.after == {"contact": {"email": "post@ok-skogen.no", "phone": "+4722334455"}}
    assert identity.version == "1"
    assert by_address["ok-skogen.billing"].after == {"licenses": 5}


def test_an_update_keeps_live_sub_fields_the_configuration_leaves_out() -> None:
    want = desired_tenant()
    have = live_twin(want)
    del want.sections["identity"][""].fields["contact"]["phone"]  # unmanaged
    have.sections["identity"][""].fields["contact"]["email"] = "old@ok-skogen.no"
    (action,) = actions(plan_of(snapshot(want), snapshot(have)))
    assert action.changed_paths == ("contact.email",)
    assert action.after == {"contact": {"email": "post@ok-skogen.no", "phone": "+4722334455"}}


def test_items_are_matched_by_key_not_by_position() -> None:
    want = desired_tenant()
    have = live_twin(want)
    for section in ("users", "bank_accounts"):
        have.sections[section] = dict(reversed(list(have.sections[section].items())))
    assert not plan_of(snapshot(want), snapshot(have)).has_changes


def test_live_items_the_configuration_does_not_list_are_deleted() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["email_templates"]["order/en"] = Item(
        {"kind": "order", "language": "en", "name": "O", "subject": "s", "body": "b"},
        version="7",
    )
    (action,) = actions(plan_of(snapshot(want), snapshot(have)))
    assert (action.kind, action.address, action.version) == (
        "delete",
        'ok-skogen.email_templates["order/en"]',
        "7",
    )
    assert action.before is not None and action.before["name"] == "O"


def test_an_empty_managed_email_account_section_deletes_the_custom_account() -> None:
    want = desired_tenant()
    have = live_twin(want)
    want.sections["email_account"] = {}
    (action,) = actions(plan_of(snapshot(want), snapshot(have)))
    assert (action.kind, action.address) == ("delete", "ok-skogen.email_account")


def test_sections_the_configuration_leaves_out_are_never_touched() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["users"]["extra@ok-skogen.no"] = Item(
        {"email": "extra@ok-skogen.no", "name": "X", "role": "member", "programs": {}}
    )
    have.sections["billing"][""].fields["licenses"] = 99
    del want.sections["users"]
    del want.sections["billing"]
    assert not plan_of(snapshot(want), snapshot(have)).has_changes


def test_read_only_live_fields_never_show_as_changes() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["invoicing"][""].fields["last_invoice_number"] = 900
    have.sections["invoicing"][""].fields["last_customer_number"] = 12
    for user in have.sections["users"].values():
        user.fields["status"] = "pending"
    assert not plan_of(snapshot(want), snapshot(have)).has_changes


def test_a_pending_invitation_counts_as_the_user_being_present() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["users"]["ola@ok-skogen.no"].fields["status"] = "pending"
    assert not [a for a in actions(plan_of(snapshot(want), snapshot(have))) if a.kind == "create"]


def test_values_the_api_writes_in_its_own_form_do_not_show_as_changes() -> None:
    want = desired_tenant()
    have = live_twin(want)
    account = have.sections["bank_accounts"]["15030012345"].fields
    account["iban"] = normalize.iban("no93 1503 0012 345")
    account["swift"] = normalize.bic("dnba nokk")
    have.sections["identity"][""].fields["contact"]["phone"] = normalize.phone("22 33 44 55")
    have.sections["identity"][""].fields["contact"]["email"] = normalize.email(
        " Post@OK-Skogen.no "
    )
    have.sections["email_templates"]["invoice/nb"].fields["body"] += "  \n"
    assert not plan_of(snapshot(want), snapshot(have)).has_changes


def test_secrets_compare_by_fingerprint() -> None:
    want = desired_tenant()
    have = live_twin(want)
    assert not plan_of(snapshot(want), snapshot(have)).has_changes

    have.sections["connections"]["eventor-norway"].fields["token"] = Fingerprint().answered(
        "another token", False
    )
    (action,) = actions(plan_of(snapshot(want), snapshot(have)))
    assert action.address == 'ok-skogen.connections["eventor-norway"]'
    assert action.changed_paths == ("token",)
    assert action.sensitive_paths == ("token",)
    assert isinstance(action.after and action.after["token"], Secret)


def test_an_unresolved_secret_is_a_plan_error_naming_variable_tenant_and_field() -> None:
    want = desired_tenant()
    want.sections["connections"]["eventor-norway"].fields["token"] = UnresolvedSecret(
        "env:OK_SKOGEN_EVENTOR", "environment variable OK_SKOGEN_EVENTOR is not set"
    )
    plan = plan_of(snapshot(want), snapshot(live_twin(desired_tenant())))
    (error,) = plan.tenants[0].errors
    assert "OK_SKOGEN_EVENTOR" in error.message
    assert "ok-skogen" in error.message
    assert "connections.token" in error.message
    assert error.source == "tenants/ok-skogen.yaml"


def test_changing_agreement_membership_is_one_move() -> None:
    want = desired_tenant(agreement="Skog")
    have = live_twin(desired_tenant(agreement="NOF"))
    plan = plan_of(
        snapshot(want, agreements=agreements(("NOF", "1"), ("Skog", "2"))),
        snapshot(have, agreements=agreements(("NOF", "1"), ("Skog", "2"))),
    )
    (move,) = actions(plan)
    assert (move.kind, move.address) == ("move", "ok-skogen.agreement")
    assert (move.before, move.after) == ({"name": "NOF"}, {"name": "Skog"})
    assert plan.counts()["move"] == 1


def test_live_tenants_without_a_file_are_listed_and_deleted_only_on_request() -> None:
    want = desired_tenant()
    stray = live_twin(desired_tenant("ok-stray"))
    live = snapshot(live_twin(want), stray)
    plan = plan_of(snapshot(want), live)
    assert plan.unmanaged_tenants == ["ok-stray"]
    assert not plan.has_changes

    plan = plan_of(snapshot(want), live, delete_unmanaged=True)
    (action,) = actions(plan)
    assert (action.kind, action.section, action.address) == ("delete", WHOLE_TENANT, "ok-stray")
    assert plan.tenants[-1].deletes_need_flag


def test_only_restricts_the_plan_to_the_named_tenants() -> None:
    a, b = desired_tenant("ok-a"), desired_tenant("ok-b")
    plan = plan_of(snapshot(a, b), snapshot(), only={"ok-b"})
    assert {t.slug for t in plan.tenants} == {"ok-b"}
    assert {act.tenant for act in actions(plan)} == {"ok-b"}


def test_agreements_are_created_updated_and_deleted_when_managed() -> None:
    want = snapshot(agreements=agreements(("New", "1"), ("Same", "2"), ("Changed", "30")))
    have = snapshot(
        agreements=agreements(("Same", "2"), ("Changed", "3"), ("Gone", "4"), version="5")
    )
    got = {(a.kind, a.address) for a in plan_of(want, have).agreement_actions}
    assert got == {
        ("create", 'agreements["New"]'),
        ("update", 'agreements["Changed"]'),
        ("delete", 'agreements["Gone"]'),
    }
    assert all(a.section == AGREEMENTS and a.tenant is None for a in flatten(plan_of(want, have)))


def test_an_agreement_without_customer_number_is_created_and_kept_without_one() -> None:
    unnumbered = {"NOF": Item({"name": "NOF", "customer_number": None})}
    created = plan_of(snapshot(agreements=unnumbered), snapshot(agreements={}))
    (create,) = created.agreement_actions
    assert (create.kind, create.after) == ("create", {"name": "NOF", "customer_number": None})
    live = {"NOF": Item({"name": "NOF", "customer_number": None}, version="1")}
    assert (
        plan_of(snapshot(agreements=unnumbered), snapshot(agreements=live)).agreement_actions == []
    )


def test_a_customer_number_left_out_of_the_file_is_cleared_on_the_agreement() -> None:
    want = {"NOF": Item({"name": "NOF", "customer_number": None})}
    have = {"NOF": Item({"name": "NOF", "customer_number": "10001"}, version="1")}
    (update,) = plan_of(snapshot(agreements=want), snapshot(agreements=have)).agreement_actions
    assert (update.kind, update.before, update.after) == (
        "update",
        {"customer_number": "10001"},
        {"customer_number": None},
    )


def test_agreements_are_unmanaged_without_an_agreements_file() -> None:
    have = snapshot(agreements=agreements(("Gone", "4")))
    assert plan_of(snapshot(), have).agreement_actions == []


def test_a_radio_flag_is_never_set_false_when_another_account_takes_it() -> None:
    want = desired_tenant()
    have = live_twin(want)
    accounts = have.sections["bank_accounts"]
    accounts["15030012345"].fields["invoice_account"] = False
    accounts["12345678903"].fields["invoice_account"] = True
    plan = plan_of(snapshot(want), snapshot(have))
    (action,) = actions(plan)  # the old holder's true → false is implied
    assert action.key == "15030012345"
    assert action.after == {"invoice_account": True}


def test_a_flag_dropped_from_an_update_keeps_its_other_changes_and_says_why() -> None:
    want = desired_tenant()
    have = live_twin(want)
    accounts = have.sections["bank_accounts"]
    accounts["15030012345"].fields["default_for_payments"] = False
    accounts["12345678903"].fields["default_for_payments"] = True
    accounts["12345678903"].fields["swift"] = "NDEANOKK"
    by_key = {a.key: a for a in actions(plan_of(snapshot(want), snapshot(have)))}
    old = by_key["12345678903"]
    assert old.changed_paths == ("swift",)
    assert "default_for_payments" in old.reason


def test_versions_of_every_live_resource_read_are_recorded() -> None:
    want = desired_tenant()
    have = live_twin(want, version="4")
    plan = plan_of(snapshot(want), snapshot(have, agreements=agreements(("NOF", "1"), version="9")))
    versions = plan.tenants[0].versions
    assert versions['ok-skogen.users["kari@ok-skogen.no"]'] == "4"
    assert versions["ok-skogen.invoicing"] == "4"
    assert len(versions) == sum(len(items) for items in have.sections.values())
    assert plan.agreement_versions == {'agreements["NOF"]': "9"}


def test_agreement_accesses_count_each_user_once_across_its_tenants() -> None:
    a = desired_tenant("ok-a", agreement="NOF")
    b = desired_tenant("ok-b", agreement="NOF")  # the same three e-mails as ok-a
    outside = desired_tenant("ok-c")
    have_a = live_twin(a)
    del have_a.sections["users"]["kari@ok-skogen.no"]
    have_b = live_twin(desired_tenant("ok-b"))  # not in the agreement yet
    agreement = agreements(("NOF", "1"))
    plan = plan_of(
        snapshot(a, b, outside, agreements=agreement),
        snapshot(have_a, have_b, live_twin(outside), agreements=agreement),
    )
    (users,) = plan.agreement_users
    # eva's invoicing, ola's invoicing and events; kari holds no right: three accesses,
    # counted once though ok-a and ok-b both grant them.
    assert (users.agreement, users.before, users.after) == ("NOF", 3, 3)


def test_agreement_user_counts_use_live_users_where_users_are_unmanaged() -> None:
    a = desired_tenant("ok-a", agreement="NOF")
    have = live_twin(desired_tenant("ok-a"))
    have.sections["users"]["extra@ok-a.no"] = Item({"email": "extra@ok-a.no"})
    del a.sections["users"]
    agreement = agreements(("NOF", "1"))
    plan = plan_of(snapshot(a, agreements=agreement), snapshot(have, agreements=agreement))
    (users,) = plan.agreement_users
    assert (users.before, users.after) == (0, 3)  # extra@ holds no program right


def test_charged_accesses_count_program_rights_once_per_user_per_agreement() -> None:
    # ok-a and ok-b hold the same three users; eva holds invoicing, ola invoicing and
    # events, kari nothing: three accesses, however many tenants grant them.
    a = desired_tenant("ok-a", agreement="NOF")
    b = desired_tenant("ok-b", agreement="NOF")
    have_a, have_b = live_twin(a), live_twin(b)
    # On ok-b ola also gets accounting (a fourth access), and a new user is invited
    # with payroll: an access a pending invitation holds, counted apart.
    b.sections["users"]["ola@ok-skogen.no"].fields["programs"]["accounting"] = "user"
    b.sections["users"]["ny@ok-b.no"] = Item(
        {
            "email": "ny@ok-b.no",
            "name": "Ny",
            "role": "member",
            "programs": {
                "invoicing": "none",
                "accounting": "none",
                "payroll": "user",
                "events": "none",
            },
        }
    )
    agreement = agreements(("NOF", "1"))
    plan = plan_of(
        snapshot(a, b, agreements=agreement), snapshot(have_a, have_b, agreements=agreement)
    )
    (users,) = plan.agreement_users
    assert (users.before, users.after) == (3, 4)
    assert (users.pending_before, users.pending_after) == (0, 1)


def test_a_pending_user_s_access_is_counted_apart_until_accepted() -> None:
    a = desired_tenant("ok-a", agreement="NOF")
    have = live_twin(a)
    have.sections["users"]["ola@ok-skogen.no"].fields["status"] = "pending"
    agreement = agreements(("NOF", "1"))
    plan = plan_of(snapshot(a, agreements=agreement), snapshot(have, agreements=agreement))
    (users,) = plan.agreement_users
    assert (users.before, users.pending_before) == (1, 2)
    assert (users.after, users.pending_after) == (1, 2)


def test_the_live_versions_are_kept_only_for_a_plan_that_will_be_checked_later() -> None:
    want = desired_tenant()
    have = live_twin(want)
    for item in have.sections["users"].values():
        item.version = "7"

    kept = plan_of(snapshot(want), snapshot(have)).tenants[0].versions
    left_out = plan_of(snapshot(want), snapshot(have), versions=False).tenants[0].versions

    assert kept and "7" in kept.values() and left_out == {}
