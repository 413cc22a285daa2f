"""The HTTP client of the t4o API: auth, retries, problem+json errors, pagination.

Retries are safe by construction: reads always, PATCH/PUT/DELETE only with ``If-Match``
(a write that committed before its answer was lost then answers 412, which the provider
resolves by re-reading), POST only with an ``Idempotency-Key`` (the server replays the
first answer). Request bodies never reach a log line or an error: they may hold secrets.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from t4o_reconcile import __version__
from t4o_reconcile.api.pacing import Pacer
from t4o_reconcile.api.ratelimit import parse_rate_limit
from t4o_reconcile.api.target import DEFAULT_DEADLINE, DEFAULT_TIMEOUT
from t4o_reconcile.errors import PROBLEM_PREFIX, ApiError, NoAnswer, UnexpectedAnswer

__all__ = ["PROBLEM_PREFIX", "ApiClient", "ApiError", "RetryPolicy"]

log = logging.getLogger(__name__)

USER_AGENT = f"t4o-reconcile/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# The largest answer read: a bulk page of 25 large tenants is well under 1 MiB. Bigger is
# not an answer of this API, and is not buffered to find out.
MAX_ANSWER_BYTES = 32 << 20
_NOT_PRINTABLE = str.maketrans({c: " " for c in range(32)} | {127: " "})

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry. ``attempts`` counts the first try too."""

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    # Seconds one request may wait out 429 answers; not counted against ``attempts``.
    deadline: float = DEFAULT_DEADLINE

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        if self.deadline <= 0:
            raise ValueError(f"RetryPolicy.deadline must be above 0 seconds, got {self.deadline}")

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**retry)]."""
        return float(rand() * min(self.max_delay, self.base_delay * (2.0**retry)))


def snippet(text: str, limit: int = 120) -> str:
    """A short, printable excerpt of untrusted text for an error line."""
    flat = " ".join(text.translate(_NOT_PRINTABLE).split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def answer_json(response: httpx.Response) -> Any:
    """The JSON of a successful answer, or ``UnexpectedAnswer`` saying what it was instead
    (HTML, truncated or otherwise not JSON)."""
    request = response._request  # None for an answer built without one (tests)
    method = request.method if request is not None else ""
    path = request.url.path if request is not None else ""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and not (kind == "application/json" or kind.endswith("+json")):
        raise UnexpectedAnswer(
            f"expected JSON, got {kind} ({len(response.content)} bytes:"
            f" {snippet(response.text, 60)!r})",
            method=method,
            path=path,
            status=response.status_code,
        )
    try:
        return json.loads(response.content)
    except ValueError as exc:
        where = getattr(exc, "pos", None)
        at = f" at byte {where} of {len(response.content)}" if where is not None else ""
        raise UnexpectedAnswer(
            f"the answer is not valid JSON ({getattr(exc, 'msg', 'undecodable')}{at}; truncated?)",
            method=method,
            path=path,
            status=response.status_code,
        ) from None


def problem_from_response(response: httpx.Response, method: str, path: str) -> ApiError:
    """An ApiError from an error answer. Never reads the request: it may hold secrets."""
    data: Any = None
    try:
        data = response.json()
    except ValueError:
        data = None
    reason = response.reason_phrase or "error"
    if not isinstance(data, dict):
        snippet = " ".join(response.text.split())[:200]
        return ApiError(
            response.status_code,
            "about:blank",
            reason,
            snippet,
            method=method,
            path=path,
        )
    return ApiError(
        int(data.get("status") or response.status_code),
        str(data.get("type") or "about:blank"),
        str(data.get("title") or reason),
        _detail_text(data.get("detail")),
        str(data["field"]) if data.get("field") else None,
        method=method,
        path=path,
        errors=_error_lines(data.get("errors")),
    )


def _detail_text(detail: Any) -> str:
    if detail is None:
        return ""
    if isinstance(detail, str):
        return detail
    # FastAPI's own 422 puts a list here; its entries echo the input, which may be a secret.
    return "; ".join(_error_lines(detail))


def _error_lines(errors: Any) -> list[str]:
    """Field and message of each validation error, never the rejected input value."""
    if not isinstance(errors, list):
        return []
    lines: list[str] = []
    for error in errors:
        if isinstance(error, dict):
            where = error.get("field") or error.get("loc") or ""
            if isinstance(where, list):
                where = ".".join(str(part) for part in where)
            message = error.get("msg") or error.get("message") or error.get("detail") or ""
            lines.append(f"{where}: {message}" if where else str(message))
        else:
            lines.append(str(error))
    return lines


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def if_match(version: str | int) -> str:
    """A strong entity tag for a version: ``"3"``."""
    text = str(version)
    return text if text.startswith('"') else f'"{text}"'


def version_of(response: httpx.Response) -> str | None:
    """The resource version of a write's answer: the body's ``version`` or the ETag."""
    if response.status_code != 204 and response.content:
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("version") is not None:
            return str(data["version"])
    etag = str(response.headers.get("etag") or "")
    if etag:
        return etag.removeprefix("W/").strip('"')
    return None


def _headers(if_match: str | None, idempotency_key: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if if_match is not None:
        headers["If-Match"] = if_match
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


@dataclass(slots=True)
class _Attempts:
    """One request's attempts so far, for the decision to try again."""

    method: str
    path: str
    retry_safe: bool
    allowed: int
    started: float
    failures: int = 0  # 5xx answers and time-outs

    @property
    def last(self) -> bool:
        return self.failures == self.allowed - 1


