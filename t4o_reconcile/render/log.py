"""The ``log`` command's output: a tenant's audit log (who changed what, when) and its
distribution log (who invoiced, to whom, how it went out), as text, Markdown or JSON.

Every value comes from the API and is untrusted: text goes through ``escape.terminal``
(no escape sequence reaches a terminal, no workflow command a CI log), Markdown through
``escape.markdown``, JSON through ``escape.json_dumps``; the records are already masked
(``api.history``): no secret, no full personal number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from t4o_reconcile.activity import LogView
from t4o_reconcile.api.history import AuditRecord, DistributionRecord, iso
from t4o_reconcile.render.escape import json_dumps, markdown, terminal

FORMAT_VERSION = 1
_SYMBOLS = {"create": "+", "update": "~", "delete": "-", "move": "→", "compare": "="}
_MISSING: Any = object()


def render_log(view: LogView, fmt: str) -> str:
    if fmt == "json":
        return render_log_json(view)
    if fmt == "markdown":
        return render_log_markdown(view)
    return render_log_text(view)


def log_document(view: LogView) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "tenant": view.tenant,
        "target": view.target,
        "since": None if view.since is None else iso(view.since),
        "audit_log": [r.to_dict() for r in view.audit] if "audit" in view.kinds else None,
        "distribution_log": (
            [r.to_dict() for r in view.distributions] if "distribution" in view.kinds else None
        ),
    }


def render_log_json(view: LogView) -> str:
    return json_dumps(log_document(view), sort_keys=True) + "\n"


# What changed ---------------------------------------------------------------------------


def changes(record: AuditRecord) -> list[tuple[str, str]]:
    """(path, text) of each field: ``before → after`` for a change, the value for a
    create or a delete; the version, which every write moves, is left out."""
    before = _flatten(record.before or {})
    after = _flatten(record.after or {})
    if record.before is None or record.after is None:
        fields = after if record.before is None else before
        return [(path, _value(value)) for path, value in fields.items()]
    lines = []
    for path in sorted(set(before) | set(after), key=_order(before, after)):
        old, new = before.get(path, _MISSING), after.get(path, _MISSING)
        if old != new:
            lines.append((path, f"{_value(old)} → {_value(new)}"))
    return lines


def _order(before: dict[str, Any], after: dict[str, Any]) -> Any:
    keys = list(before) + [k for k in after if k not in before]
    return keys.index


def _flatten(fields: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if not prefix and name in ("version", "also_changed"):
            continue
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{prefix}{name}."))
        else:
            out[prefix + str(name)] = value
    return out


def _value(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    if isinstance(value, str) and value.startswith("(sensitive"):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def who(actor: str, token: str | None) -> str:
    return actor + (f' (token "{token}")' if token else "")


def distribution_text(entry: DistributionRecord) -> str:
    how = "by e-mail" if entry.channel == "email" else f"by {entry.channel}"
    to = f" to {entry.recipient}" if entry.recipient else ""
    state = "sent" if entry.status == "sent" else "FAILED"
    return f"invoice {entry.invoice_number} to {entry.customer}: {state} {how}{to}"


def distribution_details(entry: DistributionRecord) -> list[str]:
    details = []
    if entry.channel == "email":
        template = entry.template or "none (the system's own text)"
        details.append(f"template {template}, language {entry.language}")
        if entry.sender:
            details.append(f"from {entry.sender}")
    if entry.pdf_template:
        details.append(f"PDF {entry.pdf_template}")
    return details


# Text ----------------------------------------------------------------------------------


safe = terminal  # untrusted text for a terminal or a CI log


def _since_text(view: LogView) -> str:
    return f" since {iso(view.since)}" if view.since else ""


def render_log_text(view: LogView) -> str:
    return "\n".join(_text_lines(view)) + "\n"


def _text_lines(view: LogView) -> Iterator[str]:
    yield f"Target: {safe(view.target)}"
    if "audit" in view.kinds:
        yield ""
        yield f"Audit log of {safe(view.tenant)}{_since_text(view)}: {len(view.audit)} change(s)"
        for record in view.audit:
            client = f" with {safe(record.client)}" if record.client else ""
            symbol = _SYMBOLS.get(record.action, "?")
            yield (
                f"  {iso(record.at)}  {symbol} {safe(record.resource)}"
                f"  by {safe(who(record.actor, record.token))}{client}"
            )
            for path, text in changes(record):
                yield f"      {safe(path)}: {safe(text)}"
    if "distribution" in view.kinds:
        yield ""
        count = len(view.distributions)
        failed = sum(1 for e in view.distributions if e.status != "sent")
        tail = f", {failed} failed" if failed else ""
        yield (
            f"Distribution log of {safe(view.tenant)}{_since_text(view)}: {count} invoice(s){tail}"
        )
        for entry in view.distributions:
            yield (
                f"  {iso(entry.at)}  {safe(distribution_text(entry))}"
                f"  issued by {safe(who(entry.issued_by, entry.token))}"
            )
            details = distribution_details(entry)
            if details:
                yield "      " + safe("; ".join(details))
            if entry.error:
                yield f"      error: {safe(entry.error)}"


# Markdown ------------------------------------------------------------------------------


def render_log_markdown(view: LogView) -> str:
    escape = markdown
    lines = [f"### Log of {escape(view.tenant)}{escape(_since_text(view))}", ""]
    lines.append(f"Target: {escape(view.target)}")
    if "audit" in view.kinds:
        lines += ["", f"#### Audit log: {len(view.audit)} change(s)", ""]
        if view.audit:
            lines += ["| time (UTC) | who | client | change | fields |", "|---|---|---|---|---|"]
        for record in view.audit:
            fields = "<br>".join(f"{escape(p)}: {escape(t)}" for p, t in changes(record))
            symbol = _SYMBOLS.get(record.action, "?")
            lines.append(
                f"| {iso(record.at)} | {escape(who(record.actor, record.token))}"
                f" | {escape(record.client or '')} | {escape(symbol)} {escape(record.resource)}"
                f" | {fields} |"
            )
    if "distribution" in view.kinds:
        count = len(view.distributions)
        lines += ["", f"#### Distribution log: {count} invoice(s)", ""]
        if view.distributions:
            lines += [
                "| time (UTC) | invoice | issued by | how | status |",
                "|---|---|---|---|---|",
            ]
        for entry in view.distributions:
            status = "sent" if entry.status == "sent" else f"FAILED: {entry.error or ''}"
            how = "; ".join([distribution_text(entry), *distribution_details(entry)])
            lines.append(
                f"| {iso(entry.at)} | {escape(entry.invoice_number)}"
                f" | {escape(who(entry.issued_by, entry.token))} | {escape(how)}"
                f" | {escape(status)} |"
            )
    return "\n".join(lines) + "\n"
