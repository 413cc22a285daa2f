"""A saved plan is applied exactly as reviewed, or not at all: any change since it was
made — live or in the configuration — makes apply refuse the whole plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import edit_tenant, live_state

pytestmark = pytest.mark.e2e


def more_licenses(doc: Any) -> None:
    doc["billing"]["licenses"] = 40


def test_a_saved_plan_is_refused_when_live_or_config_changed_and_applies_when_fresh(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    env = server.env()
    assert cli("apply", examples_copy, "--auto-approve", env=env).returncode == 0
    edit_tenant(examples_copy, "ok-skogen", more_licenses)
    saved = tmp_path / "plan.json"
    assert cli("plan", examples_copy, "--out", saved, env=env).returncode == 0

    # Someone renames a tenant by hand after the plan was made.
    with server.client() as client:
        tenant = client.get("/v1/tenants/il-fjellrev")
        renamed = client.patch(
            "/v1/tenants/il-fjellrev",
            json={"name": "IL Fjellrev (by hand)"},
            headers={"If-Match": tenant.headers["ETag"]},
        )
        assert renamed.status_code == 200, renamed.text
    before = live_state(server)

    stale_live = cli("apply", examples_copy, "--plan", saved, env=env)

    assert stale_live.returncode == 1
    assert "the plan is stale" in stale_live.stderr
    assert "il-fjellrev" in stale_live.stderr
    assert live_state(server) == before  # ok-skogen keeps its 25 licences

    # The configuration changes after the plan was made.
    assert cli("plan", examples_copy, "--out", saved, env=env).returncode == 0
    edit_tenant(examples_copy, "ok-skogen", lambda doc: doc["billing"].update(licenses=41))

    stale_config = cli("apply", examples_copy, "--plan", saved, env=env)

    assert stale_config.returncode == 1
    assert "the plan is stale" in stale_config.stderr
    assert "config" in stale_config.stderr
    assert live_state(server) == before

    # A plan made now applies exactly and converges.
    assert cli("plan", examples_copy, "--out", saved, env=env).returncode == 0
    applied = cli("apply", examples_copy, "--plan", saved, env=env)
    replanned = cli("plan", examples_copy, "--detailed-exitcode", env=env)

    assert applied.returncode == 0, applied.stderr
    assert replanned.returncode == 0, replanned.stdout
    after = live_state(server)
    assert after["ok-skogen"]["tenant"]["billing"]["licenses"] == 41
    assert after["il-fjellrev"]["tenant"]["name"] == "IL Fjellrev"
