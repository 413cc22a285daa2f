"""`plan --detailed-exitcode` exits 3 when the changes need an approval that was not given
(issue 21 item 3): the pull-request check's distinct result. Deletes of users and bank
accounts, and a secret sent to a new destination, all need it; with --allow-deletes the
same plan exits 2, and a plan whose changes need none exits 2 without it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import EXAMPLES, Server, cli
from tests.e2e.helpers import divergent_env, edit_tenant, make_divergent

pytestmark = pytest.mark.e2e


def test_deletes_that_need_approval_exit_3_until_it_is_given(
    server: Server, tmp_path: Path
) -> None:
    divergent = tmp_path / "divergent"
    shutil.copytree(EXAMPLES, divergent)
    make_divergent(divergent)
    setup = cli("apply", divergent, "--auto-approve", env=divergent_env(server))
    assert setup.returncode == 0, setup.stderr

    unapproved = cli("plan", EXAMPLES, "--detailed-exitcode", env=server.env())
    without_secrets = cli(
        "plan", EXAMPLES, "--detailed-exitcode", "--without-secrets", env=server.env()
    )
    approved = cli("plan", EXAMPLES, "--detailed-exitcode", "--allow-deletes", env=server.env())
    plain = cli("plan", EXAMPLES, env=server.env())

    # The divergent sandbox also holds a live tenant with no file: the 4 bit is OR-ed in.
    assert unapproved.returncode == 3 | 4, unapproved.stdout + unapproved.stderr
    assert "Needs approval (pass --allow-deletes to plan and apply)" in unapproved.stdout
    assert without_secrets.returncode == 3 | 4, without_secrets.stderr
    assert approved.returncode == 2 | 4, approved.stderr
    listed = tmp_path / "kept-outside.txt"
    listed.write_text("".join(f"{slug}\n" for slug in _unmanaged(approved.stdout)))
    kept = cli(
        "plan", EXAMPLES, "--detailed-exitcode", "--unmanaged-list", listed, env=server.env()
    )
    assert kept.returncode == 3, kept.stdout + kept.stderr
    assert plain.returncode == 0, plain.stderr  # without --detailed-exitcode: success


def test_a_secret_sent_to_a_new_host_exits_3_and_an_ordinary_change_exits_2(
    server: Server, tmp_path: Path
) -> None:
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, tenants)
    setup = cli("apply", tenants, "--auto-approve", env=server.env())
    assert setup.returncode == 0, setup.stderr

    def move_smtp(doc: Any) -> None:
        doc["email_account"]["smtp_host"] = "smtp.elsewhere.example"

    edit_tenant(tenants, "ok-skogen", lambda doc: doc["contact"].update(phone="+4799112233"))
    ordinary = cli("plan", tenants, "--detailed-exitcode", env=server.env())
    edit_tenant(tenants, "kartverkstedet", move_smtp)
    sensitive = cli("plan", tenants, "--detailed-exitcode", env=server.env())
    approved = cli("plan", tenants, "--detailed-exitcode", "--allow-deletes", env=server.env())

    assert ordinary.returncode == 2, ordinary.stdout + ordinary.stderr
    assert sensitive.returncode == 3, sensitive.stdout + sensitive.stderr
    assert "sensitive change" in sensitive.stdout
    assert approved.returncode == 2, approved.stderr


def _unmanaged(plan_text: str) -> list[str]:
    """The live tenants with no file, as the text plan lists them."""
    prefix = "Unmanaged tenants (live, no file; left alone unless deletion is requested): "
    line = next(line for line in plan_text.splitlines() if line.startswith(prefix))
    return line.removeprefix(prefix).split(", ")
