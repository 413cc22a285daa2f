"""The steps of plan, apply and export, joined: config → snapshot → provider → engine.

cli.py parses and prints; this module does the work between, so that tests and the
benchmarks can run the same path without a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import hmac
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from t4o_reconcile.api.target import DEFAULT_DEADLINE, DEFAULT_TIMEOUT
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import SafetyOptions, Snapshot, TenantSnapshot
from t4o_reconcile.errors import (
    ConfigError,
    ConfigInvalid,
    PlanFileError,
    TargetError,
    UsageError,
    WorkflowError,
)

if TYPE_CHECKING:
    from t4o_reconcile.api.target import Target
    from t4o_reconcile.config.repository import Repository, TenantEntry
    from t4o_reconcile.config.secret_refs import SecretPolicy
    from t4o_reconcile.engine.apply import ApplyEvent, ApplyReport
    from t4o_reconcile.engine.authority import Authority
    from t4o_reconcile.engine.digest import ConfigDigest
    from t4o_reconcile.engine.provider import Provider, StreamingReader


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The user's flags (and the settings the command line read for them from the
    environment), as given: never written after they are made. What follows from them is
    derived once, elsewhere: the target (``target_of``), a plan's request
    (``PlanRequest``), the keys (``digest_key``, ``plan_key``)."""

    path: Path
    api: str | None = None
    insecure: bool = False
    parallelism: int = 8
    tenants: tuple[str, ...] = ()  # --tenant
    delete_unmanaged: bool = False
    max_delete_share: float | None = None
    db_path: Path | None = None
    provider: str = "t4o"
    rate_limit: float | None = None  # requests per second; None: as the API announces
    deadline: float = DEFAULT_DEADLINE  # seconds one request may wait out 429 answers
    allow_deletes: bool = False  # --allow-deletes
    changed_since: str | None = None  # plan --changed-since REF
    timeout: float = DEFAULT_TIMEOUT  # seconds one request may take, its answer included
    # --unmanaged-list / T4O_UNMANAGED_LIST: the operator's list of live tenants kept
    # outside Git (config.kept_outside); a trusted job's setting, never a plan file's.
    unmanaged_list: Path | None = None
    # What secret references may reach and whether values are read; None: the
    # operator's settings in the environment.
    policy: SecretPolicy | None = None

    @property
    def authority(self) -> Authority:
        """What these flags allow a plan file to make apply do (see engine.authority)."""
        from t4o_reconcile.engine.authority import Authority

        return Authority(
            tenants=frozenset(self.tenants) if self.tenants else None,
            allow_deletes=self.allow_deletes,
            delete_unmanaged=self.delete_unmanaged,
        )


