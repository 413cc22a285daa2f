"""Starting the hostile server (``hostile_server.py``) as a process for one test."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.conftest import REPO, base_env, free_port


@contextmanager
def hostile_server(mode: str, answers: Path | None = None) -> Iterator[str]:
    """The URL of a hostile server answering in ``mode``, stopped afterwards."""
    port = free_port()
    args = [sys.executable, "-m", "tests.security.hostile_server", str(port), mode]
    if answers is not None:
        args.append(str(answers))
    process = subprocess.Popen(
        args, cwd=REPO, env=base_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the hostile server did not start on {port}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)
