"""The sandbox's side of issue 11, items 11 and 12: templates by language (no fallback
rule since issue 22), and the names templates and settings may use come
from the API's own lists (GET /v1/vocabulary)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.catalog import PRODUCT, PRODUCT_ONLY_MERGE_FIELDS
from t4o_reconcile.vocabulary import BUILT_IN, Vocabulary

from .helpers import ORGNR_B, Api, problem_type, tenant_body

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SE_ADDRESS = {"street": "Stockby 1", "postal_code": "181 62", "city": "Lidingö", "country": "SE"}


def template(kind: str, language: str, subject: str = "{Number}", body: str = "Hei") -> Any:
    return {"kind": kind, "language": language, "name": "T", "subject": subject, "body": body}


def templates_of(api: Api, slug: str) -> list[str]:
    page = api.get(f"/v1/tenants/{slug}/email-templates").json()["items"]
    return sorted(f"{t['kind']}/{t['language']}" for t in page)


# -- item 11: templates by language ---------------------------------------------------


def test_a_new_tenant_gets_its_countrys_language_unless_the_create_gives_one(api: Api) -> None:
    assert (
        api.create("/v1/tenants", tenant_body("no-club", organization_number=ORGNR_B)).status_code
        == 201
    )
    assert api.get("/v1/tenants/no-club/invoicing").json()["language"] == "nb"
    swedish = tenant_body("se-club", organization_number="802401-2349", address=SE_ADDRESS)
    assert api.create("/v1/tenants", swedish).status_code == 201
    assert api.get("/v1/tenants/se-club/invoicing").json()["language"] == "sv"
    given = tenant_body(
        "nn-club",
        organization_number="987654325",
        invoicing={"next_invoice_number": 1, "language": "nn"},
    )
    assert api.create("/v1/tenants", given).status_code == 201
    assert api.get("/v1/tenants/nn-club/invoicing").json()["language"] == "nn"


def test_a_norwegian_client_may_have_only_an_english_template(api: Api, tenant: str) -> None:
    # Issue 22, item 3 (manual 004's worked example): no template in the tenant's
    # language is needed first, and none is kept last.
    path = f"/v1/tenants/{tenant}/email-templates"
    assert api.create(path, template("invoice", "en")).status_code == 201
    assert templates_of(api, tenant) == ["invoice/en"]
    assert api.create(path, template("order", "nb")).status_code == 201
    assert api.create(path, template("order", "sv")).status_code == 201
    assert api.delete(f"{path}/order/nb").status_code == 204
    assert templates_of(api, tenant) == ["invoice/en", "order/sv"]


def test_the_tenants_language_changes_whatever_templates_it_has(api: Api, tenant: str) -> None:
    path = f"/v1/tenants/{tenant}/email-templates"
    assert api.create(path, template("invoice", "nb")).status_code == 201
    changed = api.patch(f"/v1/tenants/{tenant}/invoicing", {"language": "en"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "en"


def test_a_tenant_without_templates_changes_its_language_freely(api: Api, tenant: str) -> None:
    changed = api.patch(f"/v1/tenants/{tenant}/invoicing", {"language": "sv"})
    assert changed.status_code == 200, changed.text


# -- item 12: the vocabulary from the API -----------------------------------------------


def test_the_vocabulary_lists_merge_fields_languages_and_pdf_templates(api: Api) -> None:
    answer = api.get("/v1/vocabulary")
    assert answer.status_code == 200
    lists = answer.json()
    assert set(lists) == {"merge_fields", "languages", "pdf_templates"}
    assert lists["merge_fields"] == sorted(PRODUCT.merge_fields)
    # The manuals' three, and more than the built-in list: the product's own.
    assert {"DueDate", "Number", "Supplier.Name"} <= set(lists["merge_fields"])
    assert set(lists["merge_fields"]) > BUILT_IN.merge_fields
    assert set(lists["languages"]) >= BUILT_IN.languages
    assert set(lists["pdf_templates"]) >= BUILT_IN.pdf_templates


def test_the_vocabulary_needs_a_token(client: TestClient) -> None:
    assert client.get("/v1/vocabulary").status_code == 401


def test_a_merge_field_only_the_product_knows_is_accepted(api: Api, tenant: str) -> None:
    field = PRODUCT_ONLY_MERGE_FIELDS[0]
    assert field not in BUILT_IN.merge_fields
    path = f"/v1/tenants/{tenant}/email-templates"
    created = api.create(path, template("invoice", "nb", body=f"Ref {{{field}}}"))
    assert created.status_code == 201, created.text
    refused = api.create(path, template("order", "nb", body="{Bogus}"))
    assert refused.status_code == 422
    assert problem_type(refused) == "unknown-merge-field"
    assert "unknown merge field {Bogus}" in refused.json()["detail"]


def test_languages_and_pdf_templates_come_from_the_vocabulary(api: Api, tenant: str) -> None:
    invoicing = f"/v1/tenants/{tenant}/invoicing"
    assert api.patch(invoicing, {"pdf_template": "letterhead"}).status_code == 200
    refused = api.patch(invoicing, {"pdf_template": "fancy"})
    assert problem_type(refused) == "unknown-pdf-template"
    assert problem_type(api.patch(invoicing, {"language": "xx"})) == "unknown-language"
    path = f"/v1/tenants/{tenant}/email-templates"
    assert problem_type(api.create(path, template("invoice", "xx"))) == "unknown-language"
    bad = tenant_body(
        "bad-pdf",
        organization_number=ORGNR_B,
        invoicing={"next_invoice_number": 1, "pdf_template": "fancy"},
    )
    assert problem_type(api.create("/v1/tenants", bad)) == "unknown-pdf-template"


def test_a_sandbox_with_a_shorter_list_refuses_a_built_in_field(tmp_path: Path) -> None:
    shorter = Vocabulary(
        BUILT_IN.merge_fields - {"KID"}, BUILT_IN.languages, BUILT_IN.pdf_templates
    )
    app = create_app(tmp_path / "short.db", vocabulary=shorter)
    try:
        with TestClient(app) as client:
            api = Api(client, app.state.store.create_token(partner="nof"))
            assert "KID" not in api.get("/v1/vocabulary").json()["merge_fields"]
            assert api.create("/v1/tenants", tenant_body("club")).status_code == 201
            refused = api.create(
                "/v1/tenants/club/email-templates", template("invoice", "nb", body="KID {KID}")
            )
            assert problem_type(refused) == "unknown-merge-field"
    finally:
        app.state.store.close()
