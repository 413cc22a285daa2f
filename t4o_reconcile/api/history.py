"""The API's logs of a tenant: the audit log (who changed what, when) and the distribution
log (who invoiced, to whom, how it went out).

Answers are untrusted: every entry is checked field by field and a malformed one ends in
one error naming the path and what was wrong. Before an entry leaves this module, every
secret in it is masked and a personal number cut to its last two digits, whatever the
API sent: nothing downstream (renderers, JSON output, plans) ever holds more.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from t4o_reconcile.api.client import ApiClient
from t4o_reconcile.engine import sections
from t4o_reconcile.errors import UnexpectedAnswer

SENSITIVE = "(sensitive)"
# Fields whose value is personal data wherever they appear in an entry.
_PERSONAL = frozenset({"personal_number"})
_ALREADY_MASKED = re.compile(r"^\(sensitive(, replaced| …[0-9]{2})?\)$")
_MAX_TEXT = 1_000  # the longest free text kept from an entry (a name, an error)
PAGE = 100


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change of the audit log, its values masked."""

    id: int
    at: datetime
    actor: str
    token: str | None
    client: str | None
    action: str
    resource: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "token": self.token,
            "client": self.client,
            "action": self.action,
            "resource": self.resource,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class DistributionRecord:
    """One issued invoice and how it was distributed."""

    id: int
    at: datetime
    invoice_number: int
    issued_by: str
    token: str | None
    channel: str
    customer: str
    recipient: str | None
    language: str
    template: str | None
    pdf_template: str | None
    sender: str | None
    status: str
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "invoice_number": self.invoice_number,
            "issued_by": self.issued_by,
            "token": self.token,
            "channel": self.channel,
            "customer": self.customer,
            "recipient": self.recipient,
            "language": self.language,
            "template": self.template,
            "pdf_template": self.pdf_template,
            "sender": self.sender,
            "status": self.status,
            "error": self.error,
        }