@dataclass(frozen=True, slots=True)
class Scope:
    """Which tenants one plan covers, and whether it plans the agreements whole."""

    only: frozenset[str] | None = None  # None: every tenant
    # Tenants whose files the change deleted: read, and listed as leaving management.
    leaving: frozenset[str] = frozenset()
    # The slugs the user named with --tenant: each must be a tenant file.
    named: tuple[str, ...] = ()
    changed_since: str | None = None  # the git ref ``only`` was found from
    base: str | None = None  # the commit the change was measured from (the merge base)
    head: str | None = None  # the commit checked out then (None: not asked, or none yet)
    # The agreements planned whole; otherwise only the ones the planned tenants need are
    # created, and the rest (live edits included) is outside the plan.
    agreements: bool = True
    # plan --reviewed: the tenants the reviewed plan covered (None: every tenant), and
    # whether it covered the agreements. The comparison is strict inside, blind outside.
    reviewed: frozenset[str] | None = None
    reviewed_agreements: bool = True

    @classmethod
    def of_flags(cls, options: RunOptions) -> Scope:
        """``--tenant`` and ``--changed-since`` (which runs git, once, here)."""
        only = frozenset(options.tenants) if options.tenants else None
        if options.changed_since is None:
            return cls(only, named=options.tenants, agreements=only is None)
        change = changed_tenants(options.path, options.changed_since)
        only = None if change.tenants is None else (only or frozenset()) | change.tenants
        return cls(
            only,
            change.deleted,
            options.tenants,
            options.changed_since,
            change.base,
            change.head,
            agreements=only is None or change.agreements,
        )

    def widened(self, change: TenantChange, ref: str) -> Scope:
        """This scope with ``change`` (the merged commit's own) added: the merge job
        plans what was reviewed and whatever the merge brought besides."""
        only = None if self.only is None or change.tenants is None else self.only | change.tenants
        return Scope(
            only,
            self.leaving | change.deleted,
            self.named,
            ref,
            change.base,
            change.head,
            agreements=only is None or self.agreements or change.agreements,
            reviewed=self.reviewed,
            reviewed_agreements=self.reviewed_agreements,
        )


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What one plan is asked to do, derived once from the flags (``fresh``) or from a
    saved or reviewed plan within the flags' authority (``from_saved``)."""

    path: Path
    scope: Scope = Scope()
    delete_unmanaged: bool = False
    deletes_approved: bool = False  # recorded in the plan (plan --allow-deletes)
    max_delete_share: float | None = None
    policy: SecretPolicy | None = None
    # The key of the secrets in the config digest. None: the plan carries no digests nor
    # the live versions of every item read (only a saved or compared plan needs them:
    # each digest is a canonical JSON of the whole configuration; the versions of 10,000
    # tenants are 430,000 entries).
    digest_key: bytes | None = field(default=None, repr=False)
    # Name who made each live change the plan undoes (from the audit log); off where
    # nobody reads the plan (apply --plan re-plans only to compare).
    attribute: bool = True
    # The operator's list of live tenants kept outside Git, always from this run's own
    # options (a plan file's record of it is never read back as one).
    kept_outside: frozenset[str] = frozenset()

    @property
    def digests(self) -> bool:
        return self.digest_key is not None

    @classmethod
    def fresh(
        cls, options: RunOptions, *, digest_key: bytes | None = None, attribute: bool = True
    ) -> PlanRequest:
        """A plan as the flags ask for it."""
        return cls(
            path=options.path,
            scope=Scope.of_flags(options),
            delete_unmanaged=options.delete_unmanaged,
            deletes_approved=options.allow_deletes,
            max_delete_share=options.max_delete_share,
            policy=options.policy,
            digest_key=digest_key,
            attribute=attribute,
            kept_outside=kept_outside_of(options),
        )

    @classmethod
    def from_saved(
        cls, options: RunOptions, saved: Plan, *, digest_key: bytes, what: str
    ) -> PlanRequest:
        """The plan again as ``saved`` was asked for (its tenants exactly; a
        --changed-since plan is not diffed against git again: after the merge there is
        nothing to diff), as far as the flags allow: the file only narrows them.

        ``plan --reviewed`` with ``--changed-since REF`` (the merged commit's first
        parent) plans the reviewed tenants and the merged commit's own change together;
        the comparison with the review is then made inside the reviewed scope only."""
        from t4o_reconcile.engine.authority import grant

        reviewing = what == "plan --reviewed"
        refuse_changing_options(what, options)
        granted = grant(options.authority, saved, what)
        scope = Scope(
            only=granted.only,
            leaving=granted.leaving,
            agreements=saved.agreements_in_scope,
            reviewed=(None if granted.only is None else granted.only | granted.leaving)
            if reviewing
            else None,
            reviewed_agreements=saved.agreements_in_scope,
        )
        if reviewing and options.changed_since is not None:
            scope = scope.widened(
                changed_tenants(options.path, options.changed_since), options.changed_since
            )
            if options.authority.tenants is not None and scope.only is not None:
                scope = replace(scope, only=scope.only & options.authority.tenants)
        return cls(
            path=options.path,
            scope=scope,
            delete_unmanaged=granted.delete_unmanaged,
            deletes_approved=granted.deletes_approved,
            policy=options.policy,
            digest_key=digest_key,
            attribute=False,
            kept_outside=kept_outside_of(options),
        )


def kept_outside_of(options: RunOptions) -> frozenset[str]:
    """The operator's list of tenants kept outside Git (``--unmanaged-list``), or none."""
    if options.unmanaged_list is None:
        return frozenset()
    from t4o_reconcile.config.kept_outside import load_kept_outside

    return load_kept_outside(options.unmanaged_list, options.path)


@dataclass(slots=True)
class Planned:
    # The snapshots and the repository are left out of the repr: a whole configuration
    # (asyncio formats a finished main task's result as it exits).
    plan: Plan
    desired: Snapshot = field(repr=False)
    live: Snapshot = field(repr=False)
    # Its warnings and agreements; its tenants are in ``desired``.
    repository: Repository = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    # The reference digest of what the reviewed plan covered (plan --reviewed), else the
    # plan's own.
    reviewed_digest: str = ""


