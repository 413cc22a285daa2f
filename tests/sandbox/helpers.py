"""Test data and a thin client for the sandbox tests."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx
from stdnum import iban as std_iban
from stdnum.no import kontonr

ORGNR_A = "974760673"
ORGNR_B = "923609016"
PERSONAL_NUMBER = "15108695088"
PROBLEMS = "https://t4o-reconcile.dev/problems/"


def account_number(n: int) -> str:
    """The n-th valid Norwegian account number (MOD11) of a made-up bank."""
    for candidate in itertools.count(n * 7):
        base = f"1503{candidate:06d}"
        check = kontonr._calc_check_digit(base)
        if len(check) == 1 and check.isdigit():
            return base + check
    raise AssertionError("unreachable")


def no_iban(number: str) -> str:
    return "NO" + std_iban.calc_check_digits("NOXX" + number) + number


def tenant_body(slug: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": slug,
        "name": f"Club {slug}",
        "organization_number": ORGNR_A,
        "owner": {"email": f"owner@{slug}.no", "name": "Olga Owner"},
    }
    body.update(fields)
    return body


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    kind: str = response.json()["type"]
    assert kind.startswith(PROBLEMS)
    return kind.removeprefix(PROBLEMS)


class Api:
    """Speaks the contract: Idempotency-Key on creates, If-Match from a fresh read."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        response: httpx.Response = self.client.get(path, headers=self.headers, params=params)
        return response

    def create(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {**self.headers, "Idempotency-Key": key or str(uuid.uuid4())}
        response: httpx.Response = self.client.post(path, json=body, headers=headers)
        return response

    def post(self, path: str) -> httpx.Response:
        response: httpx.Response = self.client.post(path, headers=self.headers)
        return response

    def compare(self, slug: str, *fields: tuple[str, str, str, str]) -> httpx.Response:
        """``POST .../fingerprints:compare`` of (resource, key, field, value) fields."""
        body = {
            "fields": [
                {"resource": resource, "key": key, "field": field, "value": value}
                for resource, key, field, value in fields
            ]
        }
        path = f"/v1/tenants/{slug}/fingerprints:compare"
        response: httpx.Response = self.client.post(path, json=body, headers=self.headers)
        return response

    def same(self, slug: str, resource: str, key: str, field: str, value: str) -> bool:
        answer = self.compare(slug, (resource, key, field, value))
        assert answer.status_code == 200, answer.text
        same: bool = answer.json()["fields"][0]["same"]
        return same

    def version(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, response.text
        etag: str = response.headers["etag"]
        return etag

    def patch(self, path: str, body: dict[str, Any], etag: str | None = "read") -> httpx.Response:
        return self._write("PATCH", path, body, etag)

    def put(self, path: str, body: dict[str, Any], etag: str | None = "read") -> httpx.Response:
        return self._write("PUT", path, body, etag)

    def delete(self, path: str, etag: str | None = "read") -> httpx.Response:
        return self._write("DELETE", path, None, etag)

    def _write(
        self, method: str, path: str, body: dict[str, Any] | None, etag: str | None
    ) -> httpx.Response:
        headers = dict(self.headers)
        if etag == "read":
            etag = self.version(path)
        if etag is not None:
            headers["If-Match"] = etag
        response: httpx.Response = self.client.request(method, path, json=body, headers=headers)
        return response
