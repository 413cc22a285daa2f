"""Pull-request and merge plans scoped to the change (issue 21.1, 21.7), through the shipped
GitHub workflows' own scripts against a sandbox process: the pull request plans what it
changes from its merge base; the merge job plans the merged commit's own change with the
reviewed tenants, strict inside the reviewed scope and blind outside it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import EXAMPLES, Server, cli, example_secrets, plan_document
from tests.e2e.helpers import edit_file, edit_tenant, live_state
from tests.e2e.test_ci_loop import Runner, git, pull_request

pytestmark = pytest.mark.e2e


@dataclass
class Team:
    server: Server
    work: Path
    runner: Runner
    reader: str

    @property
    def tenants(self) -> Path:
        return self.work / "tenants"

    def branch(self, name: str) -> None:
        git(self.work, "checkout", "-q", "-b", name, "main")

    def commit(self, message: str) -> None:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)

    def merge(self, branch: str) -> None:
        git(self.work, "checkout", "-q", "main")
        git(self.work, "merge", "-q", "--no-ff", "-m", f"merge {branch}", branch)

    def reviewed_phone(self) -> Path:
        """A pull request that changes il-fjellrev's phone, planned and reviewed: its
        plan artifact (the branch "phone" is left checked out)."""
        self.branch("phone")
        edit_tenant(self.tenants, "il-fjellrev", lambda d: d["contact"].update(phone="+4799112233"))
        self.commit("a new phone")
        return pull_request(self.runner, self.reader)

    def merging(self, branch: str) -> None:
        """``branch`` merged into main without a commit yet: the merge commit may then
        bring changes of its own (a hand-made merge)."""
        git(self.work, "checkout", "-q", "main")
        git(self.work, "merge", "-q", "--no-ff", "--no-commit", branch)

    def plan_json(self, *args: str) -> Any:
        done = cli(
            "plan", self.tenants, "--format", "json", *args,
            env=self.server.env(), cwd=self.work,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture
def team(server: Server, tmp_path: Path) -> Iterator[Team]:
    work = tmp_path / "team"
    (work / "tenants").mkdir(parents=True)
    for path in EXAMPLES.glob("*.yaml"):
        (work / "tenants" / path.name).write_bytes(path.read_bytes())
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "tenants")
    first = cli("apply", work / "tenants", "--auto-approve", env=server.env(**example_secrets()))
    assert first.returncode == 0, first.stderr
    yield Team(server, work, Runner(server, work, tmp_path), server.read_only_token())


def _applied(runner: Runner, artifact: Path) -> None:
    checked, applied = runner.merge(artifact)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert applied is not None and applied.returncode == 0, applied.stdout + applied.stderr


def test_two_pull_requests_from_one_base_merge_one_after_the_other(team: Team) -> None:
    base = git(team.work, "rev-parse", "main").strip()
    phone = team.reviewed_phone()
    team.branch("rename")
    edit_tenant(team.tenants, "kartverkstedet", lambda d: d.update(name="Kartverket AS"))
    team.commit("a new name")
    rename = pull_request(team.runner, team.reader)

    saved = plan_document(phone / "tenants.plan")
    assert saved["scope"] == {
        "scoped": True,
        "base": base,
        "tenants": ["il-fjellrev"],
        "leaving": [],
        "agreements": False,
    }
    assert [t["slug"] for t in saved["tenants"]] == ["il-fjellrev"]
    assert saved["targeted"]["skipped"] == 5

    team.merge("phone")
    _applied(team.runner, phone)
    # Between review and merge: a colleague's edit in the web UI and an invoice, both
    # outside the second pull request's scope. Neither refuses its merge.
    with team.server.client() as client:
        tenant = client.get("/v1/tenants/ok-skogen").json()
        edited = client.patch(
            "/v1/tenants/ok-skogen",
            json={"name": "OK Skogen (web)"},
            headers={"If-Match": f'"{tenant["version"]}"'},
        )
        assert edited.status_code == 200, edited.text
        invoice = client.post(
            "/v1/tenants/ok-skogen/invoices",
            json={"customer": {"name": "Kunde", "email": "kunde@example.com"}},
            headers={"Idempotency-Key": "scope-invoice-1"},
        )
        assert invoice.status_code == 201, invoice.text
    team.merge("rename")
    _applied(team.runner, rename)

    merged = plan_document(team.runner.tmp / "t4o" / "merged.plan")
    assert merged["scope"]["tenants"] == ["kartverkstedet"]
    live = live_state(team.server)
    assert live["kartverkstedet"]["tenant"]["name"] == "Kartverket AS"
    assert live["il-fjellrev"]["tenant"]["contact"]["phone"] == "+4799112233"
    # Blind outside the scope: the colleague's edit is left for the drift job.
    assert live["ok-skogen"]["tenant"]["name"] == "OK Skogen (web)"
    drift = team.plan_json()
    assert [t["slug"] for t in drift["tenants"] if t["actions"]] == ["ok-skogen"]


def test_a_live_change_inside_the_scope_still_refuses(team: Team) -> None:
    artifact = team.reviewed_phone()
    with team.server.client() as client:
        tenant = client.get("/v1/tenants/il-fjellrev").json()
        edited = client.patch(
            "/v1/tenants/il-fjellrev",
            json={"name": "IL Fjellrev (web)"},
            headers={"If-Match": f'"{tenant["version"]}"'},
        )
        assert edited.status_code == 200, edited.text
    team.merge("phone")
    before = live_state(team.server)

    refused, nothing = team.runner.merge(artifact)

    assert refused.returncode != 0 and nothing is None
    assert "update il-fjellrev.identity was not in it" in refused.stderr, refused.stderr
    assert live_state(team.server) == before


def test_a_change_the_merge_brings_that_nobody_reviewed_is_refused(team: Team) -> None:
    artifact = team.reviewed_phone()
    # The merge commit itself changes two more tenants (a hand-made merge): one with a
    # change, one without (its file only reformatted).
    team.merging("phone")
    edit_tenant(team.tenants, "kartverkstedet", lambda d: d.update(name="Kartverket AS"))
    path = team.tenants / "ok-skogen.yaml"
    path.write_text(path.read_text() + "\n# reformatted\n")
    team.commit("merge phone, and more")
    before = live_state(team.server)

    refused, nothing = team.runner.merge(artifact)

    assert refused.returncode != 0 and nothing is None
    assert refused.stderr.splitlines()[-2:] == [
        "Error: refusing to apply what was not reviewed: the merge brings changes that no"
        " reviewed plan showed, and nothing was applied. Open a pull request that touches"
        " them (its plan is their review), or bring live to main with the apply workflow's"
        " manual recovery run (docs/recovery.md):",
        "  kartverkstedet (1 to change)",
    ]
    assert "ok-skogen" not in refused.stderr  # planned, no change: nothing to refuse
    assert live_state(team.server) == before


def test_a_defaults_change_plans_every_tenant(team: Team) -> None:
    team.branch("defaults")
    edit_file(team.tenants / "_defaults.yaml", lambda d: d["defaults"].update(finish_code="200"))
    team.commit("finish code 200")
    artifact = pull_request(team.runner, team.reader)
    saved = plan_document(artifact / "tenants.plan")
    assert saved["scope"]["scoped"] is False and saved["scope"]["tenants"] is None
    changed = {t["slug"] for t in saved["tenants"] if t["actions"]}
    assert "nordmarka-ok" in changed  # inherits the finish code
    assert "ok-skogen" not in changed  # sets its own
    team.merge("defaults")
    _applied(team.runner, artifact)
    assert all(not t["actions"] for t in team.plan_json()["tenants"])


def test_an_agreements_change_plans_the_agreements(team: Team) -> None:
    team.branch("agreements")
    edit_file(
        team.tenants / "_agreements.yaml",
        lambda d: d["agreements"][1].update(customer_number="10009"),
    )
    team.commit("a new customer number")
    artifact = pull_request(team.runner, team.reader)
    saved = plan_document(artifact / "tenants.plan")
    assert saved["scope"]["agreements"] is True and saved["scope"]["tenants"] == []
    assert [a["address"] for a in saved["agreement_actions"]] == [
        'agreements["Bedriftsidretten Oslo"]'
    ]
    team.merge("agreements")
    _applied(team.runner, artifact)
    with team.server.client() as client:
        numbers = {
            a["name"]: a["customer_number"] for a in client.get("/v1/agreements").json()["items"]
        }
    assert numbers["Bedriftsidretten Oslo"] == "10009"


def test_a_deleted_tenant_file_leaves_management(team: Team) -> None:
    team.branch("goodbye")
    (team.tenants / "nordmarka-ok.yaml").unlink()
    team.commit("nordmarka-ok leaves")
    artifact = pull_request(team.runner, team.reader)
    saved = plan_document(artifact / "tenants.plan")
    assert saved["leaving_management"] == ["nordmarka-ok"]
    assert saved["scope"]["leaving"] == ["nordmarka-ok"]
    comment = "".join(p.read_text() for p in sorted((artifact / "comment").glob("*.md")))
    assert "nordmarka-ok" in comment
    team.merge("goodbye")
    _applied(team.runner, artifact)
    assert "nordmarka-ok" in live_state(team.server)  # left as it is


def test_a_scoped_plan_says_its_charged_accesses_are_partial(team: Team) -> None:
    # ok-skogen and ok-skogen-ungdom share an agreement; the change touches one of them.
    team.branch("rights")
    edit_tenant(
        team.tenants,
        "ok-skogen-ungdom",
        lambda d: d["contact"].update(email="post@ungdom.example"),
    )
    team.commit("a new address")
    scoped = team.plan_json("--changed-since", "main")
    whole = team.plan_json()
    name = "Norges Orienteringsforbund"
    part = next(u for u in scoped["agreement_users"] if u["agreement"] == name)
    real = next(u for u in whole["agreement_users"] if u["agreement"] == name)
    # The scoped figure counts ok-skogen-ungdom's accesses only: below the agreement's.
    assert part["partial"] is True and "partial" not in real
    assert part["before"] < real["before"]
    text = cli("plan", team.tenants, "--changed-since", "main", env=team.server.env())
    assert "(partial: the planned tenants' accesses only" in text.stdout


def test_an_agreements_change_nobody_reviewed_is_refused(team: Team) -> None:
    artifact = team.reviewed_phone()
    team.merging("phone")
    edit_file(
        team.tenants / "_agreements.yaml",
        lambda d: d["agreements"][1].update(customer_number="10009"),
    )
    team.commit("merge phone, and a customer number")
    before = live_state(team.server)

    refused, nothing = team.runner.merge(artifact)

    assert refused.returncode != 0 and nothing is None
    assert refused.stderr.splitlines()[-1] == "  the agreements (1 to change)"
    assert live_state(team.server) == before
