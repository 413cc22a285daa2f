"""Class 3: a pull-request job plans without production secrets, with a token that
cannot write. validate checks references without reading values; plan --without-secrets
reads none and says it is partial; a partial saved plan cannot be applied; a read-only
token's writes answer 403."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import live_state
from tests.security.canary import assert_no_canary, canaries_of, outputs, planted

pytestmark = pytest.mark.e2e


def test_a_pull_request_job_plans_without_secrets_and_cannot_write(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    secrets = planted()
    assert cli("apply", examples_copy, "--auto-approve", env=server.env(**secrets)).returncode == 0
    before = live_state(server)
    reader = server.read_only_token()
    # The PR job: a read-only token, and not one secret value in its environment.
    env = server.env(T4O_API_TOKEN=reader)
    for name in secrets:
        env.pop(name)

    validated = cli("validate", examples_copy, env=env)
    resolved = cli("validate", examples_copy, "--resolve-secrets", env=env)
    text = cli("plan", examples_copy, "--without-secrets", "--detailed-exitcode", env=env)
    as_json = cli("plan", examples_copy, "--without-secrets", "--format", "json", env=env)
    saved = cli("plan", examples_copy, "--without-secrets", "--out", tmp_path / "pr.plan", env=env)
    applied_saved = cli(
        "apply", examples_copy, "--plan", tmp_path / "pr.plan", env=server.env(**secrets)
    )
    rotated = planted()  # new values: apply has secrets to update, and may not
    writes = cli(
        "apply", examples_copy, "--auto-approve", env=server.env(**rotated, T4O_API_TOKEN=reader)
    )
    with server.client() as client:
        client.headers["Authorization"] = f"Bearer {reader}"
        raw_write = client.post(
            "/v1/agreements",
            json={"name": "Ny", "customer_number": "9"},
            headers={"Idempotency-Key": "ro-1"},
        )

    assert validated.returncode == 0, validated.stderr  # references checked, no value read
    assert resolved.returncode == 1 and "is not set" in resolved.stderr
    assert text.returncode == 0, text.stdout + text.stderr  # converged: nothing to change
    assert "Partial plan" in text.stdout
    assert "env:T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD" in text.stdout  # names the reference
    document = json.loads(as_json.stdout)
    assert document["partial"] is True
    assert len(document["uncompared_secrets"]) == len(secrets)
    assert saved.returncode == 0, saved.stderr
    assert applied_saved.returncode == 1
    # Never sealed: a plan made without secret values is never applied.
    assert "the plan has no seal" in applied_saved.stderr
    assert raw_write.status_code == 403
    assert raw_write.json()["type"].endswith("/read-only-token")
    assert writes.returncode == 1
    # It cannot even tell the rotated secrets from the stored ones (only a writing token
    # may ask the API), so it refuses before any write.
    assert "secret(s) not compared" in writes.stderr and "read-only" in writes.stderr
    assert live_state(server) == before
    runs = [validated, resolved, text, as_json, saved, applied_saved, writes]
    assert_no_canary(
        outputs(runs, tmp_path / "pr.plan"), canaries_of(server, {**secrets, **rotated}, reader)
    )
