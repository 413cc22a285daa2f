"""What a plan file may make apply do: only what the trusted invocation allows.

A plan file records; it never authorises. Approving deletes, deleting unmanaged tenants
and the scope (which tenants) come from the flags of the job that holds the writing
token (``Authority``); a saved or reviewed plan can only narrow them. ``grant`` returns
what a re-plan for the file may do, or refuses, in one line that names the flag the
operator would have to pass, when the file asks for more than the flags allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.errors import UsageError


@dataclass(frozen=True, slots=True)
class Authority:
    """What the trusted invocation allows: its ``--tenant``s (None: every tenant),
    ``--allow-deletes`` and ``--delete-unmanaged``."""

    tenants: frozenset[str] | None = None
    allow_deletes: bool = False
    delete_unmanaged: bool = False


@dataclass(frozen=True, slots=True)
class Granted:
    """What a re-plan for a plan file does: the file's request, within the authority."""

    only: frozenset[str] | None  # the tenants planned (None: every tenant)
    leaving: frozenset[str]  # tenants whose files the change deleted
    delete_unmanaged: bool
    deletes_approved: bool


def grant(authority: Authority, recorded: Plan, what: str) -> Granted:
    """The file's request (``recorded``) narrowed to ``authority``; refuses (``UsageError``,
    one line) what the file asks for beyond it. ``what`` names the command
    (``apply --plan``)."""
    if authority.tenants is not None:
        if recorded.only is None:
            raise UsageError(
                f"{what}: the plan covers every tenant, but this run allows only --tenant"
                f" {_names(authority.tenants)}; run without --tenant to apply it whole, or"
                " plan again with the same --tenant"
            )
        beyond = (set(recorded.only) | set(recorded.leaving)) - authority.tenants
        if beyond:
            raise UsageError(
                f"{what}: the plan covers tenant(s) this run does not allow:"
                f" {_names(beyond)}; pass --tenant for each of them to apply it"
            )
    if recorded.delete_unmanaged and not authority.delete_unmanaged:
        raise UsageError(
            f"{what}: the plan deletes unmanaged tenants, which this run does not allow;"
            " pass --delete-unmanaged to apply it, or plan again without it"
        )
    return Granted(
        only=None if recorded.only is None else frozenset(recorded.only),
        leaving=frozenset(recorded.leaving),
        delete_unmanaged=recorded.delete_unmanaged and authority.delete_unmanaged,
        deletes_approved=recorded.deletes_approved and authority.allow_deletes,
    )


def delete_refusals(plan: Plan, *, allowed: bool, recorded: bool = True) -> list[str]:
    """Why the deletes that need approval cannot be made: the run's ``--allow-deletes``
    (``allowed``) is missing, or the plan file was made without it (``recorded``)."""
    if allowed and recorded:
        return []
    refusals = []
    for tenant in plan.tenants:
        if tenant.deletes_need_flag:
            why = "; ".join(tenant.deletes_need_flag)
            if not allowed:
                refusals.append(f"{tenant.slug}: needs --allow-deletes ({why})")
            else:
                refusals.append(
                    f"{tenant.slug}: the plan was made without --allow-deletes ({why});"
                    " plan again with --allow-deletes and review that"
                )
    return refusals


def _names(slugs: Iterable[str]) -> str:
    return ", ".join(sorted(slugs))
