"""Reading the rate limit from an answer: every generation of the IETF draft, and garbage."""

from __future__ import annotations

from t4o_reconcile.api.ratelimit import MAX_SECONDS, RateLimitInfo, parse_rate_limit


def test_the_separate_fields_of_the_early_drafts() -> None:
    info = parse_rate_limit(
        {"RateLimit-Limit": "20", "RateLimit-Remaining": "3", "RateLimit-Reset": "1"}
    )
    assert info == RateLimitInfo(quota=20, window=None, remaining=3, reset=1)
    assert info.rate is None  # a quota without its window is not a rate


def test_the_combined_field_and_policy_of_drafts_05_to_07() -> None:
    info = parse_rate_limit(
        {"RateLimit": "limit=25, remaining=0, reset=4", "RateLimit-Policy": "25;w=5"}
    )
    assert info == RateLimitInfo(quota=25, window=5, remaining=0, reset=4)
    assert info.rate == 5.0  # Fortnox: 25 requests per 5 seconds


def test_the_structured_fields_of_draft_08_on() -> None:
    info = parse_rate_limit(
        {
            "ratelimit": '"default";r=7;t=2',
            "ratelimit-policy": '"default";q=100;w=10, "day";q=1000;w=86400',
        }
    )
    assert info == RateLimitInfo(quota=100, window=10, remaining=7, reset=2)
    assert info.rate == 10.0  # the first policy is the one that binds soonest


def test_header_names_are_case_insensitive() -> None:
    assert parse_rate_limit({"RATELIMIT-POLICY": "2;w=1"}).rate == 2.0


def test_garbage_is_ignored_not_fatal() -> None:
    info = parse_rate_limit(
        {
            "RateLimit-Limit": "lots",
            "RateLimit-Remaining": "-4",
            "RateLimit-Reset": "nan",
            "RateLimit-Policy": "w=;;q=x",
            "RateLimit": ",,,",
        }
    )
    assert info.empty and info.rate is None


def test_a_reset_beyond_an_hour_is_not_believed() -> None:
    info = parse_rate_limit({"RateLimit-Reset": "99999999", "RateLimit-Policy": "1;w=99999999"})
    assert info.reset == MAX_SECONDS and info.window == MAX_SECONDS


def test_no_headers_says_nothing() -> None:
    assert parse_rate_limit({}).empty
