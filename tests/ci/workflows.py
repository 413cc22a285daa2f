"""Reading the shipped CI examples: their shell scripts and the t4o-reconcile commands in
them, for the lint test and for the end-to-end loop that runs them."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / "examples" / "ci" / "github"
GITLAB = REPO / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml"
_ENDS = {"||", "&&", ";", "|", ">", ">>", "<", "&", ">&", ")"}
# t4o-reconcile as a command: at the start, after then/;/&&/||, after VAR=value prefixes.
_COMMAND = re.compile(r"(?:^|;|\bthen|&&|\|\|)\s*(?:\w+=\S+\s+)*t4o-reconcile\s")
_ASSIGNMENT = re.compile(r"(?:^|[\s;])(\w+)=(--[\w-]+)(?=$|[\s;])", re.M)


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


@dataclass(frozen=True)
class Script:
    where: str  # file and step/job, for messages
    id: str  # the step id (GitHub) or the job name (GitLab)
    text: str


def github_scripts() -> Iterator[Script]:
    for path in sorted(GITHUB.glob("*.yml")):
        workflow = load(path)
        for job_name, job in workflow["jobs"].items():
            for number, step in enumerate(job["steps"]):
                if "run" in step:
                    step_id = step.get("id", f"{job_name}[{number}]")
                    yield Script(f"{path.name}:{job_name}:{step_id}", step_id, step["run"])


def gitlab_scripts() -> Iterator[Script]:
    pipeline = load(GITLAB)
    for job_name, job in pipeline.items():
        if not isinstance(job, dict) or job_name.startswith("."):
            continue
        lines = [*job.get("before_script", []), *job.get("script", [])]
        if lines:
            yield Script(f".gitlab-ci.yml:{job_name}", job_name, "\n".join(lines))


def script(scripts: Iterator[Script], step_id: str) -> str:
    found = [s.text for s in scripts if s.id == step_id]
    assert len(found) == 1, f"expected one script {step_id!r}, found {len(found)}"
    return found[0]


def commands(text: str) -> list[list[str]]:
    """Each ``t4o-reconcile`` command line as arguments (after the program name), with
    ``$var`` replaced by the flags the script assigns to it (``allow=--allow-deletes``)."""
    assigned: dict[str, list[str]] = {}
    for name, value in _ASSIGNMENT.findall(text):
        assigned.setdefault(name, []).append(value)
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        start = next(
            (m.end() for m in _COMMAND.finditer(line) if line[: m.start()].count('"') % 2 == 0),
            None,
        )
        if start is None:
            continue
        lexer = shlex.shlex(line[start:], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
        args: list[str] = []
        for word in words:
            if word in _ENDS:
                break
            variable = re.fullmatch(r"\$\{?(\w+)\}?", word)
            if variable and variable.group(1) in assigned:
                args.extend(assigned[variable.group(1)])
            else:
                args.append(word)
        found.append(args)
    return found