def load_desired(
    path: Path,
    policy: SecretPolicy | None = None,
    on_tenant: Callable[[TenantSnapshot], None] | None = None,
    *,
    only: frozenset[str] | None = None,
) -> tuple[Repository, Snapshot]:
    """The configuration as a snapshot. Unresolved secrets are left for the plan to
    report (as plan errors naming variable, tenant and field); anything else stops here.
    The repository comes back without its tenants (they are in the snapshot, or handed
    to ``on_tenant`` as each file loads and not kept). ``only``: the tenant files read
    (None: every one; see ``load_repository``)."""
    from t4o_reconcile.config.desired import agreements_snapshot, tenant_snapshot
    from t4o_reconcile.config.loader import load_repository

    if not path.is_dir():
        raise ConfigError(f"{path}: no such directory of tenant files")
    # Each tenant's snapshot is made as its file loads and its model is dropped: the
    # models of every tenant are never held at once (at 10,000 tenants, 400 MB).
    tenants: dict[str, TenantSnapshot] = {}
    failed: list[Exception] = []

    def snapshot_of(entry: TenantEntry) -> None:
        try:
            tenant = tenant_snapshot(entry)
        except Exception as exc:  # reported below, unless the files are invalid anyway
            failed.append(exc)
            return
        if on_tenant is None:
            tenants[entry.slug] = tenant
        else:
            on_tenant(tenant)

    result = load_repository(
        path, policy=policy, keep_tenants=False, on_tenant=snapshot_of, only=only
    )
    if result.repository is None:
        raise ConfigInvalid(result.problems)
    if failed:
        raise failed[0]
    agreements = agreements_snapshot(result.repository)
    return result.repository, Snapshot(tenants=dict(sorted(tenants.items())), agreements=agreements)


def target_of(options: RunOptions) -> Target:
    """The API the flags (or the environment) name, with its token."""
    from t4o_reconcile.api.target import resolve_target

    return resolve_target(
        options.api,
        insecure=options.insecure,
        db_path=options.db_path,
        rate_limit=options.rate_limit,
        deadline=options.deadline,
        timeout=options.timeout,
    )


def open_provider(options: RunOptions, target: Target | None = None) -> Provider:
    """The provider named by ``options.provider`` (an entry point of the group
    ``t4o_reconcile.providers``), built by its ``from_target(ProviderTarget)`` for
    ``target`` (default: ``target_of(options)``)."""
    from t4o_reconcile.api.entry_points import load_provider

    if target is None:
        target = target_of(options)
    try:
        provider_class = load_provider(options.provider)
    except LookupError as exc:
        raise TargetError(str(exc)) from None
    return provider_class.from_target(target.for_provider(options.parallelism))


PLAN_KEY_ENV = "T4O_PLAN_KEY"
# T4O_PLAN_KEY seals plans that anyone with read access to CI artifacts can read: a short
# one could be guessed offline from a sealed plan.
PLAN_KEY_MIN_LENGTH = 32


def _key_material(target: Target, environ: Mapping[str, str] | None) -> str | None:
    """``T4O_PLAN_KEY`` when set, else the API token (the embedded sandbox's local token):
    a secret only the job that can apply holds, never in a plan file or the repository."""
    env = os.environ if environ is None else environ
    configured = env.get(PLAN_KEY_ENV)
    if configured:
        if len(configured) < PLAN_KEY_MIN_LENGTH:
            raise UsageError(
                f"{PLAN_KEY_ENV} is too short: expected at least {PLAN_KEY_MIN_LENGTH}"
                " random characters (e.g. the output of: openssl rand -hex 32)"
            )
        return configured
    if target.token:
        return target.token
    if target.embedded:
        from t4o_reconcile.api.embedded import local_token

        return local_token(target.db_path)
    return None


def digest_key(target: Target, environ: Mapping[str, str] | None = None) -> bytes:
    """The key of the secrets in a plan's config digest (see ``_key_material``), so that
    only someone who holds the credentials to apply can make or check the digest. No key
    is an error: never the public ``digest.UNKEYED``."""
    material = _key_material(target, environ)
    if material is None:
        raise WorkflowError(
            f"no key for the plan's config digest: set {PLAN_KEY_ENV} or the API token"
        )
    return hmac.new(material.encode(), b"t4o-reconcile/config-digest/v2", hashlib.sha256).digest()


