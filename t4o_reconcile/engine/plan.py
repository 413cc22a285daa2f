"""The plan: what apply will do, in order, and what stops it.

An ``Action`` is one write against one resource. Addresses read like Terraform's:
``ok-skogen.identity``, ``ok-skogen.bank_accounts["15030012345"]``,
``agreements["Norges Orienteringsforbund"]``, and ``ok-skogen`` for a whole tenant.
"""

from __future__ import annotations

import pickle
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from t4o_reconcile.engine.snapshot import TenantSnapshot

ActionKind = Literal["create", "update", "delete", "move"]

# Section names of actions that are not a tenant section.
WHOLE_TENANT = "tenant"  # create/delete of the tenant itself
AGREEMENTS = "agreements"  # the shared agreements (tenant is None)


# Actions a plan holds as objects; beyond them, each tenant's are packed (TenantPlan.pack):
# a plan of a few hundred tenants is untouched, a creating plan of 10,000 stays small.
# The planner and the plan file's reader both count so.
PACK_FROM = 20_000


class Packer:
    """Packs each tenant handed to it once ``pack_from`` actions are held unpacked: what
    the planner and the plan file's reader both do with the tenants they make."""

    def __init__(self, pack_from: int = PACK_FROM) -> None:
        self._pack_from = pack_from
        self._held = 0  # actions held unpacked

    def hold(self, tenant: TenantPlan) -> None:
        if not tenant.has_actions():
            return
        if self._held >= self._pack_from:
            tenant.pack()
        else:
            self._held += len(tenant.actions)


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


@dataclass(slots=True)
class Action:
    tenant: str | None
    section: str
    key: str
    kind: ActionKind
    # Normalised fields before (live) and after (desired). ``after`` may hold Secret
    # values in memory; every renderer and the plan file show them as "(sensitive)".
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    # Dotted ("contact.phone"). Empty ones are the shared (): a creating plan of 10,000
    # tenants has 380,000 actions, and two empty lists each were 43 MB.
    changed_paths: Sequence[str] = ()
    sensitive_paths: Sequence[str] = ()
    reason: str = ""
    version: str | None = None  # the live version read, sent as If-Match
    # Drift: the live change outside t4o-reconcile this action undoes, when known.
    drift: Attribution | None = None

    @property
    def address(self) -> str:
        return address(self.tenant, self.section, self.key)


@dataclass(slots=True)
class PlanError:
    """Something apply would fail on, found before anything is written."""

    address: str
    message: str
    source: str | None = None  # file:line:col where known


class TenantPlan:
    """One tenant's actions, errors and the live versions they were planned against.

    A big plan holds its tenants' actions *packed* (``pack``): pickled and compressed
    into one bytes object per tenant (a creating plan of 10,000 tenants: 380,000 actions,
    ~240 MB as objects; a tenant's 38 actions are ~8 KB pickled, ~1.6 KB compressed, so
    ~16 MB for all of them). ``actions`` unpacks a
    fresh list on each read, so change a packed tenant's actions by assigning the list
    back (``tenant.actions = actions``). The bytes never leave the process: they are
    made here and read here only (they hold secret values, as the actions do).
    """

    __slots__ = (
        "_actions",
        "_kinds",
        "deletes_need_flag",
        "errors",
        "slug",
        "source",
        "uncompared",
        "versions",
    )

    def __init__(
        self,
        slug: str,
        actions: list[Action] | None = None,
        errors: list[PlanError] | None = None,
        # Why apply needs --allow-deletes for this tenant; empty when it does not.
        deletes_need_flag: list[str] | None = None,
        # Live versions of every resource read for this tenant: address -> version.
        versions: dict[str, str] | None = None,
        source: str | None = None,
        # Secrets whose values were not read (plan --without-secrets): not compared.
        uncompared: list[str] | None = None,
    ) -> None:
        self.slug = slug
        self._actions: list[Action] | bytes = [] if actions is None else actions
        self._kinds: dict[str, int] | None = None  # the action counts, kept when packed
        self.errors: list[PlanError] = [] if errors is None else errors
        self.deletes_need_flag: list[str] = [] if deletes_need_flag is None else deletes_need_flag
        self.versions: dict[str, str] = {} if versions is None else versions
        self.source = source
        self.uncompared: list[str] = [] if uncompared is None else uncompared

    @property
    def actions(self) -> list[Action]:
        held = self._actions
        if isinstance(held, bytes):
            actions: list[Action] = pickle.loads(zlib.decompress(held))
            return actions
        return held

    @actions.setter
    def actions(self, actions: list[Action]) -> None:
        if isinstance(self._actions, bytes):
            self._actions = actions
            self.pack()
        else:
            self._actions = actions

    @property
    def packed(self) -> bool:
        return isinstance(self._actions, bytes)

    def pack(self) -> None:
        """Hold the actions pickled (see the class): for plans too big to hold as objects.
        Compressed too: a fifth of the pickle (field names and values repeat in every
        action) for about 0.05 ms a tenant."""
        held = self._actions
        if isinstance(held, bytes) or not held:
            return
        self._kinds = _kinds(held)
        self._actions = zlib.compress(pickle.dumps(held, protocol=pickle.HIGHEST_PROTOCOL), 1)

    def has_actions(self) -> bool:
        return bool(self._actions)

    def counts(self) -> dict[str, int]:
        """How many actions of each kind (create, update, delete, move)."""
        if self._kinds is not None and isinstance(self._actions, bytes):
            return dict(self._kinds)
        return _kinds(self.actions)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TenantPlan):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclasses beside it

    def __repr__(self) -> str:
        return (
            f"TenantPlan(slug={self.slug!r}, actions={self.actions!r}, errors={self.errors!r},"
            f" deletes_need_flag={self.deletes_need_flag!r}, versions={self.versions!r},"
            f" source={self.source!r}, uncompared={self.uncompared!r})"
        )

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.slug,
            self.actions,
            self.errors,
            self.deletes_need_flag,
            self.versions,
            self.source,
            self.uncompared,
        )


def _kinds(actions: list[Action]) -> dict[str, int]:
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


@dataclass(slots=True)
class Plan:
    target: str
    tenants: list[TenantPlan] = field(default_factory=list)
    agreement_actions: list[Action] = field(default_factory=list)
    agreement_versions: dict[str, str] = field(default_factory=dict)
    unmanaged_tenants: list[str] = field(default_factory=list)
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

    def counts(self) -> dict[str, int]:
        counts = _kinds(self.agreement_actions)
        for tenant in self.tenants:
            if tenant.has_actions():
                for kind, count in tenant.counts().items():
                    counts[kind] += count
        return counts

    @property
    def uncompared(self) -> list[str]:
        """Every secret not compared, ``address.field (reference)``; non-empty: partial."""
        return [entry for tenant in self.tenants for entry in tenant.uncompared]

    @property
    def partial(self) -> bool:
        """Made without secret values: it shows what it can, and cannot be applied."""
        return bool(self.uncompared)

    @property
    def has_changes(self) -> bool:
        return bool(self.agreement_actions) or any(t.has_actions() for t in self.tenants)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(t.errors for t in self.tenants)
