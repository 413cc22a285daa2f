"""Time-outs: a sandbox that hangs on a share of requests, and a client that gives up on
a hung request and retries it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from t4o_reconcile.api.client import ApiClient, ApiError, RetryPolicy
from tests.e2e.conftest import Server, sandbox_process


@pytest.fixture
def hanging(tmp_path: Path) -> Iterator[Server]:
    """Every request hangs for 3 s and is then answered 504."""
    with sandbox_process(
        tmp_path / "sandbox.db", "--timeout-rate", "1", "--timeout-ms", "3000"
    ) as running:
        yield running


def client(server: Server, *, timeout: float, attempts: int) -> ApiClient:
    return ApiClient(
        server.url,
        server.token,
        timeout=timeout,
        retry=RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.05),
    )


async def get_tenants(api: ApiClient) -> None:
    try:
        await api.get_json("/v1/tenants")
    finally:
        await api.aclose()


def test_a_hung_request_times_out_and_is_retried_until_the_attempts_run_out(
    hanging: Server,
) -> None:
    api = client(hanging, timeout=0.3, attempts=3)

    with pytest.raises(ApiError) as raised:
        asyncio.run(get_tenants(api))

    assert raised.value.status == 0  # no answer at all
    assert "Timeout" in raised.value.detail
    assert api.request_count == 3


def test_a_client_that_waits_longer_gets_the_504_problem(hanging: Server) -> None:
    api = client(hanging, timeout=10, attempts=1)

    with pytest.raises(ApiError) as raised:
        asyncio.run(get_tenants(api))

    assert raised.value.status == 504
    assert raised.value.rule == "timed-out"


def test_retries_get_through_a_sandbox_that_hangs_on_some_requests(tmp_path: Path) -> None:
    async def twenty_reads() -> int:
        api = client(server, timeout=0.25, attempts=10)
        try:
            for _ in range(20):
                await api.get_json("/v1/tenants")
            return api.request_count
        finally:
            await api.aclose()

    with sandbox_process(
        tmp_path / "sandbox.db", "--timeout-rate", "0.3", "--timeout-ms", "1000"
    ) as server:
        requests = asyncio.run(twenty_reads())
    assert requests >= 20  # every read answered; the hung ones were sent again
