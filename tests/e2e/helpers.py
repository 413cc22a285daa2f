"""Shared steps of the end-to-end tests: editing tenant files, reading the live state
through the API, and masking the volatile parts of the CLI's output."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML

from tests.e2e.conftest import Server, cli

_yaml = YAML()  # round-trip: comments, order and the schema line survive an edit
_yaml.width = 4096

COLLECTIONS = ("connections", "bank-accounts", "users", "email-templates")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def edit_tenant(folder: Path, slug: str, change: Callable[[Any], None]) -> None:
    """Load ``folder/slug.yaml``, let ``change`` mutate the document, write it back."""
    path = folder / f"{slug}.yaml"
    document = _yaml.load(path)
    change(document)
    with path.open("w") as stream:
        _yaml.dump(document, stream)


def edit_file(path: Path, change: Callable[[Any], None]) -> None:
    document = _yaml.load(path)
    change(document)
    with path.open("w") as stream:
        _yaml.dump(document, stream)


def get(client: httpx.Client, path: str, **params: Any) -> httpx.Response:
    """A GET that rides out the faults a sandbox may be told to inject (5xx, 429)."""
    for _ in range(50):
        answer = client.get(path, params=params)
        if answer.status_code < 500 and answer.status_code != 429:
            return answer
        time.sleep(float(answer.headers.get("Retry-After", "0.05")))
    raise AssertionError(f"GET {path} kept failing: {answer.status_code}")


def items(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    """Every item of a paginated list."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        answer = get(client, path, **params)
        answer.raise_for_status()
        page = answer.json()
        found.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def live_state(server: Server) -> dict[str, Any]:
    """Everything the partner's token sees, read item by item through the public API
    (not the bulk read the tool uses), minus versions, fingerprint salts and timestamps,
    so two states compare equal when they hold the same configuration."""
    with server.client() as client:
        state: dict[str, Any] = {
            "agreements": {a["name"]: a["customer_number"] for a in items(client, "/v1/agreements")}
        }
        for tenant in items(client, "/v1/tenants"):
            slug = tenant["slug"]
            base = f"/v1/tenants/{slug}"
            entry: dict[str, Any] = {"tenant": tenant}
            entry["invoicing"] = get(client, f"{base}/invoicing").json()
            account = get(client, f"{base}/email-account")
            entry["email_account"] = account.json() if account.status_code == 200 else None
            entry["agreement"] = get(client, f"{base}/agreement").json()["agreement"]
            for collection in COLLECTIONS:
                entry[collection] = items(client, f"{base}/{collection}")
            state[slug] = entry
    stable: dict[str, Any] = _without_volatile(state)
    return stable


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in ("version", "salt")}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def normalise_output(text: str, server: Server, *paths: Path) -> str:
    """Mask what differs between runs: the port and token tail in the target, temp paths."""
    text = text.replace(server.url, "http://127.0.0.1:PORT")
    # The tail may be HTML-escaped in markdown (``_`` as ``&#95;``).
    text = re.sub(r"token …(?:&#\d+;|[A-Za-z0-9_-]){4}", "token …TOKEN", text)
    for path in paths:
        text = text.replace(str(path), "<TENANTS>")
    # Every plan has its own id.
    text = re.sub(r"\b[0-9a-f]{32}\b", "PLAN_ID", text)
    return text


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def summary_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("Plan: ")]
    assert len(lines) == 1, stdout
    return lines[0]


EXTRA_BANK_ACCOUNT = "15039876547"
EXTRA_USER = "gammel.kasserer@ok-skogen.no"
OLD_AGREEMENT = "Gamle Avtalen"
UNMANAGED_TENANT = "gammel-klubb"

_UNMANAGED_TENANT_FILE = """\
slug: gammel-klubb
name: Gammel Klubb
organization_number: "998877660"
billing:
  licenses: 1
invoicing:
  next_invoice_number: 1
users:
  - email: leder@gammel-klubb.no
    name: Gammel Leder
    role: owner
"""


def make_divergent(folder: Path) -> None:
    """Turn a copy of the examples into a configuration that differs from them in every
    way a plan can show: applied live and then planned against the pristine examples, it
    yields creates, updates (plain and sensitive), deletes (some needing --allow-deletes),
    moves between agreements, an agreement to delete and an unmanaged tenant."""

    def agreements(doc: Any) -> None:
        doc["agreements"][1]["customer_number"] = "10003"
        doc["agreements"].append({"name": OLD_AGREEMENT, "customer_number": "10099"})

    def ok_skogen(doc: Any) -> None:
        doc["name"] = "OK Skogen IL"
        doc["billing"]["licenses"] = 30
        doc["agreement"] = "Bedriftsidretten Oslo"
        doc["bank_accounts"].append({"account_number": EXTRA_BANK_ACCOUNT})
        doc["users"].append({"email": EXTRA_USER, "name": "Gammel Kasserer", "role": "member"})
        del doc["email_templates"][2]  # invoice/en
        doc["connections"].append(
            {
                "connector": "eventor-norway-test",
                "token": {"secret": "env:T4O_SECRET_OK_SKOGEN_TEST_TOKEN"},
            }
        )

    def kartverkstedet(doc: Any) -> None:
        doc["agreement"] = OLD_AGREEMENT
        doc["email_templates"][0]["subject"] = "Ordre {Number}"

    def ifk(doc: Any) -> None:
        del doc["email_account"]

    def fjellrev(doc: Any) -> None:
        doc["contact"]["phone"] = "99 88 77 00"

    edit_file(folder / "_agreements.yaml", agreements)
    edit_tenant(folder, "ok-skogen", ok_skogen)
    edit_tenant(folder, "kartverkstedet", kartverkstedet)
    edit_tenant(folder, "ifk-lidingo-sok", ifk)
    edit_tenant(folder, "il-fjellrev", fjellrev)
    (folder / f"{UNMANAGED_TENANT}.yaml").write_text(_UNMANAGED_TENANT_FILE)


def divergent_env(server: Server) -> dict[str, str]:
    """The environment for applying ``make_divergent``'s files: one connection token
    differs from the examples' value, so planning the examples shows it as changed."""
    return server.env(
        T4O_SECRET_OK_SKOGEN_TEST_TOKEN="e2e-divergent-ok-skogen-test-token",
        T4O_SECRET_IFK_LIDINGO_SOK_EVENTOR_SWEDEN_TOKEN="e2e-divergent-ifk-token",
    )


# An organisation number that another partner's tenant holds (``other_partner_holds``): a
# tenant file that uses it is refused by the API at apply, alone.
TAKEN_NUMBER = "998877660"


def other_partner_holds(server: Server, organization_number: str) -> str:
    """Another partner's tenant, with another owner, holds this organisation number; that
    partner's token."""
    token = cli("sandbox", "token", "create", "--db", server.db, "--partner", "other")
    assert token.returncode == 0, token.stderr
    other = token.stdout.strip().splitlines()[-1]
    created = httpx.post(
        f"{server.url}/v1/tenants",
        headers={"Authorization": f"Bearer {other}", "Idempotency-Key": uuid.uuid4().hex},
        json={
            "slug": "fremmed-klubb",
            "name": "Fremmed Klubb",
            "organization_number": organization_number,
            "owner": {"email": "eier@fremmed.no", "name": "Fremmed Eier"},
        },
    )
    assert created.status_code == 201, created.text
    return other
