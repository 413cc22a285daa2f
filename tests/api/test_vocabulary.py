"""The provider reads the API's vocabulary (GET /v1/vocabulary) and trusts none of it:
each list bounded, each name of its kind's shape; an API without the list gives none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from t4o_reconcile.api.live_snapshot import vocabulary_of
from t4o_reconcile.errors import ApiError, UnexpectedAnswer
from t4o_reconcile.vocabulary import MAX_VOCABULARY
from tests.api.aio import run
from tests.api.mock_api import provider_for

GOOD = {
    "merge_fields": ["DueDate", "Number", "Supplier.Name", "YourReference"],
    "languages": ["en", "nb"],
    "pdf_templates": ["letterhead", "standard"],
}


def answering(vocabulary: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/vocabulary":
            if status == 404:
                return httpx.Response(
                    404,
                    json={"type": "about:blank", "title": "Not Found", "status": 404},
                    headers={"content-type": "application/problem+json"},
                )
            return httpx.Response(status, json=vocabulary)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    return handler


def test_the_provider_reads_the_vocabulary_with_the_live_state() -> None:
    provider = provider_for(answering(GOOD), attempts=2)
    live = run(provider.read())
    assert live.vocabulary is not None
    assert live.vocabulary.merge_fields == frozenset(GOOD["merge_fields"])
    assert live.vocabulary.languages == {"en", "nb"}
    assert live.vocabulary.pdf_templates == {"letterhead", "standard"}


def test_an_api_without_the_list_gives_none() -> None:
    live = run(provider_for(answering(None, status=404), attempts=2).read())
    assert live.vocabulary is None


def test_another_error_of_the_list_is_an_error() -> None:
    with pytest.raises(ApiError):
        run(provider_for(answering({"detail": "no"}, status=403), attempts=2).read())


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"merge_fields": "Number"}, "merge_fields: expected a list of names"),
        ({"merge_fields": ["Number", 7]}, "merge_fields: 'int' is not a name"),
        ({"merge_fields": ["Supplier.Name}{x"]}, "'Supplier.Name}{x' is not a name"),
        ({"merge_fields": ["a" * 41]}, "is not a name of the expected shape"),
        ({"languages": ["../x"]}, "languages: '../x' is not a name"),
        ({"languages": ["norsk"]}, "languages: 'norsk' is not a name"),
        ({"pdf_templates": ["A4 <b>"]}, "pdf_templates: 'A4 <b>' is not a name"),
        ({"pdf_templates": ["p"] * (MAX_VOCABULARY + 1)}, "over the limit of 1000"),
        ({"languages": None}, "languages: expected a list"),
    ],
)
def test_a_hostile_vocabulary_is_refused_whole(change: dict[str, Any], said: str) -> None:
    with pytest.raises(UnexpectedAnswer) as raised:
        vocabulary_of({**GOOD, **change})
    assert said in str(raised.value.detail)
    assert raised.value.path == "/v1/vocabulary"
    with pytest.raises(UnexpectedAnswer):
        run(provider_for(answering({**GOOD, **change}), attempts=2).read())


def test_an_answer_that_is_not_an_object_is_refused() -> None:
    answers: list[Any] = [[], "x", None]
    for answer in answers:
        with pytest.raises(UnexpectedAnswer, match="expected an object"):
            vocabulary_of(answer)
