"""Injected faults: latency, 5xx (before running, or after a committed write) and 429.

A plain ASGI middleware rather than ``BaseHTTPMiddleware``: the latency is an
``asyncio.sleep`` so concurrent requests overlap, and a write can be run to its commit
with its answer thrown away ("dropped after commit"), which is what proves that a client
retries creates safely through idempotency keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from t4o_reconcile.sandbox import rules

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class Faults:
    latency_ms: int = 0
    fail_rate: float = 0.0
    rate_limit: float = 0.0  # requests per second per token; 0 = no limit
    # A share of requests that hang for timeout_ms, are not run, and then answer 504:
    # a client with a shorter timeout sees a time-out and must retry.
    timeout_rate: float = 0.0
    timeout_ms: int = 5000
    # Of the failed writes, the share that runs and commits before its 503.
    drop_after_commit: float = 0.5
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms: expected 0 or more, got {self.latency_ms}")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"fail_rate: expected a share between 0 and 1, got {self.fail_rate}")
        if not 0.0 <= self.drop_after_commit <= 1.0:
            raise ValueError(
                f"drop_after_commit: expected a share between 0 and 1, got {self.drop_after_commit}"
            )
        if self.rate_limit < 0:
            raise ValueError(f"rate_limit: expected 0 or more, got {self.rate_limit}")
        if not 0.0 <= self.timeout_rate <= 1.0:
            raise ValueError(
                f"timeout_rate: expected a share between 0 and 1, got {self.timeout_rate}"
            )
        if self.timeout_ms < 0:
            raise ValueError(f"timeout_ms: expected 0 or more, got {self.timeout_ms}")

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.fail_rate or self.rate_limit or self.timeout_rate)


class _Bucket:
    """A token bucket: ``rate`` per second, bursts up to ``rate`` (at least one)."""

    __slots__ = ("stamp", "tokens")

    def __init__(self, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.stamp = now


async def _send_problem(
    send: Send, rule: rules.Rule, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(rules.problem_body(rule, detail)).encode()
    raw_headers = [
        (b"content-type", rules.PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": rule.status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _token_key(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            # Kept in memory only, and hashed so no token sits in the limiter's table.
            return hashlib.sha256(value).hexdigest()
    return "anonymous"


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


class FaultMiddleware:
    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults
        self.random = random.Random(faults.seed)
        self.buckets: dict[str, _Bucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.rate_limit:
            key = _token_key(scope)
            retry_after = self._take(key)
            limit_headers = self._rate_limit_headers(key)
            if retry_after:
                await _send_problem(
                    send,
                    rules.RATE_LIMITED,
                    f"more than {faults.rate_limit:g} requests per second for this token;"
                    f" retry after {retry_after} s",
                    {"Retry-After": str(retry_after), **limit_headers},
                )
                return
            send = _with_headers(send, limit_headers)
        if faults.timeout_rate and self.random.random() < faults.timeout_rate:
            await asyncio.sleep(faults.timeout_ms / 1000)
            await _send_problem(send, rules.TIMED_OUT, "injected fault: the request hung, not run")
            return
        if faults.fail_rate and self.random.random() < faults.fail_rate:
            if scope["method"] in WRITE_METHODS and self.random.random() < faults.drop_after_commit:
                await self._drop_after_commit(scope, receive, send)
                return
            rule = self.random.choice((rules.INTERNAL_ERROR, rules.UNAVAILABLE))
            await _send_problem(send, rule, "injected fault: the request was not run")
            return
        await self.app(scope, receive, send)

    def _take(self, key: str) -> int:
        """Seconds to wait, or 0 when the request may go ahead."""
        rate = self.faults.rate_limit
        now = time.monotonic()
        capacity = max(1.0, rate)
        bucket = self.buckets.setdefault(key, _Bucket(capacity, now))
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / rate))

    def _rate_limit_headers(self, key: str) -> dict[str, str]:
        """The limit as the IETF drafts announce it, in all three generations' fields, so
        any client can pace itself: the bucket holds ``capacity`` requests and refills at
        ``rate`` per second, i.e. a quota of ``capacity`` per ``capacity / rate`` seconds."""
        rate = self.faults.rate_limit
        capacity = max(1.0, rate)
        tokens = self.buckets[key].tokens
        remaining = math.floor(tokens)
        # Seconds until one more request may go (when none may now) or the bucket is full.
        missing = (1 - tokens) if remaining < 1 else (capacity - tokens)
        reset = math.ceil(max(0.0, missing) / rate)
        quota = f"{capacity:g}"
        window = f"{capacity / rate:g}"
        return {
            "RateLimit-Limit": quota,
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{quota};w={window}",
            "RateLimit": f"limit={quota}, remaining={remaining}, reset={reset}",
        }

    async def _drop_after_commit(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        await _send_problem(
            send, rules.UNAVAILABLE, "injected fault: the write was committed, its answer dropped"
        )
