"""The provider reads tenant by tenant, in the API's order, fetching only a few bulk
chunks ahead of its reader; a reader that stops early leaves nothing running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from t4o_reconcile.api import http_provider as provider_module
from t4o_reconcile.api.client import ApiClient
from t4o_reconcile.api.http_provider import HttpProvider
from t4o_reconcile.engine.snapshot import TenantSnapshot
from tests.api.aio import run

CHUNKS = [[f"club-{c:02d}-{n}" for n in range(3)] for c in range(10)]


class Counting(HttpProvider):
    """The bulk fetches of ``CHUNKS``, counted: how many run at once, and how many ran."""

    def __init__(self) -> None:
        never = httpx.MockTransport(lambda request: httpx.Response(500))
        super().__init__(ApiClient("http://api.test", "t", transport=never), target="test")
        self.running = 0
        self.most = 0
        self.started = 0
        self.cancelled = 0

    async def _chunks(self, chosen: set[str] | None) -> AsyncIterator[list[str]]:
        for chunk in CHUNKS:
            yield chunk

    async def _bulk(self, slugs: list[str]) -> list[TenantSnapshot]:
        self.started += 1
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.001)
            return [TenantSnapshot(slug=slug) for slug in slugs]
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1


def test_every_tenant_comes_in_order_with_few_chunks_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(provider_module, "READ_AHEAD", 2)
    reader = Counting()

    async def read() -> list[str]:
        slugs = []
        async for tenant in reader.read_tenants():
            slugs.append(tenant.slug)
            await asyncio.sleep(0.002)  # a reader slower than the API
        return slugs

    assert run(read()) == [slug for chunk in CHUNKS for slug in chunk]
    assert reader.most <= 3  # READ_AHEAD waiting, one more just started


def test_a_reader_that_stops_early_cancels_what_is_still_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(provider_module, "READ_AHEAD", 4)
    reader = Counting()

    async def first() -> str:
        tenants = reader.read_tenants()
        tenant = await anext(tenants)
        await tenants.aclose()
        return tenant.slug

    assert run(first()) == CHUNKS[0][0]
    assert reader.running == 0
    assert reader.started < len(CHUNKS)


def test_a_tenant_sent_twice_is_refused() -> None:
    """Once planned, a second copy would look unmanaged, and be deleted with
    --delete-unmanaged."""
    from t4o_reconcile.errors import UnexpectedAnswer

    reader = Counting()

    async def twice(slugs: list[str]) -> list[TenantSnapshot]:
        return [TenantSnapshot(slug="club-00-0") for _ in slugs]

    reader._bulk = twice  # type: ignore[method-assign]

    async def read() -> list[str]:
        return [tenant.slug async for tenant in reader.read_tenants()]

    with pytest.raises(UnexpectedAnswer, match="sent tenant club-00-0 twice"):
        run(read())
