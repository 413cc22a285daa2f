"""`export` writes the live state as tenant files that plan to no change, naming the same
secret variables as the examples; it never overwrites files unless told to."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, Server, cli, example_secrets

pytestmark = pytest.mark.e2e


def secret_names(folder: Path) -> set[str]:
    return {
        name
        for path in folder.glob("*.yaml")
        for name in re.findall(r"env:([A-Za-z_][A-Za-z0-9_]*)", path.read_text())
    }


def test_export_plans_to_no_change_and_never_overwrites_without_force(
    server: Server, tmp_path: Path
) -> None:
    env = server.env()
    assert cli("apply", EXAMPLES, "--auto-approve", env=env).returncode == 0
    exported = tmp_path / "exported"

    done = cli("export", "--all", "--out", exported, env=env)
    replanned = cli("plan", exported, "--detailed-exitcode", env=env)

    assert done.returncode == 0, done.stderr
    assert replanned.returncode == 0, replanned.stdout + replanned.stderr
    assert "No changes" in replanned.stdout
    assert sorted(p.name for p in exported.iterdir()) == sorted(
        p.name for p in EXAMPLES.glob("*.yaml") if p.name != "_defaults.yaml"
    )
    assert secret_names(exported) == set(example_secrets())

    files = {path: path.read_text() for path in exported.iterdir()}
    for path in files:
        path.write_text("# edited by hand\n" + files[path])

    again = cli("export", "--all", "--out", exported, env=env)

    assert again.returncode == 1
    assert "--force" in again.stderr and "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    assert all(path.read_text().startswith("# edited by hand") for path in files)

    forced = cli("export", "--all", "--out", exported, "--force", env=env)

    assert forced.returncode == 0, forced.stderr
    # Tenant files are rewritten; _agreements.yaml is merged into, keeping what it holds.
    tenant_files = [path for path in files if not path.name.startswith("_")]
    assert all(path.read_text() == files[path] for path in tenant_files)


def test_export_of_one_tenant_that_does_not_exist_is_an_error(
    server: Server, tmp_path: Path
) -> None:
    done = cli("export", "--tenant", "no-such-club", "--out", tmp_path / "out", env=server.env())

    assert done.returncode == 1
    assert "no-such-club" in done.stderr
    assert not (tmp_path / "out").exists()


def test_export_into_a_repository_with_defaults_plans_to_no_change(
    server: Server, tmp_path: Path
) -> None:
    # il-fjellrev has finish_code null live while _defaults.yaml says "100": exported
    # without it, the default would fill it in and plan would show null → "100".
    env = server.env()
    assert cli("apply", EXAMPLES, "--auto-approve", env=env).returncode == 0
    repository = tmp_path / "tenants"
    repository.mkdir()
    shutil.copy(EXAMPLES / "_defaults.yaml", repository / "_defaults.yaml")

    done = cli("export", "--all", "--out", repository, env=env)
    replanned = cli("plan", repository, "--detailed-exitcode", env=env)

    assert done.returncode == 0, done.stderr
    assert replanned.returncode == 0, replanned.stdout + replanned.stderr
    assert "No changes" in replanned.stdout
    assert "finish_code: null" in (repository / "il-fjellrev.yaml").read_text()
