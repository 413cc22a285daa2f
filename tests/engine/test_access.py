"""Plan checks and apply order for program access, licences and the custom invoice
e-mail right: the tenant as the plan leaves it (the file's sections where it manages
them, the live ones where it does not), and an order the API accepts step by step."""

from __future__ import annotations

from typing import Any

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import Item, Snapshot, TenantSnapshot
from tests.engine.builders import flatten

from .builders import desired_tenant, live_twin, snapshot

NONE = {"invoicing": "none", "accounting": "none", "payroll": "none", "events": "none"}


def plan_of(want: TenantSnapshot, have: TenantSnapshot | None) -> Plan:
    return make_plan(snapshot(want), snapshot(have) if have else Snapshot(), target="test")


def errors(plan: Plan) -> list[str]:
    return [e.message for t in plan.tenants for e in t.errors]


def billing(tenant: TenantSnapshot) -> dict[str, Any]:
    return tenant.sections["billing"][""].fields


def user(tenant: TenantSnapshot, email: str) -> dict[str, Any]:
    return tenant.sections["users"][email].fields


def order(plan: Plan) -> list[tuple[str, str, str]]:
    return [(a.section, a.key, a.kind) for a in flatten(plan)]


# -- 9. Licences: each user holding a program right takes one


def test_fewer_licences_than_users_with_rights_is_a_plan_error() -> None:
    want = desired_tenant()
    billing(want)["licenses"] = 1
    (message,) = errors(plan_of(want, live_twin(desired_tenant())))
    assert message.startswith(
        "licenses 1 is fewer than the 2 users holding a program right:"
        " eva@ok-skogen.no, ola@ok-skogen.no"
    )


def test_unmanaged_users_are_counted_live() -> None:
    have = live_twin(desired_tenant())
    have.sections["users"]["new@ok-skogen.no"] = Item(
        {"email": "new@ok-skogen.no", "programs": {**NONE, "events": "user"}, "status": "pending"}
    )
    want = desired_tenant()
    del want.sections["users"]
    billing(want)["licenses"] = 2
    (message,) = errors(plan_of(want, have))
    assert "fewer than the 3 users holding a program right (the live users" in message
    assert "new@ok-skogen.no" in message  # a pending invitation counts: the right is its


def test_unmanaged_billing_uses_the_live_licences() -> None:
    have = live_twin(desired_tenant())
    billing(have)["licenses"] = 1
    want = desired_tenant()
    del want.sections["billing"]
    (message,) = errors(plan_of(want, have))
    assert "licenses 1 (the file leaves billing out: live)" in message


def test_a_new_tenant_without_billing_has_no_licences() -> None:
    want = desired_tenant()
    del want.sections["billing"]
    (message,) = errors(plan_of(want, None))
    assert "licenses 0 (the file leaves billing out: a new tenant's default)" in message


def test_enough_licences_or_nothing_managed_is_fine() -> None:
    have = live_twin(desired_tenant())
    billing(have)["licenses"] = 0  # live is over already, but the file manages neither
    want = desired_tenant()
    del want.sections["billing"], want.sections["users"]
    assert errors(plan_of(want, have)) == []
    assert errors(plan_of(desired_tenant(), have)) == []  # the file's 5 licences


# -- 8. Program access


def test_rights_on_a_client_without_program_access_are_a_plan_error() -> None:
    want = desired_tenant()
    billing(want).update(licenses=0, program_access=False, confirmation_email="a@ok-skogen.no")
    (message,) = errors(plan_of(want, live_twin(desired_tenant())))
    assert "no program access (program_access: false) but eva@ok-skogen.no, ola@ok-skogen.no" in (
        message
    )


def test_taking_program_access_away_comes_after_the_rights_go() -> None:
    want = desired_tenant()
    billing(want).update(licenses=0, program_access=False, confirmation_email="a@ok-skogen.no")
    for email in ("eva@ok-skogen.no", "ola@ok-skogen.no"):
        user(want, email)["programs"] = dict(NONE)
        user(want, email)["custom_invoice_email"] = False
    del want.sections["email_templates"]
    plan = plan_of(want, live_twin(desired_tenant()))

    assert errors(plan) == []
    steps = order(plan)
    billing_at = steps.index(("billing", "", "update"))
    assert steps.index(("users", "eva@ok-skogen.no", "update")) < billing_at
    assert steps.index(("users", "ola@ok-skogen.no", "update")) < billing_at


def test_giving_program_access_comes_before_the_rights() -> None:
    have_doc = desired_tenant()
    billing(have_doc).update(licenses=0, program_access=False, confirmation_email="a@x.no")
    for email in ("eva@ok-skogen.no", "ola@ok-skogen.no"):
        user(have_doc, email)["programs"] = dict(NONE)
        user(have_doc, email)["custom_invoice_email"] = False
    plan = plan_of(desired_tenant(), live_twin(have_doc))

    assert errors(plan) == []
    steps = order(plan)
    assert steps.index(("billing", "", "update")) < steps.index(
        ("users", "eva@ok-skogen.no", "update")
    )


