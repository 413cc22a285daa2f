"""An HTTP provider over a mocked transport, for tests of what it does with answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from t4o_reconcile.api.client import ApiClient, RetryPolicy
from t4o_reconcile.api.http_provider import HttpProvider


async def no_sleep(seconds: float) -> None:
    return None


def provider_for(
    handler: Callable[[httpx.Request], httpx.Response], *, attempts: int = 3
) -> HttpProvider:
    client = ApiClient(
        "https://api.example.com",
        "tok",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=attempts),
        sleep=no_sleep,
    )
    return HttpProvider(client, target="https://api.example.com")
