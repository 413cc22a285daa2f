"""Each tenant's file meets its live state as both arrive, and is planned then.

The files load in a thread (parsed in worker processes) while the live state is read
tenant by tenant; a tenant is diffed as soon as both of its sides are known, and neither
side is kept, but the live state of a tenant whose plan changes something (apply and the
drift attribution need it). A no-change plan of 10,000 tenants never holds either side
whole.

Each side waits while more than ``AHEAD`` of its tenants wait for the other side, unless
the other side is itself waiting or done: at most one side waits at a time, so files in
another order than the API's cost memory, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from t4o_reconcile.engine.snapshot import Snapshot, TenantSnapshot
from t4o_reconcile.errors import UnexpectedAnswer

if TYPE_CHECKING:
    from t4o_reconcile.config.repository import Repository
    from t4o_reconcile.engine.diff import Planner
    from t4o_reconcile.engine.provider import StreamingReader

# Tenants one side may hold while they wait for the other side.
AHEAD = 400
# Tenants the loading thread hands over before it waits for room (at most this many
# more than AHEAD wait, on their way).
HAND_OFF = 32

Side = Literal["want", "have"]
# Loads the files, handing each tenant's snapshot over as it loads: the repository and a
# snapshot of its agreements.
Loader = Callable[[Callable[[TenantSnapshot], None]], "tuple[Repository, Snapshot]"]
# Asks the API about a tenant's desired secrets and lays its answers on the live side.
Comparer = Callable[[TenantSnapshot, TenantSnapshot], Awaitable[None]]


@dataclass(slots=True)
class Joined:
    repository: Repository
    desired: Snapshot  # the agreements (the tenants' fields live on in the create actions)
    live: Snapshot  # agreements, vocabulary and the tenants whose plan changes something
    slugs: set[str] = field(default_factory=set)  # every tenant file's slug
    loaded: float = 0.0  # perf_counter when the files were all loaded
    read: float = 0.0  # perf_counter when the live state was all read


class _Sides:
    """The tenants of each side waiting for the other, and which side waits."""

    def __init__(self) -> None:
        self.waiting_for: dict[Side, dict[str, TenantSnapshot]] = {"want": {}, "have": {}}
        self.blocked: set[Side] = set()
        self.done: set[Side] = set()
        self.closed = False
        self.changed = asyncio.Condition()

    async def room(self, side: Side) -> None:
        """Wait while ``side`` holds too many tenants and the other side can still come."""
        other: Side = "have" if side == "want" else "want"
        async with self.changed:
            while (
                len(self.waiting_for[side]) > AHEAD
                and other not in self.blocked
                and other not in self.done
                and not self.closed
            ):
                self.blocked.add(side)
                self.changed.notify_all()
                try:
                    await self.changed.wait()
                finally:
                    self.blocked.discard(side)
            self.changed.notify_all()

    async def finish(self, side: Side) -> None:
        async with self.changed:
            self.done.add(side)
            self.changed.notify_all()

    async def touch(self) -> None:
        async with self.changed:
            self.changed.notify_all()


async def join_and_plan(
    make_planner: Callable[[Snapshot], Planner],
    provider: StreamingReader,
    load: Loader,
    *,
    read_only: set[str] | None,
    on_desired: Callable[[TenantSnapshot], None] | None = None,
    compare: Comparer | None = None,
) -> tuple[Planner, Joined]:
    """Plan every tenant as its two sides meet, through the planner ``make_planner``
    makes once the live agreements and vocabulary are read. ``read_only``: the slugs to
    read live (None: every one); ``on_desired`` sees each tenant file's snapshot.

    The files' own errors come first: when they are invalid, that is raised, whatever
    the live read did. With ``compare``, a tenant whose desired secrets the API must be
    asked about is planned once it has answered."""
    join = _Join(provider, load, read_only, on_desired, compare)
    return await join.run(make_planner)


class _Join:
    def __init__(
        self,
        provider: StreamingReader,
        load: Loader,
        read_only: set[str] | None,
        on_desired: Callable[[TenantSnapshot], None] | None,
        compare: Comparer | None = None,
    ) -> None:
        self._provider = provider
        self._compare = compare
        self._comparing: set[asyncio.Future[None]] = set()
        self._load = load
        self._read_only = read_only
        self._on_desired = on_desired
        self._sides = _Sides()
        self._events: asyncio.Queue[tuple[Side, TenantSnapshot | None]] = asyncio.Queue()
        self._abandoned = threading.Event()
        self._times: dict[str, float] = {}
        self._ended: set[Side] = set()
        self._live = Snapshot()
        self._slugs: set[str] = set()
        self._read: set[str] = set()

    async def run(self, make_planner: Callable[[Snapshot], Planner]) -> tuple[Planner, Joined]:
        loop = asyncio.get_running_loop()
        load_task = asyncio.ensure_future(self._loading(loop))
        shared_task = asyncio.ensure_future(self._provider.read_shared())
        read_task = asyncio.ensure_future(self._reading())
        tasks = (load_task, shared_task, read_task)
        try:
            shared = await _files_first(load_task, shared_task)
            self._planner = make_planner(shared)
            self._live = Snapshot(agreements=shared.agreements, vocabulary=shared.vocabulary)
            while len(self._ended) < 2:
                side, tenant = await self._events.get()
                if tenant is not None:
                    try:
                        self._arrived(side, tenant)
                    except UnexpectedAnswer:
                        read_task.cancel()
                        await load_task  # the files' errors first
                        raise
                elif await self._side_ended(side, load_task, read_task):
                    break
                await self._sides.touch()
            repository, desired = await load_task
            await read_task
            while self._comparing:
                await self._comparing.pop()
        except BaseException:
            self._abandoned.set()
            self._sides.closed = True
            await self._sides.touch()
            running: list[asyncio.Future[Any]] = [*tasks, *self._comparing]
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(BaseException):
                    await task
            raise
        times = self._times
        joined = Joined(
            repository, desired, self._live, self._slugs, times["loaded"], times["read"]
        )
        return self._planner, joined

    async def _loading(self, loop: asyncio.AbstractEventLoop) -> tuple[Repository, Snapshot]:
        handed = 0

        def on_tenant(tenant: TenantSnapshot) -> None:
            # In the loading thread: hand the tenant over, and every HAND_OFF tenants wait
            # for room on the loop. A wait for each tenant held the loader (and the child
            # process feeding it) for every turn of a busy loop.
            nonlocal handed
            if self._abandoned.is_set():
                return
            loop.call_soon_threadsafe(self._events.put_nowait, ("want", tenant))
            handed += 1
            if handed % HAND_OFF == 0:
                asyncio.run_coroutine_threadsafe(self._sides.room("want"), loop).result()

        try:
            return await asyncio.to_thread(self._load, on_tenant)
        finally:
            self._times["loaded"] = time.perf_counter()
            await self._sides.finish("want")
            self._events.put_nowait(("want", None))

    async def _reading(self) -> None:
        try:
            async with contextlib.aclosing(self._provider.read_tenants(self._read_only)) as tenants:
                async for tenant in tenants:
                    self._events.put_nowait(("have", tenant))
                    await self._sides.room("have")
                    await self._compare_room()
        finally:
            self._times["read"] = time.perf_counter()
            await self._sides.finish("have")
            self._events.put_nowait(("have", None))

    async def _side_ended(
        self, side: Side, load_task: asyncio.Future[Any], read_task: asyncio.Future[None]
    ) -> bool:
        """Note that ``side`` has nothing more to give; True: stop (it failed)."""
        self._ended.add(side)
        if side == "want" and load_task.exception() is not None:
            return True  # raised by the caller; the read is stopped
        if side == "have" and read_task.exception() is not None:
            await load_task  # the files' errors first
            return True
        # Whatever waits on the side that ended is one-sided: new, or unmanaged.
        other: Side = "have" if side == "want" else "want"
        waiting = self._sides.waiting_for[other]
        for slug in sorted(waiting):
            one = waiting.pop(slug)
            if other == "have":
                self._plan(None, one)
            else:
                self._plan(one, None)
        return False

    def _arrived(self, side: Side, tenant: TenantSnapshot) -> None:
        if side == "have":
            if tenant.slug in self._read:
                # Once planned, a second copy would look unmanaged (and be deleted with
                # --delete-unmanaged): the provider's answer is refused instead.
                raise UnexpectedAnswer(f"the provider read tenant {tenant.slug} twice")
            self._read.add(tenant.slug)
        waiting = self._sides.waiting_for
        other: Side = "have" if side == "want" else "want"
        match = waiting[other].pop(tenant.slug, None)
        if side == "want":
            self._slugs.add(tenant.slug)
            if self._on_desired is not None:
                self._on_desired(tenant)
            unread = self._read_only is not None and tenant.slug not in self._read_only
            if match is not None or "have" in self._ended or unread:
                self._plan(tenant, match)
                return
        elif match is not None or "want" in self._ended:
            self._plan(match, tenant)
            return
        waiting[side][tenant.slug] = tenant

    def _plan(self, want: TenantSnapshot | None, have: TenantSnapshot | None) -> None:
        if self._compare is not None and want is not None and have is not None:
            from t4o_reconcile.engine.comparisons import pending

            if pending(want, have):
                task = asyncio.ensure_future(self._compared(want, have))
                self._comparing.add(task)
                task.add_done_callback(self._compare_done)
                return
        self._planned(want, have)

    def _compare_done(self, task: asyncio.Future[None]) -> None:
        # A failed comparison stays, to be raised at the end; a done one holds nothing.
        if not task.cancelled() and task.exception() is None:
            self._comparing.discard(task)

    async def _compare_room(self) -> None:
        """Read on only while at most ``AHEAD`` tenants wait for the API's comparison:
        each holds both of its sides until it is planned."""
        while True:
            running = [task for task in self._comparing if not task.done()]
            if len(running) <= AHEAD:
                return
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)

    async def _compared(self, want: TenantSnapshot, have: TenantSnapshot) -> None:
        assert self._compare is not None
        await self._compare(want, have)
        self._planned(want, have)

    def _planned(self, want: TenantSnapshot | None, have: TenantSnapshot | None) -> None:
        tenant_plan = self._planner.add(want, have)
        if have is not None and tenant_plan is not None and tenant_plan.has_actions():
            self._live.tenants[have.slug] = have


async def _files_first(load_task: asyncio.Future[Any], task: asyncio.Future[Snapshot]) -> Snapshot:
    """``task``'s result; when it fails, the files' own errors are raised first."""
    try:
        return await task
    except Exception:
        with contextlib.suppress(Exception):
            await load_task
        error = load_task.exception() if load_task.done() else None
        if error is not None:
            raise error from None
        raise
