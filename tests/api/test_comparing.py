"""The client's secret comparisons (api/comparing.py) against a scripted API: many
tenants a call, a tenant at a time from an API without the bulk call, a tenant over its
budget asked again alone, and an answer of another shape refused whole."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from t4o_reconcile.api import comparing
from t4o_reconcile.engine.snapshot import Fingerprint, Item, Secret, TenantSnapshot
from t4o_reconcile.errors import UnexpectedAnswer
from tests.api.mock_api import provider_for

PASSWORD = "smtp-password-never-shown"
WHOAMI = {"partner": "p", "tenant": None, "read_only": False}
Handler = Callable[[httpx.Request], httpx.Response]


def sides(slug: str) -> tuple[TenantSnapshot, TenantSnapshot]:
    want = TenantSnapshot(slug, {"email_account": {"": Item({"password": Secret(PASSWORD)})}})
    have = TenantSnapshot(slug, {"email_account": {"": Item({"password": Fingerprint()})}})
    return want, have


def stored(have: TenantSnapshot) -> Fingerprint:
    value = have.sections["email_account"][""].fields["password"]
    assert isinstance(value, Fingerprint)
    return value


def same_fields(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**{k: f[k] for k in ("resource", "key", "field")}, "same": True} for f in body]


def scripted(bulk: Callable[[list[dict[str, Any]]], httpx.Response]) -> tuple[Handler, list[str]]:
    """An API whose bulk call answers with ``bulk`` (given the tenants asked) and whose
    tenant's own call answers every field the same; the paths asked, in order."""
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/v1/whoami":
            return httpx.Response(200, json=WHOAMI)
        body = json.loads(request.content)
        if request.url.path == comparing.BULK_PATH:
            return bulk(body["tenants"])
        return httpx.Response(200, json={"fields": same_fields(body["fields"])})

    return handler, paths


def compare_all(handler: Handler, slugs: list[str]) -> list[TenantSnapshot]:
    provider = provider_for(handler, attempts=1)
    pairs = [sides(slug) for slug in slugs]

    async def go() -> None:
        await asyncio.gather(*(provider.compare_secrets(want, have) for want, have in pairs))
        await provider.aclose()

    asyncio.run(go())
    return [have for _, have in pairs]


def answered(tenants: list[dict[str, Any]]) -> httpx.Response:
    out = [{"slug": t["slug"], "fields": same_fields(t["fields"])} for t in tenants]
    return httpx.Response(200, json={"tenants": out})


def test_tenants_compared_together_are_asked_in_one_call() -> None:
    handler, paths = scripted(answered)

    haves = compare_all(handler, ["a-club", "b-club", "c-club"])

    assert paths == ["/v1/whoami", comparing.BULK_PATH]
    assert all(stored(have).same is True for have in haves)
    assert all(Secret(PASSWORD).matches(stored(have)) for have in haves)


def test_more_tenants_than_a_call_takes_are_asked_in_several() -> None:
    asked: list[int] = []

    def bulk(tenants: list[dict[str, Any]]) -> httpx.Response:
        asked.append(len(tenants))
        return answered(tenants)

    handler, _ = scripted(bulk)
    haves = compare_all(handler, [f"club-{n:03d}" for n in range(comparing.BATCH * 2 + 1)])

    assert asked == [comparing.BATCH, comparing.BATCH, 1]
    assert all(stored(have).compared for have in haves)


@pytest.mark.parametrize("status", [404, 405])
def test_an_api_without_the_bulk_call_is_asked_a_tenant_at_a_time(status: int) -> None:
    handler, paths = scripted(lambda tenants: httpx.Response(status, json={"status": status}))
    provider = provider_for(handler, attempts=1)
    pairs = [sides(slug) for slug in ("a-club", "b-club")]

    async def go() -> None:
        await asyncio.gather(*(provider.compare_secrets(*pair) for pair in pairs))
        await provider.compare_secrets(*sides("c-club"))  # straight to its own call
        await provider.aclose()

    asyncio.run(go())

    assert paths.count(comparing.BULK_PATH) == 1
    assert sorted(p for p in paths if p.startswith("/v1/tenants/")) == [
        f"/v1/tenants/{slug}/fingerprints:compare" for slug in ("a-club", "b-club", "c-club")
    ]
    assert all(stored(have).same is True for _, have in pairs)


