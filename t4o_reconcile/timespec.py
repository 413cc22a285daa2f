"""``--since``: a point in time given as an ISO 8601 time or as a duration before now."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^(?:[0-9]{1,6}[smhdw])+$")
_PART = re.compile(r"([0-9]{1,6})([smhdw])")
EXPECTED = (
    "expected an ISO 8601 time (2026-11-23, 2026-11-23T08:00, 2026-11-23T08:00:00+01:00;"
    " without an offset: UTC) or a duration before now (90m, 24h, 7d, 2w, 1d12h)"
)


class SinceError(ValueError):
    """A ``--since`` value that is neither a time nor a duration, or lies ahead."""


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The UTC time ``text`` names: a time as written, or ``now`` minus a duration."""
    current = now or datetime.now(UTC)
    value = text.strip()
    if _DURATION.match(value):
        span = timedelta()
        for amount, unit in _PART.findall(value):
            span += timedelta(**{_UNITS[unit]: int(amount)})
        if span <= timedelta():
            raise SinceError(f"{text!r}: expected a duration above zero")
        return current - span
    try:
        when = datetime.fromisoformat(value.replace("z", "Z")) if value else None
    except ValueError:
        when = None
    if when is None:
        raise SinceError(f"{text!r}: {EXPECTED}")
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when > current:
        raise SinceError(f"{text!r}: lies in the future (it is {current:%Y-%m-%dT%H:%M:%SZ} now)")
    return when
