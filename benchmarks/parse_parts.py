"""Where a no-change plan's local time goes, part by part, and the parser table.

Used by plan_scale.py (not a benchmark on its own). Every figure is best of ``repeats``,
in one process, as CPU time (``time.process_time``: the machine is shared), over the
generated tenant files:

* the parser table of issue 24: ms per file for the old event source (ruamel.yaml.clib's
  CParser, a libyaml 0.1.7 fork) and the new one (PyYAML's ``yaml._yaml.CParser``,
  libyaml 0.2.x), each through the same plain-data builder, with how many files and
  event positions come out identical; then ``fastyaml.load`` itself (the builder with
  its YAML 1.2 checks) and a parse-cache hit (read, hash, JSON);
* the load's parts per tenant, warm: reading and hashing the file with its cache entry,
  merging the defaults and validating, the tenant's own checks, the desired snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from t4o_reconcile.config import cross_rules, fastyaml
from t4o_reconcile.config.desired import tenant_snapshot
from t4o_reconcile.config.loader import load_repository, merge, read_file
from t4o_reconcile.config.parsecache import ParseCache
from t4o_reconcile.config.repository import TenantEntry
from t4o_reconcile.config.tenant_models import Tenant


def best(repeats: int, run: Callable[[], object]) -> float:
    """The least CPU time of ``repeats`` runs: on a shared machine (two cores, several
    engineers) wall time measures the neighbours; each part here is one thread's work."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return min(times)


def _builder(classes: dict[str, type]) -> Callable[[Callable[[], Any]], Any]:
    """The same plain-data builder for either event source (the events' classes differ)."""
    scalar, mapping, sequence = classes["scalar"], classes["mapping"], classes["sequence"]
    mapping_end, sequence_end = classes["mapping_end"], classes["sequence_end"]
    plain = fastyaml._plain

    def value(next_event: Callable[[], Any], event: Any) -> Any:
        cls = event.__class__
        if cls is scalar:
            return event.value if event.style else plain(event.value)
        if cls is mapping:
            built: dict[Any, Any] = {}
            while (key := next_event()).__class__ is not mapping_end:
                built[value(next_event, key)] = value(next_event, next_event())
            return built
        if cls is sequence:
            items: list[Any] = []
            while (item := next_event()).__class__ is not sequence_end:
                items.append(value(next_event, item))
            return items
        raise ValueError(cls.__name__)

    def document(next_event: Callable[[], Any]) -> Any:
        next_event()
        next_event()
        data = value(next_event, next_event())
        next_event()
        next_event()
        return data

    return document


def _sources() -> dict[str, tuple[Callable[[str], Any], Callable[[Callable[[], Any]], Any]]]:
    import ruamel.yaml.events as old_events
    import yaml.events as new_events
    from _ruamel_yaml import CParser as OldParser
    from yaml._yaml import CParser as NewParser

    def classes(module: Any) -> dict[str, type]:
        return {
            "scalar": module.ScalarEvent,
            "mapping": module.MappingStartEvent,
            "sequence": module.SequenceStartEvent,
            "mapping_end": module.MappingEndEvent,
            "sequence_end": module.SequenceEndEvent,
        }

    return {
        "old": (OldParser, _builder(classes(old_events))),
        "new": (NewParser, _builder(classes(new_events))),
    }


def _marks(parser: Any) -> list[tuple[int, int]]:
    marks = []
    while True:
        event = parser.get_event()
        marks.append((event.start_mark.line, event.start_mark.column))
        if type(event).__name__ == "StreamEndEvent":
            return marks


