"""The keyed diff agrees with DeepDiff on generated snapshots (DeepDiff is the oracle only).

Both see the same data: DeepDiff compares each live item cut down to the fields the
desired item holds, with secrets stripped; the engine's (address, path) pairs of updates,
creates and deletes must be exactly DeepDiff's.
"""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff
from hypothesis import given, settings
from hypothesis import strategies as st

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import address
from t4o_reconcile.engine.snapshot import Item, Snapshot, TenantSnapshot
from tests.engine.builders import flatten

_word = st.text(alphabet="abcxyz", min_size=1, max_size=4)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), _word)
_fields = st.dictionaries(
    st.sampled_from(["name", "role", "port", "flag"]),
    st.one_of(_scalar, st.dictionaries(st.sampled_from(["a", "b", "c"]), _scalar, max_size=3)),
    max_size=4,
)
_section = st.dictionaries(st.sampled_from(["k1", "k2", "k3", "k4"]), _fields, max_size=4)
_sections = st.dictionaries(st.sampled_from(["connections", "email_templates"]), _section)
_tenants = st.dictionaries(st.sampled_from(["ta", "tb", "tc"]), _sections, max_size=3)


def _snapshot(data: dict[str, dict[str, dict[str, dict[str, Any]]]]) -> Snapshot:
    return Snapshot(
        tenants={
            slug: TenantSnapshot(
                slug,
                {s: {k: Item(dict(f)) for k, f in items.items()} for s, items in sections.items()},
            )
            for slug, sections in data.items()
        }
    )


def _restricted(have: Any, want: Any) -> Any:
    """The live value cut down to the shape the desired value manages."""
    if isinstance(want, dict) and isinstance(have, dict):
        return {k: _restricted(have[k], v) for k, v in want.items() if k in have}
    return have


def _oracle(want: dict[str, Any], have: dict[str, Any]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for slug, sections in want.items():
        live_sections = have.get(slug)
        if live_sections is None:
            continue  # a new tenant: creates only, checked separately
        for section, items in sections.items():
            live_items = live_sections.get(section, {})
            for key in items.keys() - live_items.keys():
                found.add((address(slug, section, key), "+"))
            for key in live_items.keys() - items.keys():
                found.add((address(slug, section, key), "-"))
            for key in items.keys() & live_items.keys():
                diff = DeepDiff(
                    _restricted(live_items[key], items[key]),
                    items[key],
                    view="tree",
                    threshold_to_diff_deeper=0,
                )
                for changes in diff.values():
                    for change in changes:
                        dotted = ".".join(str(p) for p in change.path(output_format="list"))
                        found.add((address(slug, section, key), dotted))
    return found


def _engine(want: dict[str, Any], have: dict[str, Any]) -> set[tuple[str, str]]:
    plan = make_plan(_snapshot(want), _snapshot(have), target="oracle")
    found: set[tuple[str, str]] = set()
    for action in flatten(plan):
        if action.tenant not in have:
            continue
        if action.kind == "update":
            found.update((action.address, path) for path in action.changed_paths)
        else:
            found.add((action.address, "+" if action.kind == "create" else "-"))
    return found


@settings(max_examples=150, deadline=None)
@given(_tenants, _tenants)
def test_engine_and_deepdiff_find_the_same_changes(
    want: dict[str, Any], have: dict[str, Any]
) -> None:
    assert _engine(want, have) == _oracle(want, have)


@settings(max_examples=50, deadline=None)
@given(_tenants)
def test_a_snapshot_against_itself_has_no_changes(data: dict[str, Any]) -> None:
    assert not make_plan(_snapshot(data), _snapshot(data), target="oracle").has_changes
