"""Resolving the target: remote URL and token, or the embedded sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from t4o_reconcile.api.target import Target, TargetError, resolve_target

TOKEN = "t4o_0123456789ab_verysecretvalueWXYZ"


def test_with_neither_url_nor_token_the_target_is_the_embedded_sandbox() -> None:
    target = resolve_target(env={})
    assert target.embedded
    assert target.describe() == "Target: embedded sandbox (.t4o/sandbox.db)"


def test_the_sandbox_database_comes_from_the_argument_or_t4o_sandbox_db() -> None:
    assert resolve_target(env={"T4O_SANDBOX_DB": "x/y.db"}).db_path == Path("x/y.db")
    chosen = resolve_target(db_path="a.db", env={"T4O_SANDBOX_DB": "x/y.db"})
    assert chosen.db_path == Path("a.db")


def test_api_flag_wins_over_the_environment_and_the_token_comes_from_it() -> None:
    env = {"T4O_API_URL": "https://other.example.com", "T4O_API_TOKEN": TOKEN}
    target = resolve_target("https://api.example.com/", env=env)
    assert target.url == "https://api.example.com"
    assert target.token == TOKEN
    assert not target.embedded


def test_describe_shows_no_part_of_the_token() -> None:
    target = resolve_target(env={"T4O_API_URL": "https://api.example.com", "T4O_API_TOKEN": TOKEN})
    assert target.describe() == "Target: https://api.example.com"
    assert TOKEN[-4:] not in target.describe() and "token" not in target.describe()
    assert TOKEN not in repr(target)


def test_a_short_token_is_not_hinted_at_all() -> None:
    target = Target(url="https://api.example.com", token="abcd1234")
    assert target.describe() == "Target: https://api.example.com"


def test_a_url_without_a_token_names_the_variable_to_set() -> None:
    with pytest.raises(TargetError, match="set T4O_API_TOKEN"):
        resolve_target("https://api.example.com", env={})


def test_a_token_without_a_url_is_refused_rather_than_silently_using_the_sandbox() -> None:
    with pytest.raises(TargetError, match="no API URL"):
        resolve_target(env={"T4O_API_TOKEN": TOKEN})


@pytest.mark.parametrize("host", ["api.example.com", "10.0.0.5", "192.168.1.2"])
def test_plain_http_to_a_remote_host_is_refused(host: str) -> None:
    with pytest.raises(TargetError, match=rf"refusing plain http:// to {host}.*--insecure"):
        resolve_target(f"http://{host}:8080", env={"T4O_API_TOKEN": TOKEN})


def test_plain_http_to_a_remote_host_is_allowed_when_insecure() -> None:
    target = resolve_target("http://api.example.com", insecure=True, env={"T4O_API_TOKEN": TOKEN})
    assert target.url == "http://api.example.com"


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8080", "http://127.0.0.1:9000", "http://[::1]:8080", "http://127.1.2.3"],
)
def test_plain_http_to_loopback_is_fine(url: str) -> None:
    assert resolve_target(url, env={"T4O_API_TOKEN": TOKEN}).url == url


@pytest.mark.parametrize(
    "url", ["api.example.com", "ftp://api.example.com", "https://", "http://x:port"]
)
def test_a_malformed_url_names_what_was_expected(url: str) -> None:
    with pytest.raises(TargetError, match="expected an API URL like https://"):
        resolve_target(url, env={"T4O_API_TOKEN": TOKEN})


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(TargetError) as caught:
        resolve_target("https://me:hunter2@api.example.com", env={"T4O_API_TOKEN": TOKEN})
    assert "hunter2" not in str(caught.value)
    assert "T4O_API_TOKEN" in str(caught.value)
