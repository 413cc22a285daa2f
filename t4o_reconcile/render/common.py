"""What the text and Markdown renderers share: symbols and field lines of an action."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from t4o_reconcile.engine.compare import MISSING, field_at
from t4o_reconcile.engine.plan import Action, AgreementUsers, Plan, TenantPlan
from t4o_reconcile.engine.sensitive import hint_of, is_sensitive, mask, reference

PARTIAL_NOTE = (
    "Partial plan: these secrets were not compared (their values were not read,"
    " --without-secrets, or a read-only token may not ask the API to compare them);"
    " apply cannot use this plan as a saved plan."
)
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "move": "→"}


@dataclass(frozen=True, slots=True)
class FieldLine:
    path: str
    text: str  # the value, or "before → after" for a change


def value_text(value: Any) -> str:
    """One value as JSON: strings quoted, control characters escaped, secrets masked."""
    if is_sensitive(value):
        return mask(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def field_lines(action: Action) -> list[FieldLine]:
    """Field-level lines: every field of a create or delete, before → after of an update."""
    sensitive = set(action.sensitive_paths)
    if action.kind in ("update", "move"):
        lines = []
        for path in action.changed_paths:
            if path.split(".", 1)[0] in sensitive:
                lines.append(FieldLine(path, _sensitive_change(action, path)))
                continue
            before = field_at(action.before, path)
            after = field_at(action.after, path)
            lines.append(FieldLine(path, f"{_shown(before)} → {_shown(after)}"))
        return lines
    fields = action.after if action.kind == "create" else action.before
    return [
        FieldLine(path, mask(value) if path.split(".", 1)[0] in sensitive else value_text(value))
        for path, value in _flatten(fields or {}, "")
    ]


_DRIFT_VERBS = {"create": "created", "update": "changed", "delete": "deleted", "move": "moved"}


def drift_text(action: Action) -> str | None:
    """Who made the live change the action undoes, when the audit log says: ``drift:
    changed live by nof (token "kari") at 2026-11-23T21:03:11Z with curl/8.5.0``. The
    parts come from the API: the caller makes them safe for its medium."""
    drift = action.drift
    if drift is None:
        return None
    verb = _DRIFT_VERBS.get(drift.change, drift.change)
    who = drift.actor + (f' (token "{drift.token}")' if drift.token else "")
    client = f" with {drift.client}" if drift.client else ""
    return f"drift: {verb} live by {who} at {drift.at}{client}"


def _sensitive_change(action: Action, path: str) -> str:
    old = reference(field_at(action.before, path))
    new = reference(field_at(action.after, path))
    if old and new and old != new:
        # Never the value: where it came from and where it comes from now.
        return f"(sensitive, reference {old} → {new})"
    before = hint_of(field_at(action.before, path))
    after = hint_of(field_at(action.after, path))
    if before and after and before != after:
        return f"(sensitive, changed: {before} → {after})"
    return "(sensitive, changed)"


def _shown(value: Any) -> str:
    return "(absent)" if value is MISSING else value_text(value)


def _flatten(fields: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for name in fields:
        value = fields[name]
        if isinstance(value, dict) and value:
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield prefix + name, value


ACCESSES_LABEL = (
    "Charged accesses per agreement (program rights, each user once per agreement;"
    " pending invitations apart)"
)


def accesses_shown(users: AgreementUsers) -> bool:
    return bool(users.before or users.after or users.pending_before or users.pending_after)


def _count(active: int, pending: int) -> str:
    return f"{active} (+{pending} pending)" if pending else str(active)


def accesses_text(users: AgreementUsers) -> str:
    """``4 → 6 (+2 pending)``: charged accesses before → after, pending apart."""
    before = _count(users.before, users.pending_before)
    after = _count(users.after, users.pending_after)
    figures = before if before == after else f"{before} → {after}"
    return f"{figures} {PARTIAL_ACCESSES}" if users.partial else figures


# A scoped plan reads the tenants it plans, not the rest of an agreement.
PARTIAL_ACCESSES = (
    "(partial: the planned tenants' accesses only; the agreement's other tenants were"
    " not read, the nightly plan counts them all)"
)


def tenant_counts(tenant: TenantPlan) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "delete": 0, "move": 0}
    for action in tenant.actions:
        counts[action.kind] += 1
    return counts


def summary_line(plan: Plan) -> str:
    """The counts, and the live tenants no file manages: a drift check must see those."""
    unmanaged = len(plan.unmanaged_tenants)
    tail = f" {unmanaged} unmanaged tenant(s): live, no file." if unmanaged else ""
    if plan.leaving:
        tail += f" {len(plan.leaving)} tenant(s) leaving management."
    if plan.kept_outside:
        tail += f" {len(plan.kept_outside)} kept outside Git."
    if not plan.has_changes:
        if tail:
            return "No changes to the managed tenants." + tail
        return "No changes. Live state matches the configuration."
    c = plan.counts()
    return (
        f"Plan: {c['create']} to create, {c['update']} to update,"
        f" {c['delete']} to delete, {c['move']} to move." + tail
    )


# What to do about a live tenant that has no file and is not on the operator's list; the
# nightly drift plan exits 4 for it until one of them is done (docs/lifecycle.md).
UNLISTED_ADVICE = (
    "Not on the list of tenants kept outside Git (--unmanaged-list): add it there to keep"
    " it outside Git, give it a file to manage it, or decommission it (its file with"
    " `lifecycle: decommissioned`); until then the drift plan exits 4."
)


def leaving_text(listed: bool, delete_unmanaged: bool) -> str:
    """What happens to a tenant whose file the change deleted."""
    if listed:
        return (
            "leaves management: nothing is written to it; it is on the list of tenants kept"
            " outside Git, so drift stays quiet about it"
        )
    if delete_unmanaged:
        return "deleted on the API by this plan (--delete-unmanaged)"
    return (
        "leaves management: nothing is written to it. It is not on the list of tenants kept"
        " outside Git (--unmanaged-list): add it there, or restore the file with"
        " `lifecycle: decommissioned` to end the client; until then the drift plan exits 4"
    )


def error_count(plan: Plan) -> int:
    return len(plan.errors) + plan.tenants.error_count()


def shown_tenants(plan: Plan) -> Iterator[TenantPlan]:
    """Tenants worth a section: those with actions, errors or deletes needing the flag,
    each read in turn (a big plan's tenants are on disk: never all held at once)."""
    store = plan.tenants
    return (store[position] for position in store.shown())
