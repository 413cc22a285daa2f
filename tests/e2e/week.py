"""The harness of the week (issue 21's "Done when"): a team's Git repository of generated
tenants, GitHub (tests/e2e/week_forge.py answers its REST API; tests/e2e/actions_runner.py
runs the shipped workflows step by step) and a real `serve` process.

How each `Week` method maps to what a team or GitHub does:

==========================  ================================================================
`Week.open_pull`             a branch from main, a commit, a pull request (stand-in object),
                             then the ``pull_request`` ``opened`` event: t4o-plan.yml runs.
`Week.push`                  a new commit on the branch; ``synchronize``: t4o-plan.yml runs.
`Week.add_label`             a person adds a label (issue event with its actor); GitHub
                             sends ``labeled``: t4o-plan.yml runs again.
`Week.remove_label`          the same for ``unlabeled``.
`Week.merge`                 the merge button: a merge commit on main whose first parent is
                             main; the pull request is merged (merged_at, merge_commit_sha,
                             /commits/{sha}/pulls); the ``push`` to main: t4o-apply.yml runs.
`Week.live_edit`             a colleague in the web UI: a PATCH through the API.
`Week.issue_invoices`        the club invoices its customers: the counters move.
`Week.other_partner_holds`   another partner takes an organisation number (the sandbox then
                             refuses one tenant's write: the apply fails half-way);
                             `Week.other_partner_releases` clears it again.
`Week.recovery_run`          "Run workflow" on t4o-apply.yml (``workflow_dispatch``, inputs
                             at their defaults unless given; the Environment's required
                             reviewer approves).
`Week.nightly_drift`         the ``schedule`` event: t4o-drift.yml runs on main.
`Week.keep_outside_git`      the operator lists a live tenant as kept outside Git: a file
                             outside the repository (T4O_UNMANAGED_LIST for a terminal) and
                             the drift Environment's ``vars.T4O_UNMANAGED_TENANTS`` (its lines).
`Week.full_plan`             an operator's full plan of main with the writing token and the
                             secret values: the week's end state.
==========================  ================================================================

The settings a workflow reads are `Actions.variables` (``vars.*``: T4O_API_URL, and
T4O_UNMANAGED_LIST once the operator keeps a tenant outside Git) and `Actions.secrets`
(``secrets.*``: T4O_API_TOKEN, T4O_API_TOKEN_READONLY, T4O_SECRETS_FILE; GITHUB_TOKEN is
``github.token``); a name a workflow reads that is not set is "", as on GitHub. People
and their permission on the repository are `WeekForge.permissions`.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from stdnum.no import kontonr, orgnr

from tests.ci.forge_standin import (
    OWNER,
    REPO,
    github_pull,
)
from tests.e2e.actions_runner import Actions, RunResult, git
from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import other_partner_holds
from tests.e2e.week_forge import WeekForge, timestamp

TENANTS = "tenants"
APPROVAL_LABEL = "t4o:allow-deletes"


# --- The tenants: small generated clubs ---------------------------------------------------


def slug_of(n: int) -> str:
    return f"klubb-{n:03d}"


def secret_name(n: int) -> str:
    return f"T4O_SECRET_KLUBB_{n:03d}_EVENTOR"


def _numbers(valid: Callable[[str], bool], width: int, start: int, count: int) -> list[str]:
    found: list[str] = []
    for n in itertools.count(start):
        for digit in "0123456789":
            if valid(f"{n:0{width}d}{digit}"):
                found.append(f"{n:0{width}d}{digit}")
                break
        if len(found) == count:
            return found
    raise AssertionError("unreachable")


ORGANISATION_NUMBERS = _numbers(orgnr.is_valid, 8, 92000000, 80)
BANK_ACCOUNTS = _numbers(kontonr.is_valid, 10, 1503100000, 160)


def tenant_yaml(n: int) -> str:
    """One club as a partner writes it: an owner, an admin, a member (a delete of a user
    needs approval), two bank accounts, an Eventor key of its own, a counter."""
    slug = slug_of(n)
    return (
        "# yaml-language-server: $schema=../schemas/tenant.schema.json\n"
        f"slug: {slug}\n"
        f"name: Klubb {n}\n"
        f"organization_number: '{ORGANISATION_NUMBERS[n]}'\n"
        f"contact:\n  email: post@{slug}.no\n  phone: '+47 22 33 44 {n % 100:02d}'\n"
        "address:\n  street: Skogveien 1\n  postal_code: '0763'\n  city: Oslo\n  country: NO\n"
        f"billing:\n  licenses: {5 + n % 7}\n  interval: monthly\n"
        f"agreement: {'Region Nord' if n % 2 else 'Region Sør'}\n"
        "connections:\n"
        f"  - connector: eventor-norway\n    token: {{secret: 'env:{secret_name(n)}'}}\n"
        f"invoicing:\n  next_invoice_number: {1000 + 10 * n}\n"
        "bank_accounts:\n"
        f"  - account_number: '{BANK_ACCOUNTS[2 * n]}'\n    invoice_account: true\n"
        f"  - account_number: '{BANK_ACCOUNTS[2 * n + 1]}'\n    default_for_payments: true\n"
        "users:\n"
        f"  - email: leder@{slug}.no\n    name: Leder {n}\n    role: owner\n"
        f"  - email: kasserer@{slug}.no\n    name: Kasserer {n}\n    role: admin\n"
        f"  - email: medlem@{slug}.no\n    name: Medlem {n}\n    role: member\n"
    )


def generate(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_agreements.yaml").write_text(
        "agreements:\n"
        "  - {name: Region Nord, customer_number: '2001'}\n"
        "  - {name: Region Sør, customer_number: '2002'}\n"
    )
    (root / "_defaults.yaml").write_text("billing:\n  invoice_recipient: partner\n")
    for n in range(count):
        (root / f"{slug_of(n)}.yaml").write_text(tenant_yaml(n))


def secret_values(count: int) -> dict[str, str]:
    return {secret_name(n): f"eventor-key-of-klubb-{n:03d}" for n in range(count)}


# --- The week: what the team and GitHub do -------------------------------------------------


@dataclass
class Pull:
    number: int
    branch: str
    author: str
    base_sha: str
    checks: list[RunResult] = field(default_factory=list)
    merge_runs: list[RunResult] = field(default_factory=list)

    @property
    def check(self) -> RunResult:
        return self.checks[-1]


class Week:
    """A team's repository, GitHub (the stand-in and the runner) and the live API, with
    one method per thing the team or CI does (the table in the module's docstring)."""

    def __init__(
        self,
        server: Server,
        forge: WeekForge,
        work: Path,
        tenant_count: int,
        writer: str,
        reader: str,
    ) -> None:
        self.server = server
        self.forge = forge
        self.work = work
        self.tenant_count = tenant_count
        self.origin = work / "team"
        self.tenants = self.origin / TENANTS
        self.secrets = secret_values(tenant_count)
        self.writer = writer
        self.reader = reader
        self.numbers = itertools.count(1)
        self.pulls: dict[int, Pull] = {}
        self.kept_outside: Path | None = None
        self.actions = Actions(
            self.origin,
            forge,
            work / "actions",
            variables={"T4O_API_URL": server.url},
            secrets={
                "T4O_API_TOKEN": writer,
                "T4O_API_TOKEN_READONLY": reader,
                "T4O_SECRETS_FILE": "".join(
                    f"{k}: {json.dumps(v)}\n" for k, v in self.secrets.items()
                ),
            },
        )

    # Setting up: the repository and its first apply (the team's onboarding).

    def start(self) -> None:
        generate(self.tenants, self.tenant_count)
        git(self.origin, "init", "-q", "-b", "main")
        git(self.origin, "add", ".")
        git(self.origin, "commit", "-q", "-m", "Tenants under management")
        applied = cli("apply", self.tenants, "--auto-approve", env=self.env())
        assert applied.returncode == 0, applied.stdout + applied.stderr

    def env(self, **extra: str) -> dict[str, str]:
        """An operator's terminal: the writing token and every secret value."""
        return self.server.env(T4O_API_TOKEN=self.writer, **self.secrets, **extra)

    def main_sha(self) -> str:
        return git(self.origin, "rev-parse", "main")

    def changed_files(self, base: str, head: str) -> list[str]:
        return git(self.origin, "diff", "--name-only", f"{base}...{head}").splitlines()

    # Pull requests.

    def open_pull(
        self, branch: str, author: str, change: Callable[[Path], None], message: str
    ) -> Pull:
        """A branch from main with one commit, opened as a pull request; its check runs."""
        base = self.main_sha()
        git(self.origin, "checkout", "-q", "-b", branch, "main")
        change(self.tenants)
        git(self.origin, "add", "-A")
        git(self.origin, "commit", "-q", "-m", message)
        git(self.origin, "checkout", "-q", "main")
        number = next(self.numbers)
        pull = Pull(number, branch, author, base)
        self.pulls[number] = pull
        head = git(self.origin, "rev-parse", branch)
        entry = github_pull(number, head, merged=False)
        entry.update(
            state="open",
            title=message,
            user={"login": author, "id": 100 + len(author), "type": "User"},
            merge_commit_sha=None,
            merged=False,
        )
        entry["head"].update(ref=branch, label=f"{OWNER}:{branch}")
        entry["base"].update(sha=base)
        self.forge.pull_requests[number] = entry
        pull.checks.append(self.pull_request_event(pull, "opened", sender=author))
        return pull

    def push(self, pull: Pull, change: Callable[[Path], None], message: str) -> RunResult:
        git(self.origin, "checkout", "-q", pull.branch)
        change(self.tenants)
        git(self.origin, "add", "-A")
        git(self.origin, "commit", "-q", "-m", message)
        git(self.origin, "checkout", "-q", "main")
        entry = self.forge.pull_requests[pull.number]
        entry["head"]["sha"] = git(self.origin, "rev-parse", pull.branch)
        run = self.pull_request_event(pull, "synchronize", sender=pull.author)
        pull.checks.append(run)
        return run

    def pull_request_event(
        self, pull: Pull, action: str, sender: str, label: str | None = None
    ) -> RunResult:
        """GitHub's ``pull_request`` event: t4o-plan.yml runs on the pull request's head
        (the run's head_sha), with GitHub's trial merge as GITHUB_SHA."""
        entry = self.forge.pull_requests[pull.number]
        head = entry["head"]["sha"]
        payload: dict[str, Any] = {
            "action": action,
            "number": pull.number,
            "pull_request": json.loads(json.dumps(entry)),
            "repository": {"full_name": f"{OWNER}/{REPO}", "name": REPO},
            "sender": {"login": sender, "type": "User"},
            "_changed_files": self.changed_files(entry["base"]["sha"], head),
        }
        if label:
            payload["label"] = {"name": label}
        trial = self.trial_merge(head)
        git(self.origin, "update-ref", f"refs/pull/{pull.number}/head", head)
        git(self.origin, "update-ref", f"refs/pull/{pull.number}/merge", trial)
        return self.actions.run(
            "t4o-plan.yml",
            "pull_request",
            payload,
            sha=trial,
            ref=f"refs/pull/{pull.number}/merge",
            head_sha=head,
            actor=sender,
        )

    def trial_merge(self, head: str) -> str:
        """refs/pull/N/merge: the head merged into main as it is now."""
        tree = git(self.origin, "merge-tree", "--write-tree", "main", head).splitlines()[0]
        return git(self.origin, "commit-tree", tree, "-p", "main", "-p", head, "-m", "trial merge")

    def add_label(self, pull: Pull, label: str, actor: str) -> RunResult:
        """A person adds a label: the labels and the issue's ``labeled`` event (with its
        actor) change in the API, and the ``labeled`` event runs the check again."""
        entry = self.forge.pull_requests[pull.number]
        entry["labels"].append({"id": self.forge.new_id(), "name": label, "color": "ededed"})
        self.forge.issue_events.setdefault(pull.number, []).append(
            {
                "id": self.forge.new_id(),
                "event": "labeled",
                "actor": {"login": actor, "type": "User"},
                "label": {"name": label, "color": "ededed"},
                "created_at": timestamp(),
            }
        )
        run = self.pull_request_event(pull, "labeled", sender=actor, label=label)
        pull.checks.append(run)
        return run

    def remove_label(self, pull: Pull, label: str, actor: str) -> RunResult:
        """A person removes a label: ``unlabeled``, and the check runs again."""
        entry = self.forge.pull_requests[pull.number]
        entry["labels"] = [item for item in entry["labels"] if item["name"] != label]
        self.forge.issue_events.setdefault(pull.number, []).append(
            {
                "id": self.forge.new_id(),
                "event": "unlabeled",
                "actor": {"login": actor, "type": "User"},
                "label": {"name": label, "color": "ededed"},
                "created_at": timestamp(),
            }
        )
        run = self.pull_request_event(pull, "unlabeled", sender=actor, label=label)
        pull.checks.append(run)
        return run

    def merge(self, pull: Pull, merger: str) -> RunResult:
        """The merge button: a merge commit on main (first parent main, second the head),
        the pull request merged in the API, and the push to main runs t4o-apply.yml."""
        before = self.main_sha()
        entry = self.forge.pull_requests[pull.number]
        git(
            self.origin, "merge", "-q", "--no-ff", pull.branch, "-m",
            f"Merge pull request #{pull.number} from {OWNER}/{pull.branch}",
        )  # fmt: skip
        after = self.main_sha()
        assert git(self.origin, "rev-parse", f"{after}^1") == before
        entry.update(state="closed", merged=True, merged_at=timestamp(), merge_commit_sha=after)
        entry["merged_by"] = {"login": merger, "type": "User"}
        self.forge.pulls[after] = [entry]
        run = self.push_to_main(before, after, actor=merger)
        pull.merge_runs.append(run)
        return run

    def push_to_main(self, before: str, after: str, actor: str) -> RunResult:
        payload = {
            "ref": "refs/heads/main",
            "before": before,
            "after": after,
            "repository": {"full_name": f"{OWNER}/{REPO}", "name": REPO},
            "sender": {"login": actor, "type": "User"},
            "head_commit": {"id": after},
            "_changed_files": self.changed_files(before, after),
        }
        return self.actions.run(
            "t4o-apply.yml", "push", payload, sha=after, ref="refs/heads/main", actor=actor
        )

    # The live side.

    def live_edit(self, slug: str, **fields: Any) -> None:
        """A colleague's change in the web UI: a PATCH of the tenant, with its ETag."""
        with self.server.client() as client:
            tenant = client.get(f"/v1/tenants/{slug}")
            assert tenant.status_code == 200, tenant.text
            changed = client.patch(
                f"/v1/tenants/{slug}", json=fields, headers={"If-Match": tenant.headers["ETag"]}
            )
        assert changed.status_code == 200, changed.text

    def issue_invoices(self, slug: str, count: int) -> int:
        """The club invoices ``count`` customers; returns the counter afterwards."""
        with self.server.client() as client:
            for n in range(count):
                sent = client.post(
                    f"/v1/tenants/{slug}/invoices",
                    json={"customer": {"name": f"Kunde {n}", "email": f"kunde{n}@example.no"}},
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                assert sent.status_code == 201, sent.text
            counter = client.get(f"/v1/tenants/{slug}/invoicing").json()
        return int(counter["next_invoice_number"])

    def other_partner_holds(self, organisation_number: str) -> None:
        """The fault: another partner's tenant takes an organisation number, so the API
        refuses (409) the write of any tenant of ours that moves to it, and only that one
        (tests/e2e/test_partial_failure.py's cause, in the middle of a merge)."""
        self._other = other_partner_holds(self.server, organisation_number)

    def other_partner_releases(self, organisation_number: str) -> None:
        """The other partner corrects its tenant's number: the fault is gone."""
        free = next(n for n in ORGANISATION_NUMBERS[::-1] if n != organisation_number)
        headers = {"Authorization": f"Bearer {self._other}"}
        tenant = httpx.get(f"{self.server.url}/v1/tenants/fremmed-klubb", headers=headers)
        changed = httpx.patch(
            f"{self.server.url}/v1/tenants/fremmed-klubb",
            headers={**headers, "If-Match": tenant.headers["ETag"]},
            json={"organization_number": free},
        )
        assert changed.status_code == 200, changed.text

    def keep_outside_git(self, slug: str) -> None:
        """The operator adds a live tenant to its list of tenants kept outside Git: a file
        outside the repository (T4O_UNMANAGED_LIST in an operator's terminal) and the same
        list as the drift Environment's variable T4O_UNMANAGED_TENANTS (one slug a line), which
        the drift workflow writes to a file for the job."""
        listed = self.work / "kept-outside-git.txt"
        kept = listed.read_text() if listed.exists() else ""
        listed.write_text(kept + f"{slug}  # left management in the week\n")
        self.actions.variables["T4O_UNMANAGED_TENANTS"] = listed.read_text()
        self.kept_outside = listed

    # Runs that no pull request starts.

    def recovery_run(self, actor: str, **inputs: str) -> RunResult:
        """ "Run workflow" on the apply workflow, on main (workflow_dispatch); the
        Environment's required reviewer approves the job that writes."""
        sha = self.main_sha()
        payload = {
            "inputs": inputs,
            "ref": "refs/heads/main",
            "repository": {"full_name": f"{OWNER}/{REPO}", "name": REPO},
            "sender": {"login": actor, "type": "User"},
            "workflow": ".github/workflows/t4o-apply.yml",
        }
        return self.actions.run(
            "t4o-apply.yml", "workflow_dispatch", payload, sha=sha, ref="refs/heads/main",
            actor=actor,
        )  # fmt: skip

    def nightly_drift(self) -> RunResult:
        payload = {
            "schedule": "17 3 * * *",
            "repository": {"full_name": f"{OWNER}/{REPO}", "name": REPO},
        }
        return self.actions.run(
            "t4o-drift.yml", "schedule", payload, sha=self.main_sha(), ref="refs/heads/main"
        )

    def full_plan(self, *extra: str) -> subprocess.CompletedProcess[str]:
        """An operator's full plan of main: all tenants, the writing token, the secrets."""
        env = self.env()
        if self.kept_outside is not None:
            env["T4O_UNMANAGED_LIST"] = str(self.kept_outside)
        return cli("plan", self.tenants, "--detailed-exitcode", *extra, env=env)

    def planned_slugs(self, plan_file: Path) -> set[str]:
        lines = [json.loads(line) for line in plan_file.read_text().splitlines()]
        return {line["slug"] for line in lines[1:] if "slug" in line}

    def changed_slugs(self, plan_file: Path) -> set[str]:
        lines = [json.loads(line) for line in plan_file.read_text().splitlines()]
        return {line["slug"] for line in lines[1:] if "slug" in line and line.get("actions")}

    def comment(self, pull: Pull) -> str:
        """The pull request's comments as one text (what the reviewer reads)."""
        return "\n".join(c["body"] for c in self.forge.comments.get(pull.number, []))


def stuck_runs(week: Week) -> list[str]:
    """Runs that hung, or that the forge still shows as not completed."""
    hung = [f"{r.workflow} run {r.run_id}" for r in week.actions.runs if r.stuck]
    open_runs = [f"run {r['id']}" for r in week.forge.runs if r["status"] != "completed"]
    return hung + open_runs
