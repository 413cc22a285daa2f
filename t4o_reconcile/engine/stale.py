"""Is a saved plan still true? Compare what it read with what is there now.

A saved plan records the version of every resource it read (address -> version) and a
digest of the configuration. Before applying it, apply plans the same tenants again; any
difference — a version moved, a resource vanished or appeared, the YAML changed — makes
the whole plan stale, and apply refuses it. If-Match still guards the window between
this check and each write.

Both plans record their versions the same way (``plan.versions_of`` of each tenant read,
and the live agreements' in ``Plan.agreement_versions``), so the comparison needs the
two plans only, never the live state of every tenant at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from t4o_reconcile.engine.plan import AGREEMENTS, Plan, address

STALE = "the plan is stale: "


def check_stale(saved: Plan, fresh: Plan, config_digest: str) -> list[str]:
    """Why ``saved`` no longer describes the world, one message per difference; an empty
    list means the plan is fresh. ``fresh`` is the plan made now, as ``saved`` was asked
    for (the same files, tenants and options), with its versions."""
    problems: list[str] = []
    if saved.config_digest != config_digest:
        problems.append(STALE + "the configuration changed since the plan was made")

    # A tenant at a time: an address names its tenant, so comparing each tenant's versions
    # is comparing the whole plans', without holding every version of either.
    for tenant in saved.tenants:
        now = fresh.tenants.get(tenant.slug)
        problems.extend(_differences(tenant.versions, now.versions if now is not None else {}))

    problems.extend(agreement_differences(saved, fresh))
    return problems


def agreement_differences(saved: Plan, fresh: Plan) -> list[str]:
    """Why the agreements ``saved`` read are no longer as they were."""
    # A plan that neither read nor touched agreements leaves them unmanaged, and a scoped
    # plan that left them out never read them: a new agreement someone else made, or an
    # edit of one, is none of its business.
    if not (saved.agreements_in_scope and (saved.agreement_versions or saved.agreement_actions)):
        return []
    return _differences(
        _agreements(saved.agreement_versions), _agreements(fresh.agreement_versions)
    )


def _agreements(versions: dict[str, str]) -> dict[str, str]:
    return {_agreement_address(key): version for key, version in versions.items()}


def _agreement_address(key: str) -> str:
    # Accept a bare agreement name too, so a plan file keyed by name still compares.
    return key if key.startswith(f"{AGREEMENTS}[") else address(None, AGREEMENTS, key)


def _differences(recorded: Mapping[str, str], fresh: Mapping[str, str]) -> list[str]:
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
