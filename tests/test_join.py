"""Each tenant's file meets its live state as both arrive: the plan is the one made from
whole snapshots, whatever order either side comes in, and only the live state of tenants
with changes is kept. The files' errors come first; nothing hangs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

import pytest

from t4o_reconcile import join
from t4o_reconcile.engine.comparisons import pending, settle
from t4o_reconcile.engine.diff import Planner, make_plan
from t4o_reconcile.engine.snapshot import Fingerprint, Snapshot, TenantSnapshot
from t4o_reconcile.errors import ApiError, ConfigError

from .engine.builders import agreements, desired_tenant, live_twin, snapshot

REPOSITORY: Any = object()


class FakeApi:
    """Reads ``live`` tenant by tenant in ``order``; fails after ``fail_after`` tenants."""

    def __init__(self, live: Snapshot, order: list[str], fail_after: int | None = None) -> None:
        self.live = live
        self.order = order
        self.fail_after = fail_after
        self.read: list[str] = []

    async def read_shared(self) -> Snapshot:
        return Snapshot(agreements=self.live.agreements)

    async def read_tenants(
        self, slugs: Iterable[str] | None = None
    ) -> AsyncGenerator[TenantSnapshot, None]:
        wanted = None if slugs is None else set(slugs)
        for n, slug in enumerate(self.order):
            if n == self.fail_after:
                raise ApiError(503, "about:blank", "the API went away")
            if wanted is None or slug in wanted:
                self.read.append(slug)
                await asyncio.sleep(0)
                yield self.live.tenants[slug]

    def adopt(self, tenant: TenantSnapshot) -> None:
        raise AssertionError("the join adopts nothing itself")

    def release(self, slug: str) -> None:
        raise AssertionError("only apply releases")


def loader(
    desired: Snapshot, order: list[str], error: Exception | None = None
) -> Callable[[Callable[[TenantSnapshot], None]], tuple[Any, Snapshot]]:
    def load(on_tenant: Callable[[TenantSnapshot], None]) -> tuple[Any, Snapshot]:
        assert threading.current_thread() is not threading.main_thread()
        for slug in order:
            on_tenant(desired.tenants[slug])
        if error is not None:
            raise error
        return REPOSITORY, Snapshot(agreements=desired.agreements)

    return load


def world(count: int) -> tuple[Snapshot, Snapshot]:
    """``count`` tenants: every third unchanged, others changed, a few new, a few live
    ones without a file."""
    desired, live = Snapshot(agreements=agreements(("NOF", "1"))), Snapshot(agreements={})
    for n in range(count):
        want = desired_tenant(f"club-{n:03d}", agreement="NOF")
        have = live_twin(want)
        if n % 3:
            have.sections["billing"][""].fields["licenses"] = 99
        if n % 7 != 1:
            desired.tenants[want.slug] = want
        if n % 5 != 2:
            live.tenants[have.slug] = have
    return desired, live


def planner_for(shared: Snapshot, **options: Any) -> Planner:
    return Planner(target="test", live=shared, **options)


def run(
    desired: Snapshot,
    live: Snapshot,
    file_order: list[str],
    api_order: list[str],
    **kwargs: Any,
) -> tuple[Any, join.Joined]:
    async def go() -> tuple[Any, join.Joined]:
        planner, joined = await asyncio.wait_for(
            join.join_and_plan(
                planner_for,
                FakeApi(live, api_order, kwargs.pop("fail_after", None)),
                loader(desired, file_order, kwargs.pop("error", None)),
                read_only=kwargs.pop("read_only", None),
            ),
            timeout=30,
        )
        return planner.finish(joined.desired.agreements), joined

    return asyncio.run(go())


@pytest.mark.parametrize("ahead", [1, 400])
@pytest.mark.parametrize("files", ["same", "reversed"])
def test_the_joined_plan_is_the_whole_plan_whatever_the_order(
    monkeypatch: pytest.MonkeyPatch, ahead: int, files: str
) -> None:
    monkeypatch.setattr(join, "AHEAD", ahead)
    desired, live = world(60)
    api_order = sorted(live.tenants)
    file_order = sorted(desired.tenants, reverse=files == "reversed")
    plan, joined = run(desired, live, file_order, api_order)
    whole = make_plan(desired, live, target="test")
    plan.plan_id = whole.plan_id
    assert plan == whole
    assert joined.slugs == set(desired.tenants)


def test_only_tenants_whose_plan_changes_something_are_kept() -> None:
    desired, live = world(30)
    plan, joined = run(desired, live, sorted(desired.tenants), sorted(live.tenants))
    changing = {t.slug for t in plan.tenants if t.actions}
    assert changing and len(changing) < len(desired.tenants)
    assert joined.desired.tenants == {}  # the create actions hold what they create
    assert set(joined.live.tenants) == changing & set(live.tenants)


def test_a_tenant_not_read_is_planned_as_it_loads() -> None:
    desired, live = world(10)
    only = {"club-000", "club-002"}
    plan, _ = run(desired, live, sorted(desired.tenants), sorted(live.tenants), read_only=only)
    whole = make_plan(
        desired,
        Snapshot(
            tenants={s: t for s, t in live.tenants.items() if s in only},
            agreements=live.agreements,
        ),
        target="test",
    )
    plan.plan_id = whole.plan_id
    assert plan == whole


def test_the_files_errors_come_before_the_apis() -> None:
    desired, live = world(20)
    with pytest.raises(ConfigError, match="bad file"):
        run(
            desired,
            live,
            sorted(desired.tenants),
            sorted(live.tenants),
            fail_after=3,
            error=ConfigError("bad file"),
        )


def test_a_failed_read_is_raised_once_the_files_are_valid() -> None:
    desired, live = world(20)
    with pytest.raises(ApiError, match="went away"):
        run(desired, live, sorted(desired.tenants), sorted(live.tenants), fail_after=3)


def test_invalid_files_stop_the_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(join, "AHEAD", 1)
    desired, live = world(60)
    with pytest.raises(ConfigError):
        run(
            desired,
            live,
            sorted(desired.tenants, reverse=True),
            sorted(live.tenants),
            error=ConfigError("bad file"),
        )


def test_tenants_only_one_side_knows_are_new_or_unmanaged() -> None:
    want = desired_tenant("ok-new")
    gone = live_twin(desired_tenant("ok-gone"))
    plan, joined = run(
        snapshot(want, agreements={}), snapshot(gone, agreements={}), ["ok-new"], ["ok-gone"]
    )
    assert [t.slug for t in plan.tenants] == ["ok-new"]
    assert plan.unmanaged_tenants == ["ok-gone"]
    assert joined.live.tenants == {}


def test_a_tenant_read_twice_is_refused_not_planned_as_unmanaged() -> None:
    """A second copy would look unmanaged and be deleted with --delete-unmanaged."""
    from t4o_reconcile.errors import UnexpectedAnswer

    desired, live = world(6)
    order = sorted(live.tenants)
    with pytest.raises(UnexpectedAnswer, match="read tenant club-000 twice"):
        run(desired, live, sorted(desired.tenants), [*order, order[0]])


def test_invalid_files_come_before_a_tenant_read_twice() -> None:
    desired, live = world(6)
    order = sorted(live.tenants)
    with pytest.raises(ConfigError, match="bad file"):
        run(
            desired,
            live,
            sorted(desired.tenants),
            [order[0], order[0], *order[1:]],
            error=ConfigError("bad file"),
        )


def _uncompared(live: Snapshot) -> None:
    """Live as the API reads it: each stored secret not yet compared."""
    for tenant in live.tenants.values():
        for items in tenant.sections.values():
            for item in items.values():
                for name, value in list(item.fields.items()):
                    if isinstance(value, Fingerprint):
                        item.fields[name] = Fingerprint(value.hint, value.source)


@pytest.mark.parametrize("ahead", [1, 400])
def test_tenants_with_secrets_are_planned_once_the_api_compared_them(
    monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    monkeypatch.setattr(join, "AHEAD", ahead)
    desired, live = world(40)
    _uncompared(live)
    asked: list[str] = []

    async def compare(want: TenantSnapshot, have: TenantSnapshot) -> None:
        asked.append(have.slug)
        await asyncio.sleep(0.001 * (len(asked) % 3))  # answers out of order
        settle(have, {one: True for one in pending(want, have)})

    async def go() -> Any:
        planner, joined = await asyncio.wait_for(
            join.join_and_plan(
                planner_for,
                FakeApi(live, sorted(live.tenants)),
                loader(desired, sorted(desired.tenants)),
                read_only=None,
                compare=compare,
            ),
            timeout=30,
        )
        return planner.finish(joined.desired.agreements)

    plan = asyncio.run(go())
    both = sorted(set(desired.tenants) & set(live.tenants))
    assert sorted(asked) == both  # once each, and only where both sides exist
    assert plan.uncompared == []
    whole = make_plan(desired, live, target="test")  # live now holds the answers
    plan.plan_id = whole.plan_id
    assert plan == whole


def test_a_failed_comparison_fails_the_plan() -> None:
    desired, live = world(12)
    _uncompared(live)

    async def compare(want: TenantSnapshot, have: TenantSnapshot) -> None:
        raise ApiError(429, "about:blank", "over the budget")

    async def go() -> Any:
        return await asyncio.wait_for(
            join.join_and_plan(
                planner_for,
                FakeApi(live, sorted(live.tenants)),
                loader(desired, sorted(desired.tenants)),
                read_only=None,
                compare=compare,
            ),
            timeout=30,
        )

    with pytest.raises(ApiError, match="over the budget"):
        asyncio.run(go())
