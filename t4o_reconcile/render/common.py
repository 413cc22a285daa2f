"""What the text and Markdown renderers share: symbols and field lines of an action."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from t4o_reconcile.engine import sections
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
    # A multi-line text (a template body), line by line: each line starts with "+" (added),
    # "-" (removed) or " " (unchanged context); "text" then only says how many lines.
    lines: tuple[str, ...] = ()


_CONTEXT = 3  # unchanged lines around each change of a multi-line value


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value


def _line_diff(before: str, after: str) -> tuple[str, ...]:
    """A unified diff of two texts, without its file headers; a hunk header is ``⋯``."""
    diff = difflib.unified_diff(before.split("\n"), after.split("\n"), n=_CONTEXT, lineterm="")
    lines: list[str] = []
    for line in diff:
        if line.startswith(("---", "+++")) and not lines:
            continue
        if line.startswith("@@"):
            if lines:
                lines.append(" ⋯")
            continue
        lines.append(line)
    return tuple(lines)


def _lines_text(before: Any, after: Any) -> str:
    def count(value: Any) -> str:
        return f"{len(value.split(chr(10)))} lines" if isinstance(value, str) else _shown(value)

    return f"{count(before)} → {count(after)}"


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
            if _multiline(before) or _multiline(after):
                old = before if isinstance(before, str) else ""
                new = after if isinstance(after, str) else ""
                diff = _line_diff(old, new)
                lines.append(FieldLine(path, _lines_text(before, after), diff))
                continue
            shown_before = _as_written(action.answered, path, before)
            shown_after = _as_written(action.written, path, after)
            lines.append(FieldLine(path, f"{shown_before} → {shown_after}"))
        return lines
    fields = action.after if action.kind == "create" else action.before
    sign = "+" if action.kind == "create" else "-"
    out = []
    for path, value in _flatten(fields or {}, ""):
        if path.split(".", 1)[0] in sensitive:
            out.append(FieldLine(path, mask(value)))
        elif _multiline(value):
            body = tuple(sign + line for line in value.split("\n"))
            out.append(FieldLine(path, f"{len(body)} lines", body))
        else:
            forms = action.written if action.kind == "create" else action.answered
            out.append(FieldLine(path, _as_written(forms, path, value)))
    return out


def _as_written(forms: Mapping[str, str] | None, path: str, value: Any) -> str:
    """A value as the file writes it, or as the API answered it (``"+47 21 00 00 00"``),
    where normalising changed it; the plan compares the normal form."""
    written = forms.get(path) if forms else None
    return value_text(written) if written is not None and not is_sensitive(value) else _shown(value)


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


# The token's tail: plans saved before no part of a token was shown still name it.
_TOKEN_TAIL = re.compile(r" \(token …[^)]*\)")


def target_text(target: str) -> str:
    """The target a plan names, with no part of any token (the caller escapes it)."""
    return _TOKEN_TAIL.sub("", target)


# Sensitive changes ---------------------------------------------------------------------


def account_text(value: Any) -> str:
    """An account as people write it: a Norwegian account number ``1503.98.76547``, an
    IBAN in groups of four (``NO74 1503 4210 001``); anything else as it is."""
    if not isinstance(value, str) or not value:
        return "none"
    from stdnum import iban
    from stdnum.no import kontonr

    if kontonr.is_valid(value):
        return str(kontonr.format(value))
    if iban.is_valid(value):
        return str(iban.format(value))
    return value


def _plain(value: Any) -> str:
    if value is None or value is MISSING:
        return "none"
    if is_sensitive(value):
        return mask(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _rights(programs: Any, none: str = "no program rights") -> str:
    if not isinstance(programs, dict):
        return none
    held = [f"{name} {level}" for name, level in programs.items() if level not in (None, "none")]
    return ", ".join(held) if held else none


_BANK_FIELDS = {
    "account_number": "account",
    "iban": "IBAN",
    "swift": "BIC",
    "invoice_account": "invoice account",
    "default_for_payments": "default for payments",
}


def callout_text(action: Action, paths: tuple[str, ...]) -> str:
    """One sensitive change in words (never a secret's value; the caller escapes it):
    ``bank account 1503.98.76547 removed``, ``user kari@x.no: role member → admin``."""
    fields = action.after if action.kind == "create" else action.before
    fields = fields or {}
    changes = "; ".join(
        _change_words(action, path)
        for path in paths
        if action.section != "users" or not path.startswith("programs")
    )
    if action.section == "bank_accounts":
        what = f"bank account {account_text(action.key)}"
        if action.kind == "create":
            held = [
                _BANK_FIELDS[n]
                for n in ("invoice_account", "default_for_payments")
                if fields.get(n)
            ]
            named = fields.get("iban") and fields["iban"] != action.key  # the key otherwise
            iban_ = f"IBAN {account_text(fields['iban'])}" if named else ""
            detail = ", ".join(part for part in (iban_, *held) if part)
            return f"{what} added" + (f" ({detail})" if detail else "")
        if action.kind == "delete":
            return f"{what} removed"
        radio = sections.get("bank_accounts").radio_flags
        if any(field_at(action.after, p) is True for p in paths if p in radio):
            # One account holds each: the API takes it from the account that holds it now.
            changes += " (taken from the account that holds it now)"
        return f"{what}: {changes}"
    if action.section == "users":
        what = f"user {action.key}"
        rights = f"role {_plain(fields.get('role'))}; {_rights(fields.get('programs'))}"
        if action.kind == "create":
            return f"{what} added: {rights}"
        if action.kind == "delete":
            return f"{what} removed (had {rights})"
        if any(p.startswith("programs") for p in paths):
            before = _rights(field_at(action.before, "programs"), "none")
            after = _rights(field_at(action.after, "programs"), "none")
            changes = "; ".join(filter(None, (changes, f"program rights {before} → {after}")))
        return f"{what}: {changes}"
    if action.section == "email_account":
        where = (
            f"{_plain(fields.get('smtp_host'))}:{_plain(fields.get('smtp_port'))}"
            f" (encryption {_plain(fields.get('encryption'))})"
            f" as user {_plain(fields.get('username'))}"
        )
        if action.kind == "create":
            return f"SMTP account added: its password is sent to {where}"
        if action.kind == "delete":
            return f"SMTP account {where} removed: e-mail goes out through the system account"
        return f"SMTP account (where its password is sent): {changes}"
    return f"{action.address}: {changes}"


def _change_words(action: Action, path: str) -> str:
    before = field_at(action.before, path)
    after = field_at(action.after, path)
    if action.section == "bank_accounts":
        label = _BANK_FIELDS.get(path, path)
        if path in ("account_number", "iban"):
            return f"{label} {account_text(before)} → {account_text(after)}"
        return f"{label} {_plain(before)} → {_plain(after)}"
    return f"{path} {_plain(before)} → {_plain(after)}"


def uncompared_changed_first(plan: Plan) -> tuple[list[str], int]:
    """Every secret not compared, those of the tenants the plan changes first (the rest
    only say the plan is partial), and how many are in those tenants."""
    changed = [entry for tenant in shown_tenants(plan) for entry in tenant.uncompared]
    mine = set(changed)
    return [*changed, *(entry for entry in plan.uncompared if entry not in mine)], len(changed)
