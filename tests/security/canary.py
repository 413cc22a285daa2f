"""Canary values: a unique, recognisable value for every secret and for the API token,
and a scan of every output for them."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterable
from pathlib import Path

from tests.e2e.conftest import Server, example_secrets

# A personal number must be a valid one to be used at all (a made-up fødselsnummer).
PERSONAL_NUMBER = "15037810034"


def planted() -> dict[str, str]:
    """A unique canary for every secret the examples reference (a valid personal number
    for a personal number: it must never appear whole either)."""
    run = uuid.uuid4().hex[:10]
    return {
        name: PERSONAL_NUMBER if name.endswith("PERSONAL_NUMBER") else f"CANARY-{run}-{name}"
        for name in example_secrets()
    }


def outputs(runs: Iterable[subprocess.CompletedProcess[str]], *files: Path) -> list[str]:
    texts = [text for done in runs for text in (done.stdout, done.stderr)]
    texts += [path.read_text(errors="replace") for path in files if path.is_file()]
    return texts


def assert_no_canary(texts: Iterable[str], canaries: Iterable[str]) -> None:
    texts = list(texts)
    for value in canaries:
        leaks = [text[:120] for text in texts if value in text]
        assert leaks == [], f"canary {value[:20]}… leaked into {leaks}"


def canaries_of(server: Server, secrets: dict[str, str], *extra: str) -> list[str]:
    return [server.token, *secrets.values(), *extra]