def plan_key(target: Target, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The key that seals a saved plan (``engine.planfile``): HMAC-SHA256 under
    ``T4O_PLAN_KEY`` when set, else under the API token, of a fixed label (so that it is
    never the digest key). None without either: such a run seals nothing, and apply
    --plan refuses to run."""
    material = _key_material(target, environ)
    if material is None:
        return None
    return hmac.new(material.encode(), b"t4o-reconcile/plan-seal/v1", hashlib.sha256).digest()


def read_plan(
    path: Path, *, key: bytes | None = None, require_seal: bool = False, in_use: bool = False
) -> Plan:
    """The plan saved in ``path``. With ``require_seal`` (apply --plan), only a plan whose
    seal verifies under ``key`` is read; otherwise the file is a record (a reviewed plan,
    show), read whatever its seal. A plan that is used (applied, or compared as the review)
    must have been made by this version of the tool."""
    from t4o_reconcile.engine.planfile import check_tool_version, load_plan

    if require_seal and key is None:
        raise WorkflowError(
            f"{path}: no plan key to check the plan's seal: set {PLAN_KEY_ENV} (or"
            " T4O_API_TOKEN, the writing token) as in the job that made the plan"
        )
    plan = load_plan(path, key=key if require_seal else None, require_seal=require_seal)
    if in_use:
        check_tool_version(plan, path)
    return plan


def write_plan(plan: Plan, path: Path, *, key: bytes | None) -> None:
    """Save ``plan`` to ``path``, sealed under ``key`` (None: unsealed, a record only)."""
    from t4o_reconcile.engine.planfile import save_plan

    save_plan(plan, path, key=key)


def global_safety(max_delete_share: float | None) -> SafetyOptions:
    safety = SafetyOptions()
    if max_delete_share is not None:
        safety.max_delete_share = max_delete_share
    return safety


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """A plan builds a few hundred thousand small objects that all stay alive until it is
    done; the cyclic garbage collector's passes over them were a third of the local time
    of a 1,000-tenant plan (snapshot 0.59 s → 0.19 s without them)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def plan_configuration(
    request: PlanRequest, provider: Provider, *, whole: bool = False
) -> Planned:
    """Load the tenant files and read the live state side by side, diffing each tenant
    as both of its sides are known: the plan, with what it was made from and how long
    each step took.

    ``Planned.live`` holds the tenants whose plan changes something and
    ``Planned.desired`` the agreements only (the create actions hold what they create);
    with ``whole`` (comparing against a saved or reviewed plan needs every tenant's live
    state), or from a provider that cannot read tenant by tenant, both are whole."""
    with gc_paused():
        return await _plan_configuration(request, provider, whole)


@dataclass(slots=True)
class _Made:
    plan: Plan
    repository: Repository
    desired: Snapshot
    live: Snapshot
    slugs: set[str]  # every tenant file's slug
    loaded: float
    read: float


async def _plan_configuration(request: PlanRequest, provider: Provider, whole: bool) -> Planned:
    import time

    from t4o_reconcile.engine.digest import ConfigDigest
    from t4o_reconcile.engine.provider import StreamingReader

    started = time.perf_counter()
    scope = request.scope
    only = None if scope.only is None else set(scope.only)
    leaving = set(scope.leaving)
    digests = (
        [ConfigDigest(request.digest_key), ConfigDigest(references_only=True)]
        if request.digest_key is not None
        else []
    )
    # The digest of what the review covered, to compare with the reviewed plan's.
    reviewed = (
        ConfigDigest(references_only=True, only=scope.reviewed)
        if digests
        and scope.reviewed is not None
        and (scope.only != scope.reviewed or scope.agreements != scope.reviewed_agreements)
        else None
    )
    if reviewed is not None:
        digests.append(reviewed)
    identity = asyncio.ensure_future(identity_of(provider))
    try:
        if not whole and isinstance(provider, StreamingReader):
            made = await _plan_streamed(request, provider, provider.target, only, leaving, digests)
        else:
            made = await _plan_whole(request, provider, only, leaving, digests)
        unknown = [slug for slug in scope.named if slug not in made.slugs]
        if unknown:
            raise WorkflowError(
                "--tenant names no tenant file: "
                + ", ".join(sorted(unknown))
                + f" (in {request.path})"
            )
    except BaseException:
        # The identity check runs beside the read: when planning fails, it is dropped too
        # (never left to report its own failure as a traceback at exit).
        identity.cancel()
        with contextlib.suppress(BaseException):
            await identity
        raise
    plan = made.plan
    # Agreements outside the scope are outside its digest too: another change to them is
    # none of this plan's business.
    agreements = made.desired.agreements if scope.agreements else None
    if digests:
        plan.config_digest = digests[0].hexdigest(agreements)
        plan.reference_digest = digests[1].hexdigest(agreements)
    reviewed_digest = plan.reference_digest
    if reviewed is not None:
        reviewed_digest = reviewed.hexdigest(
            made.desired.agreements if scope.reviewed_agreements else None
        )
    plan.only = sorted(only) if only is not None else None
    plan.changed_since = scope.changed_since
    plan.base = scope.base
    plan.agreements_in_scope = scope.agreements
    if only is not None:
        plan.skipped_tenants = len(made.repository.slugs - only)
    plan.delete_unmanaged = request.delete_unmanaged
    plan.endpoint = endpoint_of(provider)
    plan.identity = await identity
    plan.deletes_approved = request.deletes_approved
    # The scope's git run already read HEAD: a scoped plan asks git once.
    plan.commit = scope.head if scope.head is not None else git_commit(request.path)
    diffed = time.perf_counter()
    if request.attribute and plan.has_changes:
        from t4o_reconcile.activity import attribute_drift

        await attribute_drift(plan, provider, made.live)
    done = max(made.loaded, made.read)
    timings = {
        "load": made.loaded - started,
        "read": made.read - started,  # the live read on its own, alongside the load
        "wait": max(0.0, made.read - made.loaded),  # the read still going after the load
        # From both sides being in (streamed, the tenants were diffed beside them).
        "diff": diffed - done,
        "attribution": time.perf_counter() - diffed,
    }
    return Planned(plan, made.desired, made.live, made.repository, timings, reviewed_digest)


async def _plan_whole(
    request: PlanRequest,
    provider: Provider,
    only: set[str] | None,
    leaving: set[str],
    digests: list[ConfigDigest],
) -> _Made:
    """Both snapshots whole, then the diff: for a provider that reads only whole, and
    where every tenant's live state is wanted afterwards."""
    import time

    from t4o_reconcile.engine.diff import make_plan

    # The live read waits on the network while loading the files waits on the CPU: run
    # them side by side. The read is dropped if the configuration turns out invalid.
    wanted = None if only is None else sorted(only | leaving)
    reading = asyncio.ensure_future(provider.read(wanted))
    read_done: list[float] = []
    reading.add_done_callback(lambda _: read_done.append(time.perf_counter()))
    try:
        repository, desired = await asyncio.to_thread(
            functools.partial(load_desired, request.path, request.policy, only=request.scope.only)
        )
    except BaseException:
        reading.cancel()
        with contextlib.suppress(BaseException):
            await reading
        raise
    loaded = time.perf_counter()
    live = await reading
    await compare_secrets(provider, desired, live)
    for tenant in desired.tenants.values():
        for digest in digests:
            digest.add(tenant)
    plan = make_plan(
        desired,
        live,
        target=provider.target,
        only=only,
        delete_unmanaged=request.delete_unmanaged,
        safety=global_safety(request.max_delete_share),
        leaving=leaving,
        versions=request.digests,
        agreements=request.scope.agreements,
        kept_outside=request.kept_outside,
    )
    return _Made(plan, repository, desired, live, set(desired.tenants), loaded, read_done[0])


async def compare_secrets(provider: Provider, desired: Snapshot, live: Snapshot) -> None:
    """Ask the API about every tenant's desired secrets (one call per tenant with any)."""
    from t4o_reconcile.engine.provider import SecretComparer

    if not isinstance(provider, SecretComparer):
        return
    await asyncio.gather(
        *(
            provider.compare_secrets(want, live.tenants[slug])
            for slug, want in desired.tenants.items()
            if slug in live.tenants
        )
    )


async def _plan_streamed(
    request: PlanRequest,
    provider: StreamingReader,
    target: str,
    only: set[str] | None,
    leaving: set[str],
    digests: list[ConfigDigest],
) -> _Made:
    """Each tenant diffed as its two sides meet (see ``join``)."""
    from t4o_reconcile.engine.diff import Planner
    from t4o_reconcile.engine.provider import SecretComparer
    from t4o_reconcile.join import join_and_plan
    from t4o_reconcile.loading_child import load_desired_aside

    def planner(shared: Snapshot) -> Planner:
        return Planner(
            target=target,
            live=shared,
            only=only,
            delete_unmanaged=request.delete_unmanaged,
            safety=global_safety(request.max_delete_share),
            leaving=leaving,
            versions=request.digests,
            agreements=request.scope.agreements,
            kept_outside=request.kept_outside,
        )

    def on_desired(tenant: TenantSnapshot) -> None:
        for digest in digests:
            digest.add(tenant)

    planning, joined = await join_and_plan(
        planner,
        provider,
        lambda on_tenant: load_desired_aside(
            request.path, request.policy, on_tenant, only=request.scope.only
        ),
        read_only=None if only is None else only | leaving,
        on_desired=on_desired if digests else None,
        compare=provider.compare_secrets if isinstance(provider, SecretComparer) else None,
    )
    plan = planning.finish(joined.desired.agreements)
    for tenant in joined.live.tenants.values():
        provider.adopt(tenant)
    return _Made(
        plan,
        joined.repository,
        joined.desired,
        joined.live,
        joined.slugs,
        joined.loaded,
        joined.read,
    )


@dataclass(frozen=True, slots=True)
class TenantChange:
    """What a git change means for the plan (``changed_tenants``)."""

    tenants: frozenset[str] | None  # tenant files added or changed; None: every tenant
    deleted: frozenset[str]  # tenant files deleted: those tenants leave management
    agreements: bool  # _agreements.yaml changed: the agreements are planned whole
    base: str  # the commit the change was measured from
    head: str | None  # the commit checked out; None before the first commit


def changed_tenants(path: Path, ref: str) -> TenantChange:
    """The tenants whose files under ``path`` differ from the merge base of git ref
    ``ref`` and HEAD (committed or not, new files included), and the tenants whose files
    were deleted. A changed _defaults.yaml means every tenant (any tenant may inherit
    the changed setting); a changed _agreements.yaml means the agreements."""
    from t4o_reconcile.config.loader import AGREEMENTS, DEFAULTS, SUFFIXES
    from t4o_reconcile.gitrepo import changes_since

    change = changes_since(path, ref)
    changed: set[str] = set()
    deleted: set[str] = set()
    everything = agreements = False
    for status, name in change.entries:
        file = Path(name)
        if len(file.parts) != 1 or file.suffix not in SUFFIXES:
            continue  # only the repository's own files count, not sub-folders
        if file.stem == DEFAULTS:
            everything = True
        elif file.stem == AGREEMENTS:
            agreements = True
        elif status.startswith("D"):
            deleted.add(file.stem)
        else:
            changed.add(file.stem)
    # A file renamed between .yaml and .yml is deleted and added: it stays managed.
    deleted -= changed
    return TenantChange(
        None if everything else frozenset(changed),
        frozenset(deleted),
        agreements,
        change.base,
        change.head,
    )


def endpoint_of(provider: Provider) -> str:
    """The API a provider speaks to, without any token hint (``target`` may hold one)."""
    return provider.endpoint or provider.target


async def identity_of(provider: Provider) -> str | None:
    """Who the token acts for, when the provider can say (``whoami``)."""
    return await provider.whoami()


def git_commit(path: Path) -> str | None:
    """The commit checked out in the repository that holds the configuration; None
    outside git (see ``gitrepo``: never a repository inside the tenant tree)."""
    from t4o_reconcile.gitrepo import head_commit

    return head_commit(path)


def check_target(saved: Plan, endpoint: str, identity: str | None) -> None:
    """A saved plan applies only to the API and identity it was made for: a plan made
    against staging must not apply to production because versions happen to match."""
    made_for = _where(saved.endpoint, saved.identity)
    this = _where(endpoint, identity)
    if made_for != this:
        raise WorkflowError(
            f"the plan was made for {made_for}, this is {this}; nothing was applied."
            " Apply it against the target it was made for, or plan again against this one."
        )


def _where(endpoint: str, identity: str | None) -> str:
    return f"{endpoint} as {identity}" if identity else endpoint


async def execute_plan(
    plan: Plan,
    provider: Provider,
    *,
    parallelism: int,
    allow_deletes: bool,
    fail_fast: bool,
    on_event: Callable[[ApplyEvent], None] | None = None,
) -> ApplyReport:
    """Make the plan's writes through ``provider`` (the engine's apply), the garbage
    collector's long-lived objects frozen for the run."""
    from t4o_reconcile.engine.apply import apply_plan

    # The plan and the snapshots stay alive for the whole run: move them out of the
    # collector's sight so its passes scan only what the requests create.
    gc.freeze()
    try:
        return await apply_plan(
            plan,
            provider,
            parallelism=parallelism,
            fail_fast=fail_fast,
            allow_deletes=allow_deletes,
            plan_id=plan.plan_id,
            on_event=on_event,
        )
    finally:
        gc.unfreeze()


class ApplyScreen(Protocol):
    """What apply shows and asks on the way; the command line implements it."""

    def show(self, plan: Plan, saved: Path | None) -> None:
        """The plan about to be applied (a saved one: its summary)."""

    def confirm(self) -> None:
        """Ask before writing; raise a ``T4oError`` to stop."""

    def progress(self, tenants: int) -> Progress:
        """Where apply's events go while it runs."""


class Progress(Protocol):
    def update(self, event: ApplyEvent) -> None: ...

    def close(self) -> None: ...


def refuse_changing_options(what: str, options: RunOptions) -> None:
    """A saved plan is re-planned as it was made: an option that would plan it another
    way (not one that allows or narrows, see ``engine.authority``) is refused, never
    ignored."""
    changing = [
        flag
        for flag, given in (
            # plan --reviewed takes the merged commit's own change (see from_saved).
            ("--changed-since", options.changed_since is not None and what != "plan --reviewed"),
            ("--max-delete-share", options.max_delete_share is not None),
        )
        if given
    ]
    if changing:
        raise UsageError(
            f"{what} uses the saved plan as it was reviewed; {', '.join(changing)} would"
            " change it. Make a new plan with those options and review that."
        )


async def plan_and_save(
    options: RunOptions,
    provider: Provider,
    target: Target,
    *,
    out: Path | None = None,
    reviewed: Path | None = None,
    seal: bool = True,
) -> Planned:
    """``plan``: as the flags ask, or (``reviewed``) as a reviewed plan was made and
    refused unless the result does what it showed; saved to ``out`` (sealed with the plan
    key unless ``seal`` is off: a plan made without secret values is never applied)."""
    if reviewed is not None:
        record = read_plan(
            reviewed, in_use=True
        )  # a record from a pull request: authorises nothing
        planned = await plan_for_reviewed(options, provider, record, digest_key(target))
    else:
        keyed = digest_key(target) if out is not None else None
        planned = await plan_configuration(PlanRequest.fresh(options, digest_key=keyed), provider)
    if out is not None:
        # Saved with its errors too, so `show` can render it for review; apply refuses it.
        write_plan(planned.plan, out, key=plan_key(target) if seal else None)
    return planned


async def apply_configuration(
    options: RunOptions,
    screen: ApplyScreen,
    *,
    plan_file: Path | None = None,
    auto_approve: bool = False,
    fail_fast: bool = False,
) -> ApplyReport | None:
    """``apply``: plan (or re-check the sealed ``plan_file`` against the configuration
    and live state), refuse what cannot be applied, confirm, then write. None: nothing to
    do.

    A saved plan is applied as reviewed (its tenants, its idempotency keys), and only
    as far as this run's flags allow: the file narrows them, never widens them.
    """
    if plan_file is not None:
        refuse_changing_options("apply --plan", options)  # before connecting
    target = target_of(options)
    async with open_provider(options, target) as provider:
        if plan_file is None:
            request = PlanRequest.fresh(options)
            plan = (await plan_configuration(request, provider)).plan
            refusals = delete_refusals(plan, allowed=options.allow_deletes)
        else:
            key = plan_key(target)
            saved = read_plan(plan_file, key=key, require_seal=True, in_use=True)
            recorded = saved.deletes_approved
            plan = await fresh_plan_for_saved(options, provider, saved, digest_key(target))
            del saved  # the fresh plan holds the same actions; the saved one is not kept
            refusals = delete_refusals(plan, allowed=options.allow_deletes, recorded=recorded)
        return await _apply(
            plan,
            provider,
            screen,
            refusals,
            plan_file=plan_file,
            parallelism=options.parallelism,
            auto_approve=auto_approve,
            fail_fast=fail_fast,
        )


async def _apply(
    plan: Plan,
    provider: Provider,
    screen: ApplyScreen,
    delete_refusals: list[str],
    *,
    plan_file: Path | None,
    parallelism: int,
    auto_approve: bool,
    fail_fast: bool,
) -> ApplyReport | None:
    from t4o_reconcile.engine.apply import check_applicable

    screen.show(plan, plan_file)
    if plan.has_errors:
        raise WorkflowError("the plan has errors; nothing was applied.")
    if plan.partial:
        # Only the API can tell a changed secret, and only for a writing token: a plan
        # that could not ask may hide a change, so it is never applied.
        raise WorkflowError(
            f"{len(plan.uncompared)} secret(s) not compared: the API compares secrets only"
            " for a writing token (this one is read-only, or the API cannot compare), so"
            " this plan cannot be applied; nothing was written."
        )
    if not plan.has_changes:
        return None
    refusals = check_applicable(plan, allow_deletes=True) + delete_refusals
    if refusals:
        raise WorkflowError("apply refused, nothing was written:\n  " + "\n  ".join(refusals))
    if not auto_approve and plan_file is None:
        screen.confirm()
    progress = screen.progress(plan.tenants.with_actions())
    try:
        return await execute_plan(
            plan,
            provider,
            parallelism=parallelism,
            allow_deletes=plan.deletes_approved,
            fail_fast=fail_fast,
            on_event=progress.update,
        )
    finally:
        progress.close()


def delete_refusals(plan: Plan, *, allowed: bool, recorded: bool = True) -> list[str]:
    """See ``engine.authority.delete_refusals``."""
    from t4o_reconcile.engine.authority import delete_refusals as refusals

    return refusals(plan, allowed=allowed, recorded=recorded)


async def _plan_as(
    options: RunOptions, provider: Provider, earlier: Plan, digest_key: bytes, what: str
) -> Planned:
    """Plan again as ``earlier`` was asked for, on the target it was made for, within
    the authority of this run's flags (``PlanRequest.from_saved``)."""
    request = PlanRequest.from_saved(options, earlier, digest_key=digest_key, what=what)
    check_target(earlier, endpoint_of(provider), await identity_of(provider))
    return await plan_configuration(request, provider)


async def fresh_plan_for_saved(
    options: RunOptions, provider: Provider, saved: Plan, digest_key: bytes
) -> Plan:
    """Re-plan from the current config and live state and refuse unless nothing changed
    since ``saved`` was made: the result then holds exactly the saved plan's actions, with
    the secrets resolved again from the verified configuration. Its approval of deletes
    is the saved plan's and this run's ``--allow-deletes`` together."""
    from t4o_reconcile.engine.review import same_actions
    from t4o_reconcile.engine.stale import check_stale

    if saved.partial:
        raise PlanFileError(
            "the saved plan is partial: it was made without secret values"
            f" ({len(saved.uncompared)} secret(s) not compared), so it cannot be applied;"
            " make the plan with the secrets, or run apply without --plan"
        )
    planned = await _plan_as(options, provider, saved, digest_key, "apply --plan")
    problems = check_stale(saved, planned.plan, planned.plan.config_digest)
    if not problems and not same_actions(saved, planned.plan):
        problems = ["the actions planned now differ from the saved plan"]
    if problems:
        raise WorkflowError(
            "the plan is stale, nothing was applied:\n  "
            + "\n  ".join(problems)
            + "\nRun plan again."
        )
    # The same plan, so the same idempotency keys as any earlier run of this file.
    planned.plan.plan_id = saved.plan_id
    return planned.plan


async def plan_for_reviewed(
    options: RunOptions, provider: Provider, reviewed: Plan, digest_key: bytes
) -> Planned:
    """Plan again as the reviewed plan was asked for (its tenants, within this run's
    flags; with ``--changed-since``, the merged commit's own change too) and refuse
    unless the result does exactly what the review showed inside its scope, and changes
    nothing outside it that no review showed: the record of a pull request only narrows
    what this run may do."""
    from t4o_reconcile.engine.review import check_reviewed, unreviewed

    planned = await _plan_as(options, provider, reviewed, digest_key, "plan --reviewed")
    problems = check_reviewed(
        reviewed,
        planned.plan,
        uncompared=uncompared(reviewed),
        reference_digest=planned.reviewed_digest,
    )
    if problems:
        raise WorkflowError(
            "refusing to apply what was not reviewed:\n  "
            + "\n  ".join(problems)
            + "\nPlan the pull request again (bring it up to date with the base branch first)."
        )
    beyond = unreviewed(reviewed, planned.plan)
    if beyond:
        # The advice in the first line: a message's own lines are its list (escape).
        raise WorkflowError(
            "refusing to apply what was not reviewed: the merge brings changes that no"
            " reviewed plan showed, and nothing was applied. Open a pull request that"
            " touches them (its plan is their review), or bring live to main with the apply"
            " workflow's manual recovery run (docs/recovery.md):\n  " + "\n  ".join(beyond)
        )
    if options.changed_since is None:
        planned.plan.changed_since = reviewed.changed_since
        planned.plan.base = reviewed.base
        planned.plan.skipped_tenants = reviewed.skipped_tenants
    return planned


def uncompared(plan: Plan) -> set[str]:
    """``address.field`` of every secret a plan made without secret values left
    uncompared (none for a plan made with them)."""
    return {entry.split(" ", 1)[0] for entry in plan.uncompared}


async def export_tenants(
    provider: Provider,
    slugs: Sequence[str] | None,
    out_dir: Path,
    *,
    force: bool,
    env_prefix: str | None = None,
) -> list[Path]:
    """Read the live tenants (``slugs``, or all) and write them as tenant files."""
    from t4o_reconcile.config.export import write_export
    from t4o_reconcile.config.secret_refs import SecretPolicy

    live = await provider.read(list(slugs) if slugs else None)
    if slugs:
        missing = [slug for slug in slugs if slug not in live.tenants]
        if missing:
            raise WorkflowError("no such tenant on the target: " + ", ".join(missing))
    prefix = SecretPolicy.from_settings(env_prefix=env_prefix, read_values=False).env_prefix
    return write_export(
        list(live.tenants.values()),
        live.agreements or {},
        out_dir,
        force=force,
        env_prefix=prefix,
    )
