"""ApiClient against httpx.MockTransport: auth, errors, retries, pagination, concurrency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from t4o_reconcile.api.client import ApiClient, ApiError, RetryPolicy, parse_retry_after
from tests.api.aio import run

Handler = Callable[[httpx.Request], Any]
SECRET = "s3cr3t-smtp-password-do-not-leak"


class Recorder:
    """Sleeps recorded instead of slept: the tests run with zero wall-clock waiting."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def make_client(
    handler: Handler, *, attempts: int = 4, parallelism: int = 8, rand: float = 1.0
) -> tuple[ApiClient, Recorder]:
    sleep = Recorder()
    client = ApiClient(
        "https://api.example.com",
        "tok_abc_123",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=3.0, max_retry_after=20),
        parallelism=parallelism,
        sleep=sleep,
        rand=lambda: rand,
    )
    return client, sleep


def problem(status: int, rule: str, detail: str, **extra: Any) -> httpx.Response:
    body = {
        "type": f"https://t4o-reconcile.dev/problems/{rule}",
        "title": rule.replace("-", " "),
        "status": status,
        "detail": detail,
        **extra,
    }
    return httpx.Response(
        status, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )


def test_sends_bearer_token_and_json_to_the_base_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    client, _ = make_client(handler)
    data = run(client.request("POST", "/v1/agreements", json={"name": "A"}, idempotency_key="k1"))
    assert data.json() == {"ok": True}
    request = seen[0]
    assert str(request.url) == "https://api.example.com/v1/agreements"
    assert request.headers["authorization"] == "Bearer tok_abc_123"
    assert request.headers["idempotency-key"] == "k1"
    assert json.loads(request.content) == {"name": "A"}


def test_problem_json_becomes_an_api_error_naming_the_rule_and_field() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return problem(
            409,
            "invoice-number-too-low",
            "next_invoice_number 5 must be greater than the last issued 9",
            field="next_invoice_number",
        )

    client, sleep = make_client(handler)
    with pytest.raises(ApiError) as caught:
        run(client.request("PATCH", "/v1/tenants/a/invoicing", json={}, if_match='"1"'))
    error = caught.value
    assert (error.status, error.rule, error.field) == (
        409,
        "invoice-number-too-low",
        "next_invoice_number",
    )
    text = str(error)
    assert text.startswith("PATCH /v1/tenants/a/invoicing: 409 ")
    assert "greater than the last issued 9" in text
    assert "(field next_invoice_number)" in text
    assert sleep.sleeps == []  # a broken rule is not transient


def test_an_error_never_shows_the_request_body_or_echoed_input() -> None:
    # FastAPI's stock 422 echoes the rejected input; the error text must drop it.
    def handler(request: httpx.Request) -> httpx.Response:
        assert SECRET in request.content.decode()
        return httpx.Response(
            422,
            json={
                "detail": [
                    {"loc": ["body", "password"], "msg": "too short", "input": SECRET},
                ]
            },
        )

    client, _ = make_client(handler)
    with pytest.raises(ApiError) as caught:
        run(client.request("POST", "/x", json={"password": SECRET}, idempotency_key="k"))
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert "body.password: too short" in str(caught.value)


def test_non_json_error_is_reported_with_its_status_and_a_short_snippet() -> None:
    client, _ = make_client(lambda r: httpx.Response(404, text="<h1>nothing here</h1>"))
    with pytest.raises(ApiError) as caught:
        run(client.request("GET", "/v1/nope"))
    assert caught.value.status == 404
    assert "Not Found" in str(caught.value)
    assert "nothing here" in str(caught.value)


def test_5xx_is_retried_with_exponential_full_jitter_backoff() -> None:
    answers = iter([503, 500, 502, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={})

    client, sleep = make_client(handler, attempts=4, rand=0.5)
    assert run(client.request("GET", "/v1/tenants")).status_code == 200
    # rand * min(max_delay=3, base=0.5 * 2**n): 0.5*0.5, 0.5*1.0, 0.5*2.0
    assert sleep.sleeps == [0.25, 0.5, 1.0]


def test_backoff_is_capped_by_max_delay() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=3.0)
    assert [policy.backoff(n, lambda: 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff(4, lambda: 0.0) == 0.0


def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return problem(503, "unavailable", "try later")

    client, sleep = make_client(handler, attempts=3)
    with pytest.raises(ApiError) as caught:
        run(client.request("GET", "/v1/tenants"))
    assert calls == 3
    assert len(sleep.sleeps) == 2
    assert caught.value.status == 503


def test_429_waits_as_long_as_retry_after_says_but_no_longer_than_the_cap() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(200, json=[]),
        ]
    )
    client, sleep = make_client(lambda r: next(answers))
    run(client.request("GET", "/v1/tenants"))
    assert sleep.sleeps == pytest.approx([7.0, 20.0], abs=0.05)


def test_retry_after_may_be_an_http_date() -> None:
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(42)
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ConnectTimeout("")]
)
def test_timeouts_and_connection_errors_are_retried(failure: Exception) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise failure
        return httpx.Response(200, json={"items": []})

    client, sleep = make_client(handler)
    assert run(client.get_json("/v1/tenants")) == {"items": []}
    assert calls == 3 and len(sleep.sleeps) == 2


def test_no_answer_at_all_becomes_an_api_error_with_status_0() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client, _ = make_client(handler, attempts=2)
    with pytest.raises(ApiError) as caught:
        run(client.request("GET", "/v1/tenants"))
    assert caught.value.status == 0
    assert "no answer from the API" in str(caught.value)
    assert "ConnectError" in str(caught.value)


def _count_calls(status: int) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={})

    return handler, seen


