"""Pacing: spend the API's rate limit smoothly across all concurrent requests.

Two controls, shared by every request of one client:

- **a token bucket** (aiolimiter's leaky bucket with room for a quarter second of requests,
  so requests are spread out rather than sent in bursts) at the rate the operator gave
  (``--rate-limit``) or the server announced (``RateLimit-Policy``, quota per window);
- **a concurrency window**, as TCP's congestion window: it starts at one request while
  nothing is known (slow start: one more per success), halves on every 429 and grows by
  ``1/window`` per success back to ``parallelism``.

An answer that says the quota is spent (``RateLimit-Remaining: 0``) or a 429 pauses every
request until the server's reset time or ``Retry-After``, so the next request is not one
more 429. A 429 is therefore rare rather than the way the limit is found.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from aiolimiter import AsyncLimiter

from t4o_reconcile.api.ratelimit import parse_rate_limit


class Pacer:
    def __init__(
        self,
        parallelism: int,
        *,
        rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate limit must be above 0 requests per second, got {rate}")
        self.parallelism = parallelism
        self.told_rate = rate
        self.rate = rate
        # Slow start until the first answer tells us something; full width when told.
        self.window = float(parallelism) if rate is not None else 1.0
        self.slow_start = rate is None
        self.in_flight = 0
        self.throttled = 0  # 429 answers seen
        self._limiter = _bucket(rate)
        self._resume_at = 0.0
        self._clock = clock
        self._sleep = sleep
        self._changed: asyncio.Condition | None = None

    @property
    def paused_for(self) -> float:
        return max(0.0, self._resume_at - self._clock())

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one place in the window, and one token of the bucket, for one request."""
        changed = self._condition()
        async with changed:
            await changed.wait_for(lambda: self.in_flight < max(1, int(self.window)))
            self.in_flight += 1
        try:
            slept_until = 0.0
            # Sleep again only when the pause was extended meanwhile (another 429).
            while self._resume_at > slept_until and (wait := self.paused_for) > 0:
                slept_until = self._resume_at
                await self._sleep(wait)
            if self._limiter is not None:
                await self._limiter.acquire()
            yield
        finally:
            async with changed:
                self.in_flight -= 1
                changed.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every request that has not started for ``seconds`` from now."""
        self._resume_at = max(self._resume_at, self._clock() + max(0.0, seconds))

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one answer: the announced limit, a spent quota, a 429. Call it inside
        the request's ``slot()``: leaving the slot wakes the requests a wider window lets in."""
        info = parse_rate_limit(headers)
        if self.told_rate is None and info.rate is not None and info.rate != self.rate:
            self.rate = info.rate
            self._limiter = _bucket(info.rate)
        if info.remaining is not None and info.remaining < 1 and info.reset:
            self.pause(info.reset)
        if status == 429:
            self.throttled += 1
            self.slow_start = False
            self.window = max(1.0, self.window / 2)
        elif self.window < self.parallelism:
            self.window += 1.0 if self.slow_start else 1.0 / self.window
            self.window = min(float(self.parallelism), self.window)

    def _condition(self) -> asyncio.Condition:
        # Made on first use so it belongs to the running event loop, not the constructor's.
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed


def _bucket(rate: float | None) -> AsyncLimiter | None:
    """Room for a quarter second's worth (at least one): a request woken a little late
    does not lose its turn, and a burst stays far below any server's quota."""
    if rate is None:
        return None
    room = max(1.0, rate / 4)
    return AsyncLimiter(room, room / rate)
