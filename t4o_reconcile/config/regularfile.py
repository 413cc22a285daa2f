"""Tenant files are regular files, read as such.

A pull request can commit a symbolic link (to ``/proc/self/environ``, to ``.git/config``
that holds the checkout's token, to a file a CI step wrote) or a directory named like a
tenant file; a runner can hold a FIFO or a device. None of them is ever read: the listing
refuses them by ``lstat``, and the read opens with ``O_NOFOLLOW | O_NONBLOCK`` and checks
what it opened with ``fstat``, so that a file swapped after the listing is refused too
instead of followed or waited on. No link is followed, even one that stays inside the
repository (see docs/security.md).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

EXPECTED = "expected a regular file"

_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a named pipe (FIFO)"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISSOCK, "is a socket"),
    (stat.S_ISLNK, "is a symbolic link"),
)
# O_NONBLOCK: opening a FIFO waits for a writer otherwise. O_NOCTTY: a terminal device
# swapped in never becomes this process's controlling terminal.
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class NotRegular(Exception):
    """The path is not a regular file; ``str()`` says what it is and what was expected."""


def kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is, worded for a message; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, words in _KINDS:
        if test(mode):
            return words
    return "is not a regular file"


def refusal(path: Path, repository: Path) -> str | None:
    """Why ``path`` (looked at with ``lstat``) is not read as a tenant file, or None for a
    regular file. A link is said to lead outside ``repository`` when its target does
    (the target is never named: a pull request chose it)."""
    what = kind(os.lstat(path).st_mode)
    if what is None:
        return None
    if what == "is a symbolic link":
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(os.path.realpath(repository)):
            return f"{what} to a path outside the repository; {EXPECTED}"
        return f"{what}; {EXPECTED} (tenant files are never read through a link)"
    if what == "is a directory":
        return f"{what}; {EXPECTED} (a tenant file, or a folder not named .yaml or .yml)"
    return f"{what}; {EXPECTED}"


def read_regular(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``; ``NotRegular`` for anything
    else (a link is never followed), ``OSError`` when it cannot be read."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        # ELOOP: the last component is a link (EMLINK on FreeBSD, EFTYPE elsewhere);
        # ENXIO: a socket, or a device without its driver.
        if exc.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO, getattr(errno, "EFTYPE", -1)):
            with_lstat = _lstat_kind(path)
            if with_lstat is not None:
                raise NotRegular(f"{with_lstat}; {EXPECTED}") from None
        raise
    try:
        status = os.fstat(fd)
        what = kind(status.st_mode)
        if what is not None:
            raise NotRegular(f"{what}; {EXPECTED}")
        # One read for a file that does not grow meanwhile: a short read of a regular
        # file is its end.
        step = max(status.st_size + 1, 1 << 12)
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            wanted = min(left, step)
            chunk = os.read(fd, wanted)
            chunks.append(chunk)
            left -= len(chunk)
            if len(chunk) < wanted:
                break
        return b"".join(chunks)
    finally:
        os.close(fd)


def _lstat_kind(path: Path) -> str | None:
    try:
        return kind(os.lstat(path).st_mode)
    except OSError:
        return None