@pytest.mark.parametrize(
    ("method", "headers", "expected_calls"),
    [
        ("PATCH", {}, 1),  # no If-Match: a retry could apply the change twice
        ("PATCH", {"if_match": '"3"'}, 3),
        ("DELETE", {"if_match": '"3"'}, 3),
        ("PUT", {"if_match": '"3"'}, 3),
        ("POST", {}, 1),  # no Idempotency-Key: a retry could create a duplicate
        ("POST", {"idempotency_key": "plan-1:a"}, 3),
        ("GET", {}, 3),
    ],
)
def test_writes_are_retried_only_when_the_retry_is_safe(
    method: str, headers: dict[str, Any], expected_calls: int
) -> None:
    handler, seen = _count_calls(503)
    client, _ = make_client(handler, attempts=3)
    with pytest.raises(ApiError):
        run(client.request(method, "/v1/x", json=None, **headers))
    assert len(seen) == expected_calls


def test_a_retried_create_repeats_the_same_idempotency_key_and_body() -> None:
    handler, seen = _count_calls(503)
    client, _ = make_client(handler, attempts=3)
    with pytest.raises(ApiError):
        run(client.request("POST", "/v1/agreements", json={"name": "A"}, idempotency_key="k-9"))
    assert {r.headers["idempotency-key"] for r in seen} == {"k-9"}
    assert {r.content for r in seen} == {b'{"name":"A"}'}


def test_4xx_other_than_429_is_not_retried() -> None:
    handler, seen = _count_calls(404)
    client, _ = make_client(handler)
    with pytest.raises(ApiError):
        run(client.request("GET", "/v1/tenants/nope"))
    assert len(seen) == 1


def test_pagination_follows_the_cursor_to_the_end() -> None:
    pages = {
        None: {"items": [1, 2], "next_cursor": "c2"},
        "c2": {"items": [3], "next_cursor": "c3"},
        "c3": {"items": [4], "next_cursor": None},
    }
    limits: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        limits.append(request.url.params.get("limit"))
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    client, _ = make_client(handler)

    async def collect() -> list[Any]:
        return [item async for item in client.paginate("/v1/tenants", limit=2)]

    assert run(collect()) == [1, 2, 3, 4]
    assert limits == ["2", "2", "2"]


def test_pagination_refuses_a_cursor_that_loops() -> None:
    client, _ = make_client(lambda r: httpx.Response(200, json={"items": [], "next_cursor": "x"}))

    async def collect() -> list[Any]:
        return [item async for item in client.paginate("/v1/tenants")]

    with pytest.raises(ApiError, match="same cursor twice"):
        run(collect())


def test_pagination_names_what_it_expected_when_the_answer_is_not_a_page() -> None:
    client, _ = make_client(lambda r: httpx.Response(200, json=[1, 2]))

    async def collect() -> list[Any]:
        return [item async for item in client.paginate("/v1/tenants")]

    with pytest.raises(ApiError, match=r"expected a page \{items"):
        run(collect())


def test_parallelism_bounds_the_requests_in_flight() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json={})

    client, _ = make_client(handler, parallelism=3)

    async def many() -> None:
        await asyncio.gather(*(client.request("GET", f"/v1/t/{n}") for n in range(12)))

    run(many())
    assert peak == 3


def test_invalid_settings_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="parallelism must be at least 1"):
        ApiClient("https://x", "t", parallelism=0)


def test_the_default_transport_pools_as_many_connections_as_the_parallelism() -> None:
    client = ApiClient("https://api.example.com", "t", parallelism=5)
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == 5
    run(client.aclose())


class VirtualTime:
    """A clock that moves only when the client sleeps: hours of waiting in no time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def paced_client(handler: Handler, *, deadline: float = 600) -> tuple[ApiClient, VirtualTime]:
    virtual = VirtualTime()
    client = ApiClient(
        "https://api.example.com",
        "tok_abc_123",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=3, max_retry_after=30, deadline=deadline),
        sleep=virtual.sleep,
        clock=virtual.clock,
    )
    return client, virtual


def test_a_rate_limit_is_waited_out_however_many_429s_it_takes() -> None:
    # Ten 429s in a row: more than three attempts, yet not a failure.
    answers = iter([problem(429, "rate-limited", "slow down")] * 10 + [httpx.Response(200)])

    def handler(request: httpx.Request) -> httpx.Response:
        response = next(answers)
        if response.status_code == 429:
            response.headers["Retry-After"] = "2"
        return response

    client, virtual = paced_client(handler)
    assert run(client.request("GET", "/v1/tenants")).status_code == 200
    assert virtual.sleeps == [2.0] * 10
    assert client.pacer.throttled == 10


def test_past_the_deadline_the_error_says_how_long_it_waited_and_what_the_api_said() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        response = problem(429, "rate-limited", "quota of 25 per 5 s spent")
        response.headers["Retry-After"] = "30"
        return response

    client, virtual = paced_client(handler, deadline=100)
    with pytest.raises(ApiError) as caught:
        run(client.request("GET", "/v1/tenants"))
    message = str(caught.value)
    assert caught.value.status == 429
    assert "still rate-limited after waiting 90 s" in message
    assert "100 s deadline (--deadline)" in message
    assert "quota of 25 per 5 s spent" in message
    assert virtual.now == 90


def test_a_5xx_still_has_a_bounded_number_of_attempts() -> None:
    client, virtual = paced_client(lambda r: problem(503, "unavailable", "down"))
    with pytest.raises(ApiError, match="503"):
        run(client.request("GET", "/v1/tenants"))
    assert len(virtual.sleeps) == 2  # three attempts


def test_the_learned_limit_paces_the_next_requests() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={}, headers={"RateLimit-Policy": "50;w=1"})

    client, _ = paced_client(handler)
    run(client.request("GET", "/v1/tenants"))
    assert client.pacer.rate == 50.0
