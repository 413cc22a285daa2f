"""The harness of the week (issue 21's "Done when"): a team's Git repository of tenants, a
local stand-in of GitHub's REST API, and a runner that executes the shipped workflows in
examples/ci/github/ step by step, against a real `serve` process.

Nothing here copies the kit's CI logic. `Actions.run` reads the workflow file itself and
does what the GitHub runner does with it:

- triggers: the event must be in ``on:`` (with its ``types``, ``branches`` and ``paths``);
- jobs in ``needs`` order, job and step ``if:`` evaluated as GitHub evaluates them
  (tests/e2e/actions_expressions.py), ``env`` and ``with`` interpolated from the ``github``,
  ``vars``, ``secrets``, ``steps``, ``needs``, ``inputs`` and ``runner`` contexts;
- every ``run:`` step through ``bash --noprofile --norc -eo pipefail`` (GitHub's default
  shell), with GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY files;
- the ``uses:`` steps are done here, as the actions do them: ``actions/checkout`` (a clone of
  the team's repository at the ref), the t4o-reconcile Action (this source tree: ``python``
  and ``scripts`` outputs, the CLI on PATH), ``actions/upload-artifact`` and
  ``actions/download-artifact`` (artifacts kept by the forge stand-in, listed through its
  REST API as GitHub lists them). ``actions/github-script`` is JavaScript and is not run: a
  step that uses it fails, saying so (issue 21 moves the comment into scripts/ci/);
- scripts/ci/*.py are run by the steps themselves (``"$T4O_PYTHON" -I ...``), so they reach
  the forge stand-in through GITHUB_API_URL with the job's GITHUB_TOKEN.

A new step a feature branch adds to a shipped workflow is therefore run by the week without
any change here, as long as it uses ``run:`` or one of the actions above.

Every `t4o-reconcile` command a step runs goes through a shim on PATH that records its
arguments and exit status (`RunResult.cli`), so the scenario can check the tool's own exit
code (3 for a missing approval, 2 for drift, 4 for an unmanaged tenant) behind a workflow
step that turns it into a failed job.

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
                             the CI variable ``vars.T4O_UNMANAGED_LIST`` (its lines).
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

import fnmatch
import itertools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from stdnum.no import kontonr, orgnr

from tests.ci.forge_standin import (
    GITHUB_TOKEN,
    OWNER,
    REPO,
    Forge,
    github_artifact,
    github_pull,
    github_run,
    page,
)
from tests.ci.workflows import GITHUB, load
from tests.e2e.actions_expressions import (
    ExpressionError,
    Status,
    condition,
    interpolate,
)
from tests.e2e.conftest import REPO as SOURCE
from tests.e2e.conftest import Server, base_env, cli

TENANTS = "tenants"
APPROVAL_LABEL = "t4o:allow-deletes"
# A step that runs longer than this is stuck, whatever its timeout-minutes says: the
# scenario is small, and "no run was stuck" is part of the week's promise.
STUCK_AFTER = 180
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Team",
    "GIT_AUTHOR_EMAIL": "team@example.com",
    "GIT_COMMITTER_NAME": "Team",
    "GIT_COMMITTER_EMAIL": "team@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **_GIT_ENV},
        timeout=60,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


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


# --- The forge: GitHub's REST API as the kit's scripts call it ----------------------------


def _now() -> str:
    return "2026-12-07T10:00:00Z"


@dataclass
class WeekForge(Forge):
    """forge_standin.Forge (runs, artifacts, commit → pulls) plus what a week needs, in
    GitHub's REST shapes: pull requests, their labels and labelled events with actors,
    collaborators' permissions, issue comments (list, create, update, delete) and commit
    statuses. Every request is recorded as ``METHOD path``."""

    pull_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)  # login → permission
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    artifact_files: dict[int, Path] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(5000))

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: Any
    ) -> tuple[int, Any]:
        self.calls.append(f"{method} {path}")
        prefix = f"/repos/{OWNER}/{REPO}"
        if not path.startswith(prefix + "/"):
            return self.answer(path, query, headers)
        if headers.get("Authorization") not in (f"Bearer {GITHUB_TOKEN}", f"token {GITHUB_TOKEN}"):
            return 401, {"message": "Bad credentials", "status": "401"}
        parts = path.removeprefix(prefix).strip("/").split("/")
        found = self._read(parts, query) if method == "GET" else self._write(method, parts, body)
        if found is not None:
            return found
        if method == "GET":
            return self.answer(path, query, headers)
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def _read(self, parts: list[str], query: dict[str, str]) -> tuple[int, Any] | None:
        match parts:
            case ["pulls", number] | ["issues", number] if number.isdigit():
                # An issue read of a pull request answers the pull request's issue fields
                # (labels, user, state), which this object holds too.
                pull = self.pull_requests.get(int(number))
                return (200, pull) if pull else (404, {"message": "Not Found"})
            case ["pulls", number, "reviews"]:
                return 200, page(self.reviews.get(int(number), []), query)
            case ["pulls"]:
                state = query.get("state", "open")
                pulls = [
                    p for p in self.pull_requests.values() if state == "all" or p["state"] == state
                ]
                return 200, page(pulls, query)
            case ["issues", number, "labels"]:
                return 200, page(self.pull_requests[int(number)]["labels"], query)
            case ["issues", number, "events"] | ["issues", number, "timeline"]:
                return 200, page(self.events.get(int(number), []), query)
            case ["collaborators", login, "permission"]:
                permission = self.permissions.get(login, "none")
                return 200, {
                    "permission": permission,
                    "role_name": permission,
                    "user": {"login": login, "type": "User"},
                }
            case ["issues", number, "comments"]:
                return 200, page(self.comments.get(int(number), []), query)
            case ["commits", sha, "statuses"]:
                return 200, page(self.statuses.get(sha, []), query)
        return None

    def _write(self, method: str, parts: list[str], body: Any) -> tuple[int, Any] | None:
        match method, parts:
            case "POST", ["issues", number, "comments"]:
                comment = self._comment(int(number), body["body"])
                self.comments.setdefault(int(number), []).append(comment)
                return 201, comment
            case "PATCH", ["issues", "comments", comment_id]:
                for comment in self._all_comments():
                    if comment["id"] == int(comment_id):
                        comment["body"] = body["body"]
                        comment["updated_at"] = _now()
                        return 200, comment
                return 404, {"message": "Not Found"}
            case "DELETE", ["issues", "comments", comment_id]:
                for thread in self.comments.values():
                    for comment in list(thread):
                        if comment["id"] == int(comment_id):
                            thread.remove(comment)
                            return 204, b""
                return 404, {"message": "Not Found"}
            case "POST", ["statuses", sha]:
                status = {
                    "id": next(self.ids),
                    "state": body["state"],
                    "description": body.get("description"),
                    "target_url": body.get("target_url"),
                    "context": body.get("context", "default"),
                    "created_at": _now(),
                    "creator": {"login": "github-actions[bot]", "type": "Bot"},
                }
                self.statuses.setdefault(sha, []).insert(0, status)
                return 201, status
        return None

    def _comment(self, number: int, body: str) -> dict[str, Any]:
        comment_id = next(self.ids)
        return {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"https://api.github.com/repos/{OWNER}/{REPO}/issues/comments/{comment_id}",
            "issue_url": f"https://api.github.com/repos/{OWNER}/{REPO}/issues/{number}",
            "body": body,
            "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
            "created_at": _now(),
            "updated_at": _now(),
            "author_association": "NONE",
        }

    def _all_comments(self) -> Iterator[dict[str, Any]]:
        for thread in self.comments.values():
            yield from thread

    def status_of(self, sha: str) -> list[dict[str, Any]]:
        return self.statuses.get(sha, [])


@contextmanager
def serve_forge(forge: WeekForge) -> Iterator[WeekForge]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            forge.requests.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            query = dict(urllib.parse.parse_qsl(url.query))
            status, answer = forge.handle(self.command, url.path, query, self.headers, body)
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            kind = "application/octet-stream" if isinstance(answer, bytes) else "application/json"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    forge.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()


# --- The runner: a workflow's jobs and steps as GitHub runs them -------------------------


@dataclass
class StepResult:
    id: str
    name: str
    outcome: str  # success, failure, skipped
    outputs: dict[str, str]
    log: str


@dataclass
class JobResult:
    name: str
    result: str  # success, failure, skipped
    steps: list[StepResult]
    outputs: dict[str, str]


@dataclass
class RunResult:
    workflow: str
    run_id: int
    event: str
    head_sha: str
    conclusion: str
    jobs: dict[str, JobResult]
    summary: str
    cli: list[tuple[int, list[str]]]  # every t4o-reconcile command: (exit status, args)
    stuck: bool = False
    seconds: float = 0.0

    def step(self, step_id: str) -> StepResult:
        found = [s for job in self.jobs.values() for s in job.steps if s.id == step_id]
        assert len(found) == 1, f"{self.workflow}: {len(found)} steps {step_id!r}\n{self.log}"
        return found[0]

    def statuses(self, command: str) -> list[int]:
        """Exit statuses of the `t4o-reconcile COMMAND ...` runs, in order."""
        return [status for status, args in self.cli if args[:1] == [command]]

    @property
    def log(self) -> str:
        lines = [f"== {self.workflow} ({self.event}) run {self.run_id}: {self.conclusion}"]
        for job in self.jobs.values():
            lines.append(f"-- job {job.name}: {job.result}")
            for s in job.steps:
                lines.append(f"--- step {s.id}: {s.outcome}")
                if s.log.strip():
                    lines.append(s.log.rstrip())
        return "\n".join(lines)


_STICKY_COMMENT = "<!-- t4o-reconcile:plan part="


class StepFailed(Exception):
    """A ``uses:`` step the harness does as the action would, and which failed."""


_SHIM = """#!/bin/bash
# The week's t4o-reconcile: the real one, each run recorded with its exit status.
status=0
{real} "$@" || status=$?
{{ printf '%s' "$status"; printf '\\t%s' "$@"; printf '\\n'; }} >> {log}
exit "$status"
"""


class Actions:
    """Runs the shipped GitHub workflows (examples/ci/github/*.yml) against the forge
    stand-in and the sandbox, as the GitHub runner would (see the module's docstring)."""

    def __init__(
        self,
        origin: Path,
        forge: WeekForge,
        work: Path,
        variables: dict[str, str],
        secrets: dict[str, str],
        workflows: Path = GITHUB,
    ) -> None:
        self.origin = origin
        self.forge = forge
        self.work = work
        self.variables = variables
        self.secrets = secrets
        self.workflows = workflows
        self.run_ids = itertools.count(700)
        self.runs: list[RunResult] = []
        self.artifacts = work / "artifacts"
        self.bin = work / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.cli_log = work / "t4o-calls.tsv"
        self.cli_log.write_text("")
        real = Path(sys.executable).parent / "t4o-reconcile"
        shim = self.bin / "t4o-reconcile"
        shim.write_text(_SHIM.format(real=_quote(str(real)), log=_quote(str(self.cli_log))))
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)

    # The workflow file and its trigger.

    def triggered(self, workflow: dict[str, Any], event: str, payload: dict[str, Any]) -> str:
        """Why the event does not start the workflow, or "" when it does."""
        triggers: Any = workflow.get("on") or {}
        if isinstance(triggers, str):
            triggers = {triggers: None}
        if isinstance(triggers, list):
            triggers = dict.fromkeys(triggers)
        if event not in triggers:
            return f"it has no {event} trigger (on: {', '.join(map(str, triggers))})"
        config = triggers[event] or {}
        if event == "pull_request":
            types = config.get("types", ["opened", "synchronize", "reopened"])
            if payload["action"] not in types:
                return f"its pull_request types {types} leave out {payload['action']}"
        if event == "push" and "branches" in config:
            branch = payload["ref"].removeprefix("refs/heads/")
            if not any(fnmatch.fnmatchcase(branch, b) for b in config["branches"]):
                return f"its push branches {config['branches']} leave out {branch}"
        if "paths" in config and event in ("pull_request", "push"):
            changed = payload["_changed_files"]
            if not any(_path_matches(p, pattern) for p in changed for pattern in config["paths"]):
                return f"its paths {config['paths']} match none of {changed}"
        return ""

    def run(
        self,
        name: str,
        event: str,
        payload: dict[str, Any],
        *,
        sha: str,
        ref: str,
        head_sha: str | None = None,
        actor: str = "team",
    ) -> RunResult:
        """One run of ``name`` (a file in the workflows folder) for ``event``. Raises an
        AssertionError when the workflow does not run for that event at all."""
        workflow = load(self.workflows / name)
        why_not = self.triggered(workflow, event, payload)
        assert not why_not, f"{name} does not run for this {event}: {why_not}"
        run_id = next(self.run_ids)
        head = head_sha or sha
        record = github_run(run_id, head, path=f".github/workflows/{name}", event=event)
        record.update(status="in_progress", conclusion=None, name=workflow.get("name", name))
        self.forge.runs.append(record)
        inputs = {}
        if event == "workflow_dispatch":
            declared = (workflow["on"].get("workflow_dispatch") or {}).get("inputs") or {}
            inputs = {k: (v or {}).get("default", "") for k, v in declared.items()}
            inputs.update(payload.get("inputs") or {})
        event_file = self.work / f"event-{run_id}.json"
        public = {k: v for k, v in payload.items() if not k.startswith("_")}
        event_file.write_text(json.dumps(public))
        github_context = {
            "event_name": event,
            "event": public,
            "sha": sha,
            "ref": ref,
            "repository": f"{OWNER}/{REPO}",
            "repository_owner": OWNER,
            "token": GITHUB_TOKEN,
            "run_id": str(run_id),
            "run_number": str(run_id),
            "run_attempt": "1",
            "workflow": workflow.get("name", name),
            "actor": actor,
            "triggering_actor": actor,
            "server_url": "https://github.com",
            "api_url": self.forge.url,
            "head_ref": payload.get("pull_request", {}).get("head", {}).get("ref", ""),
            "base_ref": payload.get("pull_request", {}).get("base", {}).get("ref", ""),
            "action_path": str(SOURCE),
        }
        calls_before = len(self.cli_log.read_text().splitlines())
        started = time.monotonic()
        run = RunResult(name, run_id, event, head, "", {}, "", [])
        context = _RunContext(
            self, run, workflow, github_context, inputs, event_file, self.work / f"run-{run_id}"
        )
        context.execute()
        calls = self.cli_log.read_text().splitlines()[calls_before:]
        for line in calls:
            status, *args = line.split("\t")
            run.cli.append((int(status), args))
        failed = any(job.result == "failure" for job in run.jobs.values())
        run.conclusion = "failure" if failed else "success"
        record.update(status="completed", conclusion=run.conclusion)
        run.seconds = time.monotonic() - started
        self.runs.append(run)
        return run

    # Artifacts, kept by the forge and listed through its API.

    def upload(self, run: RunResult, name: str, paths: list[Path], missing: str) -> None:
        existing = [p for p in paths if p.exists()]
        if not existing:
            if missing == "error":
                raise StepFailed(f"upload-artifact: no files at {paths}")
            return
        root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in existing]))
        artifact_id = next(self.forge.ids)
        store = self.artifacts / str(artifact_id)
        for path in existing:
            target = store / path.relative_to(root)
            if path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
        self.forge.artifact_files[artifact_id] = store
        entry = github_artifact(artifact_id, name, run.run_id, run.head_sha)
        self.forge.artifacts.setdefault(run.run_id, []).append(entry)

    def download(self, run: RunResult, with_: dict[str, str], target: Path) -> None:
        wanted_run = int(with_["run-id"]) if with_.get("run-id") else run.run_id
        candidates = self.forge.artifacts.get(wanted_run, [])
        if with_.get("artifact-ids"):
            ids = {int(i) for i in with_["artifact-ids"].split(",") if i.strip()}
            found = [a for a in candidates if a["id"] in ids]
        else:
            found = [a for a in candidates if a["name"] == with_.get("name")]
        if not found:
            raise StepFailed(f"download-artifact: no artifact {with_} in run {wanted_run}")
        for artifact in found:
            into = target if len(found) == 1 else target / artifact["name"]
            shutil.copytree(self.forge.artifact_files[artifact["id"]], into, dirs_exist_ok=True)

    def artifact_path(self, run: RunResult, name: str) -> Path:
        """Where the run's artifact ``name`` is kept (to read a plan or report in it)."""
        found = [a for a in self.forge.artifacts.get(run.run_id, []) if a["name"] == name]
        assert found, f"run {run.run_id} uploaded no artifact {name}\n{run.log}"
        return self.forge.artifact_files[found[-1]["id"]]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _path_matches(path: str, pattern: str) -> bool:
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, path) is not None


@dataclass
class _RunContext:
    actions: Actions
    run: RunResult
    workflow: dict[str, Any]
    github: dict[str, Any]
    inputs: dict[str, Any]
    event_file: Path
    folder: Path

    def contexts(self, **more: Any) -> dict[str, Any]:
        return {
            "github": self.github,
            "vars": self.actions.variables,
            "secrets": {"GITHUB_TOKEN": GITHUB_TOKEN, **self.actions.secrets},
            "inputs": self.inputs,
            "env": {},
            "steps": {},
            "needs": {},
            "job": {"status": "success"},
            "matrix": {},
            "strategy": {},
            "runner": {"os": "Linux", "arch": "X64", "name": "week", "temp": ""},
            **more,
        }

    def execute(self) -> None:
        jobs: dict[str, Any] = self.workflow["jobs"]
        pending = list(jobs)
        while pending:
            ready = [
                name for name in pending if all(n in self.run.jobs for n in _needs(jobs[name]))
            ]
            assert ready, f"jobs waiting on each other: {pending}"
            for name in ready:
                pending.remove(name)
                self.run.jobs[name] = self.job(name, jobs[name])

    def job(self, name: str, job: dict[str, Any]) -> JobResult:
        needs = {
            n: {"result": self.run.jobs[n].result, "outputs": self.run.jobs[n].outputs}
            for n in _needs(job)
        }
        upstream = Status(failed=any(n["result"] != "success" for n in needs.values()))
        folder = self.folder / name
        temp = folder / "temp"
        workspace = folder / "workspace"
        temp.mkdir(parents=True)
        workspace.mkdir(parents=True)
        runner = {"os": "Linux", "arch": "X64", "name": "week", "temp": str(temp)}
        contexts = self.contexts(needs=needs, runner=runner)
        result = JobResult(name, "skipped", [], {})
        try:
            if not condition(job.get("if"), contexts, upstream):
                return result
            env: dict[str, str] = {}
            for source in (self.workflow.get("env") or {}, job.get("env") or {}):
                for key, value in source.items():
                    env[key] = interpolate(value, {**contexts, "env": env})
        except ExpressionError as exc:
            result.result = "failure"
            result.steps.append(StepResult("(job)", name, "failure", {}, str(exc)))
            return result
        steps: dict[str, Any] = {}
        path_extra: list[str] = []
        failed = False
        timeout = min(STUCK_AFTER, 60 * float(job.get("timeout-minutes", 360)))
        for number, step in enumerate(job.get("steps", [])):
            step_id = step.get("id", f"__{number}")
            contexts = self.contexts(needs=needs, runner=runner, steps=steps, env=env)
            outcome, log = "skipped", ""
            outputs: dict[str, str] = {}
            try:
                if condition(step.get("if"), contexts, Status(failed=failed)):
                    step_env = dict(env)
                    for key, value in (step.get("env") or {}).items():
                        step_env[key] = interpolate(value, {**contexts, "env": step_env})
                    with_ = {
                        k: interpolate(v, {**contexts, "env": step_env})
                        for k, v in (step.get("with") or {}).items()
                    }
                    if "uses" in step:
                        outputs, log = self.uses(step["uses"], with_, workspace, temp)
                        outcome = "success"
                    else:
                        outcome, outputs, log, added, stuck = self.shell(
                            interpolate(step["run"], {**contexts, "env": step_env}),
                            step_env,
                            workspace,
                            temp,
                            path_extra,
                            min(timeout, 60 * float(step.get("timeout-minutes", 360))),
                            step.get("working-directory"),
                        )
                        env.update(added)
                        self.run.stuck = self.run.stuck or stuck
            except (ExpressionError, StepFailed) as exc:
                outcome, log = "failure", f"{type(exc).__name__}: {exc}"
            conclusion = (
                "success"
                if outcome == "failure" and bool(step.get("continue-on-error"))
                else outcome
            )
            failed = failed or conclusion == "failure"
            steps[step_id] = {"outcome": outcome, "conclusion": conclusion, "outputs": outputs}
            result.steps.append(
                StepResult(step_id, step.get("name", step.get("uses", "")), outcome, outputs, log)
            )
        if "path_extra" in env:
            env.pop("path_extra")
        result.result = "failure" if failed else "success"
        contexts = self.contexts(needs=needs, runner=runner, steps=steps, env=env)
        for key, value in (job.get("outputs") or {}).items():
            result.outputs[key] = interpolate(value, contexts)
        return result

    def uses(
        self, action: str, with_: dict[str, str], workspace: Path, temp: Path
    ) -> tuple[dict[str, str], str]:
        if action.startswith("actions/checkout@"):
            target = workspace / with_.get("path", "")
            ref = with_.get("ref") or self.github["sha"]
            shutil.rmtree(target, ignore_errors=True)
            git(self.actions.origin, "clone", "-q", "--no-hardlinks", ".", str(target))
            # GitHub's checkout fetches a pull request's refs (refs/pull/N/merge, .../head)
            # explicitly; a clone brings only the branches.
            git(target, "fetch", "-q", "origin", "+refs/pull/*:refs/pull/*")
            git(target, "checkout", "-q", "--detach", ref)
            return {}, f"checked out {ref}"
        if re.fullmatch(r"[\w.-]+/t4o-reconcile@\S+|\./?", action):
            from t4o_reconcile import __version__

            return {
                "python": sys.executable,
                "scripts": str(SOURCE / "scripts" / "ci"),
                "version": __version__,
            }, "t4o-reconcile from this source tree"
        if action.startswith("actions/upload-artifact@"):
            paths = [
                _resolve(line.strip(), workspace)
                for line in with_.get("path", "").splitlines()
                if line.strip()
            ]
            self.actions.upload(
                self.run, with_["name"], paths, with_.get("if-no-files-found", "warn")
            )
            return {}, f"uploaded {with_['name']}"
        if action.startswith("actions/download-artifact@"):
            target = _resolve(with_.get("path", "."), workspace)
            self.actions.download(self.run, with_, target)
            return {"download-path": str(target)}, f"downloaded into {target}"
        if action.startswith("actions/github-script@"):
            if _STICKY_COMMENT in with_.get("script", ""):
                return {}, self.sticky_comment(temp)
            raise StepFailed(
                "actions/github-script runs JavaScript, which this harness does not run: "
                "the comment belongs in a script under scripts/ci/ (issue 21)"
            )
        raise StepFailed(f"the harness does not know the action {action}")

    def sticky_comment(self, temp: Path) -> str:
        """What t4o-plan.yml's github-script did before issue 21 moved it into a script:
        the comment parts in $RUNNER_TEMP/t4o/comment replace the bot's earlier parts, in
        order (JavaScript is not run here; this mirrors that one script and nothing else)."""
        parts = sorted((temp / "t4o" / "comment").glob("part-*.md"))
        number = int(self.github["event"]["number"])
        thread = self.actions.forge.comments.setdefault(number, [])
        ours = [
            c
            for c in thread
            if c["user"]["type"] == "Bot" and c["body"].startswith(_STICKY_COMMENT)
        ]
        for i, part in enumerate(parts):
            if i < len(ours):
                ours[i]["body"] = part.read_text()
            else:
                thread.append(self.actions.forge._comment(number, part.read_text()))
        for stale in ours[len(parts) :]:
            thread.remove(stale)
        return f"{len(parts)} comment part(s)"

    def shell(
        self,
        script: str,
        step_env: dict[str, str],
        workspace: Path,
        temp: Path,
        path_extra: list[str],
        timeout: float,
        working_directory: str | None,
    ) -> tuple[str, dict[str, str], str, dict[str, str], bool]:
        files = {name: temp.parent / f"{name.lower()}-{uuid.uuid4().hex}" for name in
                 ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")}  # fmt: skip
        for path in files.values():
            path.write_text("")
        env = base_env()
        env.pop("PYTHONPATH", None)  # the Action's venv holds the tool, as on a runner
        env["PATH"] = os.pathsep.join(
            [*path_extra, str(self.actions.bin), str(Path(sys.executable).parent), env["PATH"]]
        )
        env.update(
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_API_URL=self.actions.forge.url,
            GITHUB_SERVER_URL="https://github.com",
            GITHUB_REPOSITORY=f"{OWNER}/{REPO}",
            GITHUB_REPOSITORY_OWNER=OWNER,
            GITHUB_SHA=self.github["sha"],
            GITHUB_REF=self.github["ref"],
            GITHUB_EVENT_NAME=self.github["event_name"],
            GITHUB_EVENT_PATH=str(self.event_file),
            GITHUB_WORKSPACE=str(workspace),
            GITHUB_RUN_ID=self.github["run_id"],
            GITHUB_RUN_NUMBER=self.github["run_number"],
            GITHUB_RUN_ATTEMPT="1",
            GITHUB_WORKFLOW=self.github["workflow"],
            GITHUB_ACTOR=self.github["actor"],
            GITHUB_HEAD_REF=self.github["head_ref"],
            GITHUB_BASE_REF=self.github["base_ref"],
            RUNNER_TEMP=str(temp),
            RUNNER_OS="Linux",
            **{name: str(path) for name, path in files.items()},
        )
        env.update(step_env)
        cwd = workspace / working_directory if working_directory else workspace
        stuck = False
        try:
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            outcome = "success" if done.returncode == 0 else "failure"
            log = done.stdout + done.stderr + f"(exit {done.returncode})\n"
        except subprocess.TimeoutExpired as exc:
            outcome, stuck = "failure", True
            log = f"STUCK: still running after {timeout:.0f} s: {exc}"
        outputs = _key_values(files["GITHUB_OUTPUT"].read_text())
        added = _key_values(files["GITHUB_ENV"].read_text())
        path_extra[:0] = reversed(files["GITHUB_PATH"].read_text().split())
        self.run.summary += files["GITHUB_STEP_SUMMARY"].read_text()
        return outcome, outputs, log, added, stuck


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _resolve(path: str, workspace: Path) -> Path:
    return Path(path) if os.path.isabs(path) else workspace / path


def _key_values(text: str) -> dict[str, str]:
    """A GITHUB_OUTPUT / GITHUB_ENV file: ``k=v`` lines and ``k<<DELIM`` blocks."""
    found: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            found[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            found[key] = value
    return found


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
        entry["labels"].append({"id": next(self.forge.ids), "name": label, "color": "ededed"})
        self.forge.events.setdefault(pull.number, []).append(
            {
                "id": next(self.forge.ids),
                "event": "labeled",
                "actor": {"login": actor, "type": "User"},
                "label": {"name": label, "color": "ededed"},
                "created_at": _now(),
            }
        )
        run = self.pull_request_event(pull, "labeled", sender=actor, label=label)
        pull.checks.append(run)
        return run

    def remove_label(self, pull: Pull, label: str, actor: str) -> RunResult:
        """A person removes a label: ``unlabeled``, and the check runs again."""
        entry = self.forge.pull_requests[pull.number]
        entry["labels"] = [item for item in entry["labels"] if item["name"] != label]
        self.forge.events.setdefault(pull.number, []).append(
            {
                "id": next(self.forge.ids),
                "event": "unlabeled",
                "actor": {"login": actor, "type": "User"},
                "label": {"name": label, "color": "ededed"},
                "created_at": _now(),
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
        entry.update(state="closed", merged=True, merged_at=_now(), merge_commit_sha=after)
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
        token = cli("sandbox", "token", "create", "--db", self.server.db, "--partner", "annen")
        assert token.returncode == 0, token.stderr
        self._other = token.stdout.strip().splitlines()[-1]
        created = httpx.post(
            f"{self.server.url}/v1/tenants",
            headers={"Authorization": f"Bearer {self._other}", "Idempotency-Key": uuid.uuid4().hex},
            json={
                "slug": "fremmed-klubb",
                "name": "Fremmed Klubb",
                "organization_number": organisation_number,
                "owner": {"email": "eier@fremmed.no", "name": "Fremmed Eier"},
            },
        )
        assert created.status_code == 201, created.text

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
        list as the CI variable T4O_UNMANAGED_LIST (one slug a line) for the drift job."""
        listed = self.work / "kept-outside-git.txt"
        kept = listed.read_text() if listed.exists() else ""
        listed.write_text(kept + f"{slug}  # left management in the week\n")
        self.actions.variables["T4O_UNMANAGED_LIST"] = listed.read_text()
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
