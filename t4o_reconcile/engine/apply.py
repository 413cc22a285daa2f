"""Apply a plan: run its actions against a provider and report exactly what happened.

The order is the engine's (``engine.order.schedule``), in phases: agreement
creates and updates first (tenants may move into them), then the tenants concurrently,
each strictly in its own order, then whole-tenant deletes, then agreement deletes (they
need their tenants moved out first). A failure stops that tenant only, or everything not
yet started with ``fail_fast``; actions already in flight always finish, so the report
never guesses.

Every action carries an idempotency key derived from the plan id, its address and its
kind, so running the same saved plan again after a crash cannot create anything twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from array import array
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, overload

from t4o_reconcile.engine import sections
from t4o_reconcile.engine.order import Schedule, schedule
from t4o_reconcile.engine.plan import WHOLE_TENANT, Action, ActionKind, Plan
from t4o_reconcile.engine.provider import (
    ActionResult,
    ExecutionContext,
    Outcome,
    Provider,
    StreamingReader,
)
from t4o_reconcile.engine.snapshot import Secret
from t4o_reconcile.errors import ApplyRefused

REPORT_FORMAT_VERSION = 1
_MEMBERSHIP = sections.AgreementMembership.name

EventKind = Literal["tenant_started", "tenant_finished", "action_done"]


@dataclass(frozen=True, slots=True)
class ApplyEvent:
    """Progress of a run, for a terminal to draw. ``done`` of ``total`` actions have an
    outcome (skipped ones included, so ``done`` reaches ``total``)."""

    kind: EventKind
    tenant: str | None
    done: int
    total: int
    address: str | None = None
    outcome: Outcome | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    address: str
    tenant: str | None
    kind: ActionKind
    outcome: Outcome
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "tenant": self.tenant,
            "kind": self.kind,
            "outcome": self.outcome,
            "message": self.message,
        }


_KINDS: tuple[ActionKind, ...] = ("create", "update", "delete", "move")
_OUTCOMES: tuple[Outcome, ...] = ("applied", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class _TenantOutcomes:
    """One finished tenant's outcomes in a few objects: its addresses as one string with
    their ends, a byte per action for kind and outcome, and only the messages that are
    not empty. Kept as ActionOutcomes, 380,000 small objects outlived the tenants
    read among them and held 120 MB of the heap at 10,000 tenants."""

    tenant: str | None
    addresses: str
    ends: array[int]
    codes: bytes
    messages: dict[int, str]

    @classmethod
    def of(cls, outcomes: list[ActionOutcome]) -> _TenantOutcomes:
        ends = array("L", itertools.accumulate(len(entry.address) for entry in outcomes))
        return cls(
            tenant=outcomes[0].tenant if outcomes else None,
            addresses="".join(entry.address for entry in outcomes),
            ends=ends,
            codes=bytes(
                _KINDS.index(entry.kind) * len(_OUTCOMES) + _OUTCOMES.index(entry.outcome)
                for entry in outcomes
            ),
            messages={i: entry.message for i, entry in enumerate(outcomes) if entry.message},
        )

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: int) -> ActionOutcome:
        start = self.ends[index - 1] if index > 0 else 0
        kind, outcome = divmod(self.codes[index], len(_OUTCOMES))
        return ActionOutcome(
            self.addresses[start : self.ends[index]],
            self.tenant,
            _KINDS[kind],
            _OUTCOMES[outcome],
            self.messages.get(index, ""),
        )

    def __iter__(self) -> Iterator[ActionOutcome]:
        start = 0
        for index, (end, code) in enumerate(zip(self.ends, self.codes, strict=True)):
            kind, outcome = divmod(code, len(_OUTCOMES))
            yield ActionOutcome(
                self.addresses[start:end],
                self.tenant,
                _KINDS[kind],
                _OUTCOMES[outcome],
                self.messages.get(index, ""),
            )
            start = end


class Outcomes(Sequence[ActionOutcome]):
    """Every action's outcome in the order the plan lists them, finished tenants held
    compactly (``_TenantOutcomes``); each read makes the ``ActionOutcome``s afresh."""

    def __init__(self, blocks: Iterable[Sequence[ActionOutcome] | _TenantOutcomes] = ()) -> None:
        self._blocks = [block for block in blocks if len(block)]

    def __len__(self) -> int:
        return sum(len(block) for block in self._blocks)

    def __iter__(self) -> Iterator[ActionOutcome]:
        for block in self._blocks:
            yield from block

    @overload
    def __getitem__(self, index: int) -> ActionOutcome: ...

    @overload
    def __getitem__(self, index: slice) -> list[ActionOutcome]: ...

    def __getitem__(self, index: int | slice) -> ActionOutcome | list[ActionOutcome]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if index >= 0:
            for block in self._blocks:
                if index < len(block):
                    return block[index]
                index -= len(block)
        raise IndexError("outcome index out of range")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Bounded: asyncio formats the repr of a finished main task's result on exit.
        return f"<Outcomes of {len(self)} action(s)>"


@dataclass(slots=True)
class ApplyReport:
    target: str
    plan_id: str
    # In the order the plan lists them, not the order they finished.
    actions: Sequence[ActionOutcome] = field(default_factory=list)
    duration_seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        counts = {"applied": 0, "failed": 0, "skipped": 0}
        for entry in self.actions:
            counts[entry.outcome] += 1
        return counts

    @property
    def ok(self) -> bool:
        """Every action was applied (an empty plan is ok)."""
        return all(entry.outcome == "applied" for entry in self.actions)

    def failed(self) -> list[ActionOutcome]:
        return [entry for entry in self.actions if entry.outcome == "failed"]

    def tenant_counts(self) -> dict[str, dict[str, int]]:
        per: dict[str, dict[str, int]] = {}
        for entry in self.actions:
            if entry.tenant is None:
                continue
            counts = per.setdefault(entry.tenant, {"applied": 0, "failed": 0, "skipped": 0})
            counts[entry.outcome] += 1
        return per

    def summary(self) -> str:
        counts = self.counts()
        verdict = "Apply complete" if self.ok else "Apply incomplete"
        return (
            f"{verdict}: {counts['applied']} applied, {counts['failed']} failed,"
            f" {counts['skipped']} skipped."
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``--report FILE`` document: JSON-able, stable keys, no field values (so no
        secret can reach it), only addresses, outcomes and messages."""
        return {
            "format_version": REPORT_FORMAT_VERSION,
            "target": self.target,
            "plan_id": self.plan_id,
            "ok": self.ok,
            "counts": self.counts(),
            "duration_seconds": round(self.duration_seconds, 3),
            "tenants": self.tenant_counts(),
            "actions": [entry.to_dict() for entry in self.actions],
        }


