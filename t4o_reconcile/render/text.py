"""The terminal plan: ``+ ~ - →`` symbols, field-level changes, a Terraform-like summary."""

from __future__ import annotations

from collections.abc import Iterator

from t4o_reconcile.engine.callouts import called_out_paths
from t4o_reconcile.engine.plan import Action, Plan, PlanError, TenantPlan
from t4o_reconcile.render.approval import CLI, Approval
from t4o_reconcile.render.common import (
    ACCESSES_LABEL,
    PARTIAL_NOTE,
    SYMBOLS,
    UNLISTED_ADVICE,
    accesses_shown,
    accesses_text,
    callout_text,
    drift_text,
    error_count,
    field_lines,
    leaving_text,
    shown_tenants,
    summary_line,
    target_text,
    uncompared_changed_first,
)
from t4o_reconcile.render.escape import terminal

_COLORS = {
    "create": "\033[32m",
    "update": "\033[33m",
    "delete": "\033[31m",
    "move": "\033[36m",
    "error": "\033[1;31m",
    "warn": "\033[1;33m",
    "bold": "\033[1m",
    "dim": "\033[2m",
}
_RESET = "\033[0m"


class _Writer:
    """Lines as they are made: held until a tenant is done, then handed on, so a plan of
    thousands of tenants is written out as it goes, never held whole as text."""

    def __init__(self, color: bool) -> None:
        self.color = color
        self.lines: list[str] = []
        self.approval = CLI

    def paint(self, style: str, text: str) -> str:
        return f"{_COLORS[style]}{text}{_RESET}" if self.color else text

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def take(self) -> str:
        text = "".join(line + "\n" for line in self.lines)
        self.lines.clear()
        return text


def render_text(plan: Plan, *, color: bool, approval: Approval = CLI) -> str:
    return "".join(iter_text(plan, color=color, approval=approval))


def iter_text(plan: Plan, *, color: bool, approval: Approval = CLI) -> Iterator[str]:
    """The terminal plan in pieces (each whole lines): ``render_text``, streamed."""
    out = _Writer(color)
    out.approval = approval
    out.add(f"Target: {terminal(target_text(plan.target))}")
    if plan.only is not None:
        since = (
            f" (files changed since {terminal(plan.changed_since)})" if plan.changed_since else ""
        )
        out.add(
            f"Targeted plan: {len(plan.tenants)} tenant(s) planned{since},"
            f" {plan.skipped_tenants} tenant(s) skipped."
        )
    _callouts(out, plan)
    _agreements(out, plan)
    for tenant in shown_tenants(plan):
        yield out.take()
        _tenant(out, tenant)
    _others(out, plan)
    _partial(out, plan)
    _footer(out, plan)
    yield out.take()


def _agreements(out: _Writer, plan: Plan) -> None:
    if plan.agreement_actions or plan.errors:
        out.add()
        out.add(out.paint("bold", "Agreements"))
        for action in plan.agreement_actions:
            _action(out, action)
        for error in plan.errors:
            _error(out, error)


def _tenant(out: _Writer, tenant: TenantPlan) -> None:
    out.add()
    source = f"  ({terminal(tenant.source)})" if tenant.source else ""
    out.add(out.paint("bold", f"Tenant {terminal(tenant.slug)}") + source)
    for action in tenant.actions:
        _action(out, action)
    for error in tenant.errors:
        _error(out, error)
    if tenant.deletes_need_flag:
        approval = out.approval
        head = (
            f"! approved by {approval.by_text()}: "
            if approval.approved_by
            else f"! needs approval ({approval.how_text()}): "
        )
        out.add("  " + out.paint("warn", head) + terminal("; ".join(tenant.deletes_need_flag)))


