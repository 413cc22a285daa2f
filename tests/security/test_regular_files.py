"""Class 8: tenant files are regular files inside the repository. A pull request can
commit a symbolic link (to /proc/self/environ, to a file CI wrote, to another tenant's
file) or a directory named like a tenant file, and a runner can hold a FIFO: each is
refused with one line naming it, never read, never a traceback, never a hang."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Server, base_env, cli, module_server
from tests.security.test_git import team_repository

pytestmark = pytest.mark.e2e

__all__ = ["module_server"]

CANARY = "CANARY-environment-r8"
OUTSIDE = "CANARY-outside-tenant-r8"


def _lines_naming(name: str, text: str) -> list[str]:
    return [line for line in text.splitlines() if f"{name}:" in line]


def _refused(done: subprocess.CompletedProcess[str], name: str, message: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    named = _lines_naming(name, output)
    assert len(named) == 1, output
    assert message in named[0], named[0]
    assert CANARY not in output and OUTSIDE not in output


def _outside_tenant(tmp_path: Path, examples: Path) -> Path:
    """A valid tenant file outside the repository, as a file CI wrote could be."""
    outside = tmp_path / "outside" / "stray.yaml"
    outside.parent.mkdir()
    text = (examples / "nordmarka-ok.yaml").read_text()
    outside.write_text(
        text.replace("slug: nordmarka-ok", "slug: stray").replace("Nordmarka OK", OUTSIDE)
    )
    return outside


def test_a_symlink_to_proc_self_environ_is_refused_unread(
    module_server: Server, examples_copy: Path
) -> None:
    (examples_copy / "environ.yaml").symlink_to("/proc/self/environ")
    env = module_server.env(T4O_SECRET_STOLEN=CANARY, CI_JOB_TOKEN=CANARY)

    for command in ("validate", "plan"):
        done = cli(command, examples_copy, env=env)
        _refused(done, "environ.yaml", "is a symbolic link to a path outside the repository")


@pytest.mark.parametrize("in_git", [False, True], ids=["plain-folder", "git-checkout"])
def test_a_symlink_to_a_file_outside_the_repository_is_refused(
    tmp_path: Path, examples_copy: Path, in_git: bool
) -> None:
    tenants = examples_copy
    cwd = None
    if in_git:
        work = team_repository(tmp_path)
        tenants, cwd = Path("tenants"), work
    target = _outside_tenant(tmp_path, examples_copy)
    ((cwd or Path()) / tenants / "stray.yaml").symlink_to(target)

    done = cli("validate", tenants, env=base_env(), cwd=cwd)

    _refused(done, "stray.yaml", "is a symbolic link to a path outside the repository")


def test_a_symlink_inside_the_repository_is_refused_too(examples_copy: Path) -> None:
    # Decided in docs/security.md: inside the repository a link could still reach a file
    # no pull request wrote (.git/config with the checkout's token, a secrets file a CI
    # step put in the workspace), so no tenant file is read through a link.
    (examples_copy / "alias.yaml").symlink_to("ok-skogen.yaml")

    done = cli("validate", examples_copy, env=base_env())

    _refused(done, "alias.yaml", "is a symbolic link; expected a regular file")


def test_a_fifo_is_refused_without_waiting_on_it(examples_copy: Path) -> None:
    os.mkfifo(examples_copy / "pipe.yaml")

    done = cli("validate", examples_copy, env=base_env(), timeout=60)

    _refused(done, "pipe.yaml", "is a named pipe (FIFO); expected a regular file")


def test_a_directory_named_like_a_tenant_file_is_refused(examples_copy: Path) -> None:
    (examples_copy / "folder.yaml").mkdir()
    (examples_copy / "folder.yaml" / "ok-skogen.yaml").write_text("slug: x\n")

    done = cli("validate", examples_copy, env=base_env())

    _refused(done, "folder.yaml", "is a directory; expected a regular file")


def test_a_tenant_directory_linked_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    work = team_repository(tmp_path)
    (work / "tenants").rename(work / "real")
    # Inside the repository a linked folder is the repository's own: it is used.
    (work / "tenants").symlink_to("real")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(work / "real", elsewhere)
    (work / "out").symlink_to(elsewhere)
    (work / "config").mkdir()
    (work / "config" / "tenants").symlink_to("../out")

    inside = cli("validate", "tenants", env=base_env(), cwd=work)
    out = cli("validate", "out", env=base_env(), cwd=work)
    through = cli("validate", "config/tenants", env=base_env(), cwd=work)

    assert inside.returncode == 0, inside.stdout + inside.stderr
    for done, name in ((out, "out"), (through, "config/tenants")):
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        problem = f"{name}:1:1: (document): is a symbolic link to a path outside the repository"
        assert problem in done.stderr, done.stderr


def test_a_file_swapped_for_a_link_fifo_or_device_after_listing_is_not_read(tmp_path: Path) -> None:
    # The listing refuses what is not a regular file; the read itself refuses a link
    # (O_NOFOLLOW) or anything else (fstat of what was opened), so that a file swapped
    # in between cannot be read, nor block the read.
    link = tmp_path / "link.yaml"
    link.symlink_to("/proc/self/environ")
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    script = (
        "import sys; from pathlib import Path;"
        " from t4o_reconcile.config.loader import read_file;"
        " [print(read_file(Path(p))) for p in sys.argv[1:]]"
    )

    done = subprocess.run(
        [sys.executable, "-c", script, str(link), str(pipe), "/dev/null"],
        env=base_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 0, done.stderr
    link_read, pipe_read, device_read = done.stdout.splitlines()
    assert "is a symbolic link" in link_read and "ParseError" in link_read
    assert "is a named pipe (FIFO)" in pipe_read and "ParseError" in pipe_read
    assert "is a character device" in device_read and "ParseError" in device_read
