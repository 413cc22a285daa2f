"""What happened on the API, joined to the commands: the ``log`` command's reading of a
tenant's audit and distribution logs, and the plan's drift attribution.

Both only read (a read-only token does), and both go through optional capabilities of
the provider, each a Protocol below (``KeepsLogs``, ``KeepsHistory``): a provider without
them has no logs to show, and plans without attribution.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from t4o_reconcile.errors import ApiError, UnsafePathError, WorkflowError
from t4o_reconcile.vocabulary import SLUG_PATTERN

if TYPE_CHECKING:
    from t4o_reconcile.api.history import AuditRecord, DistributionRecord
    from t4o_reconcile.engine.attribution import LiveChange
    from t4o_reconcile.engine.plan import Plan
    from t4o_reconcile.engine.provider import Provider
    from t4o_reconcile.engine.snapshot import Snapshot

log = logging.getLogger(__name__)

LogKind = Literal["audit", "distribution"]


@runtime_checkable
class KeepsLogs(Protocol):
    """A provider whose API keeps an audit and a distribution log per tenant."""

    async def audit_log(self, slug: str, since: datetime | None = None) -> list[AuditRecord]:
        """Who changed what in the tenant, when: oldest first, at or after ``since``."""

    async def distribution_log(
        self, slug: str, since: datetime | None = None
    ) -> list[DistributionRecord]:
        """The tenant's issued invoices and how each was distributed, oldest first."""


@runtime_checkable
class KeepsHistory(Protocol):
    """A provider that can tell who last changed the resources a plan changes."""

    async def live_changes(
        self, slug: str, wanted: Mapping[tuple[str, str], tuple[str, ...]]
    ) -> list[LiveChange]:
        """The logged changes of the wanted resources of ``slug``, newest first."""


@dataclass(slots=True)
class LogView:
    """A tenant's logs as the ``log`` command shows them."""

    tenant: str
    target: str
    since: datetime | None
    kinds: tuple[LogKind, ...]
    audit: list[AuditRecord] = field(default_factory=list)
    distributions: list[DistributionRecord] = field(default_factory=list)


async def read_logs(
    provider: Provider,
    slug: str,
    *,
    since: datetime | None = None,
    kinds: tuple[LogKind, ...] = ("audit", "distribution"),
) -> LogView:
    """The audit and distribution logs of ``slug`` (those in ``kinds``), read side by
    side, oldest first, from ``since`` on."""
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise WorkflowError(
            f"--tenant {slug!r}: expected a tenant slug (lower-case letters, digits and '-')"
        )
    view = LogView(tenant=slug, target=provider.target, since=since, kinds=kinds)
    if not isinstance(provider, KeepsLogs):
        raise WorkflowError(f"the provider of {provider.target} keeps no audit or distribution log")
    readers: list[Coroutine[Any, Any, Any]] = [
        provider.audit_log(slug, since)
        if kind == "audit"
        else provider.distribution_log(slug, since)
        for kind in kinds
    ]
    results = await _all(readers)
    for kind, records in zip(kinds, results, strict=True):
        if kind == "audit":
            view.audit = records
        else:
            view.distributions = records
    return view


async def _all(readers: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Every reader's result; when one fails, the others are cancelled and awaited (no
    request is left half-open) and its error is raised as it is."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(reader) for reader in readers]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def attribute_drift(plan: Plan, provider: Provider, live: Snapshot) -> int:
    """Name who made each live change the plan undoes (``Action.drift``), from the audit
    log of each live tenant the plan changes, and only those: a plan without changes
    reads nothing more. A log that cannot be read leaves that tenant unattributed, with
    a warning; the plan itself stands. Returns the number of actions attributed."""
    from t4o_reconcile.engine.attribution import attribute, wanted

    if not isinstance(provider, KeepsHistory):
        return 0
    history = provider.live_changes
    store = plan.tenants
    # Only tenants with actions and live state are read (a tenant on disk is decoded).
    jobs = [
        (tenant, wanted(tenant))
        for tenant in (
            store[position]
            for position, slug in enumerate(store.slugs())
            if slug in live.tenants and store.size(position)
        )
    ]
    jobs = [(tenant, want) for tenant, want in jobs if want]
    if not jobs:
        return 0
    results = await asyncio.gather(
        *(history(tenant.slug, want) for tenant, want in jobs), return_exceptions=True
    )
    count = 0
    for (tenant, _), result in zip(jobs, results, strict=True):
        if isinstance(result, ApiError | UnsafePathError):
            log.warning("who changed %s live is not known: %s", tenant.slug, result)
            continue
        if isinstance(result, BaseException):
            raise result
        attributed, found = attribute(tenant, result)
        if found:
            plan.tenants.replace(attributed)
        count += found
    return count