def _others(out: _Writer, plan: Plan) -> None:
    """Tenants without changes, without files, leaving management; charged accesses."""
    unchanged = len(plan.tenants) - len(plan.tenants.shown())
    if unchanged:
        out.add()
        out.add(out.paint("dim", f"{unchanged} tenant(s) unchanged."))
    if plan.unmanaged_tenants:
        out.add()
        out.add(
            "Unmanaged tenants (live, no file; left alone unless deletion is requested): "
            + terminal(", ".join(plan.unmanaged_tenants))
        )
        out.add("  " + UNLISTED_ADVICE)
    if plan.leaving:
        out.add()
        out.add(out.paint("warn", "Tenants leaving management (their files were deleted):"))
        kept = set(plan.kept_outside)
        for slug in plan.leaving:
            out.add(f"  {terminal(slug)}: {leaving_text(slug in kept, plan.delete_unmanaged)}")
    outside = [slug for slug in plan.kept_outside if slug not in plan.leaving]
    if outside:
        out.add()
        out.add(
            out.paint("dim", f"{len(outside)} tenant(s) kept outside Git (the operator's list).")
        )
    moving_users = [u for u in plan.agreement_users if accesses_shown(u)]
    if moving_users:
        out.add()
        out.add(ACCESSES_LABEL + ":")
        for users in moving_users:
            out.add(f"  {terminal(users.agreement)}: {accesses_text(users)}")


_UNCOMPARED_CAP = 20  # listed here; the JSON plan lists them all


def _partial(out: _Writer, plan: Plan) -> None:
    if plan.partial:
        uncompared, _ = uncompared_changed_first(plan)
        out.add()
        out.add(out.paint("warn", f"{len(uncompared)} secret(s) not compared. {PARTIAL_NOTE}"))
        for entry in uncompared[:_UNCOMPARED_CAP]:
            out.add(f"  ? {terminal(entry)}")
        if len(uncompared) > _UNCOMPARED_CAP:
            more = len(uncompared) - _UNCOMPARED_CAP
            out.add(f"  ? … and {more} more (--format json lists them all)")


def _callouts(out: _Writer, plan: Plan) -> None:
    """Sensitive changes first: bank accounts, user rights, where secrets are sent."""
    lines = [
        f"  ! {terminal(tenant.slug)}: {terminal(callout_text(action, paths))}"
        for tenant in shown_tenants(plan)
        for action in tenant.actions
        if (paths := called_out_paths(action)) is not None
    ]
    if lines:
        out.add()
        out.add(
            out.paint(
                "warn", "Sensitive changes (bank accounts, user rights, where secrets are sent):"
            )
        )
        for line in lines:
            out.add(line)


def _footer(out: _Writer, plan: Plan) -> None:
    errors = error_count(plan)
    out.add()
    if errors:
        out.add(out.paint("error", f"{errors} plan error(s): apply would fail; fix them first."))
    flagged = plan.tenants.flagged_slugs()
    if flagged:
        approval = out.approval
        if approval.approved_by:
            head = f"Approved by {approval.by_text()}: "
        elif plan.deletes_approved:
            head = "Approved in this plan (plan --allow-deletes): "
        else:
            head = f"Needs approval ({approval.how_text()}): "
        out.add(out.paint("warn", head + terminal(", ".join(flagged))))
    out.add(summary_line(plan))


def _action(out: _Writer, action: Action) -> None:
    symbol = out.paint(action.kind, SYMBOLS[action.kind])
    reason = out.paint("dim", f"  # {terminal(action.reason)}") if action.reason else ""
    out.add(f"  {symbol} {terminal(action.address)}{reason}")
    for line in field_lines(action):
        if line.lines:
            out.add("      " + terminal(f"{line.path}: ({line.text})"))
            for row in line.lines:
                out.add("        " + _paint_row(out, row))
        else:
            out.add("      " + terminal(f"{line.path}: {line.text}"))
    drift = drift_text(action)
    if drift is not None:
        out.add("      " + out.paint("warn", "↳ " + terminal(drift)))


def _error(out: _Writer, error: PlanError) -> None:
    where = f" ({terminal(error.source)})" if error.source else ""
    out.add(
        "  "
        + out.paint("error", "✗ ERROR")
        + f" {terminal(error.address)}: {terminal(error.message)}{where}"
    )


def _paint_row(out: _Writer, row: str) -> str:
    """One line of a multi-line value: ``+``, ``-`` or `` `` (unchanged), as diff shows it."""
    style = {"+": "create", "-": "delete"}.get(row[:1])
    text = terminal(row)
    return out.paint(style, text) if style else text
