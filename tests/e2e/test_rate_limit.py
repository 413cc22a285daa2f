"""Under a hard rate limit (2 requests per second) and a wide client (16 in parallel),
apply paces itself from the server's RateLimit headers: no action fails, 429s are rare,
and the result converges."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, Server, cli, sandbox_process

pytestmark = pytest.mark.e2e


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[Server]:
    with sandbox_process(tmp_path / "sandbox.db", "--rate-limit", "2") as running:
        yield running


def test_a_rate_limit_slows_apply_down_but_never_fails_it(limited_server: Server) -> None:
    env = limited_server.env()
    applied = cli(
        "--log-level", "debug", "apply", EXAMPLES, "--auto-approve", "--parallelism", "16", env=env
    )

    assert applied.returncode == 0, applied.stdout + applied.stderr[-3000:]
    assert re.search(r"Apply complete: \d+ applied, 0 failed, 0 skipped", applied.stdout)
    answers = re.findall(r" -> (\d{3})$", applied.stderr, flags=re.MULTILINE)
    assert len(answers) > 30  # the whole examples, every request logged
    print(f"{len(answers)} requests, {answers.count('429')} answered 429")
    assert answers.count("429") <= 2, f"{answers.count('429')} of {len(answers)} were 429"
    replanned = cli("plan", EXAMPLES, "--detailed-exitcode", env=env)
    assert replanned.returncode == 0, replanned.stdout + replanned.stderr
