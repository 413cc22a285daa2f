"""The parse cache: trusted writers only, keyed by all a parse depends on, validated always.

And the worker processes that parse a cold repository: started from a fork server (the
load runs in a thread), and not at all when the cache is warm.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from t4o_reconcile.config import fastyaml, loader, parsecache
from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.config.parsecache import ParseCache, directory_from, mode_from
from t4o_reconcile.errors import UsageError

from .conftest import HEAD

ENV = {"T4O_SECRET_CLUB_TOKEN": "s3cr3t-club-token"}


def entries(cache: ParseCache) -> list[Path]:
    return sorted(cache.directory.rglob("*.json"))


def write_clubs(root: Path, count: int) -> None:
    root.mkdir(exist_ok=True)
    for n in range(count):
        (root / f"club-{n}.yaml").write_text(
            HEAD.replace("club", f"club-{n}") + "billing:\n  licenses: 2\n"
        )


def load(root: Path, cache: ParseCache | None) -> loader.LoadResult:
    return load_repository(root, environ=ENV, cache=cache)


@pytest.mark.parametrize(
    ("environ", "mode"),
    [
        ({}, "readwrite"),  # a workstation
        ({"CI": "true"}, "off"),
        ({"GITHUB_ACTIONS": "true"}, "off"),
        ({"GITLAB_CI": "true"}, "off"),
        ({"CI": "true", "T4O_CACHE": "read"}, "read"),  # a pull request's job
        ({"CI": "true", "T4O_CACHE": "readwrite"}, "readwrite"),  # the drift job
        ({"T4O_CACHE": "off"}, "off"),
        ({"T4O_CACHE": "AUTO", "CI": ""}, "readwrite"),
    ],
)
def test_ci_writes_nothing_unless_its_job_says_so(environ: dict[str, str], mode: str) -> None:
    assert mode_from(environ) == mode


def test_an_unknown_mode_is_one_clear_error() -> None:
    with pytest.raises(UsageError, match="T4O_CACHE='sometimes'; expected one of"):
        mode_from({"T4O_CACHE": "sometimes"})


def test_the_cache_lives_outside_the_repository(tmp_path: Path) -> None:
    assert directory_from({"T4O_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert directory_from({"XDG_CACHE_HOME": "/x"}) == Path("/x/t4o-reconcile/parsed")
    assert directory_from({}) == Path.home() / ".cache" / "t4o-reconcile" / "parsed"
    assert ParseCache.from_settings({"CI": "1"}) is None


def test_a_warm_load_parses_nothing_and_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tenants"
    write_clubs(root, 3)
    (root / "broken.yaml").write_text("slug: [\n")
    cold_cache = ParseCache(tmp_path / "cache")
    cold = load(root, cold_cache)
    assert cold_cache.misses == 4 and len(entries(cold_cache)) == 3  # the error not stored

    real = loader.parse  # type: ignore[attr-defined]

    def no_parse(text: str) -> Any:
        if "slug: [" not in text:
            raise AssertionError("parsed although cached")
        return real(text)

    monkeypatch.setattr(loader, "parse", no_parse)
    warm_cache = ParseCache(tmp_path / "cache")
    warm = load(root, warm_cache)

    assert (warm_cache.hits, warm_cache.misses) == (3, 1)
    assert warm.problems == cold.problems and warm.tenant_count == cold.tenant_count == 4


def test_entries_are_json_keyed_by_the_bytes_and_the_parser(tmp_path: Path) -> None:
    root = tmp_path / "tenants"
    write_clubs(root, 1)
    cache = ParseCache(tmp_path / "cache")
    load(root, cache)

    (entry,) = entries(cache)
    stored = json.loads(entry.read_text(encoding="utf-8"))
    data = (root / "club-0.yaml").read_bytes()
    assert stored["key"] == entry.stem == cache.key(data)
    assert stored["data"] == fastyaml.load(data.decode())
    assert entry.parent.stat().st_mode & 0o077 == 0  # the operator's own


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    root = tmp_path / "tenants"
    write_clubs(root, 2)
    load(root, ParseCache(tmp_path / "cache"))
    (root / "club-1.yaml").write_text(HEAD.replace("club", "club-1") + "billing: {licenses: 7}\n")

    cache = ParseCache(tmp_path / "cache")
    result = load_repository(root, environ=ENV, cache=cache)

    assert (cache.hits, cache.misses) == (1, 1)
    assert result.repository is not None
    assert result.repository.tenants["club-1"].tenant.billing is not None
    assert result.repository.tenants["club-1"].tenant.billing.licenses == 7
    assert len(entries(cache)) == 3


def test_changed_defaults_change_the_result_not_the_entries(tmp_path: Path) -> None:
    """The defaults are merged after the cache: an entry is one file's parse alone."""
    root = tmp_path / "tenants"
    root.mkdir()
    (root / "club.yaml").write_text(HEAD)
    (root / "_defaults.yaml").write_text("billing:\n  licenses: 3\n")
    load(root, ParseCache(tmp_path / "cache"))
    (root / "_defaults.yaml").write_text("billing:\n  licenses: 9\n")

    cache = ParseCache(tmp_path / "cache")
    result = load(root, cache)

    assert (cache.hits, cache.misses) == (1, 1)  # the tenant's entry; the new defaults
    assert result.repository is not None
    billing = result.repository.tenants["club"].tenant.billing
    assert billing is not None and billing.licenses == 9


