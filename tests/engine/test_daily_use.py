"""Issue 22 in the engine: counters are floors (plan never lowers one; raising it is a
change), the two invoicing switches and who administers users are plain fields the plan
changes, and templates in any language need no other first."""

from __future__ import annotations

from t4o_reconcile.engine import sections
from t4o_reconcile.engine.diff import floor_met, make_plan
from t4o_reconcile.engine.plan import Action, Plan
from t4o_reconcile.engine.snapshot import Item, TenantSnapshot

from .builders import desired_tenant, live_twin, snapshot


def plan_of(want: TenantSnapshot, have: TenantSnapshot | None) -> Plan:
    live = snapshot(have) if have is not None else snapshot()
    return make_plan(snapshot(want), live, target="test")


def invoicing_actions(plan: Plan) -> list[Action]:
    return [a for t in plan.tenants for a in t.actions if a.section == "invoicing"]


def errors(plan: Plan) -> list[str]:
    return [e.message for t in plan.tenants for e in t.errors]


def test_the_registry_declares_the_counters() -> None:
    assert sections.Invoicing.floors == ("next_invoice_number", "next_customer_number")
    assert all(name in sections.Invoicing.fields for name in sections.Invoicing.floors)


def test_two_invoices_later_the_nightly_plan_is_empty() -> None:
    # The case: the file says 1001, two invoices moved live to 1003.
    want = desired_tenant()
    want.sections["invoicing"][""].fields["next_invoice_number"] = 1001
    have = live_twin(want)
    have.sections["invoicing"][""].fields.update(next_invoice_number=1003, last_invoice_number=1002)

    plan = plan_of(want, have)

    assert invoicing_actions(plan) == [] and errors(plan) == []


def test_raising_the_floor_above_live_is_a_change() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["invoicing"][""].fields.update(next_invoice_number=900, last_invoice_number=899)
    want.sections["invoicing"][""].fields["next_customer_number"] = 700
    have.sections["invoicing"][""].fields["next_customer_number"] = 650

    (action,) = invoicing_actions(plan_of(want, have))

    assert action.kind == "update"
    assert action.changed_paths == ("next_invoice_number", "next_customer_number")
    assert action.before == {"next_invoice_number": 900, "next_customer_number": 650}
    assert action.after == {"next_invoice_number": 1000, "next_customer_number": 700}


def test_a_counter_is_never_moved_back_but_other_fields_still_change() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["invoicing"][""].fields.update(next_invoice_number=5000, pdf_template="compact")

    (action,) = invoicing_actions(plan_of(want, have))

    assert action.changed_paths == ("pdf_template",)
    assert "next_invoice_number" not in (action.after or {})


def test_turning_off_customer_numbers_is_still_a_change() -> None:
    want = desired_tenant()
    have = live_twin(want)
    want.sections["invoicing"][""].fields["next_customer_number"] = None

    (action,) = invoicing_actions(plan_of(want, have))

    assert action.after == {"next_customer_number": None}


def test_floor_met_compares_only_numbers() -> None:
    floors = sections.Invoicing.floors
    assert floor_met(
        "next_invoice_number", floors, {"next_invoice_number": 5}, {"next_invoice_number": 5}
    )
    assert not floor_met(
        "next_invoice_number", floors, {"next_invoice_number": 6}, {"next_invoice_number": 5}
    )
    assert not floor_met("pdf_template", floors, {"pdf_template": 1}, {"pdf_template": 2})
    assert not floor_met("next_customer_number", floors, {"next_customer_number": 5}, {})
    assert not floor_met(
        "next_invoice_number", floors, {"next_invoice_number": True}, {"next_invoice_number": 3}
    )


def test_a_new_tenant_is_created_with_the_files_numbers() -> None:
    want = desired_tenant()
    plan = plan_of(want, None)
    (create,) = [a for t in plan.tenants for a in t.actions if a.section == "tenant"]
    assert create.after is not None
    assert create.after["invoicing"]["next_invoice_number"] == 1000


def test_distribution_is_its_own_switch() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["invoicing"][""].fields["distribution_enabled"] = True
    want.sections["invoicing"][""].fields["distribution_enabled"] = False

    (action,) = invoicing_actions(plan_of(want, have))

    assert action.changed_paths == ("distribution_enabled",)
    assert action.after == {"distribution_enabled": False}


def test_user_administration_is_a_field_of_the_tenant() -> None:
    assert "user_administration" in sections.Identity.fields
    want = desired_tenant()
    have = live_twin(want)
    have.sections["identity"][""].fields["user_administration"] = "admins"
    want.sections["identity"][""].fields["user_administration"] = "owner"

    plan = plan_of(want, have)
    (action,) = [a for t in plan.tenants for a in t.actions if a.section == "identity"]

    assert action.changed_paths == ("user_administration",)
    assert errors(plan) == []


def test_templates_only_in_other_languages_are_no_plan_error() -> None:
    want = desired_tenant()
    want.sections["invoicing"][""].fields["language"] = "nb"
    have = live_twin(want)
    want.sections["email_templates"] = {
        "invoice/en": Item(
            {
                "kind": "invoice",
                "language": "en",
                "name": "Engelske kunder",
                "subject": "S",
                "body": "B",
            }
        )
    }
    plan = plan_of(want, have)
    assert errors(plan) == []
    created = [
        a.key
        for t in plan.tenants
        for a in t.actions
        if a.section == "email_templates" and a.kind == "create"
    ]
    assert created == ["invoice/en"]