def idempotency_key(plan_id: str, action: Action) -> str:
    """The same plan, address and kind always give the same key: a re-run of a saved plan
    replays a create instead of duplicating it, while two plans never share a key."""
    material = f"{plan_id}\n{action.address}\n{action.kind}".encode()
    return hashlib.sha256(material).hexdigest()


def check_applicable(plan: Plan, *, allow_deletes: bool) -> list[str]:
    """Why the plan cannot be applied at all; empty when it can."""
    store = plan.tenants
    reasons = [f"{error.address}: {error.message}" for error in plan.errors]
    if store.has_errors():  # else nothing to read: the store's summaries say so
        for tenant in store:
            reasons.extend(f"{error.address}: {error.message}" for error in tenant.errors)
    if reasons:
        reasons.insert(0, "the plan has errors; fix them and plan again")
    if not allow_deletes:
        for flagged in map(store.get, store.flagged_slugs()):
            if flagged is not None:
                why = "; ".join(flagged.deletes_need_flag)
                reasons.append(f"{flagged.slug}: needs --allow-deletes ({why})")
    return reasons


async def apply_plan(
    plan: Plan,
    provider: Provider,
    *,
    parallelism: int = 8,
    fail_fast: bool = False,
    allow_deletes: bool = False,
    plan_id: str,
    on_event: Callable[[ApplyEvent], None] | None = None,
) -> ApplyReport:
    """Run ``plan`` against ``provider``. Raises ``ApplyRefused`` before any write when
    the plan has errors or needs --allow-deletes that was not given. ``on_event`` is called
    from the event loop and must not raise."""
    if parallelism < 1:
        raise ValueError(f"parallelism must be at least 1, got {parallelism}")
    if not plan_id:
        raise ValueError("plan_id must be a non-empty string (it seeds idempotency keys)")
    reasons = check_applicable(plan, allow_deletes=allow_deletes)
    if reasons:
        raise ApplyRefused(reasons)
    run = _Run(
        provider=provider,
        plan_id=plan_id,
        fail_fast=fail_fast,
        schedule=schedule(plan),
        on_event=on_event,
    )
    started = time.monotonic()
    await run.execute(parallelism)
    return ApplyReport(
        target=provider.target,
        plan_id=plan_id,
        actions=run.outcomes(),
        duration_seconds=time.monotonic() - started,
    )


