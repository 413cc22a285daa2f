"""The pacer: a shared token bucket and a concurrency window that backs off like TCP."""

from __future__ import annotations

import asyncio
import time

import pytest

from t4o_reconcile.api.pacing import Pacer
from tests.api.aio import run


def test_without_a_known_limit_it_starts_with_one_request_and_opens_up() -> None:
    pacer = Pacer(8)
    assert pacer.window == 1
    for expected in (2, 3, 4):
        pacer.observe(200, {})
        assert pacer.window == expected  # slow start: one more per success
    for _ in range(20):
        pacer.observe(200, {})
    assert pacer.window == 8  # never wider than parallelism


def test_a_429_halves_the_window_and_growth_is_then_additive() -> None:
    pacer = Pacer(16, rate=10)
    assert pacer.window == 16  # told the rate: no slow start
    pacer.observe(429, {"Retry-After": "1"})
    assert pacer.window == 8 and pacer.throttled == 1
    pacer.observe(200, {})
    assert pacer.window == pytest.approx(8 + 1 / 8)


def test_the_window_never_closes_below_one() -> None:
    pacer = Pacer(4)
    for _ in range(5):
        pacer.observe(429, {})
    assert pacer.window == 1


def test_the_rate_is_learned_from_the_policy_unless_the_operator_set_one() -> None:
    learned = Pacer(8)
    learned.observe(200, {"RateLimit-Policy": "25;w=5"})
    assert learned.rate == 5.0
    told = Pacer(8, rate=2)
    told.observe(200, {"RateLimit-Policy": "25;w=5"})
    assert told.rate == 2  # the operator's word wins: the token may be shared with others


def test_a_spent_quota_pauses_everyone_until_the_reset() -> None:
    now = [100.0]
    pacer = Pacer(8, clock=lambda: now[0])
    pacer.observe(200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "3"})
    assert pacer.paused_for == 3
    now[0] += 1
    assert pacer.paused_for == 2


def test_requests_wait_for_a_pause() -> None:
    slept: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(2, rate=None, clock=lambda: now[0], sleep=sleep)
    pacer.pause(4)

    async def one() -> None:
        async with pacer.slot():
            pass

    run(one())
    assert slept == [4.0]


def test_no_more_requests_in_flight_than_the_window() -> None:
    pacer = Pacer(3, rate=1000)
    peak = 0

    async def one() -> None:
        nonlocal peak
        async with pacer.slot():
            peak = max(peak, pacer.in_flight)
            await asyncio.sleep(0.01)

    async def many() -> None:
        await asyncio.gather(*(one() for _ in range(12)))

    run(many())
    assert peak == 3


def test_a_known_rate_spaces_requests_instead_of_bursting() -> None:
    pacer = Pacer(16, rate=40)

    async def one() -> None:
        async with pacer.slot():
            pass

    async def many() -> None:
        await asyncio.gather(*(one() for _ in range(30)))

    started = time.monotonic()
    run(many())
    # At 40/s the bucket has room for ten at once (a quarter second), then one every 25 ms:
    # the other twenty take half a second. Only a lower bound, so a busy machine cannot
    # make this fail.
    assert time.monotonic() - started >= 0.45


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="parallelism"):
        Pacer(0)
    with pytest.raises(ValueError, match="rate limit"):
        Pacer(4, rate=0)
