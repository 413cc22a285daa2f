"""Is a saved plan still true? Compare what it read with what is there now.

A saved plan records the version of every resource it read (address -> version) and a
digest of the configuration. Before applying it, apply reads the same tenants again; any
difference — a version moved, a resource vanished or appeared, the YAML changed — makes
the whole plan stale, and apply refuses it. If-Match still guards the window between
this check and each write.

Both sides of the comparison must compute the map the same way: the engine records
``versions_of`` / ``agreement_versions_of`` when it makes a plan, and this module computes
them again from the fresh read.
"""

from __future__ import annotations

from collections.abc import Iterable

from t4o_reconcile.engine.plan import AGREEMENTS, Plan, address
from t4o_reconcile.engine.snapshot import Snapshot

STALE = "the plan is stale: "


def versions_of(snapshot: Snapshot, slugs: Iterable[str] | None = None) -> dict[str, str]:
    """Address -> version of every item of the named tenants (all when None), every
    section included: an unmanaged section cannot change the plan's actions, but the
    comparison stays simple and errs on the safe side."""
    wanted = snapshot.tenants.keys() if slugs is None else slugs
    versions: dict[str, str] = {}
    for slug in wanted:
        tenant = snapshot.tenants.get(slug)
        if tenant is None:
            continue
        for section, items in tenant.sections.items():
            for key, item in items.items():
                if item.version is not None:
                    versions[address(slug, section, key)] = item.version
    return versions


def agreement_versions_of(snapshot: Snapshot) -> dict[str, str]:
    """Address -> version of every live agreement (``agreements["name"]``)."""
    return {
        address(None, AGREEMENTS, name): item.version
        for name, item in (snapshot.agreements or {}).items()
        if item.version is not None
    }


def check_stale(saved: Plan, fresh_live: Snapshot, config_digest: str) -> list[str]:
    """Why ``saved`` no longer describes the world, one message per difference; an empty
    list means the plan is fresh. ``fresh_live`` must hold at least the plan's tenants."""
    problems: list[str] = []
    if saved.config_digest != config_digest:
        problems.append(STALE + "the configuration changed since the plan was made")

    recorded: dict[str, str] = {}
    for tenant in saved.tenants:
        recorded.update(tenant.versions)
    fresh = versions_of(fresh_live, [tenant.slug for tenant in saved.tenants])
    problems.extend(_differences(recorded, fresh))

    # A plan that neither read nor touched agreements leaves them unmanaged: a new
    # agreement someone else made is none of its business.
    if saved.agreement_versions or saved.agreement_actions:
        recorded_agreements = {
            _agreement_address(key): version for key, version in saved.agreement_versions.items()
        }
        problems.extend(_differences(recorded_agreements, agreement_versions_of(fresh_live)))
    return problems


def _agreement_address(key: str) -> str:
    # Accept a bare agreement name too, so a plan file keyed by name still compares.
    return key if key.startswith(f"{AGREEMENTS}[") else address(None, AGREEMENTS, key)


def _differences(recorded: dict[str, str], fresh: dict[str, str]) -> list[str]:
    problems: list[str] = []
    for where, version in recorded.items():
        now = fresh.get(where)
        if now is None:
            problems.append(
                STALE + f"a resource the plan read is gone: {where} (it was at version {version})"
            )
        elif now != version:
            problems.append(STALE + f"{where} changed (version {version} → {now})")
    problems.extend(
        STALE + f"a new resource appeared: {where} (version {fresh[where]})"
        for where in fresh
        if where not in recorded
    )
    return problems
