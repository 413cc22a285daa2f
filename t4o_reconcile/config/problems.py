"""A problem found in the tenant files, pointing at the exact place to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DocPath = tuple[str | int, ...]


def format_path(path: DocPath) -> str:
    """``("bank_accounts", 1, "iban")`` reads ``bank_accounts[1].iban``."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else step
    return text or "(document)"


Level = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; ``str()`` gives ``FILE:LINE:COL: path.in.document: message`` for an
    error and ``FILE:LINE:COL: warning: path.in.document: message`` for a warning.

    Lines and columns count from 1, like compilers and editors do. An error makes the
    files invalid; a warning is printed and only fails ``validate --strict``.
    """

    file: str
    line: int
    column: int
    path: DocPath
    message: str
    # A secret that cannot be resolved (missing environment variable or file). validate
    # reports it; plan can still run and reports it as a plan error on that tenant.
    unresolved_secret: bool = False
    level: Level = "error"

    @property
    def is_error(self) -> bool:
        return self.level == "error"

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        prefix = "" if self.is_error else f"{self.level}: "
        return f"{self.location}: {prefix}{format_path(self.path)}: {self.message}"
