"""The seal of a saved plan: a last line ``{"seal": {...}}`` holding an HMAC-SHA256 of
every byte before it, under the plan key (``workflow.plan_key``).

``apply --plan`` executes only a sealed plan whose seal verifies: the pull-request job
does not hold the key, so a plan it made (or anyone edited) is refused, whatever the file
says. The seal works on the file's raw bytes, not on its parsed content, so no reading of
the plan (and no reader's leniency) comes between the bytes that were sealed and the
bytes that are applied: ``verified_copy`` hashes the content once while copying it to a
private file, and only that copy is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from t4o_reconcile.errors import PlanFileError

ALGORITHM = "HMAC-SHA256"
_CHUNK = 1 << 20
# The seal line is short; a longer last line is not one (and is never read whole).
_TAIL = 4096


def seal_line(mac: bytes) -> bytes:
    """The last line of a sealed plan file, newline included."""
    body = {"seal": {"alg": ALGORITHM, "mac": mac.hex()}}
    return json.dumps(body, separators=(", ", ": ")).encode("ascii") + b"\n"


def seal_file(path: Path, key: bytes) -> None:
    """Append the seal of ``path``'s bytes as its last line, atomically: a reader sees the
    unsealed file or the sealed one, never half a seal."""
    path = Path(path)
    if _seal_offset(path) is not None:
        raise PlanFileError(f"{path}: the plan file is sealed already")
    mac = hmac.new(key, digestmod=hashlib.sha256)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                mac.update(chunk)
                out.write(chunk)
            out.write(seal_line(mac.digest()))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def verify_file(path: Path, key: bytes) -> None:
    """Refuse ``path`` (one line, ``PlanFileError``) unless its last line is a seal that
    matches every byte before it under ``key``."""
    with verified_copy(path, key, copy=False):
        pass


@contextlib.contextmanager
def verified_copy(path: Path, key: bytes | None, *, copy: bool = True) -> Iterator[Path]:
    """The plan content of ``path`` without its seal line, as a private copy made in the
    same pass that checks the seal (so the bytes read afterwards are the bytes checked).

    ``key`` None reads an unsealed record (a reviewed plan, ``show``): a seal line, if
    any, is dropped unchecked, since a record authorises nothing."""
    path = Path(path)
    offset = _seal_offset(path)
    if key is not None and offset is None:
        raise PlanFileError(
            f"{path}: the plan file carries no seal; apply --plan applies only a plan"
            " that plan --out sealed with this job's plan key (T4O_PLAN_KEY, or one derived"
            " from the writing token). Plan again in the job that applies"
        )
    if key is None and offset is None:
        yield path
        return
    assert offset is not None  # for mypy: both None cases returned above
    mac = hmac.new(key or b"", digestmod=hashlib.sha256)
    fd, tmp = tempfile.mkstemp(prefix="t4o-plan-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as source:
            left = offset
            while left > 0 and (chunk := source.read(min(_CHUNK, left))):
                left -= len(chunk)
                mac.update(chunk)
                if copy:
                    out.write(chunk)
            recorded = source.read()
        if key is not None and not hmac.compare_digest(recorded, seal_line(mac.digest())):
            raise PlanFileError(
                f"{path}: the plan file's seal does not match its content (it was edited,"
                " or sealed with another plan key); nothing was applied. Plan again in the"
                " job that applies"
            )
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _seal_offset(path: Path) -> int | None:
    """Where the seal line starts, when the file's last line is one."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL)
            handle.seek(start)
            tail = handle.read()
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror}") from None
    if not tail.endswith(b"\n"):
        return None
    cut = tail.rfind(b"\n", 0, len(tail) - 1)
    if cut < 0 and start > 0:
        return None  # a last line longer than any seal
    line = tail[cut + 1 :]
    if not line.startswith(b'{"seal"'):
        return None
    return start + cut + 1
