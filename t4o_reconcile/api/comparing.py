"""Whether each desired secret is the one the API stores: many tenants asked in one call.

A plan asks about every tenant with secrets whose live side it has read. One call per
tenant was most of a no-change plan's time (each request's own cost on both sides, and
a transaction each on the API's). So questions wait up to ``WAIT`` to be asked together,
at most ``BATCH`` tenants a call, through ``POST /v1/bulk/fingerprints:compare``. An
API without that call (404, 405) is asked a tenant at a time from then on, through
``POST /v1/tenants/{slug}/fingerprints:compare``, and so is a tenant the bulk answer
says is over its budget (429), so that the client's retry waits out ``Retry-After``
as it does for any call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from t4o_reconcile.api.client import ApiClient, answer_json
from t4o_reconcile.engine import comparisons, sections
from t4o_reconcile.engine.comparisons import Comparison
from t4o_reconcile.engine.snapshot import TenantSnapshot
from t4o_reconcile.errors import ApiError, UnexpectedAnswer

BULK_PATH = "/v1/bulk/fingerprints:compare"
# Tenants a call: the API takes up to 100; 50 keeps each answer small and a plan's
# first answers early.
BATCH = 50
# Seconds a question waits for others: a plan of many tenants fills a call well within
# it, and a plan of a few pays it once.
WAIT = 0.02

Fields = dict[str, Any]
# The secrets a client may compare: a section's secret fields under the section's name,
# and the personal number, which the API names as a field of the tenant.
_COMPARED = {sections.Identity.name: ("tenant", "personal_number")}


@dataclass(slots=True)
class _Question:
    have: TenantSnapshot
    asked: list[Comparison]
    fields: list[Fields]
    answered: asyncio.Future[None]


class Comparer:
    """Asks the API about tenants' desired secrets, and lays its answers on the live
    side (``engine.comparisons``)."""

    def __init__(
        self,
        client: ApiClient,
        may_compare: Callable[[], Awaitable[bool]],
        single_path: Callable[[str], str],
    ) -> None:
        self._client = client
        self._may_compare = may_compare  # False for a read-only token
        self._single_path = single_path
        self._compares = True  # False once the API refused a comparison for good
        self._bulk = True  # False once the API answered that it has no bulk call
        self._waiting: list[_Question] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def compare(self, want: TenantSnapshot, have: TenantSnapshot) -> None:
        asked = comparisons.pending(want, have)
        if not asked or not self._compares or not await self._may_compare():
            return
        fields = [_compare_field(one) for one in asked]
        if not self._bulk:
            await self._one(have, asked, fields)
            return
        question = _Question(have, asked, fields, asyncio.get_running_loop().create_future())
        self._waiting.append(question)
        if len(self._waiting) >= BATCH:
            self._send()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(WAIT, self._send)
        await question.answered

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.ensure_future(self._asked(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _asked(self, batch: list[_Question]) -> None:
        try:
            await self._ask(batch)
        except BaseException as error:
            for question in batch:
                if not question.answered.done():
                    question.answered.set_exception(error)
            if not isinstance(error, Exception):
                raise
        else:
            for question in batch:
                if not question.answered.done():
                    question.answered.set_result(None)

    async def _ask(self, batch: list[_Question]) -> None:
        body = {"tenants": [{"slug": q.have.slug, "fields": q.fields} for q in batch]}
        try:
            response = await self._client.request(
                "POST", BULK_PATH, json=body, changes_nothing=True
            )
        except ApiError as error:
            if isinstance(error, UnexpectedAnswer) or error.status not in (403, 404, 405):
                raise
            if error.status == 403:
                self._compares = False  # read-only after all: not asked again
                return
            self._bulk = False
            await asyncio.gather(*(self._one(q.have, q.asked, q.fields) for q in batch))
            return
        results = _tenant_results(batch, answer_json(response))
        retried = []
        for question, result in zip(batch, results, strict=True):
            if "fields" in result:
                answers = _answers(question.asked, question.fields, result, BULK_PATH)
                comparisons.settle(question.have, answers)
            elif result["problem"]["status"] == 429:
                retried.append(self._one(question.have, question.asked, question.fields))
            # 404: deleted since the read, left not compared (the plan says so).
        await asyncio.gather(*retried)

    async def _one(
        self, have: TenantSnapshot, asked: list[Comparison], fields: list[Fields]
    ) -> None:
        """One tenant's call."""
        path = self._single_path(have.slug)
        try:
            response = await self._client.request(
                "POST", path, json={"fields": fields}, changes_nothing=True
            )
        except ApiError as error:
            if isinstance(error, UnexpectedAnswer) or error.status not in (403, 404, 405):
                raise
            # Read-only after all (not asked again), an API without the call, or a tenant
            # deleted since the read: left not compared, and the plan says so.
            self._compares = error.status != 403
            return
        comparisons.settle(have, _answers(asked, fields, answer_json(response), path))


def _compare_field(asked: Comparison) -> Fields:
    resource, field = _COMPARED.get(asked.section, (asked.section, asked.field))
    if field != asked.field or (
        asked.section not in _COMPARED
        and field not in sections.SECRET_FIELDS.get(asked.section, ())
    ):
        raise ValueError(f"{asked.section}.{asked.field} is not a secret the API compares")
    return {"resource": resource, "key": asked.key, "field": field, "value": asked.value}


def _tenant_results(batch: list[_Question], answer: Any) -> list[Mapping[str, Any]]:
    """The bulk answer's result for each tenant asked, in the order asked: its fields, or
    a problem its own call would answer (404, 429). Anything else is refused whole."""
    results = answer.get("tenants") if isinstance(answer, Mapping) else None
    by_slug: dict[str, Mapping[str, Any]] = {}
    for result in results if isinstance(results, list) else [None]:
        if not isinstance(result, Mapping):
            break
        slug, problem = result.get("slug"), result.get("problem")
        refused = isinstance(problem, Mapping) and problem.get("status") in (404, 429)
        if not isinstance(slug, str) or slug in by_slug or not (refused or "fields" in result):
            break
        by_slug[slug] = result
    else:
        if set(by_slug) == {q.have.slug for q in batch}:
            return [by_slug[q.have.slug] for q in batch]
    raise UnexpectedAnswer(
        "the answer does not have the documented shape (expected {tenants: [{slug,"
        " fields} or {slug, problem}]}, one for each tenant asked)",
        method="POST",
        path=BULK_PATH,
    )


def _answers(asked: list[Any], fields: list[Fields], answer: Any, path: str) -> dict[Any, bool]:
    """The API's same/different per field, checked against what was asked: every field
    answered once, with a boolean; anything else is refused whole."""
    results = answer.get("fields") if isinstance(answer, Mapping) else None
    wanted = {
        (f["resource"], f["key"], f["field"]): one for f, one in zip(fields, asked, strict=True)
    }
    found: dict[Any, bool] = {}
    for result in results if isinstance(results, list) else [None]:
        name = (
            (result.get("resource"), result.get("key", ""), result.get("field"))
            if isinstance(result, Mapping)
            else None
        )
        same = result.get("same") if isinstance(result, Mapping) else None
        if name not in wanted or wanted[name] in found or not isinstance(same, bool):
            raise UnexpectedAnswer(
                "the answer does not have the documented shape (expected"
                " {fields: [{resource, key, field, same}]}, one for each field asked)",
                method="POST",
                path=path,
            )
        found[wanted[name]] = same
    if len(found) != len(asked):
        raise UnexpectedAnswer(
            "the answer leaves out fields that were asked", method="POST", path=path
        )
    return found
