"""`serve` on a busy port: one error line and exit 1, before any banner."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_busy_port_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        command = [sys.executable, "-m", "t4o_reconcile", "serve", "--port", str(port)]
        done = subprocess.run(
            [*command, "--db", str(tmp_path / "s.db")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (another server there? choose another --port)"
    ]
