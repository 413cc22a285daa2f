"""Class 2: a secret reference reaches only what the operator allowed, decided outside
the repository. A tenant file cannot route CI's own credentials, any other variable, or
any file outside the secrets directory to a mail server it names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import edit_tenant, live_state
from tests.security.canary import assert_no_canary, canaries_of, outputs, planted

pytestmark = pytest.mark.e2e


def _point_password(folder: Path, slug: str, reference: str) -> None:
    def change(doc: Any) -> None:
        doc["email_account"]["password"] = {"secret": reference}
        doc["email_account"]["smtp_host"] = "smtp.attacker.example"

    edit_tenant(folder, slug, change)


def test_a_tenant_file_cannot_read_ci_variables_or_files_outside_the_secrets_dir(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    secrets = planted()
    ci_variable = "CANARY-ci-variable-q7"
    outside = tmp_path / "outside.txt"
    outside.write_text("CANARY-outside-file-q7\n")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "ok-skogen").mkdir()
    (secrets_dir / "ok-skogen" / "escape").symlink_to(outside)
    env = server.env(**secrets, CI_DEPLOY_KEY=ci_variable, T4O_SECRETS_DIR=str(secrets_dir))
    assert cli("apply", examples_copy, "--auto-approve", env=env).returncode == 0
    before = live_state(server)

    hostile = {
        "ok-skogen": "env:T4O_API_TOKEN",
        "ok-skogen-ungdom": "env:CI_DEPLOY_KEY",
        "kartverkstedet": f"file:{outside}",
        "ifk-lidingo-sok": "file:../outside.txt",
    }
    for slug, reference in hostile.items():
        _point_password(examples_copy, slug, reference)
    runs = [
        cli("validate", examples_copy, env=env),
        cli("plan", examples_copy, env=env),
        cli("apply", examples_copy, "--auto-approve", env=env),
    ]

    for done in runs:
        assert done.returncode == 1, done.stdout + done.stderr
        for slug in hostile:
            assert f"{slug}.yaml:" in done.stderr, done.stderr
        assert "T4O_API_TOKEN is a setting of t4o-reconcile itself" in done.stderr
        assert "CI_DEPLOY_KEY is not allowed: secret variables must start with T4O_SECRET_" in (
            done.stderr
        )
        assert "expected a path relative to the secrets directory" in done.stderr
        assert "'..' is not allowed" in done.stderr
    assert live_state(server) == before  # no password was sent anywhere
    assert_no_canary(
        outputs(runs),
        canaries_of(server, secrets, ci_variable, "CANARY-outside-file-q7"),
    )

    # A symlink inside the secrets directory that leads out of it is not followed.
    _point_password(examples_copy, "ok-skogen", "file:ok-skogen/escape")
    for slug in ("ok-skogen-ungdom", "kartverkstedet", "ifk-lidingo-sok"):
        edit_tenant(examples_copy, slug, lambda doc: doc.pop("email_account"))
    symlinked = cli("apply", examples_copy, "--auto-approve", env=env)
    assert symlinked.returncode == 1
    assert "secret file ok-skogen/escape leads out of the secrets directory" in symlinked.stdout
    assert live_state(server) == before
    assert_no_canary(outputs([symlinked]), ["CANARY-outside-file-q7", server.token])


def test_one_secrets_file_holds_many_secrets_and_must_be_private(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    secrets = planted()
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text("".join(f'{name}: "{value}"\n' for name, value in secrets.items()))
    env = server.env(T4O_SECRETS_FILE=str(secrets_file))
    for name in secrets:
        env.pop(name)

    secrets_file.chmod(0o644)
    shared = cli("plan", examples_copy, env=env)
    secrets_file.chmod(0o600)
    private = cli("plan", examples_copy, "--detailed-exitcode", env=env)
    applied = cli("apply", examples_copy, "--auto-approve", env=env)
    again = cli("plan", examples_copy, "--detailed-exitcode", env=env)

    assert shared.returncode == 1
    assert "readable or writable by others (mode 0644); expected 0600" in shared.stderr
    assert private.returncode == 2, private.stderr  # every secret resolved from the file
    assert applied.returncode == 0, applied.stderr
    assert again.returncode == 0, again.stdout  # the values applied were the file's
    assert_no_canary(outputs([shared, private, applied, again]), canaries_of(server, secrets))
    assert os.stat(secrets_file).st_mode & 0o777 == 0o600


def test_a_changed_reference_shows_old_and_new_reference_never_the_value(
    server: Server, examples_copy: Path
) -> None:
    secrets = planted()
    old = "T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD"
    assert cli("apply", examples_copy, "--auto-approve", env=server.env(**secrets)).returncode == 0

    def move(doc: Any) -> None:
        doc["email_account"]["password"] = {"secret": "env:T4O_SECRET_SHARED_SMTP"}

    edit_tenant(examples_copy, "ok-skogen", move)
    # The same value, now from another variable: still a change a reviewer must see.
    # A variable of no tenant's own: the operator shares it (never a tenant file).
    shared = {"T4O_SHARED_SECRETS": "T4O_SECRET_SHARED_SMTP"}
    env = server.env(**secrets, **shared, T4O_SECRET_SHARED_SMTP=secrets[old])
    with_values = cli("plan", examples_copy, "--detailed-exitcode", env=env)
    pr_env = server.env(**shared)
    for name in secrets:
        pr_env.pop(name)
    without = cli("plan", examples_copy, "--without-secrets", "--detailed-exitcode", env=pr_env)
    applied = cli("apply", examples_copy, "--auto-approve", env=env)
    after = cli("plan", examples_copy, "--detailed-exitcode", env=env)

    shown = f"password: (sensitive, reference env:{old} → env:T4O_SECRET_SHARED_SMTP)"
    assert with_values.returncode == 2 and shown in with_values.stdout, with_values.stdout
    assert without.returncode == 2 and shown in without.stdout, without.stdout
    assert applied.returncode == 0, applied.stderr
    assert after.returncode == 0, after.stdout  # converged on the new reference
    runs = [with_values, without, applied, after]
    assert_no_canary(outputs(runs), canaries_of(server, secrets))