def test_a_tenant_over_its_budget_is_asked_again_alone_and_one_gone_is_left() -> None:
    def bulk(tenants: list[dict[str, Any]]) -> httpx.Response:
        out: list[dict[str, Any]] = []
        for tenant in tenants:
            if tenant["slug"] == "busy-club":
                problem = {"type": "x/rate-limited", "title": "t", "status": 429, "detail": "d"}
                out.append({"slug": "busy-club", "problem": problem, "retry_after": 1})
            elif tenant["slug"] == "gone-club":
                problem = {"type": "x/not-found", "title": "t", "status": 404, "detail": "d"}
                out.append({"slug": "gone-club", "problem": problem})
            else:
                out.append({"slug": tenant["slug"], "fields": same_fields(tenant["fields"])})
        return httpx.Response(200, json={"tenants": out})

    handler, paths = scripted(bulk)
    ok, busy, gone = compare_all(handler, ["ok-club", "busy-club", "gone-club"])

    assert paths[-1] == "/v1/tenants/busy-club/fingerprints:compare"
    assert stored(ok).same is True and stored(busy).same is True
    assert not stored(gone).compared  # the plan says "not compared"


@pytest.mark.parametrize(
    "answer",
    [
        {"tenants": [{"slug": "a-club", "fields": []}]},  # b-club left out
        {"tenants": "all same"},
        {"fields": []},
        {"tenants": [{"slug": "a-club"}, {"slug": "b-club"}]},
        {
            "tenants": [
                {"slug": "a-club", "problem": {"status": 500}},
                {"slug": "b-club", "problem": {"status": 500}},
            ]
        },
        {"tenants": [{"slug": "a-club", "fields": []}, {"slug": "a-club", "fields": []}]},
        {"tenants": [{"slug": "a-club", "fields": []}, {"slug": "other", "fields": []}]},
    ],
)
def test_an_answer_of_another_shape_is_refused_whole(answer: dict[str, Any]) -> None:
    handler, _ = scripted(lambda tenants: httpx.Response(200, json=answer))

    with pytest.raises(UnexpectedAnswer) as raised:
        compare_all(handler, ["a-club", "b-club"])

    assert PASSWORD not in str(raised.value)


def test_a_field_answered_twice_is_refused() -> None:
    def bulk(tenants: list[dict[str, Any]]) -> httpx.Response:
        fields = same_fields(tenants[0]["fields"]) * 2
        return httpx.Response(200, json={"tenants": [{"slug": "a-club", "fields": fields}]})

    handler, _ = scripted(bulk)
    with pytest.raises(UnexpectedAnswer):
        compare_all(handler, ["a-club"])


def test_a_read_only_token_after_all_leaves_every_secret_not_compared() -> None:
    handler, paths = scripted(lambda tenants: httpx.Response(403, json={"status": 403}))
    provider = provider_for(handler, attempts=1)
    first, later = sides("a-club"), sides("b-club")

    async def go() -> None:
        await provider.compare_secrets(*first)
        await provider.compare_secrets(*later)  # not asked again
        await provider.aclose()

    asyncio.run(go())

    assert paths.count(comparing.BULK_PATH) == 1
    assert not stored(first[1]).compared and not stored(later[1]).compared


def test_a_failed_call_fails_every_tenant_waiting_on_it() -> None:
    handler, _ = scripted(lambda tenants: httpx.Response(500, json={"status": 500}))

    with pytest.raises(Exception) as raised:
        compare_all(handler, ["a-club", "b-club"])

    assert "500" in str(raised.value) and PASSWORD not in str(raised.value)