def test_a_changed_tool_or_parser_version_misses_every_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tenants"
    write_clubs(root, 2)
    load(root, ParseCache(tmp_path / "cache"))

    for name, value in (("__version__", "99.0"), ("PARSER_VERSION", "fastyaml-99")):
        target = parsecache if name == "__version__" else fastyaml
        monkeypatch.setattr(target, name, value)
        monkeypatch.setattr(parsecache, "_FINGERPRINT", None)
        cache = ParseCache(tmp_path / "cache")
        result = load(root, cache)
        assert (cache.hits, cache.misses) == (0, 2), name
        assert result.repository is not None and len(result.repository.tenants) == 2


def test_a_corrupted_entry_is_ignored_and_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "tenants"
    write_clubs(root, 1)
    first = ParseCache(tmp_path / "cache")
    expected = load(root, first)
    (entry,) = entries(first)
    good = entry.read_text(encoding="utf-8")

    for corrupt in (
        "{not json",
        "",
        "[]",
        json.dumps({"format": 1, "key": "0" * 64, "data": {"slug": "other"}}),  # misplaced
        good.replace('"format":1', '"format":0'),
        good[:-1] + ',"extra":1}',
    ):
        entry.write_text(corrupt, encoding="utf-8")
        cache = ParseCache(tmp_path / "cache")
        result = load(root, cache)
        assert (cache.hits, cache.misses) == (0, 1), corrupt
        assert result.problems == expected.problems and result.repository is not None
        assert entry.read_text(encoding="utf-8") == good, corrupt  # rewritten


def test_what_an_entry_holds_is_validated_like_a_fresh_parse(tmp_path: Path) -> None:
    """A well-formed entry under the right key but with poisoned data (written by whoever
    could write the cache) still passes through validation: it cannot slip in a value
    the schema refuses."""
    root = tmp_path / "tenants"
    write_clubs(root, 1)
    cache = ParseCache(tmp_path / "cache")
    load(root, cache)
    (entry,) = entries(cache)
    stored = json.loads(entry.read_text(encoding="utf-8"))
    stored["data"]["billing"] = {"licenses": "many"}
    entry.write_text(json.dumps(stored), encoding="utf-8")

    result = load(root, ParseCache(tmp_path / "cache"))

    assert result.repository is None
    assert any("billing.licenses" in str(p) for p in result.errors), result.problems


def test_read_mode_never_writes_and_off_neither_reads(tmp_path: Path) -> None:
    root = tmp_path / "tenants"
    write_clubs(root, 2)
    reading = ParseCache(tmp_path / "cache", "read")
    load(root, reading)
    assert reading.misses == 2 and not (tmp_path / "cache").exists()

    load(root, ParseCache(tmp_path / "cache"))
    reading = ParseCache(tmp_path / "cache", "read")
    load(root, reading)
    assert reading.hits == 2


def test_data_json_cannot_give_back_is_not_stored(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "cache")
    for data in ({1: "a"}, {"x": float("nan")}):
        cache.put(cache.key(repr(data).encode()), data)
    assert entries(cache) == []


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the directory should be")
    root = tmp_path / "tenants"
    write_clubs(root, 2)

    result = load(root, ParseCache(blocker))

    assert result.repository is not None and result.errors == []


# -- the worker processes (issue 23, item 6)


def test_workers_come_from_a_fork_server_never_a_fork_of_this_process() -> None:
    context = loader._pool_context()
    assert context.get_start_method() in ("forkserver", "spawn")


def test_a_cold_load_from_a_thread_parses_in_workers_without_forking_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan loads in a thread (``asyncio.to_thread``); the suite turns warnings into
    errors, so a fork from here (Python 3.12's DeprecationWarning) fails this test."""
    root = tmp_path / "tenants"
    write_clubs(root, 12)
    (root / "club-5.yaml").write_text("slug: [\n")
    serial = load(root, None)
    monkeypatch.setattr(loader, "POOL_AFTER", 2)
    monkeypatch.setattr(loader, "PARALLEL_FROM", 4)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    started: list[str] = []
    real = loader._pool_context

    def counted() -> Any:
        context = real()
        started.append(context.get_start_method())
        return context

    monkeypatch.setattr(loader, "_pool_context", counted)

    async def plan() -> loader.LoadResult:
        return await asyncio.to_thread(load, root, ParseCache(tmp_path / "cache"))

    parallel = asyncio.run(plan())

    assert started and started[0] in ("forkserver", "spawn")
    assert parallel.problems == serial.problems and parallel.tenant_count == 12
    assert len(entries(ParseCache(tmp_path / "cache"))) == 11  # written by the workers


def test_a_warm_cache_starts_no_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tenants"
    write_clubs(root, 12)
    load(root, ParseCache(tmp_path / "cache"))
    monkeypatch.setattr(loader, "POOL_AFTER", 2)
    monkeypatch.setattr(loader, "PARALLEL_FROM", 4)

    def refuse() -> Any:
        raise AssertionError("a worker pool was started for a warm cache")

    monkeypatch.setattr(loader, "_pool_context", refuse)
    cache = ParseCache(tmp_path / "cache")
    result = load(root, cache)

    assert cache.hits == 12 and result.tenant_count == 12