class _Run:
    def __init__(
        self,
        *,
        provider: Provider,
        plan_id: str,
        fail_fast: bool,
        schedule: Schedule,
        on_event: Callable[[ApplyEvent], None] | None,
    ) -> None:
        self.provider = provider
        self.plan_id = plan_id
        self.fail_fast = fail_fast
        self.schedule = schedule
        self.on_event = on_event
        self.total = schedule.total
        # Each phase's outcomes in the order of its actions; a tenant's kept compactly
        # once it is done, so its actions can go (a tenant on disk is read only while it
        # runs).
        self.first: list[ActionOutcome] = []
        self.tenant_outcomes: dict[str, _TenantOutcomes] = {}
        self.deletes: list[ActionOutcome | None] = [None] * len(schedule.tenant_deletes)
        self.last: list[ActionOutcome] = []
        self.recorded = 0
        # Versions learnt from writes in this run: the agreements' here, each tenant's
        # apart, dropped when the tenant is done (at 10,000 tenants, 380,000 entries).
        self.versions: dict[str, str] = {}
        self.tenant_versions: dict[str, dict[str, str]] = {}
        self.stopped = False  # set by fail_fast after the first failure
        self.failed_agreements: set[str] = set()
        self.any_tenant_incomplete = False

    def outcomes(self) -> Outcomes:
        """Every action's outcome, in the order the plan lists them."""
        deletes = [outcome for outcome in self.deletes if outcome is not None]
        return Outcomes(
            [
                self.first,
                *(self.tenant_outcomes[slug] for slug in self.schedule.tenants),
                deletes,
                self.last,
            ]
        )

    async def execute(self, parallelism: int) -> None:
        for action in self.schedule.agreements_first:
            if self.stopped:
                self.first.append(
                    self._skip(action, "skipped: apply stopped after a failure (fail fast)")
                )
                continue
            result = await self._write(action)
            self.first.append(result)
            if result.outcome != "applied":
                self.failed_agreements.add(action.key)
                if self.fail_fast:
                    self.stopped = True

        limit = asyncio.Semaphore(parallelism)

        async def bounded(slug: str) -> None:
            async with limit:
                done = await self._tenant(slug, self.schedule.tenant_actions(slug))
                self.tenant_outcomes[slug] = _TenantOutcomes.of(done)

        async def deleting(position: int, action: Action) -> None:
            async with limit:
                (self.deletes[position],) = await self._tenant(str(action.tenant), [action])

        async with asyncio.TaskGroup() as group:
            for slug in self.schedule.tenants:
                group.create_task(bounded(slug))
        async with asyncio.TaskGroup() as group:
            for position, action in enumerate(self.schedule.tenant_deletes):
                group.create_task(deleting(position, action))

        for action in self.schedule.agreements_last:
            if self.stopped:
                outcome = self._skip(action, "skipped: apply stopped after a failure (fail fast)")
            elif self.any_tenant_incomplete:
                outcome = self._skip(
                    action,
                    "skipped: not every tenant was applied, so the agreement may still hold"
                    " tenants; apply again once they succeed",
                )
            else:
                outcome = await self._write(action)
            self.last.append(outcome)

    async def _tenant(self, slug: str, actions: list[Action]) -> list[ActionOutcome]:
        """Run one tenant's actions in order: their outcomes, in the same order."""
        done: list[ActionOutcome] = []
        if self.stopped:
            for action in actions:
                done.append(
                    self._skip(action, "skipped: apply stopped after a failure (fail fast)")
                )
            self.any_tenant_incomplete = True
            return done
        self._emit(ApplyEvent("tenant_started", slug, self._done(), self.total))
        outcome: Outcome = "applied"
        for position, action in enumerate(actions):
            reason = self._reason_to_skip(action)
            if reason is None:
                result = await self._write(action)
                done.append(result)
                if result.outcome == "applied":
                    continue
                if self.fail_fast:
                    self.stopped = True
                reason = f"skipped: {action.address} did not apply, so {slug} stopped there"
                rest = actions[position + 1 :]
                outcome = "failed"
            else:
                rest = actions[position:]
                outcome = "skipped"
            for pending in rest:
                done.append(self._skip(pending, reason))
            self.any_tenant_incomplete = True
            break
        self._emit(ApplyEvent("tenant_finished", slug, self._done(), self.total, outcome=outcome))
        self._done_with(slug)
        return done

    def _done_with(self, slug: str) -> None:
        """No later action writes to ``slug``: what this run kept of it can go."""
        self.tenant_versions.pop(slug, None)
        if isinstance(self.provider, StreamingReader):
            self.provider.release(slug)

    def _reason_to_skip(self, action: Action) -> str | None:
        if self.stopped:
            return "skipped: apply stopped after a failure (fail fast)"
        blocker = self._blocked_by_agreement(action)
        if blocker is not None:
            return f'skipped: agreement "{blocker}" was not written'
        return None

    def _blocked_by_agreement(self, action: Action) -> str | None:
        if not self.failed_agreements or action.after is None:
            return None
        if action.section == _MEMBERSHIP:
            name = action.after.get("name")
        elif action.section == WHOLE_TENANT:
            name = action.after.get(_MEMBERSHIP)
        else:
            return None
        return name if isinstance(name, str) and name in self.failed_agreements else None

    async def _write(self, action: Action) -> ActionOutcome:
        versions = self._versions_for(action.tenant)
        context = ExecutionContext(
            idempotency_key=idempotency_key(self.plan_id, action),
            versions=MappingProxyType(versions),
        )
        try:
            result = await self.provider.execute(action, context)
        except Exception as exc:
            # A provider bug or an error it did not turn into a result: the action is
            # failed, never silently applied, and the other tenants carry on.
            result = ActionResult(
                action.address, "failed", f"{type(exc).__name__}: {exc}".rstrip(": ")
            )
        if result.outcome == "applied" and action.kind == "delete":
            self._learn(action.tenant, action.address, None)  # gone: no If-Match for it
        for address, version in result.versions.items():
            self._learn(action.tenant, address, version)
        if result.new_version is not None:
            self._learn(action.tenant, action.address, result.new_version)
        message = result.message
        if result.conflict:
            message = (
                f"{message + '; ' if message else ''}the resource changed since the plan read"
                " it (412): run plan again"
            )
        return self._record(action, result.outcome, _mask(message, action))

    def _versions_for(self, tenant: str | None) -> Mapping[str, str]:
        """What a write of ``tenant`` (None: an agreement) may send If-Match from."""
        if tenant is None:
            return self.versions
        return ChainMap(self.tenant_versions.setdefault(tenant, {}), self.versions)

    def _learn(self, tenant: str | None, address: str, version: str | None) -> None:
        """Keep ``address``'s version (None: forget it) with ``tenant``'s when it is one
        of the tenant's resources, else with the agreements'."""
        versions = self.versions
        if tenant is not None and (address == tenant or address.startswith(tenant + ".")):
            versions = self.tenant_versions.setdefault(tenant, {})
        if version is None:
            versions.pop(address, None)
        else:
            versions[address] = version

    def _skip(self, action: Action, message: str) -> ActionOutcome:
        return self._record(action, "skipped", message)

    def _record(self, action: Action, outcome: Outcome, message: str) -> ActionOutcome:
        recorded = ActionOutcome(action.address, action.tenant, action.kind, outcome, message)
        self.recorded += 1
        self._emit(
            ApplyEvent(
                "action_done",
                action.tenant,
                self._done(),
                self.total,
                address=action.address,
                outcome=outcome,
                message=message,
            )
        )
        return recorded

    def _done(self) -> int:
        return self.recorded

    def _emit(self, event: ApplyEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)


def _mask(message: str, action: Action) -> str:
    """A provider must never echo a secret; if one does, the report still does not."""
    for secret in _secrets(action.after):
        if secret.value:
            message = message.replace(secret.value, "(sensitive)")
    return message


def _secrets(value: object) -> Iterator[Secret]:
    if isinstance(value, Secret):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secrets(item)
