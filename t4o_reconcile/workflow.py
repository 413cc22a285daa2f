"""The steps of plan, apply and export, joined: config → snapshot → provider → engine.

cli.py parses and prints; this module does the work between, so that tests and the
benchmarks can run the same path without a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    from t4o_reconcile.engine.digest import ConfigDigest
    from t4o_reconcile.engine.provider import Provider, StreamingReader


@dataclass(slots=True)
class RunOptions:
    path: Path
    api: str | None = None
    insecure: bool = False
    parallelism: int = 8
    tenants: tuple[str, ...] = ()
    delete_unmanaged: bool = False
    max_delete_share: float | None = None
    db_path: Path | None = None
    provider: str = "t4o"
    rate_limit: float | None = None  # requests per second; None: as the API announces
    deadline: float = DEFAULT_DEADLINE  # seconds one request may wait out 429 answers
    allow_deletes: bool = False  # plan --allow-deletes: recorded in the plan as approved
    changed_since: str | None = None  # plan --changed-since REF
    # Set by apply --plan from the saved plan: ``tenants`` is the exact set planned (even
    # when empty), and these tenants' files were deleted in the change.
    targeted: bool = False
    leaving: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT  # seconds one request may take, its answer included
    # What secret references may reach and whether values are read; None: the
    # operator's settings in the environment.
    policy: SecretPolicy | None = None
    # The key of the secrets in the config digest: set by open_provider from the target's
    # credentials (see digest_key); None only for in-process use without a target.
    digest_key: bytes | None = field(default=None, repr=False)
    # Name who made each live change the plan undoes (from the audit log); off where
    # nobody reads the plan (apply --plan re-plans only to compare).
    attribute: bool = True
    # Whether the plan carries the config digests and the live versions of every item
    # read: only a saved or compared plan needs them (each digest is a canonical JSON of
    # the whole configuration; the versions of 10,000 tenants are 430,000 entries).
    digests: bool = True


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


def load_desired(
    path: Path,
    policy: SecretPolicy | None = None,
    on_tenant: Callable[[TenantSnapshot], None] | None = None,
) -> tuple[Repository, Snapshot]:
    """The configuration as a snapshot. Unresolved secrets are left for the plan to
    report (as plan errors naming variable, tenant and field); anything else stops here.
    The repository comes back without its tenants (they are in the snapshot, or handed
    to ``on_tenant`` as each file loads and not kept)."""
    from t4o_reconcile.config.loader import load_repository
    from t4o_reconcile.config.snapshot import agreements_snapshot, tenant_snapshot

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

    result = load_repository(path, policy=policy, keep_tenants=False, on_tenant=snapshot_of)
    if result.repository is None:
        raise ConfigInvalid(result.problems)
    if failed:
        raise failed[0]
    agreements = agreements_snapshot(result.repository)
    return result.repository, Snapshot(tenants=dict(sorted(tenants.items())), agreements=agreements)


def open_provider(options: RunOptions) -> Provider:
    """The provider named by ``options.provider`` (an entry point of the group
    ``t4o_reconcile.providers``), built by its ``from_target(ProviderTarget)``."""
    from t4o_reconcile.api.providers import load_provider
    from t4o_reconcile.api.target import resolve_target

    target = resolve_target(
        options.api,
        insecure=options.insecure,
        db_path=options.db_path,
        rate_limit=options.rate_limit,
        deadline=options.deadline,
        timeout=options.timeout,
    )
    try:
        provider_class = load_provider(options.provider)
    except LookupError as exc:
        raise TargetError(str(exc)) from None
    provider = provider_class.from_target(target.for_provider(options.parallelism))
    options.digest_key = digest_key(target)
    return provider


PLAN_KEY_ENV = "T4O_PLAN_KEY"


def digest_key(target: Target, environ: Mapping[str, str] | None = None) -> bytes:
    """The key of the secrets in a plan's config digest: never in the plan file, never in
    the repository. ``T4O_PLAN_KEY`` when set (plan and apply with different tokens), else
    derived from the API token (the embedded sandbox's local token), so that only someone
    who holds the credentials to apply can make or check the digest."""
    env = os.environ if environ is None else environ
    secret = env.get(PLAN_KEY_ENV) or target.token
    if secret is None and target.embedded:
        from t4o_reconcile.api.embedded import local_token

        secret = local_token(target.db_path)
    material = (secret or "").encode()
    return hmac.new(material, b"t4o-reconcile/config-digest/v2", hashlib.sha256).digest()


def global_safety(options: RunOptions) -> SafetyOptions:
    safety = SafetyOptions()
    if options.max_delete_share is not None:
        safety.max_delete_share = options.max_delete_share
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
    options: RunOptions, provider: Provider, *, whole: bool = False
) -> Planned:
    """Load the tenant files and read the live state side by side, diffing each tenant
    as both of its sides are known: the plan, with what it was made from and how long
    each step took.

    ``Planned.live`` holds the tenants whose plan changes something and
    ``Planned.desired`` the agreements only (the create actions hold what they create);
    with ``whole`` (comparing against a saved or reviewed plan needs every tenant's live
    state), or from a provider that cannot read tenant by tenant, both are whole."""
    with gc_paused():
        return await _plan_configuration(options, provider, whole)


@dataclass(slots=True)
class _Made:
    plan: Plan
    repository: Repository
    desired: Snapshot
    live: Snapshot
    slugs: set[str]  # every tenant file's slug
    loaded: float
    read: float


async def _plan_configuration(options: RunOptions, provider: Provider, whole: bool) -> Planned:
    import time

    from t4o_reconcile.engine.digest import UNKEYED, ConfigDigest
    from t4o_reconcile.engine.provider import StreamingReader

    started = time.perf_counter()
    only: set[str] | None = set(options.tenants) if options.tenants or options.targeted else None
    leaving = set(options.leaving)
    if options.changed_since is not None:
        changed, deleted = await asyncio.to_thread(
            changed_tenants, options.path, options.changed_since
        )
        only = None if changed is None else (only or set()) | changed
        leaving |= deleted
    digests = (
        [ConfigDigest(options.digest_key or UNKEYED), ConfigDigest(references_only=True)]
        if options.digests
        else []
    )
    identity = asyncio.ensure_future(identity_of(provider))
    try:
        if not whole and isinstance(provider, StreamingReader):
            made = await _plan_streamed(options, provider, provider.target, only, leaving, digests)
        else:
            made = await _plan_whole(options, provider, only, leaving, digests)
        named = () if options.targeted else options.tenants
        unknown = [slug for slug in named if slug not in made.slugs]
        if unknown:
            raise WorkflowError(
                "--tenant names no tenant file: "
                + ", ".join(sorted(unknown))
                + f" (in {options.path})"
            )
    except BaseException:
        # The identity check runs beside the read: when planning fails, it is dropped too
        # (never left to report its own failure as a traceback at exit).
        identity.cancel()
        with contextlib.suppress(BaseException):
            await identity
        raise
    plan = made.plan
    if digests:
        plan.config_digest = digests[0].hexdigest(made.desired.agreements)
        plan.reference_digest = digests[1].hexdigest(made.desired.agreements)
    plan.only = sorted(only) if only is not None else None
    plan.changed_since = options.changed_since
    if only is not None:
        plan.skipped_tenants = sum(1 for slug in made.slugs if slug not in only)
    plan.delete_unmanaged = options.delete_unmanaged
    plan.endpoint = endpoint_of(provider)
    plan.identity = await identity
    plan.deletes_approved = options.allow_deletes
    plan.commit = git_commit(options.path)
    diffed = time.perf_counter()
    if options.attribute and plan.has_changes:
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
    return Planned(plan, made.desired, made.live, made.repository, timings)


async def _plan_whole(
    options: RunOptions,
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
        repository, desired = await asyncio.to_thread(load_desired, options.path, options.policy)
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
        delete_unmanaged=options.delete_unmanaged,
        safety=global_safety(options),
        leaving=leaving,
        versions=options.digests,
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
    options: RunOptions,
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

    def planner(shared: Snapshot) -> Planner:
        return Planner(
            target=target,
            live=shared,
            only=only,
            delete_unmanaged=options.delete_unmanaged,
            safety=global_safety(options),
            leaving=leaving,
            versions=options.digests,
        )

    def on_desired(tenant: TenantSnapshot) -> None:
        for digest in digests:
            digest.add(tenant)

    planning, joined = await join_and_plan(
        planner,
        provider,
        lambda on_tenant: load_desired(options.path, options.policy, on_tenant),
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


def changed_tenants(path: Path, ref: str) -> tuple[set[str] | None, set[str]]:
    """The tenants whose files under ``path`` differ from git ref ``ref`` (committed or
    not, new files included), and the tenants whose files were deleted. ``None`` for the
    first means every tenant: _defaults.yaml or _agreements.yaml changed."""
    from t4o_reconcile.config.loader import AGREEMENTS, DEFAULTS, SUFFIXES
    from t4o_reconcile.gitrepo import changed_files

    entries = changed_files(path, ref)
    changed: set[str] = set()
    deleted: set[str] = set()
    everything = False
    for status, name in entries:
        file = Path(name)
        if len(file.parts) != 1 or file.suffix not in SUFFIXES:
            continue  # only the repository's own files count, not sub-folders
        if file.stem in (DEFAULTS, AGREEMENTS):
            everything = True
        elif status.startswith("D"):
            deleted.add(file.stem)
        else:
            changed.add(file.stem)
    return (None if everything else changed), deleted


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


def refuse_changing_options(what: str, options: RunOptions, allow_deletes: bool) -> None:
    """A saved plan is used as it was reviewed: an option that would change what it does
    is refused, never ignored."""
    changing = [
        flag
        for flag, given in (
            ("--tenant", bool(options.tenants)),
            ("--changed-since", options.changed_since is not None),
            ("--delete-unmanaged", options.delete_unmanaged),
            ("--max-delete-share", options.max_delete_share is not None),
            ("--allow-deletes", allow_deletes),
        )
        if given
    ]
    if changing:
        raise UsageError(
            f"{what} uses the saved plan as it was reviewed; {', '.join(changing)} would"
            " change it. Make a new plan with those options (plan --allow-deletes --out FILE"
            " records the approval of deletes) and review that."
        )


async def apply_configuration(
    options: RunOptions,
    screen: ApplyScreen,
    *,
    plan_file: Path | None = None,
    auto_approve: bool = False,
    allow_deletes: bool = False,
    fail_fast: bool = False,
) -> ApplyReport | None:
    """``apply``: plan (or re-check the saved ``plan_file`` against the configuration and
    live state), refuse what cannot be applied, confirm, then write. None: nothing to do.

    A saved plan is applied exactly as reviewed: its tenants, its approval of deletes,
    its idempotency keys; any option that would change it is refused first.
    """
    if plan_file is not None:
        refuse_changing_options("apply --plan", options, allow_deletes)
    # Only a saved plan is compared by its config digests; a fresh one need not make them.
    options.digests = plan_file is not None
    async with open_provider(options) as provider:
        return await _apply(
            options,
            provider,
            screen,
            plan_file=plan_file,
            auto_approve=auto_approve,
            allow_deletes=allow_deletes,
            fail_fast=fail_fast,
        )


async def _apply(
    options: RunOptions,
    provider: Provider,
    screen: ApplyScreen,
    *,
    plan_file: Path | None,
    auto_approve: bool,
    allow_deletes: bool,
    fail_fast: bool,
) -> ApplyReport | None:
    from t4o_reconcile.engine.apply import check_applicable

    if plan_file is not None:
        from t4o_reconcile.engine.planfile import check_tool_version, load_plan
        from t4o_reconcile.planseal import plan_key_from_env

        key = plan_key_from_env()
        saved = load_plan(plan_file, key=key, require_seal=key is not None)
        check_tool_version(saved, plan_file)
        allow_deletes = saved.deletes_approved
        plan = await fresh_plan_for_saved(options, provider, saved)
        del saved  # the fresh plan holds the same actions; the saved one is not kept
    else:
        plan = (await plan_configuration(options, provider)).plan
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
    refusals = check_applicable(plan, allow_deletes=allow_deletes)
    if refusals:
        raise WorkflowError("apply refused, nothing was written:\n  " + "\n  ".join(refusals))
    if not auto_approve and plan_file is None:
        screen.confirm()
    progress = screen.progress(plan.tenants.with_actions())
    try:
        return await execute_plan(
            plan,
            provider,
            parallelism=options.parallelism,
            allow_deletes=allow_deletes,
            fail_fast=fail_fast,
            on_event=progress.update,
        )
    finally:
        progress.close()


async def _plan_as(options: RunOptions, provider: Provider, earlier: Plan) -> Planned:
    """Plan again as ``earlier`` was asked for, on the target it was made for: exactly
    the tenants it covered (a --changed-since plan is not diffed against git again: after
    the merge there is nothing to diff), the same leaving tenants and unmanaged deletes."""
    check_target(earlier, endpoint_of(provider), await identity_of(provider))
    options.tenants = tuple(earlier.only or ())
    options.targeted = earlier.only is not None
    options.changed_since = None
    options.leaving = tuple(earlier.leaving)
    options.delete_unmanaged = earlier.delete_unmanaged
    options.digests = True  # the versions and digests the comparison needs
    return await plan_configuration(options, provider)


async def fresh_plan_for_saved(options: RunOptions, provider: Provider, saved: Plan) -> Plan:
    """Re-plan from the current config and live state and refuse unless nothing changed
    since ``saved`` was made: the result then holds exactly the saved plan's actions, with
    the secrets resolved again from the verified configuration."""
    from t4o_reconcile.engine.review import same_actions
    from t4o_reconcile.engine.stale import check_stale

    if saved.partial:
        raise PlanFileError(
            "the saved plan is partial: it was made without secret values"
            f" ({len(saved.uncompared)} secret(s) not compared), so it cannot be applied;"
            " make the plan with the secrets, or run apply without --plan"
        )
    # Apply has no use for who made the drift: the re-plan only proves nothing moved.
    options.attribute = False
    planned = await _plan_as(options, provider, saved)
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
    planned.plan.deletes_approved = saved.deletes_approved
    return planned.plan


async def plan_for_reviewed(options: RunOptions, provider: Provider, reviewed: Plan) -> Planned:
    """Plan again as the reviewed plan was asked for (the same tenants, the same
    approval) and refuse unless the result does exactly what the review showed."""
    from t4o_reconcile.engine.review import check_reviewed

    options.allow_deletes = reviewed.deletes_approved
    planned = await _plan_as(options, provider, reviewed)
    problems = check_reviewed(reviewed, planned.plan, uncompared=uncompared(reviewed))
    if problems:
        raise WorkflowError(
            "refusing to apply what was not reviewed:\n  "
            + "\n  ".join(problems)
            + "\nPlan the pull request again (bring it up to date with the base branch first)."
        )
    planned.plan.changed_since = reviewed.changed_since
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
