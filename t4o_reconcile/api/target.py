"""Which API a run talks to: a remote URL with a token, or the embedded sandbox."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from t4o_reconcile.engine.provider import ProviderTarget
from t4o_reconcile.errors import TargetError

__all__ = ["Target", "TargetError", "resolve_target"]

DEFAULT_SANDBOX_DB = Path(".t4o/sandbox.db")
URL_ENV = "T4O_API_URL"
TOKEN_ENV = "T4O_API_TOKEN"
SANDBOX_DB_ENV = "T4O_SANDBOX_DB"
# How long one request may wait out 429 answers while the API keeps answering. A rate
# limit is not an error, so it is not counted as a failed attempt; ten minutes outlasts a
# per-minute window many times over and still fails a stuck CI job long before a runner's
# own limit (GitHub's is 6 hours).
DEFAULT_DEADLINE = 600.0
DEFAULT_TIMEOUT = 30.0

# --api embedded (or T4O_API_URL=embedded): the embedded sandbox, asked for by name. Needed
# in CI, where a missing target is a misnamed secret, not a wish for a throwaway sandbox.
EMBEDDED = "embedded"


@dataclass(frozen=True, slots=True)
class Target:
    url: str | None  # None: the embedded sandbox
    token: str | None = field(default=None, repr=False)
    db_path: Path = DEFAULT_SANDBOX_DB
    # How the client paces itself: requests per second (None: as the API announces) and
    # how long one request may wait out 429 answers.
    rate_limit: float | None = None
    deadline: float = DEFAULT_DEADLINE
    # Seconds one request may take, its whole answer included (--timeout, T4O_TIMEOUT).
    timeout: float = DEFAULT_TIMEOUT

    @property
    def embedded(self) -> bool:
        return self.url is None

    @property
    def name(self) -> str:
        """What the target is, e.g. ``embedded sandbox (.t4o/sandbox.db)``; never any part
        of the token (its tail narrows a guess, and a plan and its comment are public to
        everyone who reads the pull request)."""
        if self.url is None:
            return f"embedded sandbox ({self.db_path})"
        return _display_url(self.url)

    @property
    def endpoint(self) -> str:
        """The API URL, or the embedded sandbox and its database: what a plan is tied to."""
        if self.url is None:
            return f"embedded sandbox ({self.db_path.resolve()})"
        return _display_url(self.url)

    def for_provider(self, parallelism: int = 8) -> ProviderTarget:
        """The provider-neutral target a provider's ``from_target`` receives."""
        return ProviderTarget(
            url=self.url,
            token=self.token,
            name=self.name,
            endpoint=self.endpoint,
            parallelism=parallelism,
            rate_limit=self.rate_limit,
            deadline=self.deadline,
            timeout=self.timeout,
            local_state=self.db_path if self.url is None else None,
        )

    def describe(self) -> str:
        """The first line of plan and apply."""
        return f"Target: {self.name}"

    def __repr__(self) -> str:
        return f"Target({self.describe()!r})"


def resolve_target(
    api_url: str | None = None,
    *,
    insecure: bool = False,
    db_path: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    rate_limit: float | None = None,
    deadline: float = DEFAULT_DEADLINE,
    timeout: float = DEFAULT_TIMEOUT,
) -> Target:
    """``--api URL`` or ``T4O_API_URL`` with ``T4O_API_TOKEN``; with neither, the sandbox
    in ``db_path`` (or ``T4O_SANDBOX_DB``, or ``.t4o/sandbox.db``)."""
    environ = os.environ if env is None else env
    url = api_url or environ.get(URL_ENV) or None
    token = environ.get(TOKEN_ENV) or None
    explicit = url == EMBEDDED
    if explicit:
        url = None
    if url is None:
        if not explicit and in_ci(environ):
            raise TargetError(
                f"CI is set but no API is given: set {URL_ENV} and {TOKEN_ENV} (check that the"
                " CI secrets and variables are named exactly so), or pass --api embedded to"
                " use the embedded sandbox on purpose"
            )
        if token is not None and not explicit:
            raise TargetError(
                f"{TOKEN_ENV} is set but no API URL is given: pass --api URL or set {URL_ENV}"
                f" (or unset {TOKEN_ENV} to use the embedded sandbox)"
            )
        db = Path(db_path) if db_path is not None else Path(environ.get(SANDBOX_DB_ENV) or "")
        return Target(
            url=None,
            db_path=db if str(db) not in ("", ".") else DEFAULT_SANDBOX_DB,
            rate_limit=rate_limit,
            deadline=deadline,
            timeout=timeout,
        )
    check_url(url, insecure=insecure)
    if token is None:
        raise TargetError(
            f"no API token: set {TOKEN_ENV} to a bearer token for {_display_url(url)}"
        )
    return Target(
        url=url.rstrip("/"),
        token=token,
        rate_limit=rate_limit,
        deadline=deadline,
        timeout=timeout,
    )


def in_ci(environ: Mapping[str, str]) -> bool:
    """``CI`` set to anything but empty, 0 or false, as GitHub, GitLab and most CIs do."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def check_url(url: str, *, insecure: bool = False) -> None:
    """An http(s) URL with a host; plain http only to a loopback host unless insecure."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        raise TargetError(
            f"expected an API URL like https://api.example.com, got {_display_url(url)!r}"
        )
    if parts.username or parts.password:
        raise TargetError(
            f"the API URL must not hold credentials; put the token in {TOKEN_ENV} instead"
        )
    if parts.scheme == "http" and not insecure and not is_loopback(host):
        raise TargetError(
            f"refusing plain http:// to {host}: the bearer token would travel"
            " unencrypted. Use https://, or pass --insecure if you really mean it"
        )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _display_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparsable URL)"
    if "@" not in parts.netloc:
        return url.rstrip("/")
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=netloc).geturl().rstrip("/")
