"""What an answer says about the rate limit: the IETF RateLimit header fields, all drafts.

Servers in the wild send one of three generations of draft-ietf-httpapi-ratelimit-headers:

- ``RateLimit-Limit: 20``, ``RateLimit-Remaining: 3``, ``RateLimit-Reset: 1`` (drafts 00-04);
- ``RateLimit: limit=20, remaining=3, reset=1`` with ``RateLimit-Policy: 20;w=1`` (05-07);
- ``RateLimit: "default";r=3;t=1`` with ``RateLimit-Policy: "default";q=20;w=1`` (08 on).

``Retry-After`` (RFC 9110) is read by the client itself. Anything unparsable is ignored:
the headers are advice from an untrusted server, never a reason to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# A server asking for more than this is not believed: one hour, the longest sensible window.
MAX_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The limit as one answer describes it; ``None`` where the answer does not say."""

    quota: float | None = None  # requests allowed per window
    window: float | None = None  # seconds
    remaining: float | None = None  # requests left in the current window
    reset: float | None = None  # seconds until the quota is back

    @property
    def rate(self) -> float | None:
        """Requests per second the policy allows, when both quota and window are known."""
        if self.quota is None or not self.window:
            return None
        return self.quota / self.window

    @property
    def empty(self) -> bool:
        return self.quota is None and self.remaining is None and self.reset is None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo:
    """The rate limit an answer's headers describe (names are case-insensitive)."""
    lower = {name.lower(): value for name, value in headers.items()}
    quota = _number(lower.get("ratelimit-limit"))
    remaining = _number(lower.get("ratelimit-remaining"))
    reset = _seconds(lower.get("ratelimit-reset"))
    window: float | None = None

    policy = lower.get("ratelimit-policy")
    if policy:
        policy_quota, window = _policy(policy)
        quota = policy_quota if policy_quota is not None else quota

    combined = lower.get("ratelimit")
    if combined:
        fields = _first_item_params(combined)
        quota = _number(fields.get("limit")) if "limit" in fields else quota
        if "remaining" in fields or "r" in fields:
            remaining = _number(fields.get("remaining", fields.get("r")))
        if "reset" in fields or "t" in fields:
            reset = _seconds(fields.get("reset", fields.get("t")))
    return RateLimitInfo(quota=quota, window=window, remaining=remaining, reset=reset)


def _policy(value: str) -> tuple[float | None, float | None]:
    """``20;w=1`` (drafts 05-07) or ``"default";q=20;w=1`` (08 on); the first policy only."""
    first = value.split(",", 1)[0]
    parts = [part.strip() for part in first.split(";")]
    quota = _number(parts[0]) if parts and parts[0] and parts[0][0].isdigit() else None
    params = _params(parts[1:])
    if "q" in params:
        quota = _number(params["q"])
    return quota, _seconds(params.get("w"))


def _first_item_params(value: str) -> dict[str, str]:
    """``limit=20, remaining=3, reset=1`` (a dictionary) or ``"name";r=3;t=1`` (a list
    whose first item carries parameters): the keys and values either way."""
    if ";" in value.split(",", 1)[0]:
        return _params(value.split(",", 1)[0].split(";")[1:])
    return _params(value.split(","))


def _params(parts: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in parts:
        key, sep, val = part.strip().partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return params


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number != number or number < 0 or number == float("inf"):
        return None
    return number


def _seconds(value: str | None) -> float | None:
    number = _number(value)
    return None if number is None else min(number, MAX_SECONDS)
