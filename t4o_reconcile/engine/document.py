"""The plan as a JSON document: versioned, stable keys, described by
``schemas/plan.schema.json`` (``engine.plan_schema``).

``render.json`` prints it with secrets masked; the saved plan file (``engine.planfile``) is
the same document with secrets kept as references, versions and the config digest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from t4o_reconcile.engine.plan import Action, Attribution, Plan, PlanError, TenantPlan
from t4o_reconcile.engine.sensitive import as_plan_file, from_json, is_sensitive, to_json

FORMAT_VERSION = 1


def plan_head(plan: Plan, *, secret: Callable[[object], Any]) -> dict[str, Any]:
    """The plan document without its ``tenants`` (see ``iter_json``)."""
    counts = plan.counts()
    return {
        "format_version": FORMAT_VERSION,
        "plan_id": plan.plan_id,
        "target": plan.target,
        "endpoint": plan.endpoint,
        "identity": plan.identity,
        "commit": plan.commit,
        "deletes_approved": plan.deletes_approved,
        "targeted": None
        if plan.only is None and plan.changed_since is None
        else {
            "tenants": plan.only,
            "changed_since": plan.changed_since,
            "skipped": plan.skipped_tenants,
        },
        "summary": {
            **counts,
            "errors": len(plan.errors) + plan.tenants.error_count(),
            "unmanaged": len(plan.unmanaged_tenants),
            "leaving": len(plan.leaving),
            "kept_outside": len(plan.kept_outside),
        },
        "has_changes": plan.has_changes,
        "has_errors": plan.has_errors,
        "has_drift": plan.has_changes or bool(plan.unlisted),
        "partial": plan.partial,
        "uncompared_secrets": plan.uncompared,
        "agreement_actions": [action_to_dict(a, secret) for a in plan.agreement_actions],
        "errors": [error_to_dict(e) for e in plan.errors],
        "unmanaged_tenants": list(plan.unmanaged_tenants),
        "leaving_management": list(plan.leaving),
        "kept_outside": list(plan.kept_outside),
        "agreement_users": [
            {
                "agreement": u.agreement,
                "before": u.before,
                "after": u.after,
                "pending_before": u.pending_before,
                "pending_after": u.pending_after,
                # Only when true: a whole plan's figures read as they always did.
                **({"partial": True} if u.partial else {}),
            }
            for u in plan.agreement_users
        ],
    }


def tenant_document(tenant: TenantPlan, secret: Callable[[object], Any]) -> dict[str, Any]:
    return {
        "slug": tenant.slug,
        "source": tenant.source,
        "actions": [action_to_dict(a, secret) for a in tenant.actions],
        "errors": [error_to_dict(e) for e in tenant.errors],
        "deletes_need_flag": list(tenant.deletes_need_flag),
    }


def tenant_line(tenant: TenantPlan, *, on_secret: Callable[[object], None] | None = None) -> bytes:
    """The tenant as its line of the plan file: its document with every secret as its
    reference, its versions and uncompared secrets, compact JSON in the order of the
    plan's own fields (so a plan read back renders as it was made), and a newline.
    ``on_secret`` is handed each secret value in the order the line holds them (each
    action's ``before``, then ``after``), which is the order a reader meets their
    references in."""
    if on_secret is not None:
        for action in tenant.actions:
            _each_secret(action.before, on_secret)
            _each_secret(action.after, on_secret)
    entry = tenant_document(tenant, as_plan_file)
    entry["versions"] = dict(tenant.versions)
    entry["uncompared"] = list(tenant.uncompared)
    try:
        text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        return text.encode() + b"\n"
    except UnicodeEncodeError:
        # A lone surrogate (from an API answer) is not UTF-8: written escaped, so that
        # the line stays valid and a reader refuses it by name.
        text = json.dumps(entry, separators=(",", ":"))
        return text.encode() + b"\n"


def _each_secret(value: Any, found: Callable[[object], None]) -> None:
    if is_sensitive(value):
        found(value)
    elif isinstance(value, dict):
        for item in value.values():
            _each_secret(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _each_secret(item, found)


def tenant_from_line(line: bytes) -> TenantPlan:
    """A tenant from a line ``tenant_line`` wrote (the plan store's own, never a file's:
    ``engine.planfile`` reads those with its bounds)."""
    return tenant_from_document(json.loads(line))


def tenant_from_document(entry: dict[str, Any]) -> TenantPlan:
    """The tenant of a plan-file line; KeyError, TypeError or ValueError when the line
    is not one."""
    return TenantPlan(
        slug=as_str(entry["slug"]),
        actions=tuple(action_from_document(a) for a in as_list(entry["actions"])),
        errors=tuple(error_from_document(e) for e in as_list(entry["errors"])),
        deletes_need_flag=tuple(as_str(s) for s in as_list(entry["deletes_need_flag"])),
        versions={as_str(k): as_str(v) for k, v in as_dict(entry.get("versions", {})).items()},
        source=_optional(entry.get("source")),
        uncompared=tuple(as_str(u) for u in as_list(entry.get("uncompared", []))),
    )


def action_from_document(entry: dict[str, Any]) -> Action:
    kind = entry["action"]
    if kind not in ("create", "update", "delete", "move"):
        raise ValueError(f"action {kind!r}")
    before, after = from_json(entry["before"]), from_json(entry["after"])
    if before is not None and not isinstance(before, dict):
        raise TypeError("before")
    if after is not None and not isinstance(after, dict):
        raise TypeError("after")
    return Action(
        tenant=_optional(entry["tenant"]),
        section=as_str(entry["section"]),
        key=as_str(entry["key"]),
        kind=kind,
        before=before,
        after=after,
        changed_paths=tuple(as_str(p) for p in as_list(entry["changed_paths"])),
        sensitive_paths=tuple(as_str(p) for p in as_list(entry["sensitive_paths"])),
        reason=as_str(entry["reason"]),
        version=_optional(entry["version"]),
        drift=_drift(entry.get("drift")),
        written=_written(entry.get("written")),
        answered=_written(entry.get("answered")),
    )


def _written(entry: Any) -> dict[str, str] | None:
    if entry is None:
        return None
    return {as_str(path): as_str(text) for path, text in as_dict(entry).items()} or None


def _drift(entry: Any) -> Attribution | None:
    if entry is None:
        return None
    entry = as_dict(entry)
    number = entry["entry"]
    if not isinstance(number, int) or isinstance(number, bool):
        raise TypeError("entry")
    return Attribution(
        at=as_str(entry["at"]),
        actor=as_str(entry["actor"]),
        token=_optional(entry["token"]),
        client=_optional(entry["client"]),
        change=as_str(entry["change"]),
        entry=number,
    )


def error_from_document(entry: Any) -> PlanError:
    entry = as_dict(entry)
    return PlanError(
        address=as_str(entry["address"]),
        message=as_str(entry["message"]),
        source=_optional(entry["source"]),
    )


def as_str(value: Any) -> str:
    """``value``, a string of an untrusted document; else a TypeError naming what it is."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, found {type(value).__name__}")
    return value


