"""Every error a user can cause or meet, as one tree under ``T4oError``.

The command line catches ``T4oError`` once, prints its message as one line (``Error:
...``) and exits 1; ``--log-level debug`` adds the traceback. Anything else that escapes
is a bug. Messages never hold a secret value or the API token: they name files, lines,
references and requests, never what was read from them.

Our exception hierarchy::

    T4oError
    ├── UsageError ................ an option or argument cannot be used as given
    ├── ConfigError ............... the tenant files cannot be used
    │   ├── ConfigInvalid ......... validation found problems (each names file:line:col)
    │   └── SecretPolicyError ..... the operator's secret settings are unusable
    ├── TargetError ............... the API target (URL, token, provider) cannot be used
    ├── WorkflowError ............. a run cannot go on (unknown --tenant, stale plan, ...)
    ├── PlanFileError ............. a saved plan file cannot be read back or applied
    ├── ApplyRefused .............. the plan cannot be applied at all; nothing was written
    ├── ExportError ............... export refuses to write (a file exists, a hostile name)
    ├── UnsafePathError ........... a value would leave the one URL path segment it owns
    └── ApiError .................. the API answered with an error, or not at all
        ├── NoAnswer .............. no answer within the time and attempts allowed
        └── UnexpectedAnswer ...... an answer that is not what the contract says
                                    (HTML, truncated or wrongly shaped JSON, too large)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from t4o_reconcile.config.problems import Problem

PROBLEM_PREFIX = "https://t4o-reconcile.dev/problems/"


class T4oError(Exception):
    """Base class of every expected failure. ``str()`` is the one line shown to the user."""


class UsageError(T4oError):
    """Raised when options or arguments cannot be used together or as given (for
    example ``--secrets-dir`` that is not a directory, or an empty secret prefix)."""


class ConfigError(T4oError):
    """Raised when the tenant files cannot be used: a missing directory, or problems."""


class ConfigInvalid(ConfigError):
    """Raised by plan, apply and export when validation found problems. ``problems``
    lists them, each naming file, line, column and what was expected."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        self.shown = False  # the problems were printed already (in the format asked for)
        errors = sum(1 for p in self.problems if p.is_error)
        super().__init__(f"{errors} problem(s) in the configuration")


class SecretPolicyError(ConfigError):
    """Raised when the operator's own secret settings are unusable: a secrets file that
    others may read or that is not a mapping of names to strings, a secrets directory
    that does not exist."""


class TargetError(T4oError, ValueError):
    """Raised when the target cannot be used as given (no token, plain http to a remote
    host, credentials in the URL, an unknown provider); the message says what to set."""


class WorkflowError(T4oError):
    """Raised when a run cannot go on: ``--tenant`` names no file, a saved plan is stale,
    a tenant asked for does not exist on the target."""


class PlanFileError(WorkflowError, ValueError):
    """Raised when a plan file cannot be read back (names the file and what was
    expected), or cannot be applied (a partial plan made without secret values)."""


class ApplyRefused(T4oError):
    """Raised when the plan cannot be applied at all; nothing was written."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(
            "apply refused, nothing was written:\n" + "\n".join(f"  - {r}" for r in reasons)
        )


class ExportError(T4oError):
    """Raised when export refuses to write: a file exists (without ``--force``), or the
    API sent a slug, name or key that would leave ``--out`` or break the file format.
    Nothing is written when it is raised."""


class UnsafePathError(T4oError, ValueError):
    """Raised by the client before a request whose path a value would bend: a key with
    ``/``, a dot segment or a control character, or a path outside the tenant written for."""


class ApiError(T4oError):
    """Raised for an error answer of the API (an RFC 9457 problem) and, through the
    subclasses, for no answer or an answer the contract does not allow."""

    def __init__(
        self,
        status: int,
        type: str,
        title: str,
        detail: str = "",
        field: str | None = None,
        *,
        method: str = "",
        path: str = "",
        errors: list[str] | None = None,
    ) -> None:
        super().__init__(status, type, title, detail, field)
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.field = field
        self.method = method
        self.path = path
        self.errors = errors or []

    @property
    def rule(self) -> str:
        """The short name of the rule broken: the last part of the problem type URI."""
        return self.type.removeprefix(PROBLEM_PREFIX)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        status = f"{self.status} " if self.status else ""
        text = f"{where}{status}{self.title}"
        if self.detail and self.detail != self.title:
            text += f": {self.detail}"
        if self.field:
            text += f" (field {self.field})"
        if self.errors:
            text += " [" + "; ".join(self.errors) + "]"
        if self.type and self.type != "about:blank":
            text += f" ({self.rule})"
        return text


class NoAnswer(ApiError):
    """Raised when a request got no answer (time-out, refused or dropped connection) on
    every attempt; the message gives the attempts and the time spent."""

    def __init__(self, detail: str, *, method: str, path: str) -> None:
        super().__init__(
            0, "connection-error", "no answer from the API", detail, method=method, path=path
        )


class UnexpectedAnswer(ApiError):
    """Raised when an answer breaks the contract: not JSON, truncated JSON, JSON of the
    wrong shape, or larger than the client accepts."""

    def __init__(self, detail: str, *, method: str = "", path: str = "", status: int = 0) -> None:
        super().__init__(
            status, "unexpected-answer", "unexpected answer", detail, method=method, path=path
        )