def iso(when: datetime) -> str:
    """UTC, seconds, ``Z``: how the logs and plans show a time."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Reading ------------------------------------------------------------------------------


async def audit_log(
    client: ApiClient, path: str, since: datetime | None = None
) -> list[AuditRecord]:
    """Every entry of the audit log at ``path`` (``/v1/tenants/{slug}/audit-log``),
    oldest first, at or after ``since``."""
    return [
        audit_record(raw, f"GET {path}")
        async for raw in client.paginate(path, _since_params(since), limit=PAGE)
    ]


async def newest_changes(client: ApiClient, path: str) -> AsyncGenerator[AuditRecord, None]:
    """The audit log at ``path`` newest first, one entry at a time: a reader stops as
    soon as it has found what it looks for."""
    async for raw in client.paginate(path, {"order": "desc"}, limit=PAGE):
        yield audit_record(raw, f"GET {path}?order=desc")


async def distribution_log(
    client: ApiClient, path: str, since: datetime | None = None
) -> list[DistributionRecord]:
    return [
        distribution_record(raw, f"GET {path}")
        async for raw in client.paginate(path, _since_params(since), limit=PAGE)
    ]


def _since_params(since: datetime | None) -> dict[str, str]:
    if since is None:
        return {}
    return {"since": since.astimezone(UTC).isoformat(timespec="milliseconds")}


# Checking -----------------------------------------------------------------------------


# "compare": a fingerprint comparison (which fields, never values), logged as any call.
ACTIONS = ("create", "update", "delete", "move", "compare")


def audit_record(raw: Any, where: str) -> AuditRecord:
    entry = _entry(raw, where)
    action = _text(entry, "action", where)
    if action not in ACTIONS:
        raise _bad(where, "action", f"expected one of {', '.join(ACTIONS)}, got {action!r}")
    return AuditRecord(
        id=_int(entry, "id", where),
        at=_time(entry, where),
        actor=_text(entry, "actor", where),
        token=_text(entry, "token", where, optional=True),
        client=_text(entry, "client", where, optional=True),
        action=action,
        resource=_text(entry, "resource", where),
        before=_fields(entry, "before", where),
        after=_fields(entry, "after", where),
    )


def distribution_record(raw: Any, where: str) -> DistributionRecord:
    entry = _entry(raw, where)
    status = _text(entry, "status", where)
    if status not in ("sent", "failed"):
        raise _bad(where, "status", f"expected 'sent' or 'failed', got {status!r}")
    return DistributionRecord(
        id=_int(entry, "id", where),
        at=_time(entry, where),
        invoice_number=_int(entry, "invoice_number", where),
        issued_by=_text(entry, "issued_by", where),
        token=_text(entry, "token", where, optional=True),
        channel=_text(entry, "channel", where),
        customer=_text(entry, "customer", where),
        recipient=_text(entry, "recipient", where, optional=True),
        language=_text(entry, "language", where),
        template=_text(entry, "template", where, optional=True),
        pdf_template=_text(entry, "pdf_template", where, optional=True),
        sender=_text(entry, "sender", where, optional=True),
        status=status,
        error=_text(entry, "error", where, optional=True),
    )


def _bad(where: str, field: str, what: str) -> UnexpectedAnswer:
    method, _, path = where.partition(" ")
    return UnexpectedAnswer(f"a log entry's {field}: {what}", method=method, path=path)


def _entry(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise _bad(where, "shape", f"expected an object, got {type(raw).__name__}")
    return raw


def _int(entry: Mapping[str, Any], field: str, where: str) -> int:
    value = entry.get(field)
    if type(value) is not int or value < 0:
        raise _bad(where, field, f"expected a whole number, got {_kind(value)}")
    return value


def _text(entry: Mapping[str, Any], field: str, where: str, *, optional: bool = False) -> Any:
    value = entry.get(field)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _bad(where, field, f"expected a string, got {_kind(value)}")
    return value[:_MAX_TEXT]


def _time(entry: Mapping[str, Any], where: str) -> datetime:
    value = entry.get("at")
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise _bad(where, "at", f"expected an ISO 8601 time, got {_kind(value)}")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _fields(entry: Mapping[str, Any], field: str, where: str) -> dict[str, Any] | None:
    value = entry.get(field)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _bad(where, field, f"expected an object or null, got {_kind(value)}")
    return redact(value)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


# Masking ------------------------------------------------------------------------------


def redact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with every secret as "(sensitive)" and a personal number as "(sensitive
    …34)", at any depth, whatever form the API gave them in."""
    secrets = {name for names in sections.SECRET_FIELDS.values() for name in names}
    out: dict[str, Any] = {}
    for key, value in fields.items():
        name = str(key)
        if name in _PERSONAL:
            out[name] = None if value is None else _personal(value)
        elif name in secrets or (isinstance(value, Mapping) and "fingerprint" in value):
            out[name] = _secret(value)
        elif isinstance(value, Mapping):
            out[name] = redact(value)
        elif isinstance(value, list):
            out[name] = [redact(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[name] = value
    return out


def _personal(value: Any) -> str:
    digits = ""
    if isinstance(value, Mapping):
        given = value.get("last_digits")
        digits = given if isinstance(given, str) and re.fullmatch(r"[0-9]{2}", given) else ""
    elif isinstance(value, str):
        shown = re.fullmatch(r"\(sensitive …([0-9]{2})\)", value)
        only = re.sub(r"[^0-9]", "", value)
        digits = shown.group(1) if shown else (only[-2:] if len(only) >= 4 else "")
    return f"(sensitive …{digits})" if digits else SENSITIVE


def _secret(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and _ALREADY_MASKED.fullmatch(value):
        return value
    return SENSITIVE


# Drift attribution ---------------------------------------------------------------------

_RESOURCE = re.compile(r'^([a-z_]+)\["(.+)"\]$')
TOOL = "t4o-reconcile"
# How far back a plan looks for the change behind a drifted value, per tenant.
MAX_ENTRIES = 1_000


def sections_of(resource: str) -> list[tuple[str, str]]:
    """The engine's (section, key) pairs an audit resource covers."""
    if resource == "tenant":  # one resource of the API, several sections of the engine
        return [(section, "") for section in sections.TENANT_RESOURCE]
    if resource in sections.REGISTRY and sections.get(resource).singleton:
        return [(resource, "")]
    found = _RESOURCE.match(resource)
    return [(found.group(1), found.group(2))] if found else []


Reader = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def live_changes(
    record: AuditRecord,
    reader: Callable[[str], Reader | None],
    wanted: Mapping[tuple[str, str], Any],
) -> list[Any]:
    """The record as the engine's ``LiveChange``s of the wanted resources it wrote."""
    from t4o_reconcile.engine.attribution import LiveChange

    out = []
    for section, key in sections_of(record.resource):
        read = reader(section)
        if (section, key) not in wanted or read is None:
            continue
        out.append(
            LiveChange(
                section=section,
                key=key,
                change=record.action,
                before=_engine_fields(read, record.before),
                after=_engine_fields(read, record.after),
                at=iso(record.at),
                actor=record.actor,
                token=record.token,
                client=record.client,
                entry=record.id,
                by_tool=(record.client or "").split("/", 1)[0] == TOOL,
            )
        )
    return out


def _engine_fields(reader: Reader, fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Logged API fields as the snapshot has them; a masked secret stays its mask, so that
    "(sensitive)" → "(sensitive, replaced)" reads as a change of that field."""
    if fields is None:
        return None
    try:
        converted: dict[str, Any] = dict(reader(fields))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # a shape the reader cannot take: no field-level comparison
    for name, value in fields.items():
        if isinstance(value, str) and value.startswith(SENSITIVE[:-1]):
            converted[name] = value
    return converted