def parser_table(root: Path, cache_dir: Path, repeats: int) -> None:
    files = sorted(p for p in root.glob("*.yaml") if not p.name.startswith("_"))
    texts = [p.read_text(encoding="utf-8") for p in files]
    sources = _sources()
    per_file: dict[str, float] = {}
    for name, (parser, build) in sources.items():

        def run(parser: Any = parser, build: Any = build) -> None:
            for text in texts:
                build(parser(text).get_event)

        per_file[name] = best(repeats, run) / len(texts)
    old_parser, old_build = sources["old"]
    new_parser, new_build = sources["new"]
    same_data = sum(
        old_build(old_parser(t).get_event) == new_build(new_parser(t).get_event) for t in texts
    )
    positions = same_positions = 0
    for text in texts:
        old, new = _marks(old_parser(text)), _marks(new_parser(text))
        positions += len(old)
        same_positions += sum(a == b for a, b in zip(old, new, strict=False))
    fast = best(repeats, lambda: [fastyaml.load(t) for t in texts]) / len(texts)
    cache = ParseCache(cache_dir)
    for path in files:
        read_file(path, cache)  # fills the cache
    hit = best(repeats, lambda: [read_file(p, cache) for p in files]) / len(files)
    cold_read = best(repeats, lambda: [read_file(p, None) for p in files]) / len(files)
    print(
        f"\nparser table, {len(texts)} generated tenant files (CPU time, best of {repeats},"
        " one process)"
    )
    print(f"  {'event source / parser':<66} {'ms per file':>11}")
    rows = [
        ("ruamel.yaml.clib CParser (libyaml 0.1.7 fork), the same builder", per_file["old"]),
        (
            f"PyYAML yaml._yaml.CParser (libyaml {fastyaml.LIBYAML_VERSION}), the same builder",
            per_file["new"],
        ),
        ("fastyaml.load (PyYAML events + the YAML 1.2 checks)", fast),
        ("read + decode + fastyaml.load (no cache)", cold_read),
        ("read + decode + sha256 + parse-cache entry (JSON), warm", hit),
    ]
    for label, seconds in rows:
        print(f"  {label:<66} {seconds * 1000:>11.3f}")
    print(
        f"  same data from both event sources: {same_data} of {len(texts)} files;"
        f" positions identical: {same_positions:,} of {positions:,};"
        f" new / old: {per_file['new'] / per_file['old']:.2f}"
    )


def load_parts(
    root: Path, cache_dir: Path, repeats: int, *, quiet: bool = False
) -> list[tuple[str, float]]:
    """The load's parts, each timed alone: (label, seconds) for every tenant; all but
    the parse (a cache miss) and the whole load are the warm load's."""
    cache = ParseCache(cache_dir)
    files = sorted(p for p in root.glob("*.yaml") if not p.name.startswith("_"))
    defaults = fastyaml.load((root / "_defaults.yaml").read_text()) or {}
    loaded = load_repository(root, cache=cache)
    assert loaded.repository is not None
    entries: list[TenantEntry] = list(loaded.repository.tenants.values())
    datas = [read_file(p, cache)[1] for p in files]  # type: ignore[index]
    n = len(files)
    parts = [
        (
            "read + sha256 + cache entry",
            best(repeats, lambda: [read_file(p, cache) for p in files]),
        ),
        (
            "parse (read + fastyaml, a cache miss: cold)",
            best(repeats, lambda: [read_file(p, None) for p in files]),
        ),
        (
            "merge defaults + validate (pydantic)",
            best(repeats, lambda: [Tenant.model_validate(merge(defaults, d)) for d in datas]),
        ),
        (
            "the tenant's own checks",
            best(repeats, lambda: [cross_rules.check_tenant(e) for e in entries]),
        ),
        ("desired snapshot", best(repeats, lambda: [tenant_snapshot(e) for e in entries])),
        (
            "whole load (load_repository, warm)",
            best(repeats, lambda: load_repository(root, cache=cache, keep_tenants=False)),
        ),
    ]
    if not quiet:
        print(f"\nthe load's parts, {n} tenants (CPU time, best of {repeats}, one process)")
        for label, seconds in parts:
            print(f"  {label:<44} {seconds:>7.3f} s  {seconds / n * 1000:>7.3f} ms per tenant")
    return parts
