"""Issue 11, items 11 and 12, as plan checks: the tenant's language against the
templates (the live side decides what the file leaves unmanaged), the names against the
API's live lists, and the order apply makes template and language changes in."""

from __future__ import annotations

from typing import Any

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import Item, Snapshot, TenantSnapshot
from t4o_reconcile.vocabulary import BUILT_IN, Vocabulary
from tests.engine.builders import flatten

from .builders import desired_tenant, live_twin, snapshot


def template(kind: str, language: str, body: str = "Hei {Customer.Name}") -> Item:
    return Item(
        {"kind": kind, "language": language, "name": "T", "subject": "{Number}", "body": body}
    )


def with_templates(tenant: TenantSnapshot, *keys: str, language: str | None = None) -> None:
    tenant.sections["email_templates"] = {key: template(*key.split("/")) for key in keys}
    if language is not None:
        tenant.sections["invoicing"][""].fields["language"] = language


def live_of(want: TenantSnapshot, language: str = "nb") -> TenantSnapshot:
    have = live_twin(want)
    have.sections["invoicing"][""].fields["language"] = language
    return have


def plan_of(want: TenantSnapshot, have: TenantSnapshot | None, **live: Any) -> Plan:
    return make_plan(
        snapshot(want), Snapshot(tenants={have.slug: have} if have else {}, **live), target="t"
    )


def errors(plan: Plan) -> list[tuple[str, str]]:
    return [(e.address, e.message) for t in plan.tenants for e in t.errors]


# -- item 11 ------------------------------------------------------------------------------


def test_a_new_language_needs_no_template_in_it() -> None:
    # Issue 22, item 3: no fallback rule; a customer whose language has no template gets
    # the system's text, so a language may change whatever templates the tenant has.
    have = desired_tenant()
    with_templates(have, "invoice/nb", "invoice/en")
    have = live_of(have, "nb")
    want = desired_tenant()
    del want.sections["email_templates"]  # unmanaged: the live ones stay
    want.sections["invoicing"][""].fields["language"] = "sv"

    assert errors(plan_of(want, have)) == []


def test_templates_need_none_in_the_live_language() -> None:
    have = live_of(desired_tenant(), "nn")
    want = desired_tenant()  # its one template is invoice/nb; no invoicing.language
    assert errors(plan_of(want, have)) == []


def test_a_new_norwegian_tenant_may_have_one_english_template() -> None:
    # Manual 004's worked example: "en mal for engelsktalende kunder".
    want = desired_tenant()
    with_templates(want, "invoice/en")
    plan = plan_of(want, None)
    assert errors(plan) == []
    created = [a.key for t in plan.tenants for a in t.actions if a.section == "email_templates"]
    assert created == ["invoice/en"]


def test_a_language_switch_is_ordered_so_every_step_keeps_a_fallback() -> None:
    # Live: nb, with templates of the kinds order and invoice.
    live_tenant = desired_tenant()
    with_templates(live_tenant, "order/nb", "order/en", "invoice/nb", "invoice/sv")
    have = live_of(live_tenant, "nb")
    # Wanted: en; order keeps en and gains sv, drops nb; invoice is dropped whole; a new
    # kind, reminder, comes in two languages.
    want = desired_tenant()
    with_templates(want, "order/en", "order/sv", "reminder/sv", "reminder/en", language="en")

    plan = plan_of(want, have)
    order = [
        (a.section, a.kind, (a.after or a.before or {}).get("kind"), a.key)
        for a in flatten(plan)
        if a.section in ("email_templates", "invoicing")
    ]

    assert errors(plan) == []
    assert order == [
        # the dropped kind first: the other language, then the old main language's
        ("email_templates", "delete", "invoice", "invoice/sv"),
        ("email_templates", "delete", "invoice", "invoice/nb"),
        # a kind live has gets its templates before the switch
        ("email_templates", "create", "order", "order/sv"),
        ("invoicing", "update", None, ""),
        # a new kind after it, the tenant's language first
        ("email_templates", "create", "reminder", "reminder/en"),
        ("email_templates", "create", "reminder", "reminder/sv"),
        # the old language's template once it is no longer the fallback
        ("email_templates", "delete", "order", "order/nb"),
    ]


def test_a_new_kind_is_created_in_the_tenants_language_first() -> None:
    want = desired_tenant()
    with_templates(want, "order/de", "order/en", "order/nb")
    keys = [a.key for a in flatten(plan_of(want, live_of(desired_tenant())))]
    created = [k for k in keys if k.startswith("order/")]
    assert created[0] == "order/nb"


# -- item 12 ------------------------------------------------------------------------------

PRODUCT = Vocabulary(
    BUILT_IN.merge_fields | {"YourReference"},
    BUILT_IN.languages | {"pl"},
    BUILT_IN.pdf_templates | {"letterhead"},
)


def test_a_field_the_built_in_list_lacks_passes_when_the_api_knows_it() -> None:
    want = desired_tenant()
    want.sections["email_templates"]["invoice/nb"] = template("invoice", "nb", "{YourReference}")
    have = live_of(desired_tenant())

    assert errors(plan_of(want, have, vocabulary=PRODUCT)) == []
    ((where, message),) = errors(plan_of(want, have, vocabulary=BUILT_IN))
    assert where == 'ok-skogen.email_templates["invoice/nb"]'
    assert message.startswith("body: the API does not know the merge field {YourReference}")


def test_a_field_the_api_lacks_is_an_error_even_when_the_built_in_list_has_it() -> None:
    older = Vocabulary(
        BUILT_IN.merge_fields - {"DueDate"}, BUILT_IN.languages, BUILT_IN.pdf_templates
    )
    want = desired_tenant()  # its template uses {DueDate}
    ((_, message),) = errors(plan_of(want, live_of(desired_tenant()), vocabulary=older))
    assert "the API does not know the merge field {DueDate}" in message


def test_without_a_live_list_the_names_are_not_checked() -> None:
    want = desired_tenant()
    want.sections["email_templates"]["invoice/nb"] = template("invoice", "nb", "{Whatever}")
    assert errors(plan_of(want, live_of(desired_tenant()), vocabulary=None)) == []


def test_languages_and_pdf_templates_against_the_live_list() -> None:
    want = desired_tenant()
    fields = want.sections["invoicing"][""].fields
    fields.update(pdf_template="letterhead", language="pl")
    with_templates(want, "invoice/pl")
    have = live_of(desired_tenant())

    assert errors(plan_of(want, have, vocabulary=PRODUCT)) == []
    found = [message for _, message in errors(plan_of(want, have, vocabulary=BUILT_IN))]
    assert found == [
        "pdf_template 'letterhead' is not one the API offers (compact, detailed, standard)",
        "language 'pl' is not one the API offers (da, de, en, fi, nb, nn, se, sv)",
        "language 'pl' is not one the API offers (da, de, en, fi, nb, nn, se, sv)",
    ]
