"""Ending a client: ``lifecycle: decommissioned`` in a tenant file.

The manuals describe no way to delete a client, only the switches that end its use:
"Deaktiver fakturering" stops invoicing (orders can still be made), distribution has its
own switch, the account owner's access cannot be taken away by invited users, and a
customer agreement that holds companies cannot be deleted. So decommissioning is those
switches, planned: invoicing and distribution off, integrations (the club's Eventor API
keys) and the SMTP account removed, every user but the owner removed and the owner left
without program rights. What the client's bookkeeping needs (the tenant, its bank
accounts printed on issued invoices, its invoices, templates, billing and agreement) is
never deleted. See docs/lifecycle.md.

The file states the end state; what it leaves out is filled in (``ended_sections``), and
what contradicts it is one problem at its line (``decommission_problems``). The invoicing
switches are simply set: ``_defaults.yaml`` usually turns them on for every tenant.
"""

from __future__ import annotations

from typing import Any

from t4o_reconcile.config.problems import Problem
from t4o_reconcile.config.repository import TenantEntry
from t4o_reconcile.engine.snapshot import Item

DECOMMISSIONED = "decommissioned"
_WHY = "a decommissioned client (lifecycle: decommissioned)"
# invoicing's switches, as an ended client has them: "Deaktiver fakturering", and no
# distribution.
_SWITCHES = {"enabled": False, "distribution_enabled": False}


def decommissioned(entry: TenantEntry) -> bool:
    return entry.tenant.lifecycle == DECOMMISSIONED


def decommission_problems(entry: TenantEntry) -> list[Problem]:
    """What in a decommissioned tenant's file contradicts the ended client."""
    if not decommissioned(entry):
        return []
    tenant = entry.tenant
    problems: list[Problem] = []
    if tenant.users is None:
        problems.append(
            entry.problem(
                ("lifecycle",),
                f"{_WHY} needs users listing its owner: decommissioning keeps the owner,"
                " without program rights, and removes every other user; expected users"
                " with the owner alone",
            )
        )
    for index, user in enumerate(tenant.users or []):
        if user.role != "owner":
            problems.append(
                entry.problem(
                    ("users", index),
                    f"{user.email}: {_WHY} keeps only its owner; expected this user taken"
                    " out of the file (apply removes it, with --allow-deletes)",
                )
            )
            continue
        rights = sorted(p for p, right in user.programs.items() if right != "none")
        if rights:
            problems.append(
                entry.problem(
                    ("users", index, "programs"),
                    f"{_WHY} holds no program right ({', '.join(rights)} here); expected"
                    " programs left out, or each 'none'",
                )
            )
        if user.custom_invoice_email:
            problems.append(
                entry.problem(
                    ("users", index, "custom_invoice_email"),
                    f"{_WHY} holds no extra access; expected custom_invoice_email: false",
                )
            )
    if tenant.connections:
        problems.append(
            entry.problem(
                ("connections",),
                f"{_WHY} keeps no integration (its Eventor API keys are removed); expected"
                " connections left out, or []",
            )
        )
    if tenant.email_account is not None:
        problems.append(
            entry.problem(
                ("email_account",),
                f"{_WHY} sends no e-mail from its own account (the SMTP password is"
                " removed); expected email_account left out, or null",
            )
        )
    return problems


def ended_sections(sections: dict[str, dict[str, Item]]) -> None:
    """Fill a decommissioned tenant's sections (its file's, already made) with the ended
    client's settings the file leaves out."""
    invoicing = sections.get("invoicing", {}).get("")
    fields: dict[str, Any] = dict(invoicing.fields) if invoicing is not None else {}
    fields.update(_SWITCHES)
    sections["invoicing"] = {"": Item(fields)}
    sections["connections"] = {}
    sections["email_account"] = {}
