"""End-to-end fixtures: a real `t4o-reconcile serve` process on a loopback port, and the
real CLI run as a subprocess against it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tenants"
PLAN_SCHEMA = REPO / "schemas" / "plan.schema.json"


def base_env() -> dict[str, str]:
    """The test's environment without T4O_* settings nor CI, able to import the package from
    any working directory (it need not be installed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("T4O_") and k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def example_secrets() -> dict[str, str]:
    """A value for every env:NAME the examples reference."""
    names: set[str] = set()
    for path in EXAMPLES.glob("*.yaml"):
        names.update(re.findall(r"env:([A-Za-z_][A-Za-z0-9_]*)", path.read_text()))
    return {name: example_value(name, "e2e-value") for name in sorted(names)}


# Made-up valid fødselsnumre: a personal number given by reference must still be one.
PERSONAL_NUMBERS = ("15037810034", "15108695088")


def example_value(name: str, prefix: str, generation: int = 0) -> str:
    if name.endswith("_PERSONAL_NUMBER"):
        return PERSONAL_NUMBERS[generation % len(PERSONAL_NUMBERS)]
    return f"{prefix}-of-{name}"


def cli(
    *args: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: int = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would. Every plan it writes (``--out``,
    or ``--format json`` of plan and show) is checked against schemas/plan.schema.json."""
    done = subprocess.run(
        [sys.executable, "-m", "t4o_reconcile", *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    check_plans_written(list(map(str, args)), done, cwd)
    return done


def check_plans_written(
    args: list[str], done: subprocess.CompletedProcess[str], cwd: Path | None
) -> None:
    import json

    import jsonschema

    if not args or args[0] not in ("plan", "show") or done.returncode not in (0, 2, 4, 6):
        return
    validator = jsonschema.Draft202012Validator(json.loads(PLAN_SCHEMA.read_text()))
    if "--out" in args:
        # JSON Lines: the header, a tenant a line, then the seal when there is one.
        out = Path(args[args.index("--out") + 1])
        lines = ((cwd or Path.cwd()) / out).read_bytes().splitlines()
        kinds = ["plan_file_header"] + ["tenant"] * json.loads(lines[0])["tenant_count"]
        kinds += ["plan_file_seal"] * (len(lines) - len(kinds))
        defs = json.loads(PLAN_SCHEMA.read_text())["$defs"]
        for kind, line in zip(kinds, lines, strict=True):
            jsonschema.Draft202012Validator({"$defs": defs, "$ref": f"#/$defs/{kind}"}).validate(
                json.loads(line)
            )
    if "--format" in args and args[args.index("--format") + 1] == "json":
        validator.validate(json.loads(done.stdout))


def plan_document(path: Path) -> Any:
    """A saved plan (JSON Lines) as one document: its header line, with the tenant lines
    as ``tenants``; the seal line a sealed one ends with is left out."""
    import json

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    if lines and "seal" in lines[-1]:
        lines.pop()
    return {**lines[0], "tenants": lines[1:]}


@dataclass
class Server:
    url: str
    token: str
    db: Path
    process: subprocess.Popen[bytes]

    def env(self, **extra: str) -> dict[str, str]:
        env = base_env()
        env.update(example_secrets())
        env.update(T4O_API_URL=self.url, T4O_API_TOKEN=self.token, NO_COLOR="1")
        env.update(extra)
        return env

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def read_only_token(self) -> str:
        """A new read-only token of the partner: what a pull-request job is given."""
        made = cli(
            "sandbox", "token", "create", "--db", self.db, "--partner", "e2e-partner",
            "--read-only", env=base_env(),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        return made.stdout.strip().splitlines()[-1]


def start_server(db: Path, *extra_args: str) -> Server:
    port = free_port()
    env = base_env()
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "t4o_reconcile", "serve"),
            *("--db", str(db), "--port", str(port)),
            *extra_args,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            # Outside /v1, so that no injected fault delays the check.
            httpx.get(url + "/openapi.json", timeout=5)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"sandbox did not start on {url}") from None
            time.sleep(0.1)
    created = cli("sandbox", "token", "create", "--db", db, "--partner", "e2e-partner", env=env)
    assert created.returncode == 0, created.stderr
    return Server(url=url, token=created.stdout.strip().splitlines()[-1], db=db, process=process)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@contextlib.contextmanager
def sandbox_process(db: Path, *extra_args: str) -> Iterator[Server]:
    """A ``serve`` process over ``db`` for the block, stopped however the block ends."""
    running = start_server(db, *extra_args)
    try:
        yield running
    finally:
        stop_server(running)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh sandbox process for one test."""
    with sandbox_process(tmp_path / "sandbox.db") as running:
        yield running


@pytest.fixture
def examples_copy(tmp_path: Path) -> Path:
    """The examples in a folder of the test's own, free to edit."""
    target = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, target)
    return target


def all_args(*parts: Sequence[str]) -> list[str]:
    return [arg for part in parts for arg in part]


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One sandbox process shared by the tests of a module that do not interfere."""
    with sandbox_process(tmp_path_factory.mktemp("sandbox") / "sandbox.db") as running:
        yield running