# -- 9. Apply order: licences are freed before they are taken


def test_lowering_licences_comes_after_the_rights_are_taken_away() -> None:
    want = desired_tenant()
    billing(want)["licenses"] = 1
    user(want, "ola@ok-skogen.no")["programs"] = dict(NONE)
    plan = plan_of(want, live_twin(desired_tenant()))

    assert errors(plan) == []
    steps = order(plan)
    assert steps.index(("users", "ola@ok-skogen.no", "update")) < steps.index(
        ("billing", "", "update")
    )


def test_raising_licences_comes_before_the_invitations() -> None:
    want = desired_tenant()
    billing(want)["licenses"] = 9
    have_doc = desired_tenant()
    billing(have_doc)["licenses"] = 2
    del have_doc.sections["users"]["ola@ok-skogen.no"]
    plan = plan_of(want, live_twin(have_doc))

    assert errors(plan) == []
    steps = order(plan)
    assert steps.index(("billing", "", "update")) < steps.index(
        ("users", "ola@ok-skogen.no", "create")
    )


def test_a_freed_licence_is_free_before_another_user_takes_it() -> None:
    # Two licences, both taken: ola leaves (deleted) and kari gets a right, in one plan.
    want = desired_tenant()
    billing(want)["licenses"] = 2
    del want.sections["users"]["ola@ok-skogen.no"]
    user(want, "kari@ok-skogen.no")["programs"] = {**NONE, "events": "user"}
    have_doc = desired_tenant()
    billing(have_doc)["licenses"] = 2
    plan = plan_of(want, live_twin(have_doc))

    assert errors(plan) == []
    steps = order(plan)
    assert steps.index(("users", "ola@ok-skogen.no", "delete")) < steps.index(
        ("users", "kari@ok-skogen.no", "update")
    )


def test_a_user_without_rights_is_deleted_last_as_before() -> None:
    want = desired_tenant()
    del want.sections["users"]["kari@ok-skogen.no"]  # holds no right: frees nothing
    user(want, "ola@ok-skogen.no")["name"] = "Ola N"
    steps = order(plan_of(want, live_twin(desired_tenant())))
    assert steps.index(("users", "ola@ok-skogen.no", "update")) < steps.index(
        ("users", "kari@ok-skogen.no", "delete")
    )


# -- 10. The custom invoice e-mail right


def without_holder(tenant: TenantSnapshot) -> TenantSnapshot:
    for item in tenant.sections["users"].values():
        item.fields["custom_invoice_email"] = False
    return tenant


def test_writing_a_template_without_a_holder_is_a_plan_error() -> None:
    want = without_holder(desired_tenant())
    want.sections["email_templates"]["invoice/nb"].fields["subject"] = "Faktura nr {Number}"
    plan = plan_of(want, live_twin(desired_tenant()))

    (error,) = plan.tenants[0].errors
    assert error.address == 'ok-skogen.email_templates["invoice/nb"]'
    assert error.message.startswith(
        "writing email template(s) invoice/nb needs a user holding the custom invoice e-mail"
        " right, and none does"
    )


def test_a_new_tenant_with_templates_needs_a_holder() -> None:
    (message,) = errors(plan_of(without_holder(desired_tenant()), None))
    assert "needs a user holding the custom invoice e-mail right" in message
    assert errors(plan_of(desired_tenant(), None)) == []


def test_templates_left_as_they_are_need_no_holder() -> None:
    # The right was taken from its last holder: the templates stay in use, unchanged.
    want = without_holder(desired_tenant())
    plan = plan_of(want, live_twin(desired_tenant()))
    assert errors(plan) == []
    assert [a.key for a in flatten(plan)] == ["eva@ok-skogen.no"]


def test_unmanaged_users_holding_the_right_live_are_enough() -> None:
    want = desired_tenant()
    del want.sections["users"]
    want.sections["email_templates"]["invoice/nb"].fields["subject"] = "Faktura nr {Number}"
    have = live_twin(desired_tenant())
    assert errors(plan_of(want, have)) == []
    user(have, "eva@ok-skogen.no")["custom_invoice_email"] = False
    (message,) = errors(plan_of(want, have))
    assert "(the live users; the file leaves users out)" in message


def test_the_right_is_granted_before_the_templates_are_written() -> None:
    want = desired_tenant()
    want.sections["email_templates"]["invoice/nb"].fields["subject"] = "Faktura nr {Number}"
    plan = plan_of(want, live_twin(without_holder(desired_tenant())))

    assert errors(plan) == []
    assert order(plan) == [
        ("users", "eva@ok-skogen.no", "update"),
        ("email_templates", "invoice/nb", "update"),
    ]
