"""The log command's output: the audit log as field-level changes by who and when, the
distribution log with who invoiced and why a distribution failed; values from the API
are escaped for the terminal and Markdown, and stay masked in every format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from t4o_reconcile.activity import LogView
from t4o_reconcile.api.history import audit_record, distribution_record
from t4o_reconcile.render.log import changes, render_log

WHERE = "GET /v1/tenants/ok-skogen/audit-log"


def _view() -> LogView:
    created = audit_record(
        {
            "id": 1,
            "at": "2026-11-23T20:00:00.000Z",
            "actor": "nof",
            "token": "ci-apply",
            "client": "t4o-reconcile/0.1.0",
            "action": "create",
            "resource": "tenant",
            "before": None,
            "after": {
                "name": "OK",
                "contact": {"phone": "+4722"},
                "personal_number": "15037810034",
                "version": "1",
            },
        },
        WHERE,
    )
    renamed = audit_record(
        {
            "id": 2,
            "at": "2026-11-23T21:03:11.123Z",
            "actor": "nof",
            "token": "kari\x1b[31m",
            "client": "curl/8.5.0\x07",
            "action": "update",
            "resource": "tenant",
            "before": {"name": "OK", "contact": {"phone": "+4722"}, "version": "1"},
            "after": {"name": "OK <b>|", "contact": {"phone": "+4799"}, "version": "2"},
        },
        WHERE,
    )
    password = audit_record(
        {
            "id": 3,
            "at": "2026-11-23T21:04:00Z",
            "actor": "nof",
            "token": None,
            "client": None,
            "action": "update",
            "resource": "email_account",
            "before": {"password": "(sensitive)"},
            "after": {"password": "s3cret"},
        },
        WHERE,
    )
    sent = distribution_record(
        {
            "id": 1,
            "at": "2026-11-23T21:05:00Z",
            "invoice_number": 1001,
            "issued_by": "nof",
            "token": "kari",
            "channel": "email",
            "customer": "Ola Kunde",
            "recipient": "ola@kunde.no",
            "language": "en",
            "template": "invoice/en",
            "pdf_template": "detailed",
            "sender": "faktura@ok-skogen.no",
            "status": "sent",
            "error": None,
        },
        WHERE,
    )
    failed = distribution_record(
        {
            "id": 2,
            "at": "2026-11-23T21:06:00Z",
            "invoice_number": 1002,
            "issued_by": "nof/ok",
            "token": None,
            "channel": "email",
            "customer": "X",
            "recipient": "x@y.invalid",
            "language": "nb",
            "template": None,
            "pdf_template": "standard",
            "sender": "noreply@invoice.t4o.example",
            "status": "failed",
            "error": "550 5.1.1 <x@y.invalid>: recipient unknown\n\x1b[2J",
        },
        WHERE,
    )
    return LogView(
        tenant="ok-skogen",
        target="https://api.test (token …abcd)",
        since=datetime(2026, 11, 23, 20, 0, tzinfo=UTC),
        kinds=("audit", "distribution"),
        audit=[created, renamed, password],
        distributions=[sent, failed],
    )


def test_text_shows_who_changed_what_when_and_each_invoice_distributed() -> None:
    text = render_log(_view(), "text")
    assert text.splitlines()[:3] == [
        "Target: https://api.test (token …abcd)",
        "",
        "Audit log of ok-skogen since 2026-11-23T20:00:00Z: 3 change(s)",
    ]
    assert (
        '  2026-11-23T21:03:11Z  ~ tenant  by nof (token "kari\\u001b[31m") with curl/8.5.0\\u0007'
        in text
    )
    assert '      name: "OK" → "OK <b>|"' in text
    assert '      contact.phone: "+4722" → "+4799"' in text
    assert "version" not in text
    assert "  2026-11-23T21:04:00Z  ~ email_account  by nof\n" in text  # no token, no client
    assert "s3cret" not in text
    assert "      personal_number: (sensitive …34)" in text and "15037810034" not in text
    assert (
        "Distribution log of ok-skogen since 2026-11-23T20:00:00Z: 2 invoice(s), 1 failed" in text
    )
    assert (
        "  2026-11-23T21:05:00Z  invoice 1001 to Ola Kunde: sent by e-mail to ola@kunde.no"
        '  issued by nof (token "kari")' in text
    )
    assert "      template invoice/en, language en; from faktura@ok-skogen.no; PDF detailed" in text
    assert "template none (the system's own text), language nb" in text
    assert "      error: 550 5.1.1 <x@y.invalid>: recipient unknown\\u000a\\u001b[2J" in text
    assert "\x1b" not in text and "\x07" not in text


def test_markdown_escapes_what_the_api_sent() -> None:
    text = render_log(_view(), "markdown")
    assert text.startswith("### Log of ok-skogen since 2026-11-23T20:00:00Z\n")
    assert "| time (UTC) | who | client | change | fields |" in text
    assert "OK &#60;b&#62;&#124;" in text  # no tag, no extra table cell
    assert "\x1b" not in text and "15037810034" not in text and "s3cret" not in text
    failed = next(line for line in text.splitlines() if "| 1002 |" in line)
    assert "FAILED: 550 5.1.1 &#60;x&#64;y.invalid&#62;: recipient unknown" in failed


def test_json_is_the_masked_records() -> None:
    document = json.loads(render_log(_view(), "json"))
    assert document["format_version"] == 1
    assert document["since"] == "2026-11-23T20:00:00Z"
    assert [e["id"] for e in document["audit_log"]] == [1, 2, 3]
    assert document["audit_log"][2]["after"] == {"password": "(sensitive)"}
    assert document["distribution_log"][1]["status"] == "failed"
    assert "15037810034" not in json.dumps(document) and "s3cret" not in json.dumps(document)


def test_one_log_only() -> None:
    view = _view()
    view.kinds = ("distribution",)
    assert "Audit log" not in render_log(view, "text")
    assert json.loads(render_log(view, "json"))["audit_log"] is None


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, [("b", "(absent) → 2")]),
        ({"a": {"x": 1}}, {"a": None}, [("a.x", "1 → (absent)"), ("a", "(absent) → null")]),
        ({"a": 1, "version": "1"}, {"a": 1, "version": "2"}, []),
    ],
)
def test_changes_are_field_level(
    before: dict[str, Any], after: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    record = audit_record(
        {
            "id": 1,
            "at": "2026-11-23T21:00:00Z",
            "actor": "nof",
            "action": "update",
            "resource": "tenant",
            "before": before,
            "after": after,
        },
        WHERE,
    )
    assert changes(record) == expected
