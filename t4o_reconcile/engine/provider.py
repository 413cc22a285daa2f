"""The provider interface: something that reads live snapshots and executes actions.

The HTTP client of the t4o API (``t4o_reconcile.api.provider.HttpProvider``) is one
provider. An adapter for another vendor's API implements this Protocol and registers
itself under the ``t4o_reconcile.providers`` entry point group, like octoDNS providers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from t4o_reconcile.engine.plan import Action
from t4o_reconcile.engine.snapshot import Snapshot

Outcome = Literal["applied", "failed", "skipped"]


@dataclass(slots=True)
class ActionResult:
    address: str
    outcome: Outcome
    message: str = ""
    new_version: str | None = None
    # A 412: someone changed the resource after the plan read it.
    conflict: bool = False


@dataclass(slots=True)
class ExecutionContext:
    """What a provider needs besides the action: the plan-derived idempotency key and
    the versions the executor has learnt from earlier writes in this run."""

    idempotency_key: str
    versions: dict[str, str] = field(default_factory=dict)


class Provider(Protocol):
    @property
    def target(self) -> str:
        """Named on the first line of every plan and apply."""
        ...

    async def read(self, slugs: Iterable[str] | None = None) -> Snapshot:
        """Live state: the named tenants (all visible ones when None) and all agreements.
        Every item carries its version."""
        ...

    async def execute(self, action: Action, context: ExecutionContext) -> ActionResult:
        """Make one write. Retries of transient failures happen inside; a create is
        retried safely through ``context.idempotency_key``."""
        ...

    async def aclose(self) -> None: ...
