"""The process's entry point: ``t4o-reconcile`` and ``python -m t4o_reconcile``."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def run() -> NoReturn:
    """The command line (``cli.main``), then out of the process without tearing the
    interpreter down.

    Python's finalization frees every module and object one by one: after a scoped plan
    that was a sixth of its second, for nothing the process still needs. What exit does
    that matters still happens here: the exit handlers run (logging's flush, coverage's
    data, multiprocessing's clean-up) and the standard streams are flushed. Files are
    closed where they are written, never left to the collector. ``cli.main`` itself is
    what tests call in-process; only the process's own entry leaves this way."""
    from t4o_reconcile.cli import main

    try:
        main()
        code = 0
    except SystemExit as exit:
        code = _code(exit.code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # As the interpreter itself exits when it cannot flush stdout (a closed pipe,
            # a full disk): 120, unless the command had failed already.
            code = code or 120
    os._exit(code)


def _code(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives a process."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    run()
