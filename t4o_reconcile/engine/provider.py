"""The provider interface: something that reads live snapshots and executes actions.

The HTTP client of the t4o API (``t4o_reconcile.api.http_provider.HttpProvider``) is one
provider. An adapter for another vendor's API implements this Protocol and registers
itself under the ``t4o_reconcile.providers`` entry point group, like octoDNS providers.

As httpx's ``AsyncBaseTransport``: the work is one method (``execute``, beside ``read``),
and the lifetime is a context manager. The workflow builds a provider with
``from_target(ProviderTarget)`` and uses it as ``async with provider: ...``; leaving the
block releases its connections whatever happened inside.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

from t4o_reconcile.engine.plan import Action
from t4o_reconcile.engine.snapshot import Snapshot, TenantSnapshot

Outcome = Literal["applied", "failed", "skipped"]


@dataclass(slots=True)
class ActionResult:
    address: str
    outcome: Outcome
    message: str = ""
    new_version: str | None = None
    # A 412: someone changed the resource after the plan read it.
    conflict: bool = False
    # Every version the write taught, address -> version: the written resource's own
    # (under each address that names it) and those the server changed on the side (a
    # bank account that lost a radio flag). The executor keeps them for later If-Match.
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    """What a provider needs besides the action: the plan-derived idempotency key and
    the versions the executor has learnt from earlier writes in this run (read only: a
    provider returns what it learns in ``ActionResult.versions``)."""

    idempotency_key: str
    versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderTarget:
    """Where and how a provider connects, whatever the vendor: what ``from_target`` gets.

    Resolved from ``--api``/``T4O_API_URL``, ``T4O_API_TOKEN`` and the pacing options by
    the workflow; a provider takes what it needs.
    """

    url: str | None  # None: the provider's local stand-in (t4o: the embedded sandbox)
    token: str | None = field(default=None, repr=False)
    # Shown on the first line of plan and apply (never the token, its last 4 at most).
    name: str = ""
    # The API itself, recorded in a saved plan, which apply --plan checks.
    endpoint: str = ""
    parallelism: int = 8  # requests in flight at most
    rate_limit: float | None = None  # requests per second; None: as the API announces
    deadline: float = 600.0  # seconds one request may wait out 429 answers
    timeout: float = 30.0  # seconds one request may take, its whole answer included
    local_state: Path | None = None  # where the local stand-in keeps its state


class Provider(Protocol):
    @classmethod
    def from_target(cls, target: ProviderTarget) -> Self:
        """A provider for ``target``; it opens nothing until used."""
        ...

    @property
    def target(self) -> str:
        """Named on the first line of every plan and apply."""
        ...

    @property
    def endpoint(self) -> str:
        """The API without any token hint: a saved plan records it."""
        ...

    async def whoami(self) -> str | None:
        """The identity behind the credentials (``partner`` or ``partner/tenant``), or
        None when the API cannot say."""
        ...

    async def read(self, slugs: Iterable[str] | None = None) -> Snapshot:
        """Live state: the named tenants (all visible ones when None) and all agreements.
        Every item carries its version."""
        ...

    async def execute(self, action: Action, context: ExecutionContext) -> ActionResult:
        """Make one write. Retries of transient failures happen inside; a create is
        retried safely through ``context.idempotency_key``."""
        ...

    async def aclose(self) -> None:
        """Release connections (and a local stand-in); ``__aexit__`` calls it."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class StreamingReader(Protocol):
    """A provider that can also read tenant by tenant. Plan then diffs each tenant as it
    arrives and keeps only those with changes, and apply releases each tenant once its
    writes are done; a provider without these methods is read whole, through ``read``."""

    async def read_shared(self) -> Snapshot:
        """The live agreements and vocabulary, without tenants."""
        ...

    def read_tenants(
        self, slugs: Iterable[str] | None = None
    ) -> AsyncGenerator[TenantSnapshot, None]:
        """Each named tenant (every visible one when None), once, every item with its
        version; the provider keeps none of them."""
        ...

    def adopt(self, tenant: TenantSnapshot) -> None:
        """Keep ``tenant``'s live state for the ``execute`` calls that follow, as
        ``read`` does with every tenant it reads."""
        ...

    def release(self, slug: str) -> None:
        """Apply is done with ``slug``: nothing kept for its writes is needed any more."""
        ...


@runtime_checkable
class SecretComparer(Protocol):
    """A provider whose API can say whether a desired secret is the one it stores (no
    client can tell by itself: see ``engine.comparisons``). Plan asks it about each tenant
    with secrets, once both of its sides are known; a provider without it leaves every
    stored secret not compared."""

    async def compare_secrets(self, want: TenantSnapshot, have: TenantSnapshot) -> None:
        """Lay the API's answers on ``have``'s fingerprints (one call per tenant)."""
        ...
