"""--since: an ISO 8601 time or a duration before now; anything else a clear error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from t4o_reconcile.timespec import SinceError, parse_since

NOW = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1d12h", NOW - timedelta(days=1, hours=12)),
        ("30s", NOW - timedelta(seconds=30)),
        ("2026-11-23", datetime(2026, 11, 23, tzinfo=UTC)),
        ("2026-11-23T08:00", datetime(2026, 11, 23, 8, tzinfo=UTC)),
        ("2026-11-23T08:00Z", datetime(2026, 11, 23, 8, tzinfo=UTC)),
        ("2026-11-23T09:00:00+01:00", datetime(2026, 11, 23, 8, tzinfo=UTC)),
        (" 7d ", NOW - timedelta(days=7)),
    ],
)
def test_times_and_durations(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "expected an ISO 8601 time"),
        ("", "expected an ISO 8601 time"),
        ("7 days", "expected an ISO 8601 time"),
        ("-7d", "expected an ISO 8601 time"),
        ("7y", "expected an ISO 8601 time"),
        ("0h", "a duration above zero"),
        ("2026-13-01", "expected an ISO 8601 time"),
        ("2026-11-24", "lies in the future"),
    ],
)
def test_bad_values_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(SinceError, match=message):
        parse_since(text, NOW)
