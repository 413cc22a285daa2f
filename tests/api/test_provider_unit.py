"""HttpProvider's write rules against a scripted API (httpx.MockTransport)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import httpx
import pytest

from t4o_reconcile.engine.plan import Action
from t4o_reconcile.engine.provider import ExecutionContext
from t4o_reconcile.engine.snapshot import Secret
from t4o_reconcile.errors import ApiError
from tests.api.aio import run
from tests.api.mock_api import provider_for

SECRET = "eventor-token-never-shown-1234"


def connection_update() -> Action:
    return Action(
        tenant="ok-skogen",
        section="connections",
        key="eventor-norway",
        kind="update",
        before={"token": None},
        after={"token": Secret(SECRET, "env:EVENTOR")},
        changed_paths=["token"],
        sensitive_paths=["token"],
        version="4",
    )


def test_an_update_sends_only_the_changed_fields_with_if_match_and_the_secret_value() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "connector": "eventor-norway",
                "token": {"fingerprint": {"salt": "a", "hash": "b"}},
                "version": "5",
            },
        )

    context = ExecutionContext(idempotency_key="k")
    result = run(provider_for(handler).execute(connection_update(), context))
    assert result.outcome == "applied" and result.new_version == "5"
    request = seen[0]
    assert request.method == "PATCH"
    assert request.url.path == "/v1/tenants/ok-skogen/connections/eventor-norway"
    assert request.headers["if-match"] == '"4"'
    assert json.loads(request.content) == {"token": SECRET, "token_source": "env:EVENTOR"}
    assert result.versions == {'ok-skogen.connections["eventor-norway"]': "5"}


def test_a_version_learnt_earlier_in_the_run_wins_over_the_plans() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["if-match"])
        return httpx.Response(200, json={"connector": "eventor-norway", "version": "8"})

    context = ExecutionContext("k", versions={'ok-skogen.connections["eventor-norway"]': "7"})
    run(provider_for(handler).execute(connection_update(), context))
    assert seen == ['"7"']


def invoicing_update() -> Action:
    return Action(
        tenant="ok-skogen",
        section="invoicing",
        key="",
        kind="update",
        before={"next_invoice_number": 10},
        after={"next_invoice_number": 20},
        changed_paths=["next_invoice_number"],
        version="2",
    )


def _invoicing(next_number: int, version: str) -> dict[str, object]:
    return {
        "enabled": True,
        "next_invoice_number": next_number,
        "invoices_from_external_system": False,
        "next_customer_number": None,
        "pdf_template": "standard",
        "last_invoice_number": 9,
        "last_customer_number": 0,
        "version": version,
    }


def test_a_412_after_our_own_committed_retry_counts_as_applied() -> None:
    # The first PATCH commits but its answer is lost (503); the retry meets the new version.
    answers = iter([httpx.Response(503), httpx.Response(412, json={"title": "stale"})])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=_invoicing(20, "3"))
        return next(answers)

    context = ExecutionContext("k")
    result = run(provider_for(handler).execute(invoicing_update(), context))
    assert (result.outcome, result.conflict, result.message) == (
        "applied",
        False,
        "already applied",
    )
    assert result.versions == {"ok-skogen.invoicing": "3"}


def test_a_412_from_someone_elses_change_is_a_conflict_that_says_to_plan_again() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=_invoicing(15, "3"))
        return httpx.Response(412, json={"title": "stale"})

    result = run(provider_for(handler).execute(invoicing_update(), ExecutionContext("k")))
    assert result.outcome == "failed" and result.conflict
    assert result.message == "ok-skogen.invoicing changed since the plan was made; run plan again"


def test_a_delete_that_finds_the_resource_gone_is_applied() -> None:
    action = Action(
        "ok-skogen", "users", "per@ok.no", "delete", {"email": "per@ok.no"}, None, version="2"
    )
    result = run(
        provider_for(lambda r: httpx.Response(404, json={"title": "not found"})).execute(
            action, ExecutionContext("k")
        )
    )
    assert (result.outcome, result.message) == ("applied", "already gone")


def test_an_action_without_a_known_version_fails_before_sending_anything() -> None:
    action = replace(invoicing_update(), version=None)
    calls: list[httpx.Request] = []
    provider = provider_for(lambda r: calls.append(r) or httpx.Response(200))  # type: ignore[func-returns-value]
    result = run(provider.execute(action, ExecutionContext("k")))
    assert result.outcome == "failed"
    assert "no version known for ok-skogen.invoicing; run plan again" in result.message
    assert calls == []


def test_an_api_error_fails_the_action_without_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422, json={"detail": [{"loc": ["body", "token"], "msg": "bad", "input": SECRET}]}
        )

    caplog.set_level(logging.DEBUG)
    result = run(provider_for(handler).execute(connection_update(), ExecutionContext("k")))
    assert result.outcome == "failed"
    assert "422" in result.message and "body.token: bad" in result.message
    assert SECRET not in result.message
    assert SECRET not in caplog.text


def test_a_whoami_of_the_wrong_shape_is_an_unexpected_answer() -> None:
    from t4o_reconcile.errors import UnexpectedAnswer

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"partner": ["not", "a", "name"]})

    with pytest.raises(UnexpectedAnswer) as raised:
        run(provider_for(handler).whoami())
    assert str(raised.value) == (
        "GET /v1/whoami: unexpected answer: expected {partner, tenant} (unexpected-answer)"
    )


def test_a_failed_whoami_is_asked_again_not_kept() -> None:
    answers = iter(
        [
            httpx.Response(400, json={"type": "bad", "title": "no"}),
            httpx.Response(200, json={"partner": "nof"}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    provider = provider_for(handler, attempts=1)
    with pytest.raises(ApiError):
        run(provider.whoami())
    assert run(provider.whoami()) == "nof"
