"""Class 4: the saved plan file reveals nothing about a secret. Its config digest keys
every secret with a key derived from the API token, which the plan file does not hold: the
plan file, the repository and a list of guesses cannot confirm any guess."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.config.snapshot import desired_snapshot
from t4o_reconcile.engine import digest
from tests.e2e.conftest import Server, cli, plan_document
from tests.security.canary import assert_no_canary, canaries_of, outputs, planted

pytestmark = pytest.mark.e2e

# Keys someone holding only the plan file and the repository can know or guess.
PUBLIC_KEYS = [b"t4o-reconcile/config-digest/secret/v1", b"", b"t4o-reconcile"]


def _digests_for(folder: Path, guess: dict[str, str]) -> set[str]:
    loaded = load_repository(folder, environ=guess)
    assert loaded.repository is not None
    desired = desired_snapshot(loaded.repository)
    found = {digest.config_digest(desired)}
    for key in PUBLIC_KEYS:
        with contextlib.suppress(TypeError):  # a digest function without a key
            found.add(digest.config_digest(desired, key))
    return found


def test_a_plan_file_and_a_list_of_guesses_confirm_no_guess(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    secrets = planted()
    plan_file = tmp_path / "tenants.plan"
    made = cli("plan", examples_copy, "--out", plan_file, env=server.env(**secrets))
    assert made.returncode == 0, made.stderr
    saved = plan_document(plan_file)["config_digest"]

    def guess(value: str) -> dict[str, str]:
        # Every secret guessed; the personal number kept valid, or nothing loads.
        return {n: v if n.endswith("PERSONAL_NUMBER") else value for n, v in secrets.items()}

    guesses = [
        guess("wrong-guess"),
        {name: value.lower() for name, value in secrets.items()},
        dict(secrets),  # the right values: still not confirmable
    ]
    confirmed = [guess for guess in guesses if saved in _digests_for(examples_copy, guess)]

    assert confirmed == []
    assert_no_canary(outputs([made], plan_file), canaries_of(server, secrets))
    # The digest does protect the plan: the same files with the same values apply, and a
    # changed value makes the saved plan stale.
    applied = cli("apply", examples_copy, "--plan", plan_file, env=server.env(**secrets))
    assert applied.returncode == 0, applied.stderr
    again = cli("plan", examples_copy, "--out", plan_file, env=server.env(**secrets))
    assert again.returncode == 0
    rotated = {**secrets, next(iter(secrets)): "rotated-value"}
    stale = cli("apply", examples_copy, "--plan", plan_file, env=server.env(**rotated))
    assert stale.returncode == 1 and "stale" in stale.stderr
