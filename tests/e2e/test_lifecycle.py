"""Tenant lifecycle against a real `serve` process (issue 21.4): a removed file leaves
management, the operator's list of tenants kept outside Git quiets the nightly drift run
while any other tenant without a file exits 4 (6 with drift), decommissioning a client
is planned, refused without the approval, applied with it and converges, and a hostile
list is one error line."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, Server, cli
from tests.e2e.helpers import edit_tenant, live_state

pytestmark = pytest.mark.e2e

_ONE_ERROR = re.compile(r"^Error: (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): .+$")


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    tenants = repo / "tenants"
    tenants.mkdir(parents=True)
    for path in EXAMPLES.glob("*.yaml"):
        tenants.joinpath(path.name).write_text(path.read_text())
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "all"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )
    return tenants


def _phone_changed_live(server: Server, slug: str) -> None:
    with server.client() as api:
        tenant = api.get(f"/v1/tenants/{slug}")
        changed = api.patch(
            f"/v1/tenants/{slug}",
            json={"contact": {**tenant.json()["contact"], "phone": "+4799990000"}},
            headers={"If-Match": tenant.headers["etag"]},
        )
        assert changed.status_code == 200, changed.text


def test_a_removed_file_leaves_management_and_the_nightly_run_tells_drift_apart(
    server: Server, tmp_path: Path
) -> None:
    tenants = _repo(tmp_path)
    env = server.env()
    assert cli("apply", tenants, "--auto-approve", env=env).returncode == 0
    before = live_state(server)["kartverkstedet"]
    (tenants / "kartverkstedet.yaml").unlink()
    kept = tmp_path / "ops" / "kept-outside.txt"
    kept.parent.mkdir()

    # The pull request's plan: the tenant leaves management, in every format, with what
    # to do while it is not on the operator's list.
    text = cli("plan", tenants, "--changed-since", "HEAD", "--detailed-exitcode", env=env)
    markdown = cli("plan", tenants, "--changed-since", "HEAD", "--format", "markdown", env=env)
    document = json.loads(
        cli("plan", tenants, "--changed-since", "HEAD", "--format", "json", env=env).stdout
    )
    assert text.returncode == 4, text.stderr
    assert "kartverkstedet: leaves management: nothing is written to it" in text.stdout
    assert "not on the list of tenants kept outside Git" in text.stdout
    assert "lifecycle: decommissioned" in text.stdout
    assert "Tenants leaving management" in markdown.stdout
    assert "leaves management: nothing is written to it" in markdown.stdout
    assert document["leaving_management"] == ["kartverkstedet"]
    assert document["kept_outside"] == [] and document["tenants"] == []

    kept.write_text("# kept by its own treasurer\nkartverkstedet\n")
    listed = cli(
        "plan", tenants, "--changed-since", "HEAD", "--detailed-exitcode", "--format", "json",
        env=server.env(T4O_UNMANAGED_LIST=str(kept)),
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["kept_outside"] == ["kartverkstedet"]

    # Apply writes nothing to it, even asked to delete tenants without a file: it is listed.
    applied = cli(
        "apply", tenants, "--auto-approve", "--delete-unmanaged", "--allow-deletes",
        "--unmanaged-list", kept, env=env,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert live_state(server)["kartverkstedet"] == before

    # The nightly drift run: 0 quiet, 2 drift, 4 an unlisted tenant without a file, 6 both.
    nightly: list[str | Path] = ["plan", tenants, "--detailed-exitcode"]
    assert cli(*nightly, "--unmanaged-list", kept, env=env).returncode == 0
    unlisted = cli(*nightly, env=env)
    assert unlisted.returncode == 4, unlisted.stderr
    assert "1 unmanaged tenant(s): live, no file." in unlisted.stdout
    assert "until then the drift plan exits 4" in unlisted.stdout
    _phone_changed_live(server, "ok-skogen")
    assert cli(*nightly, "--unmanaged-list", kept, env=env).returncode == 2
    assert cli(*nightly, env=env).returncode == 6
    # A tenant created behind the tool's back is loud even with the list.
    with server.client() as api:
        made = api.post(
            "/v1/tenants",
            json={
                "slug": "ny-klubb",
                "name": "Ny klubb",
                "organization_number": "987654309",
                "owner": {"email": "eier@ny-klubb.no", "name": "Eier"},
            },
            headers={"Idempotency-Key": "e2e-lifecycle-ny-klubb"},
        )
        assert made.status_code in (200, 201), made.text
    shown = cli(*nightly, "--unmanaged-list", kept, "--format", "json", env=env)
    assert shown.returncode == 6, shown.stderr
    assert json.loads(shown.stdout)["unmanaged_tenants"] == ["ny-klubb"]


def _decommission(tenants: Path) -> None:
    def end(document: dict) -> None:  # type: ignore[type-arg]
        owner = next(u for u in document["users"] if u["role"] == "owner")
        for section in ("connections", "email_account"):
            document.pop(section, None)
        document["lifecycle"] = "decommissioned"
        document["users"] = [{"email": owner["email"], "name": owner["name"], "role": "owner"}]

    edit_tenant(tenants, "ok-skogen", end)


def test_decommissioning_is_refused_without_the_approval_and_converges_with_it(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    env = server.env()
    assert cli("apply", examples_copy, "--auto-approve", env=env).returncode == 0
    accounts = live_state(server)["ok-skogen"]["bank-accounts"]
    _decommission(examples_copy)

    planned = cli("plan", examples_copy, "--detailed-exitcode", env=env)
    assert planned.returncode == 3, planned.stderr  # changes that need the approval
    assert "needs approval (pass --allow-deletes to plan and apply): decommissions the client" in (
        planned.stdout
    )
    assert "enabled: true → false" in planned.stdout
    assert "distribution_enabled: true → false" in planned.stdout
    assert 'ok-skogen.connections["eventor-norway"]' in planned.stdout
    assert "bank_accounts" not in planned.stdout  # bookkeeping data stays

    out = tmp_path / "decommission.plan"
    saved = cli("plan", examples_copy, "--out", out, env=env)
    assert saved.returncode == 0, saved.stderr
    refused = cli("apply", examples_copy, "--plan", out, env=env)
    assert refused.returncode == 1
    assert "ok-skogen: needs --allow-deletes (decommissions the client" in refused.stderr
    assert live_state(server)["ok-skogen"]["connections"]  # nothing was written

    approved = cli("plan", examples_copy, "--allow-deletes", "--out", out, env=env)
    assert approved.returncode == 0, approved.stderr
    applied = cli("apply", examples_copy, "--plan", out, "--allow-deletes", env=env)
    assert applied.returncode == 0, applied.stderr

    live = live_state(server)["ok-skogen"]
    assert live["invoicing"]["enabled"] is False
    assert live["invoicing"]["distribution_enabled"] is False
    assert live["connections"] == [] and live["email_account"] is None
    assert [u["role"] for u in live["users"]] == ["owner"]
    assert live["bank-accounts"] == accounts
    again = cli("plan", examples_copy, "--detailed-exitcode", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout


@pytest.mark.parametrize(
    ("where", "text", "position", "what"),
    [
        ("tree", "ok-skogen\n", "1:1", "lies inside the tenant directory"),
        ("ops", "ok-skogen\n\nBad Slug # hm\n", "3:1", "'Bad Slug' is not a tenant slug"),
        ("ops", "ok-skogen\n  ok-skogen\n", "2:3", "listed twice (first on line 1)"),
        ("ops", b"ok-\xff\n", "1:4", "not UTF-8 text"),
    ],
)
def test_a_hostile_list_is_one_error_line_and_nothing_is_planned(
    server: Server,
    examples_copy: Path,
    tmp_path: Path,
    where: str,
    text: str | bytes,
    position: str,
    what: str,
) -> None:
    folder = examples_copy if where == "tree" else tmp_path / "ops"
    folder.mkdir(exist_ok=True)
    listed = folder / "kept.txt"
    listed.write_bytes(text.encode() if isinstance(text, str) else text)

    done = cli(
        "plan", examples_copy, "--detailed-exitcode",
        env=server.env(T4O_UNMANAGED_LIST=str(listed)),
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert _ONE_ERROR.match(line), line
    assert line.startswith(f"Error: {listed}:{position}: ")
    assert what in line
    assert "Traceback" not in done.stderr
