"""No secret value ever leaves the process: not in any format of the plan, a saved plan,
an apply report, an export, debug logs, or an error from the API. Every secret the
examples reference gets a recognisable value; every output of every command is searched
for it (and for the API token)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PERSONAL_NUMBERS, Server, cli, example_secrets
from tests.e2e.helpers import TAKEN_NUMBER, edit_tenant, other_partner_holds

pytestmark = pytest.mark.e2e


def planted(generation: str) -> dict[str, str]:
    # A personal number is personal data: each generation plants a different valid one,
    # and it must never appear in full either.
    return {
        name: PERSONAL_NUMBERS[generation == "second"]
        if name.endswith("_PERSONAL_NUMBER")
        else f"PLANTED-{generation}-{name}-x9q"
        for name in example_secrets()
    }


def test_no_output_file_or_log_holds_a_secret_value(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    first, second = planted("first"), planted("second")
    env, changed_env = server.env(**first), server.env(**second)
    runs: list[subprocess.CompletedProcess[str]] = []

    def run(*args: str | Path, environment: dict[str, str] = env) -> str:
        runs.append(cli(*args, env=environment))
        return runs[-1].stdout

    outputs = [run("plan", examples_copy, "--format", fmt) for fmt in ("text", "markdown", "json")]
    run("plan", examples_copy, "--out", tmp_path / "plan.json")
    run(
        "--log-level",
        "debug",
        "apply",
        examples_copy,
        "--auto-approve",
        "--report",
        tmp_path / "r1.json",
    )
    changed = run("--log-level", "debug", "plan", examples_copy, environment=changed_env)
    run("--log-level", "debug", "apply", examples_copy, "--auto-approve", environment=changed_env)
    run("export", "--all", "--out", tmp_path / "exported", environment=changed_env)

    other_partner_holds(server, TAKEN_NUMBER)

    def use_taken(doc: Any) -> None:
        doc["organization_number"] = TAKEN_NUMBER

    edit_tenant(examples_copy, "kartverkstedet", use_taken)
    run(
        "--log-level", "debug", "apply", examples_copy, "--auto-approve",
        "--report", tmp_path / "r2.json",
        environment=env,
    )  # fmt: skip

    assert all("sensitive" in output for output in outputs)  # secrets were in the plan
    assert "(sensitive, changed)" in changed
    assert "(sensitive, changed: …34 → …88)" in changed  # the personal number, recognisable
    assert runs[-1].returncode == 1 and "409" in runs[-1].stderr  # the error path was taken
    texts = [text for done in runs for text in (done.stdout, done.stderr)]
    written = [tmp_path / "plan.json", tmp_path / "r1.json", tmp_path / "r2.json"]
    written += sorted((tmp_path / "exported").glob("*.yaml"))
    texts += [path.read_text() for path in written]
    for value in [*first.values(), *second.values(), server.token]:
        leaks = [text[:80] for text in texts if value in text]
        assert leaks == [], f"a secret leaked into {leaks}"
