"""The plan: what apply will do, in order, and what stops it.

An ``Action`` is one write against one resource. Addresses read like Terraform's:
``ok-skogen.identity``, ``ok-skogen.bank_accounts["15030012345"]``,
``agreements["Norges Orienteringsforbund"]``, and ``ok-skogen`` for a whole tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from t4o_reconcile import __version__
from t4o_reconcile.engine.planstore import TenantStore

if TYPE_CHECKING:
    from t4o_reconcile.engine.snapshot import TenantSnapshot

ActionKind = Literal["create", "update", "delete", "move"]

# Section names of actions that are not a tenant section.
WHOLE_TENANT = "tenant"  # create/delete of the tenant itself
AGREEMENTS = "agreements"  # the shared agreements (tenant is None)


def versions_of(tenant: TenantSnapshot) -> dict[str, str]:
    """Every item's version, by address: what a plan records and If-Match sends."""
    return {
        address(tenant.slug, section, key): item.version
        for section, items in tenant.sections.items()
        for key, item in items.items()
        if item.version is not None
    }


def address(tenant: str | None, section: str, key: str) -> str:
    if tenant is None:
        return f'{section}["{key}"]'
    if section == WHOLE_TENANT:
        return tenant
    if key == "":
        return f"{tenant}.{section}"
    return f'{tenant}.{section}["{key}"]'


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who made the live change an action undoes (drift), as the API's audit log says."""

    at: str  # UTC, ISO 8601, "Z"
    actor: str  # the partner (partner/slug for a tenant token)
    token: str | None  # the name of the token, when it has one
    client: str | None  # the User-Agent of the change
    change: str  # what the log says was done: create, update, delete, move
    entry: int  # the audit entry's id


@dataclass(frozen=True, slots=True)
class Action:
    tenant: str | None
    section: str
    key: str
    kind: ActionKind
    # Normalised fields before (live) and after (desired). ``after`` may hold Secret
    # values in memory; every renderer and the plan file show them as "(sensitive)".
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    # Dotted ("contact.phone"); any sequence given is kept as a tuple.
    changed_paths: Sequence[str] = ()
    sensitive_paths: Sequence[str] = ()
    reason: str = ""
    version: str | None = None  # the live version read, sent as If-Match
    # Drift: the live change outside t4o-reconcile this action undoes, when known.
    drift: Attribution | None = None
    # The file's own form of "after" values normalising changed, by dotted path
    # ("contact.phone": "+47 21 00 00 00"): what the plan shows; never compared or sent.
    written: Mapping[str, str] | None = None
    # The same for "before" values: the API's own form, where normalising changed it.
    answered: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        _tuples(self, "changed_paths", "sensitive_paths")

    @property
    def address(self) -> str:
        return address(self.tenant, self.section, self.key)


@dataclass(frozen=True, slots=True)
class PlanError:
    """Something apply would fail on, found before anything is written."""

    address: str
    message: str
    source: str | None = None  # file:line:col where known


@dataclass(frozen=True, slots=True)
class TenantPlan:
    """One tenant's actions, errors and the live versions they were planned against.

    A plan holds its tenants in a ``TenantStore`` (``engine.planstore``): as these
    objects while the plan is small, as their plan-file JSON on disk beyond that."""

    slug: str
    # Any sequence given is kept as a tuple.
    actions: Sequence[Action] = ()
    errors: Sequence[PlanError] = ()
    # Why apply needs --allow-deletes for this tenant; empty when it does not.
    deletes_need_flag: Sequence[str] = ()
    # Live versions of every resource read for this tenant: address -> version.
    versions: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None
    # Secrets whose values were not read (plan --without-secrets): not compared.
    uncompared: Sequence[str] = ()

    def __post_init__(self) -> None:
        _tuples(self, "actions", "errors", "deletes_need_flag", "uncompared")

    def has_actions(self) -> bool:
        return bool(self.actions)

    def counts(self) -> dict[str, int]:
        """How many actions of each kind (create, update, delete, move)."""
        return kinds_of(self.actions)


def _tuples(frozen: object, *names: str) -> None:
    for name in names:
        value = getattr(frozen, name)
        if type(value) is not tuple:
            object.__setattr__(frozen, name, tuple(value))


def kinds_of(actions: Iterable[Action]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "delete": 0, "move": 0}
    for action in actions:
        counts[action.kind] += 1
    return counts


