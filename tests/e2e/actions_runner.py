"""The week's GitHub runner (tests/e2e/week.py): it executes the shipped workflows in
examples/ci/github/ step by step, against the forge stand-in (tests/e2e/week_forge.py) and
a real `serve` process.

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
  REST API as GitHub lists them). ``actions/github-script`` is JavaScript and is not run:
  the one script t4o-plan.yml used for its sticky comment before issue 21 is mirrored
  (`_RunContext.sticky_comment`), and any other fails the step, saying so;
- scripts/ci/*.py are run by the steps themselves (``"$T4O_PYTHON" -I ...``), so they reach
  the forge stand-in through GITHUB_API_URL with the job's GITHUB_TOKEN.

A new step a feature branch adds to a shipped workflow is therefore run by the week without
any change here, as long as it uses ``run:`` or one of the actions above.

Every `t4o-reconcile` command a step runs goes through a shim on PATH that records its
arguments and exit status (`RunResult.cli`), so the scenario can check the tool's own exit
code (3 for a missing approval, 2 for drift, 4 for an unmanaged tenant) behind a workflow
step that turns it into a failed job.
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
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.ci.forge_standin import (
    GITHUB_TOKEN,
    OWNER,
    REPO,
    github_artifact,
    github_run,
)
from tests.ci.workflows import GITHUB, load
from tests.e2e.actions_expressions import (
    ExpressionError,
    Status,
    condition,
    interpolate,
)
from tests.e2e.conftest import REPO as SOURCE
from tests.e2e.conftest import base_env
from tests.e2e.week_forge import WeekForge

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
        artifact_id = self.forge.new_id()
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
            raise StepFailed(
                "actions/github-script runs JavaScript, which this harness does not run: "
                "the kit's logic belongs in a script under scripts/ci/"
            )
        raise StepFailed(f"the harness does not know the action {action}")

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
