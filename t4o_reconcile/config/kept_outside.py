"""The operator's list of live tenants kept outside Git on purpose (``--unmanaged-list``).

The nightly drift plan is quiet about the tenants on this list and loud (exit 4) about
any other live tenant that has no file. The list widens what the trusted jobs ignore, so
it is the operator's, never the repository's: it is named by the job's own option or
environment (``T4O_UNMANAGED_LIST``, a protected CI variable) and refused when it lies
inside the tenant directory, which any pull request writes (see docs/lifecycle.md).

The format is one slug a line; ``#`` starts a comment (the reason a tenant is kept
outside); blank lines are ignored. Any other line is one error naming file:line:col.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from t4o_reconcile.config.regularfile import NotRegular, read_regular
from t4o_reconcile.errors import ConfigError
from t4o_reconcile.vocabulary import SLUG_PATTERN

# 10,000 tenants with a reason each fit in well under this.
LIMIT = 1 << 20
_SLUG = re.compile(SLUG_PATTERN)
EXPECTED = (
    "expected one tenant slug a line (a-z, 0-9 and '-', 2 to 63 characters), '#' for a comment"
)


def load_kept_outside(path: Path, tenant_dir: Path) -> frozenset[str]:
    """The slugs the list at ``path`` names; ``ConfigError`` (one line, file:line:col)
    for a list that cannot be read, lies in the tenant tree, or holds anything else."""
    where = os.path.realpath(path)
    tree = os.path.realpath(tenant_dir)
    if Path(where).is_relative_to(tree):
        raise ConfigError(
            f"{path}:1:1: the list of tenants kept outside Git lies inside the tenant"
            f" directory {tenant_dir}, which a pull request can change; keep it where only"
            " the operator writes (a protected CI variable or file) and name it with"
            " --unmanaged-list or T4O_UNMANAGED_LIST"
        )
    try:
        data = read_regular(path, LIMIT + 1)
    except NotRegular as exc:
        raise ConfigError(f"{path}:1:1: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}:1:1: cannot read the list: {exc.strerror}") from None
    if len(data) > LIMIT:
        line = data[:LIMIT].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}:1: the list is over {LIMIT} bytes; read no further")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"{path}:{line}:{column}: not UTF-8 text; {EXPECTED}") from None
    return parse_kept_outside(text, str(path))


def parse_kept_outside(text: str, name: str) -> frozenset[str]:
    """The slugs of a list's ``text`` (``name`` is its file, for the error)."""
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0]
        slug = body.strip()
        if not slug:
            continue
        column = len(body) - len(body.lstrip()) + 1
        if not _SLUG.fullmatch(slug):
            shown = ascii(slug[:40])
            raise ConfigError(f"{name}:{number}:{column}: {shown} is not a tenant slug; {EXPECTED}")
        if slug in seen:
            raise ConfigError(
                f"{name}:{number}:{column}: {slug!r} is listed twice (first on line"
                f" {seen[slug]}); list each tenant once"
            )
        seen[slug] = number
    return frozenset(seen)