@dataclass(slots=True)
class AgreementUsers:
    """What an agreement is charged for: accesses, a user's program rights that are not
    "none", each counted once per user per agreement however many of its tenants the user
    is in. Accesses held only through pending invitations are counted apart."""

    agreement: str
    before: int
    after: int
    pending_before: int = 0
    pending_after: int = 0
    # A scoped plan counts the tenants it read, not the agreement's others: the figures
    # are then only those tenants' accesses (see docs/plans.md).
    partial: bool = False


@dataclass(slots=True)
class Plan:
    target: str
    # Every tenant planned, in order (``TenantStore``: small plans in memory, big ones on
    # disk).
    tenants: TenantStore = field(default_factory=TenantStore)
    agreement_actions: list[Action] = field(default_factory=list)
    agreement_versions: dict[str, str] = field(default_factory=dict)
    unmanaged_tenants: list[str] = field(default_factory=list)  # not on the operator's list
    # Live tenants with no file on the operator's list of tenants kept outside Git
    # (--unmanaged-list): drift is quiet about them and no plan deletes them.
    kept_outside: list[str] = field(default_factory=list)
    agreement_users: list[AgreementUsers] = field(default_factory=list)
    errors: list[PlanError] = field(default_factory=list)  # not tied to one tenant
    config_digest: str = ""
    # The same digest with each secret as its reference, not its value: a plan made
    # without secret values is compared with a later plan by it (engine.review).
    reference_digest: str = ""
    # A new id for every plan made, kept in its plan file. Idempotency keys derive from it,
    # so applying the same saved plan again replays its creates instead of repeating them,
    # while a new plan never reuses an old plan's keys.
    plan_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # How the plan was asked for, so that apply --plan re-plans the same way.
    only: list[str] | None = None  # --tenant, or the tenants --changed-since found
    delete_unmanaged: bool = False
    # Where and as whom the plan was made: the API URL (or the embedded sandbox) and the
    # identity behind the token. apply --plan refuses any other target.
    endpoint: str = ""
    identity: str | None = None
    # plan --allow-deletes: the reviewer approved the deletes that need the flag.
    deletes_approved: bool = False
    # The git commit of the configuration, when it is in a git checkout.
    commit: str | None = None
    # plan --changed-since REF: the ref, the tenants the plan left out, and the tenants whose
    # files the change deleted (they leave management).
    changed_since: str | None = None
    skipped_tenants: int = 0
    leaving: list[str] = field(default_factory=list)
    # The commit the change was measured from (the merge base of --changed-since REF and
    # HEAD), and whether the plan covers the agreements whole: with ``only`` and
    # ``leaving``, the plan's scope, which the merge job compares within.
    base: str | None = None
    agreements_in_scope: bool = True
    # The version of t4o-reconcile that made the plan: apply --plan runs only its own.
    tool_version: str = __version__

    def __repr__(self) -> str:
        # Bounded whatever the plan's size: asyncio formats the repr of a finished main
        # task's result (a plan, or what holds one) as it exits.
        return (
            f"Plan(target={self.target!r}, plan_id={self.plan_id!r}, tenants={self.tenants!r},"
            f" counts={self.counts()!r}, errors={len(self.errors)})"
        )

    def counts(self) -> dict[str, int]:
        counts = kinds_of(self.agreement_actions)
        for kind, count in self.tenants.counts().items():
            counts[kind] += count
        return counts

    @property
    def uncompared(self) -> list[str]:
        """Every secret not compared, ``address.field (reference)``; non-empty: partial."""
        return self.tenants.uncompared()

    @property
    def partial(self) -> bool:
        """Made without secret values: it shows what it can, and cannot be applied."""
        return self.tenants.partial()

    @property
    def has_changes(self) -> bool:
        return bool(self.agreement_actions) or self.tenants.has_actions()

    @property
    def unlisted(self) -> list[str]:
        """Live tenants that have no file and are not on the operator's list of tenants
        kept outside Git: the unmanaged tenants, and those leaving management unlisted.
        ``plan --detailed-exitcode`` exits 4 for them (see docs/lifecycle.md)."""
        kept = set(self.kept_outside)
        return sorted({*self.unmanaged_tenants, *(s for s in self.leaving if s not in kept)})

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or self.tenants.has_errors()