class ApiClient:
    """An ``httpx.AsyncClient`` that speaks the t4o API contract.

    ``parallelism`` bounds the requests in flight (a semaphore, and the connection pool
    of the transport this client builds). Pass ``transport`` to talk in-process
    (``httpx.ASGITransport``) or to a mock; its own pool limits then apply.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        parallelism: int = 8,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        rate_limit: float | None = None,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        if transport is None:
            # A client given its own transport ignores `limits`, so the pool is set here.
            # httpx's own retries cover failed connects only; ours cover everything else too,
            # so leave them off to keep the attempt count honest.
            limits = httpx.Limits(
                max_connections=parallelism, max_keepalive_connections=parallelism
            )
            transport = httpx.AsyncHTTPTransport(limits=limits, retries=0)
        # The audit log records it: a reviewer tells this tool's writes from others'.
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        self.parallelism = parallelism
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self.retry = retry or RetryPolicy()
        self.pacer = Pacer(parallelism, rate=rate_limit, clock=clock, sleep=sleep)
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self.request_count = 0

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        if_match: str | None = None,
        idempotency_key: str | None = None,
        changes_nothing: bool = False,
    ) -> httpx.Response:
        """Send one request, retrying transient failures when that is safe (a POST that
        ``changes_nothing``, as a fingerprint comparison, may be sent again).

        Returns a 2xx answer; raises ``ApiError`` for anything else. The steps, as httpx
        splits ``send``: build the headers, send one paced attempt, decide whether and
        when to try again, wait.
        """
        method = method.upper()
        headers = _headers(if_match, idempotency_key)
        retry_safe = (
            method in ("GET", "HEAD", "OPTIONS")
            or (method in ("PATCH", "PUT", "DELETE") and if_match is not None)
            or (method == "POST" and (idempotency_key is not None or changes_nothing))
        )
        attempts = _Attempts(
            method,
            path,
            retry_safe=retry_safe,
            allowed=self.retry.attempts if retry_safe else 1,
            started=self._clock(),
        )
        while True:
            delay: float | None
            try:
                response = await self._send_paced(method, path, params, json, headers)
            except (httpx.TransportError, TimeoutError) as exc:
                delay = self._retry_without_answer(exc, attempts)
            else:
                log.debug("%s %s -> %d", method, path, response.status_code)
                if response.is_success:
                    return response
                delay = self._retry_after_answer(response, attempts)
            if delay is not None:
                await self._sleep(delay)

    async def _send_paced(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        body: Any,
        headers: dict[str, str],
    ) -> httpx.Response:
        """One attempt in a slot of the pacer, which learns from the answer."""
        async with self.pacer.slot():
            self.request_count += 1
            response = await self._send(method, path, params, body, headers)
            self.pacer.observe(response.status_code, response.headers)
        return response

    def _retry_without_answer(self, exc: BaseException, attempts: _Attempts) -> float:
        """Timeouts, refused and dropped connections: nothing was answered. The backoff
        before the next attempt, or ``NoAnswer`` after the last one."""
        method, path = attempts.method, attempts.path
        if attempts.last:
            what = (
                type(exc).__name__
                if isinstance(exc, httpx.TransportError)
                else f"Timeout (no complete answer within {self.timeout:g} s)"
            )
            raise NoAnswer(
                f"{what}{': ' + snippet(str(exc)) if str(exc) else ''}; gave up after"
                f" {attempts.failures + 1} attempt(s) in {self._clock() - attempts.started:.1f}"
                f" s ({self.timeout:g} s per request: --timeout or T4O_TIMEOUT)",
                method=method,
                path=path,
            ) from None
        delay = self._backoff(attempts)
        log.debug("%s %s: %s, retry in %.2fs", method, path, type(exc).__name__, delay)
        return delay

    def _retry_after_answer(self, response: httpx.Response, attempts: _Attempts) -> float | None:
        """An error answer: the backoff before the next attempt (None: the pacer holds
        every request for a 429), or the ``ApiError`` it means."""
        method, path = attempts.method, attempts.path
        if response.status_code == 429 and attempts.retry_safe:
            self._wait_out_rate_limit(response, method, path, attempts.started)
            return None
        if response.status_code not in RETRY_STATUSES or attempts.last:
            raise problem_from_response(response, method, path)
        delay = self._backoff(attempts)
        log.debug("%s %s: %d, retry in %.2fs", method, path, response.status_code, delay)
        return delay

    def _backoff(self, attempts: _Attempts) -> float:
        """A 5xx or a time-out counts as a failed attempt; a 429 is pacing, bounded by the
        deadline instead."""
        delay = self.retry.backoff(attempts.failures, self._rand)
        attempts.failures += 1
        return delay

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        body: Any,
        headers: dict[str, str],
    ) -> httpx.Response:
        """One attempt: the whole answer within ``timeout`` (a server that trickles bytes
        gets no longer than one that is silent), read streamed and never past the cap."""
        request = self._http.build_request(method, path, params=params, json=body, headers=headers)
        async with asyncio.timeout(self.timeout):
            response = await self._http.send(request, stream=True)
            try:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_answer_bytes:
                    raise self._too_large(method, path, response.status_code)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_answer_bytes:
                        raise self._too_large(method, path, response.status_code)
                    chunks.append(chunk)
            finally:
                await response.aclose()
                # httpx's streamed response and its stream refer to each other: garbage
                # only the cyclic collector frees, which a plan pauses. Dropped here, the
                # answer's bytes go now (a plan of 10,000 tenants kept 84 MB of them).
                response.stream = httpx.ByteStream(b"")
        # The body is decoded already: the copy must not claim an encoding or a length.
        kept = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=kept,
            content=b"".join(chunks),
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k in ("reason_phrase",)},
        )

    def _too_large(self, method: str, path: str, status: int) -> UnexpectedAnswer:
        return UnexpectedAnswer(
            f"the answer is over {self.max_answer_bytes // (1 << 20)} MiB; reading stopped",
            method=method,
            path=path,
            status=status,
        )

    def _wait_out_rate_limit(
        self, response: httpx.Response, method: str, path: str, started: float
    ) -> None:
        """Pause every request for as long as the server asks; fail once waiting would pass
        the deadline, saying how long this request waited and what the API said."""
        wanted = parse_retry_after(response.headers.get("retry-after"))
        if wanted is None:
            wanted = parse_rate_limit(response.headers).reset
        if wanted is None:
            wanted = self.retry.backoff(self.pacer.throttled, self._rand)
        delay = min(wanted, self.retry.max_retry_after)
        waited = self._clock() - started
        if waited + delay > self.retry.deadline:
            error = problem_from_response(response, method, path)
            error.detail = (
                f"still rate-limited after waiting {waited:.0f} s, and the API asks for"
                f" {wanted:.0f} s more, past the {self.retry.deadline:.0f} s deadline"
                f" (--deadline); the API said: {error.detail or error.title}"
            )
            raise error
        log.debug("%s %s: 429, every request waits %.2fs", method, path, delay)
        self.pacer.pause(delay)

    async def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return answer_json(await self.request("GET", path, params=params))

    async def pages(
        self, path: str, params: Mapping[str, str | int] | None = None, *, limit: int = 100
    ) -> AsyncIterator[list[Any]]:
        """Each page of a cursor-paginated list, following ``next_cursor`` to the end."""
        query: dict[str, str | int] = {**(params or {}), "limit": limit}
        seen: set[str] = set()
        while True:
            data = await self.get_json(path, query)
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise ApiError(
                    0,
                    "unexpected-answer",
                    "expected a page {items: [...], next_cursor}",
                    f"got {type(data).__name__}",
                    method="GET",
                    path=path,
                )
            yield data["items"]
            cursor = data.get("next_cursor")
            if not cursor:
                return
            if cursor in seen:
                raise ApiError(
                    0,
                    "unexpected-answer",
                    "the API returned the same cursor twice",
                    method="GET",
                    path=path,
                )
            seen.add(cursor)
            query["cursor"] = cursor

    async def paginate(
        self, path: str, params: Mapping[str, str | int] | None = None, *, limit: int = 100
    ) -> AsyncIterator[Any]:
        """Every item of a cursor-paginated list."""
        async for page in self.pages(path, params, limit=limit):
            for item in page:
                yield item