def _optional(value: Any) -> str | None:
    return None if value is None else as_str(value)


def as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, found {type(value).__name__}")
    return value


def as_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, found {type(value).__name__}")
    return value


def iter_json(
    head: dict[str, Any], tenants: Iterable[dict[str, Any]], *, indent: int | None = None
) -> Iterator[str]:
    """``json.dumps({**head, "tenants": list(tenants)}, sort_keys=True, indent=indent,
    ensure_ascii=False)`` to the byte, in pieces: one per tenant, made as it is written,
    so a plan of thousands of tenants is never held whole as a document or as text.
    (JSON strings hold no raw newline, so indenting a piece's lines is safe.)"""

    def dump(value: Any, level: int) -> str:
        text = json.dumps(value, sort_keys=True, indent=indent, ensure_ascii=False)
        return text.replace("\n", "\n" + " " * (indent * level)) if indent else text

    if "tenants" in head:
        raise ValueError("the head of a plan document holds no tenants")
    keys = sorted([*head, "tenants"])
    comma, colon = (",", ": ") if indent else (", ", ": ")
    inner = "\n" + " " * indent if indent else ""
    yield "{" + inner
    for position, key in enumerate(keys):
        if position:
            yield comma + inner
        yield json.dumps(key, ensure_ascii=False) + colon
        if key != "tenants":
            yield dump(head[key], 1)
            continue
        deeper = "\n" + " " * (2 * indent) if indent else ""
        empty = True
        for tenant in tenants:
            yield ("[" if empty else comma) + deeper + dump(tenant, 2)
            empty = False
        yield "[]" if empty else inner + "]"
    yield ("\n" if indent else "") + "}"


def action_to_dict(action: Action, secret: Callable[[object], Any]) -> dict[str, Any]:
    return {
        "address": action.address,
        "tenant": action.tenant,
        "section": action.section,
        "key": action.key,
        "action": action.kind,
        "before": to_json(action.before, secret),
        "after": to_json(action.after, secret),
        "changed_paths": list(action.changed_paths),
        "sensitive_paths": list(action.sensitive_paths),
        "reason": action.reason,
        "version": action.version,
        "drift": None if action.drift is None else attribution_to_dict(action.drift),
        **({"written": dict(action.written)} if action.written else {}),
        **({"answered": dict(action.answered)} if action.answered else {}),
    }


def attribution_to_dict(drift: Attribution) -> dict[str, Any]:
    return {
        "at": drift.at,
        "actor": drift.actor,
        "token": drift.token,
        "client": drift.client,
        "change": drift.change,
        "entry": drift.entry,
    }


def error_to_dict(error: PlanError) -> dict[str, Any]:
    return {"address": error.address, "message": error.message, "source": error.source}
