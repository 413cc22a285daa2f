"""JSON Schemas of the YAML files, generated from the models, for editors and CI.

Each tenant file starts with ``# yaml-language-server: $schema=…/tenant.schema.json`` so
that an editor completes keys and flags mistakes before ``validate`` runs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from t4o_reconcile.config.tenant_models import AgreementsFile, Tenant
from t4o_reconcile.engine import sections
from t4o_reconcile.vocabulary import LANGUAGES, MERGE_FIELDS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_MERGE_FIELD_LIST = ", ".join("{" + name + "}" for name in MERGE_FIELDS)

# Documentation of fields, by (definition, property); the models' docstrings document
# the definitions themselves. "" is the top-level object.
FIELD_DOCS: dict[tuple[str, str], str] = {
    ("", "slug"): "Immutable id of the tenant; the file must be named <slug>.yaml.",
    ("", "name"): "The tenant's display name.",
    ("", "organization_number"): (
        "Organisation number of the tenant's country (address.country, NO when left out):"
        " Norwegian organisasjonsnummer (9 digits, MOD11) or Swedish organisationsnummer"
        " (10 digits, Luhn)."
    ),
    ("", "personal_number"): (
        "For an association without an organisation number: the personal number of the"
        " person responsible (Norwegian fødselsnummer; Swedish personnummer or"
        " samordningsnummer). Personal data: give it as a secret reference"
        " {secret: env:T4O_SECRET_...}. Exactly one of organization_number and"
        " personal_number."
    ),
    ("", "contact"): "Contact e-mail and phone. Left out: unmanaged.",
    ("", "address"): "Postal address. Left out: unmanaged.",
    **{("", s.name): s.description for s in sections.each() if s.description},
    ("", "safety"): "How much plan may delete before apply needs --allow-deletes.",
    ("SecretRef", "secret"): (
        "env:NAME reads the environment variable NAME; file:PATH reads the file PATH"
        " (relative to the tenant file). Never the secret itself."
    ),
    ("Connection", "token"): "The API token, as a reference: {secret: env:NAME}.",
    ("EmailAccount", "password"): "The SMTP password, as a reference: {secret: env:NAME}.",
    ("BankAccount", "account_number"): "Norwegian account number (11 digits, MOD11).",
    ("BankAccount", "iban"): "IBAN (mod-97); a Norwegian IBAN must hold the account number.",
    ("BankAccount", "swift"): "BIC/SWIFT code, 8 or 11 characters.",
    ("BankAccount", "invoice_account"): "Shown on invoices. Exactly one account.",
    ("BankAccount", "default_for_payments"): "Used for payments. Exactly one account.",
    ("Invoicing", "enabled"): "Invoice distribution; off: users cannot invoice.",
    ("Invoicing", "next_invoice_number"): "Must exceed the last issued invoice number.",
    ("Invoicing", "next_customer_number"): "Must exceed the last customer number.",
    ("User", "programs"): "Rights per program; a program left out is none.",
    ("EmailTemplate", "language"): "ISO 639-1 language code.",
    ("EmailTemplate", "subject"): f"Subject line. Merge fields: {_MERGE_FIELD_LIST}.",
    ("EmailTemplate", "body"): f"Message text. Merge fields: {_MERGE_FIELD_LIST}.",
    ("Agreement", "name"): "The agreement's name: its key, used by tenant files.",
    ("Agreement", "customer_number"): (
        "The customer's number in the partner's ledger; optional (needed when licences are"
        " invoiced from the system)."
    ),
}


def tenant_schema() -> dict[str, Any]:
    schema = Tenant.model_json_schema()
    _document(schema)
    schema["$defs"]["EmailTemplate"]["properties"]["language"]["enum"] = list(LANGUAGES)
    return {
        "$schema": DRAFT,
        "$id": "https://t4o-reconcile.dev/schemas/tenant.schema.json",
        **schema,
        "title": "t4o-reconcile tenant file",
    }


def defaults_schema() -> dict[str, Any]:
    """_defaults.yaml: any part of a tenant file except slug; nothing is required there."""
    schema = copy.deepcopy(tenant_schema())
    schema["$id"] = "https://t4o-reconcile.dev/schemas/defaults.schema.json"
    schema["title"] = "t4o-reconcile _defaults.yaml"
    schema["description"] = (
        "Values every tenant file inherits: mappings merge key by key (the tenant wins),"
        " lists are replaced whole."
    )
    del schema["properties"]["slug"]
    del schema["properties"]["lifecycle"]
    _drop_required(schema)
    return schema


def agreements_schema() -> dict[str, Any]:
    schema = AgreementsFile.model_json_schema()
    _document(schema)
    return {
        "$schema": DRAFT,
        "$id": "https://t4o-reconcile.dev/schemas/agreements.schema.json",
        **schema,
        "title": "t4o-reconcile _agreements.yaml",
        "description": "The customer agreements (kundeavtaler) tenants can belong to.",
    }


def write_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in (
        ("tenant", tenant_schema()),
        ("defaults", defaults_schema()),
        ("agreements", agreements_schema()),
    ):
        path = out_dir / f"{name}.schema.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _document(schema: dict[str, Any]) -> None:
    objects = {"": schema, **schema.get("$defs", {})}
    for (definition, prop), text in FIELD_DOCS.items():
        target = objects.get(definition)
        if target is not None and prop in target.get("properties", {}):
            target["properties"][prop]["description"] = text


def _drop_required(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("required", None)
        for value in node.values():
            _drop_required(value)
    elif isinstance(node, list):
        for value in node:
            _drop_required(value)
