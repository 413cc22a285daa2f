"""The published JSON Schema of the plan document (``plan --format json``) and of the lines
of the saved plan file (``plan --out``, JSON Lines: ``$defs/plan_file_header``, then a
``$defs/tenant`` a line, then optionally ``$defs/plan_file_seal``; see
``engine.planfile``). ``plan_file_line_schema`` gives the schema of one kind of line.

``t4o-reconcile schema`` writes it to ``schemas/plan.schema.json``; a test checks that the
checked-in file is fresh and that every plan the tests produce validates against it.
"""

from __future__ import annotations

from typing import Any

from t4o_reconcile.engine.document import FORMAT_VERSION

_STR_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_VERSIONS: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}

_ACTION: dict[str, Any] = {
    "type": "object",
    "description": "One write against one resource, in the order apply runs it.",
    "required": [
        "address",
        "tenant",
        "section",
        "key",
        "action",
        "before",
        "after",
        "changed_paths",
        "sensitive_paths",
        "reason",
        "version",
        "drift",
    ],
    "additionalProperties": False,
    "properties": {
        "address": {"type": "string", "description": 'e.g. ok-skogen.users["a@b.no"]'},
        "tenant": _STR_OR_NULL,
        "section": {"type": "string"},
        "key": {"type": "string"},
        "action": {"enum": ["create", "update", "delete", "move"]},
        "before": {"type": ["object", "null"], "description": "The live fields (null: none)"},
        "after": {"type": ["object", "null"], "description": "The desired fields"},
        "changed_paths": _STRINGS,
        "sensitive_paths": {
            **_STRINGS,
            "description": "Fields shown as (sensitive); their values are never in a plan",
        },
        "reason": {"type": "string"},
        "version": {**_STR_OR_NULL, "description": "The live version, sent as If-Match"},
        "written": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The file's own form of after values it normalises, by dotted"
            " path (e.g. contact.phone: +47 21 00 00 00): shown, never compared or sent."
            " Absent: every value as it is.",
        },
        "answered": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The API's own form of before values it answered otherwise than"
            " their normal form, by dotted path: shown, never compared. Absent: as they are.",
        },
        "drift": {
            "description": "Who made the live change this action undoes, from the API's audit"
            " log: a change made outside t4o-reconcile (null: none known)",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["at", "actor", "token", "client", "change", "entry"],
                    "additionalProperties": False,
                    "properties": {
                        "at": {"type": "string", "description": "UTC, e.g. 2026-11-23T21:03:11Z"},
                        "actor": {"type": "string", "description": "partner or partner/tenant"},
                        "token": {
                            **_STR_OR_NULL,
                            "description": "The name of the token that made it",
                        },
                        "client": {**_STR_OR_NULL, "description": "Its User-Agent"},
                        "change": {"enum": ["create", "update", "delete", "move"]},
                        "entry": {"type": "integer", "description": "The audit entry's id"},
                    },
                },
            ],
        },
    },
}

_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["address", "message", "source"],
    "additionalProperties": False,
    "properties": {
        "address": {"type": "string"},
        "message": {"type": "string"},
        "source": {**_STR_OR_NULL, "description": "file:line:column where known"},
    },
}

_TENANT: dict[str, Any] = {
    "type": "object",
    "required": ["slug", "source", "actions", "errors", "deletes_need_flag"],
    "additionalProperties": False,
    "properties": {
        "slug": {"type": "string"},
        "source": _STR_OR_NULL,
        "actions": {"type": "array", "items": {"$ref": "#/$defs/action"}},
        "errors": {"type": "array", "items": {"$ref": "#/$defs/error"}},
        "deletes_need_flag": {
            **_STRINGS,
            "description": "Why this tenant's deletes need approval; empty when they do not",
        },
        "versions": {**_VERSIONS, "description": "Plan file only: address -> live version"},
        "uncompared": {
            **_STRINGS,
            "description": "Plan file only: this tenant's secrets not compared",
        },
    },
}


def plan_schema() -> dict[str, Any]:
    """What ``schemas/plan.schema.json`` holds: the document and the plan file's lines."""
    return plan_file_schema()


