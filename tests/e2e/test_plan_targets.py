"""What a saved plan knows and what a CI run may assume: its target and identity, the
approval of deletes, the options apply --plan refuses, CI without a target, targeted
plans (--changed-since) and drift of tenants that have no file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, Server, base_env, cli, plan_document, sandbox_process
from tests.e2e.helpers import EXTRA_USER, edit_tenant, live_state

pytestmark = pytest.mark.e2e


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_plan_made_for_one_api_is_refused_by_another(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    # One plan key for both (else the seal, made under staging's token, refuses first).
    key = "shared-operator-plan-key-" + "k" * 16
    with sandbox_process(tmp_path / "staging.db") as staging:
        # The same partner, the same (empty) state, so every version would match.
        saved = tmp_path / "staging.plan"
        made = cli("plan", examples_copy, "--out", saved, env=staging.env(T4O_PLAN_KEY=key))
        assert made.returncode == 0, made.stderr
        document = plan_document(saved)
        assert document["endpoint"] == staging.url
        assert document["identity"] == "e2e-partner"

        refused = cli("apply", examples_copy, "--plan", saved, env=server.env(T4O_PLAN_KEY=key))

        assert refused.returncode == 1
        assert f"the plan was made for {staging.url} as e2e-partner" in refused.stderr
        assert f"this is {server.url} as e2e-partner" in refused.stderr
        assert live_state(server)["agreements"] == {}


def test_in_ci_a_missing_target_is_an_error_not_the_embedded_sandbox(
    examples_copy: Path, tmp_path: Path
) -> None:
    env = base_env()
    env.update(CI="true", T4O_SANDBOX_DB=str(tmp_path / "sandbox.db"))
    from tests.e2e.conftest import example_secrets

    env.update(example_secrets())

    refused = cli("plan", examples_copy, env=env, cwd=tmp_path)
    explicit = cli("plan", examples_copy, "--api", "embedded", env=env, cwd=tmp_path)
    workstation = cli("plan", examples_copy, env={**env, "CI": ""}, cwd=tmp_path)

    assert refused.returncode == 1
    assert "CI is set but no API is given" in refused.stderr
    assert "T4O_API_URL" in refused.stderr and "--api embedded" in refused.stderr
    assert explicit.returncode == 0, explicit.stderr
    assert "Target: embedded sandbox" in explicit.stdout
    assert workstation.returncode == 0, workstation.stderr


def test_deletes_need_the_approval_recorded_at_review_time_and_the_flag_of_apply(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    env = server.env()
    with_user = examples_copy.parent / "with-user"
    with_user.mkdir()
    for path in examples_copy.glob("*.yaml"):
        with_user.joinpath(path.name).write_text(path.read_text())
    edit_tenant(
        with_user,
        "ok-skogen",
        lambda d: d["users"].append({"email": EXTRA_USER, "name": "Gammel", "role": "member"}),
    )
    assert cli("apply", with_user, "--auto-approve", env=env).returncode == 0
    unapproved, approved = tmp_path / "unapproved.plan", tmp_path / "approved.plan"

    assert cli("plan", examples_copy, "--out", unapproved, env=env).returncode == 0
    refused = cli("apply", examples_copy, "--plan", unapproved, env=env)
    flag_after_review = cli(
        "apply", examples_copy, "--plan", unapproved, "--allow-deletes", env=env
    )
    narrower_than_the_plan = cli(
        "apply", examples_copy, "--plan", unapproved, "--tenant", "ok-skogen", env=env
    )
    assert cli("plan", examples_copy, "--allow-deletes", "--out", approved, env=env).returncode == 0
    file_alone = cli("apply", examples_copy, "--plan", approved, env=env)
    applied = cli("apply", examples_copy, "--plan", approved, "--allow-deletes", env=env)

    assert refused.returncode == 1 and "needs --allow-deletes" in refused.stderr
    assert flag_after_review.returncode == 1
    assert "the plan was made without --allow-deletes" in flag_after_review.stderr
    assert narrower_than_the_plan.returncode == 1
    assert "the plan covers every tenant, but this run allows only --tenant ok-skogen" in (
        narrower_than_the_plan.stderr
    )
    assert plan_document(approved)["deletes_approved"] is True
    assert file_alone.returncode == 1 and "needs --allow-deletes" in file_alone.stderr
    assert applied.returncode == 0, applied.stdout + applied.stderr
    users = {u["email"] for u in live_state(server)["ok-skogen"]["users"]}
    assert EXTRA_USER not in users


def test_changed_since_plans_the_changed_tenants_and_shows_a_deleted_file_leaving(
    server: Server, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    tenants = repo / "tenants"
    tenants.mkdir(parents=True)
    for path in EXAMPLES.glob("*.yaml"):
        tenants.joinpath(path.name).write_text(path.read_text())
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "all")
    env = server.env()
    assert cli("apply", tenants, "--auto-approve", env=env).returncode == 0
    edit_tenant(tenants, "il-fjellrev", lambda d: d.update(name="IL Fjellreven"))
    (tenants / "kartverkstedet.yaml").unlink()

    text = cli("plan", tenants, "--changed-since", "HEAD", env=env)
    document = json.loads(
        cli("plan", tenants, "--changed-since", "HEAD", "--format", "json", env=env).stdout
    )
    defaults_changed = cli(
        "plan", tenants, "--changed-since", "HEAD", "--format", "json", env=env, cwd=repo
    )

    assert text.returncode == 0, text.stderr
    assert "Tenant il-fjellrev" in text.stdout
    assert "ok-skogen" not in text.stdout
    assert "Targeted plan" in text.stdout and "skipped" in text.stdout
    assert "kartverkstedet" in text.stdout and "leaving management" in text.stdout
    assert "leaves management: nothing is written to it" in text.stdout
    assert document["targeted"] == {"tenants": ["il-fjellrev"], "changed_since": "HEAD",
                                    "skipped": 4}  # fmt: skip
    assert document["leaving_management"] == ["kartverkstedet"]
    assert document["unmanaged_tenants"] == []
    assert defaults_changed.returncode == 0

    edit_tenant(tenants, "il-fjellrev", lambda d: d.update(name="IL Fjellrev"))
    tenants.joinpath("_defaults.yaml").write_text(
        tenants.joinpath("_defaults.yaml").read_text() + "\n"
    )
    everything = json.loads(
        cli("plan", tenants, "--changed-since", "HEAD", "--format", "json", env=env).stdout
    )
    assert everything["targeted"]["tenants"] is None
    assert len(everything["tenants"]) == 5

    bad_ref = cli("plan", tenants, "--changed-since", "no-such-ref", env=env)
    assert bad_ref.returncode == 1
    assert "--changed-since" in bad_ref.stderr and "no-such-ref" in bad_ref.stderr


def test_a_tenant_without_a_file_is_drift_when_asked(server: Server, examples_copy: Path) -> None:
    env = server.env()
    assert cli("apply", examples_copy, "--auto-approve", env=env).returncode == 0
    (examples_copy / "kartverkstedet.yaml").unlink()

    plain = cli("plan", examples_copy, "--detailed-exitcode", env=env)
    drift = cli("plan", examples_copy, "--detailed-exitcode", "--unmanaged-is-drift", env=env)
    document = json.loads(cli("plan", examples_copy, "--format", "json", env=env).stdout)

    # Not on the operator's list: exit 4 (docs/lifecycle.md); the old flag says it is gone.
    assert plain.returncode == 4, plain.stderr
    assert "1 unmanaged tenant(s): live, no file." in plain.stdout
    assert drift.returncode == 4
    assert drift.stderr.count("--unmanaged-is-drift is deprecated") == 1
    assert document["summary"]["unmanaged"] == 1
    assert document["has_drift"] is True and document["has_changes"] is False
