"""The machine-readable plan."""

from __future__ import annotations

import json

from t4o_reconcile.render.json import render_json

from .plans import json_document, mixed_plan


def test_the_document_is_versioned_with_summary_counts() -> None:
    plan = mixed_plan()
    doc = json.loads(render_json(plan))
    assert doc["format_version"] == 1
    assert doc["target"] == plan.target
    assert doc["summary"] == {
        **plan.counts(),
        "errors": 1,
        "unmanaged": 1,
        "leaving": 0,
        "kept_outside": 0,
    }
    assert doc["unmanaged_tenants"] == ["ok-stray"]
    assert doc["agreement_users"] == [
        {"agreement": "NOF", "before": 0, "after": 3, "pending_before": 0, "pending_after": 0}
    ]


def test_each_action_carries_the_documented_fields() -> None:
    doc = json_document(mixed_plan())
    identity = next(
        a for t in doc["tenants"] for a in t["actions"] if a["address"] == "ok-skogen.identity"
    )
    assert set(identity) >= {
        "address",
        "action",
        "before",
        "after",
        "changed_paths",
        "sensitive_paths",
        "reason",
        "version",
    }
    assert identity["action"] == "update"
    assert identity["changed_paths"] == ["contact.phone"]
    assert identity["version"] == "1"


def test_secrets_are_sensitive_markers() -> None:
    doc = json_document(mixed_plan())
    token = next(
        a
        for t in doc["tenants"]
        for a in t["actions"]
        if a["key"] == "eventor-norway" and a["action"] == "update"
    )
    assert token["after"] == {"token": "(sensitive)"}
    assert token["sensitive_paths"] == ["token"]


def test_output_is_stable() -> None:
    plan, again = mixed_plan(), mixed_plan()
    again.plan_id = plan.plan_id
    text = render_json(plan)
    assert text == render_json(again)
    assert text == json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False) + "\n"


def test_the_streamed_document_is_the_whole_documents_bytes() -> None:
    """Written a tenant at a time, the JSON is byte for byte what one ``json.dumps`` of
    the whole document gave before streaming, for any shape of plan."""
    from t4o_reconcile.engine.plan import Plan
    from t4o_reconcile.render.json import iter_json_plan

    for plan in (mixed_plan(), Plan(target="empty")):
        whole = json.dumps(json_document(plan), sort_keys=True, ensure_ascii=False) + "\n"
        pieces = list(iter_json_plan(plan))
        assert "".join(pieces) == whole
        assert render_json(plan) == whole
    assert len(list(iter_json_plan(mixed_plan()))) > len(mixed_plan().tenants)
