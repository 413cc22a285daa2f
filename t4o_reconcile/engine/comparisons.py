"""Which desired secrets the API must be asked about, and its answers laid on the live side.

No client can tell by itself whether a desired secret is the one the API stores (the
API's fingerprints are keyed with a key that never leaves it): before a tenant is
diffed, the provider asks the API about each desired ``Secret`` whose live counterpart
is a ``Fingerprint`` not yet compared (``pending``), in one call per tenant, and lays the
answers on the live snapshot (``settle``). Without answers (a read-only token) those
secrets are not compared, and the plan says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from t4o_reconcile.engine import sections
from t4o_reconcile.engine.snapshot import Fingerprint, Secret, TenantSnapshot


@dataclass(frozen=True, slots=True)
class Comparison:
    """One desired value to compare with the secret stored at section/key/field."""

    section: str
    key: str
    field: str
    value: str = dataclasses.field(repr=False)


def pending(want: TenantSnapshot, have: TenantSnapshot) -> list[Comparison]:
    """The desired secrets to ask the API about: in the registry's secret fields only (a
    walk of every field of every item was a tenth of a no-change plan's own work). A
    secret anywhere else would be left not compared, which the plan reports, never
    taken as unchanged (``plan_errors.unread_secrets`` walks every field)."""
    found: list[Comparison] = []
    for section, names in secret_fields():
        items, live = want.sections.get(section), have.sections.get(section)
        if not items or not live:
            continue
        for key, item in items.items():
            stored = live.get(key)
            if stored is None:
                continue
            for name in names:
                value, print_ = item.fields.get(name), stored.fields.get(name)
                if (
                    isinstance(value, Secret)
                    and isinstance(print_, Fingerprint)
                    and not print_.compared
                ):
                    found.append(Comparison(section, key, name, value.value))
    return found


def secret_fields() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Where a desired secret may be: each section's secret fields, and the personal
    number of the tenant."""
    return (*sections.SECRET_FIELDS.items(), (sections.Identity.name, ("personal_number",)))


def settle(have: TenantSnapshot, answers: Mapping[Comparison, bool]) -> None:
    """Lay the API's answers on ``have``'s fingerprints."""
    for asked, same in answers.items():
        item = have.sections[asked.section][asked.key]
        stored = item.fields[asked.field]
        if isinstance(stored, Fingerprint):
            item.fields = {**item.fields, asked.field: stored.answered(asked.value, same)}
