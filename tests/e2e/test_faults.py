"""Against a flaky, rate-limited API (20 % of requests fail with 5xx — half of the failed
writes after committing — and 50 requests per second), apply still converges, and the
idempotency keys mean no item is ever created twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.e2e.conftest import EXAMPLES, Server, cli, sandbox_process
from tests.e2e.helpers import items, live_state

pytestmark = pytest.mark.e2e

SECTIONS = {
    "connections": "connections",
    "bank_accounts": "bank-accounts",
    "users": "users",
    "email_templates": "email-templates",
}


@pytest.fixture
def flaky_server(tmp_path: Path) -> Iterator[Server]:
    with sandbox_process(
        tmp_path / "sandbox.db", "--fail-rate", "0.2", "--rate-limit", "50"
    ) as running:
        yield running


def configured_counts() -> dict[str, dict[str, int]]:
    """How many items of each collection every example tenant lists."""
    yaml = YAML(typ="safe")
    counts: dict[str, dict[str, int]] = {}
    for path in sorted(EXAMPLES.glob("[!_]*.yaml")):
        document: dict[str, Any] = yaml.load(path)
        counts[path.stem] = {
            path_name: len(document.get(section) or []) for section, path_name in SECTIONS.items()
        }
    return counts


def test_apply_converges_through_faults_without_duplicates(flaky_server: Server) -> None:
    env = flaky_server.env()
    attempts = [cli("apply", EXAMPLES, "--auto-approve", env=env)]
    if attempts[0].returncode != 0:  # retries normally absorb the faults; a rerun must finish
        attempts.append(cli("apply", EXAMPLES, "--auto-approve", env=env))

    replanned = cli("plan", EXAMPLES, "--detailed-exitcode", env=env)

    assert attempts[-1].returncode == 0, attempts[-1].stderr
    assert replanned.returncode == 0, replanned.stdout + replanned.stderr
    state = live_state(flaky_server)
    agreements = state.pop("agreements")
    assert sorted(agreements) == ["Bedriftsidretten Oslo", "Norges Orienteringsforbund"]
    expected = configured_counts()
    assert sorted(state) == sorted(expected)
    for slug, counts in expected.items():
        live = {name: len(state[slug][name]) for name in counts}
        assert live == counts, slug
    with flaky_server.client() as client:
        for slug in expected:
            log = items(client, f"/v1/tenants/{slug}/audit-log")
            creates = Counter(entry["resource"] for entry in log if entry["action"] == "create")
            assert [r for r, n in creates.items() if n > 1] == [], slug
