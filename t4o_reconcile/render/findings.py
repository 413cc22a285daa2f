"""Problems for machines: validate's findings and plan errors as text, JSON, GitHub
workflow commands or SARIF 2.1.0.

Every finding has a level (``error`` or ``warning``) that each format carries: the text
label, the JSON ``level``, ``::error``/``::warning``, SARIF ``result.level``. What a
finding quotes came from a tenant file, a plan file or an answer: each format escapes it
with its sink's function from ``render.escape``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from t4o_reconcile import __version__
from t4o_reconcile.config.problems import Level, Problem, format_path
from t4o_reconcile.engine.plan import Plan, PlanError
from t4o_reconcile.render.escape import (
    json_dumps,
    sarif_text,
    terminal,
    visible,
    workflow_data,
    workflow_property,
)

FORMAT_VERSION = 1
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

# Rule ids: where a finding comes from. SARIF needs one per result; the others show it.
RULES = {
    "config": "A tenant file breaks a rule of the configuration (validate)",
    "plan": "The plan holds something apply would fail on",
}

_SOURCE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<column>\d+)$")


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    rule: str
    message: str
    where: str  # the path in the document, or the plan address
    file: str | None = None
    line: int = 1
    column: int = 1

    def text(self) -> str:
        label = "warning: " if self.level == "warning" else ""
        location = f"{terminal(self.file)}:{self.line}:{self.column}: " if self.file else ""
        return f"{location}{label}{terminal(self.where)}: {terminal(self.message)}"


def from_problems(problems: Iterable[Problem]) -> list[Finding]:
    return [
        Finding(
            level=p.level,
            rule="config",
            message=p.message,
            where=format_path(p.path),
            file=p.file,
            line=p.line,
            column=p.column,
        )
        for p in problems
    ]


def from_plan(plan: Plan) -> list[Finding]:
    """The plan's errors, those of the whole plan first, then each tenant's."""
    errors: list[PlanError] = [*plan.errors, *(e for t in plan.tenants for e in t.errors)]
    return [_plan_finding(error) for error in errors]


def _plan_finding(error: PlanError) -> Finding:
    match = _SOURCE.match(error.source or "")
    if match is None:
        return Finding("error", "plan", error.message, error.address)
    return Finding(
        "error",
        "plan",
        error.message,
        error.address,
        file=match["file"],
        line=int(match["line"]),
        column=int(match["column"]),
    )


def render(findings: Sequence[Finding], fmt: str) -> str:
    """All findings in one format; empty text when there is nothing to say in text or
    GitHub format (JSON and SARIF always give a whole document)."""
    if fmt == "json":
        return render_json(findings)
    if fmt == "github":
        return "".join(github_command(f) + "\n" for f in findings)
    if fmt == "sarif":
        return json_dumps(sarif_log(findings), indent=2) + "\n"
    return "".join(f.text() + "\n" for f in findings)


def render_json(findings: Sequence[Finding]) -> str:
    document = {
        "format_version": FORMAT_VERSION,
        "problems": [
            {
                "level": f.level,
                "rule": f.rule,
                "file": f.file,
                "line": f.line if f.file else None,
                "column": f.column if f.file else None,
                "path": f.where,
                "message": f.message,
            }
            for f in findings
        ],
        "summary": counts(findings),
    }
    return json_dumps(document, indent=2, sort_keys=True) + "\n"


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {
        "errors": sum(1 for f in findings if f.level == "error"),
        "warnings": sum(1 for f in findings if f.level == "warning"),
        "files": len({f.file for f in findings if f.file}),
    }


# GitHub workflow commands --------------------------------------------------------------


def summary_notice(plan: Plan) -> str:
    """One ``::notice`` with the plan's summary line and the tenants nobody manages."""
    from t4o_reconcile.render.common import summary_line

    text = summary_line(plan)
    if plan.unmanaged_tenants:
        text += f" {len(plan.unmanaged_tenants)} unmanaged tenant(s) (live, no file)."
    return f"::notice title=t4o-reconcile plan::{escape_data(text)}\n"


escape_data = workflow_data  # the message of a workflow command
escape_property = workflow_property  # a property value (file=…, title=…)


def github_command(finding: Finding) -> str:
    """``::error file=F,line=L,col=C,title=T::message``: an annotation on the file's line
    in the pull request's diff and the run's summary."""
    props = []
    if finding.file:
        props += [
            f"file={escape_property(_posix(finding.file))}",
            f"line={finding.line}",
            f"col={finding.column}",
        ]
    props.append(f"title={escape_property(f't4o-reconcile {finding.rule}: {finding.where}')}")
    return f"::{finding.level} {','.join(props)}::{escape_data(finding.message)}"


# SARIF 2.1.0 ---------------------------------------------------------------------------


def sarif_log(findings: Sequence[Finding]) -> dict[str, Any]:
    """One run of one tool: code scanning shows each result on its file and line."""
    rule_ids = sorted(RULES)
    results: list[dict[str, Any]] = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": f.level,
            "message": {"text": sarif_text(f"{f.where}: {f.message}")},
        }
        if f.file:
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.file)},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    },
                    "logicalLocations": [{"fullyQualifiedName": visible(f.where)}],
                }
            ]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "t4o-reconcile",
                        "version": __version__,
                        "rules": [
                            {
                                "id": rule,
                                "shortDescription": {"text": RULES[rule]},
                                "defaultConfiguration": {"level": "error"},
                            }
                            for rule in rule_ids
                        ],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _posix(file: str) -> str:
    return PurePath(file).as_posix()


def _uri(file: str) -> str:
    """A relative path stays relative (code scanning resolves it against the checkout);
    an absolute one becomes a file: URI. Both percent-encoded."""
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.as_uri()
    return quote(path.as_posix(), safe="/", errors="surrogateescape")