def _document_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://t4o-reconcile.dev/schemas/plan.schema.json",
        "title": "t4o-reconcile plan",
        "description": "plan --format json. The saved plan file of plan --out is JSON Lines:"
        " a line of $defs/plan_file_header, a line of $defs/tenant per tenant, then"
        " optionally a line of $defs/plan_file_seal.",
        "type": "object",
        "required": [
            "format_version",
            "plan_id",
            "target",
            "endpoint",
            "identity",
            "commit",
            "deletes_approved",
            "targeted",
            "summary",
            "has_changes",
            "has_errors",
            "has_drift",
            "partial",
            "uncompared_secrets",
            "agreement_actions",
            "tenants",
            "errors",
            "unmanaged_tenants",
            "leaving_management",
            "kept_outside",
            "agreement_users",
        ],
        "additionalProperties": False,
        "properties": {
            "format_version": {"const": FORMAT_VERSION},
            "plan_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "target": {"type": "string", "description": "As the first line of plan shows it"},
            "endpoint": {"type": "string", "description": "The API URL, or the embedded sandbox"},
            "identity": {**_STR_OR_NULL, "description": "partner or partner/tenant (whoami)"},
            "commit": {**_STR_OR_NULL, "description": "The git commit of the configuration"},
            "deletes_approved": {"type": "boolean", "description": "plan --allow-deletes"},
            "targeted": {
                "description": "null for a plan of every tenant",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["tenants", "changed_since", "skipped"],
                        "additionalProperties": False,
                        "properties": {
                            "tenants": {"oneOf": [{"type": "null"}, _STRINGS]},
                            "changed_since": _STR_OR_NULL,
                            "skipped": _COUNT,
                        },
                    },
                ],
            },
            "summary": {
                "type": "object",
                "required": [
                    "create",
                    "update",
                    "delete",
                    "move",
                    "errors",
                    "unmanaged",
                    "leaving",
                    "kept_outside",
                ],
                "additionalProperties": False,
                "properties": {
                    name: _COUNT
                    for name in (
                        "create",
                        "update",
                        "delete",
                        "move",
                        "errors",
                        "unmanaged",
                        "leaving",
                        "kept_outside",
                    )
                },
            },
            "has_changes": {"type": "boolean"},
            "has_errors": {"type": "boolean"},
            "has_drift": {
                "type": "boolean",
                "description": "Changes, or live tenants that have no file and are not on"
                " the operator's list of tenants kept outside Git",
            },
            "partial": {
                "type": "boolean",
                "description": "Made without secret values (plan --without-secrets): apply"
                " refuses it as a saved plan",
            },
            "uncompared_secrets": {
                **_STRINGS,
                "description": "Each secret not compared: address.field (reference)",
            },
            "agreement_actions": {"type": "array", "items": {"$ref": "#/$defs/action"}},
            "tenants": {"type": "array", "items": {"$ref": "#/$defs/tenant"}},
            "errors": {"type": "array", "items": {"$ref": "#/$defs/error"}},
            "unmanaged_tenants": {
                **_STRINGS,
                "description": "Live tenants with no file, not on the operator's list",
            },
            "leaving_management": {
                **_STRINGS,
                "description": "Live tenants whose files the change deleted",
            },
            "kept_outside": {
                **_STRINGS,
                "description": "Live tenants with no file on the operator's list of tenants"
                " kept outside Git (--unmanaged-list): never deleted, no drift",
            },
            "agreement_users": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["agreement", "before", "after"],
                    "additionalProperties": False,
                    "description": "Charged accesses per agreement (a user's program rights"
                    " not none, each once per user per agreement); pending apart",
                    "properties": {
                        "agreement": {"type": "string"},
                        "before": _COUNT,
                        "after": _COUNT,
                        "pending_before": _COUNT,
                        "pending_after": _COUNT,
                        "partial": {
                            "const": True,
                            "description": "A scoped plan: the figures count the planned"
                            " tenants' accesses only, not the agreement's other tenants",
                        },
                    },
                },
            },
        },
        "$defs": {"action": _ACTION, "error": _ERROR, "tenant": _TENANT},
    }


def plan_file_schema() -> dict[str, Any]:
    """The document schema with the plan file's own lines among its ``$defs``."""
    schema = _document_schema()
    properties = {k: v for k, v in schema["properties"].items() if k != "tenants"}
    header = {
        "type": "object",
        "description": "Line 1 of a plan file: the plan without its tenants, and the file's"
        " own fields",
        "required": [
            *(name for name in schema["required"] if name != "tenants"),
            "kind",
            "tool_version",
            "tenant_count",
            "config_digest",
            "reference_digest",
            "agreement_versions",
            "only",
            "scope",
            "delete_unmanaged",
        ],
        "additionalProperties": False,
        "properties": {
            **properties,
            "format_version": {"const": 3},
            "kind": {"const": "t4o-reconcile-plan"},
            "tool_version": {
                "type": "string",
                "description": "The t4o-reconcile that made it; apply --plan runs only its own",
            },
            "tenant_count": {**_COUNT, "description": "How many tenant lines follow"},
            "config_digest": {"type": "string"},
            "reference_digest": {"type": "string"},
            "agreement_versions": _VERSIONS,
            "only": {"oneOf": [{"type": "null"}, _STRINGS]},
            "scope": {
                "type": "object",
                "description": "What the plan covered; the merge job compares within it",
                "required": ["scoped", "base", "tenants", "leaving", "agreements"],
                "additionalProperties": False,
                "properties": {
                    "scoped": {"type": "boolean"},
                    "base": {
                        "oneOf": [{"type": "null"}, {"type": "string"}],
                        "description": "The commit the change was measured from",
                    },
                    "tenants": {
                        "oneOf": [{"type": "null"}, _STRINGS],
                        "description": "The tenants planned, with those without changes",
                    },
                    "leaving": _STRINGS,
                    "agreements": {
                        "type": "boolean",
                        "description": "The agreements planned whole",
                    },
                },
            },
            "delete_unmanaged": {"type": "boolean"},
        },
    }
    seal = {
        "type": "object",
        "description": "The last line of a sealed plan file: HMAC-SHA256, keyed with the plan"
        " key, of every byte before this line",
        "required": ["seal"],
        "additionalProperties": False,
        "properties": {
            "seal": {
                "type": "object",
                "required": ["alg", "mac"],
                "additionalProperties": False,
                "properties": {
                    "alg": {"const": "hmac-sha256"},
                    "mac": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                },
            }
        },
    }
    schema["$defs"] = {**schema["$defs"], "plan_file_header": header, "plan_file_seal": seal}
    return schema


def plan_file_line_schema(line: str) -> dict[str, Any]:
    """The schema of one line of a plan file: ``plan_file_header``, ``tenant`` or
    ``plan_file_seal``."""
    schema = plan_file_schema()
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{line}"}
