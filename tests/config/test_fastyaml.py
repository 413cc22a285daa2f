"""The fast path builds exactly what the full YAML 1.2 safe loader builds, or steps aside."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from t4o_reconcile.config import fastyaml
from t4o_reconcile.config.yamlfile import _FAST, parse

pytestmark = pytest.mark.skipif(not fastyaml.AVAILABLE, reason="no C parser")


def full(text: str) -> Any:
    return _FAST.load(text)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("country: NO", {"country": "NO"}),  # YAML 1.2: not false
        ("a: yes\nb: off", {"a": "yes", "b": "off"}),
        ("a: true\nb: FALSE", {"a": True, "b": False}),
        ("n: 0123", {"n": 123}),  # YAML 1.2: not octal
        ("n: 0o17\nm: 0x1F\nb: 0b101", {"n": 15, "m": 31, "b": 5}),
        ("n: 1_000\nf: 1.5e3", {"n": 1000, "f": 1500.0}),
        ("t: 12:30", {"t": "12:30"}),  # YAML 1.2: no sexagesimal
        ("a: ~\nb: null\nc:", {"a": None, "b": None, "c": None}),
        ("q: '42'\nr: \"true\"", {"q": "42", "r": "true"}),
        ("body: |\n  Hei {Number}\n  Takk\n", {"body": "Hei {Number}\nTakk\n"}),
        ("- 1\n- [a, {b: c}]", [1, ["a", {"b": "c"}]]),
        ("", None),
        ("# only a comment\n", None),
        ("x: -.inf", {"x": -math.inf}),
    ],
)
def test_plain_documents_load_as_the_full_loader_loads_them(text: str, expected: Any) -> None:
    assert same(fastyaml.load(text), expected)
    assert same(full(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x",  # anchors and aliases
        "a: !!str 12",  # an explicit tag
        "base: &b {x: 1}\nother:\n  <<: *b",  # a merge key
        "when: 2024-01-31",  # a timestamp
        "a: 1\na: 2",  # a duplicate key: the full loader reports it
        "? [a, b]\n: c",  # a complex key
        "- a\n---\n- b",  # two documents
        "a: [1, 2",  # a syntax error
        "a:\n\tb: 1",  # a tab
    ],
)
def test_anything_else_is_left_to_the_full_loader(text: str) -> None:
    with pytest.raises(fastyaml.NotPlain):
        fastyaml.load(text)


def test_parse_still_reports_what_the_fast_path_steps_aside_for() -> None:
    assert parse("when: 2024-01-31")["when"].year == 2024
    with pytest.raises(Exception, match="duplicate"):
        parse("a: 1\na: 2")


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["NO", "yes", "0123", "0o7", "1_0", "12:30", "~", "", " x ", ".inf", "1e3"]),
)
data = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=data, flow=st.sampled_from([False, None, True]))
def test_generated_documents_load_the_same_both_ways(data: Any, flow: bool | None) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(data, out)
    text = out.getvalue()
    try:
        fast = fastyaml.load(text)
    except fastyaml.NotPlain:
        return
    assert same(fast, full(text)), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab:-[]{},'\"#&*!|>~ \n\t019.", max_size=40))
def test_arbitrary_text_never_loads_differently(text: str) -> None:
    try:
        expected = full(text)
    except Exception:
        with pytest.raises(fastyaml.NotPlain):
            fastyaml.load(text)
        return
    try:
        fast = fastyaml.load(text)
    except fastyaml.NotPlain:
        return
    assert same(fast, expected), repr(text)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Any:
    yield prefix
    if isinstance(node, dict):
        for key in node:
            yield from _paths(node[key], (*prefix, key))
        yield (*prefix, "missing")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _paths(item, (*prefix, index))
        yield (*prefix, len(node))


def _same_positions(text: str) -> None:
    from t4o_reconcile.config.yamlfile import _Rt

    try:
        tree = YAML(typ="rt").load(text)
    except YAMLError:
        return  # the dumper wrote what no loader reads back (a key like ":0" in flow style)
    try:
        fastyaml.find(text, ())
    except fastyaml.NotPlain:
        return
    slow = _Rt(tree)
    for path in _paths(tree):
        for key in (False, True):
            expected = slow.find(path, key)
            try:
                found = fastyaml.find(text, path, key=key)
            except fastyaml.NotPlain:
                continue  # the round-trip loader places it
            assert found == (None if expected is None else tuple(expected)), (
                text,
                path,
                key,
            )


@settings(max_examples=200, deadline=None)
@given(data=data, flow=st.sampled_from([False, None, True]))
def test_positions_are_the_round_trip_loaders(data: Any, flow: bool | None) -> None:
    """Problems point where the round-trip loader's marks would: the fast marks stand in
    for it on plain files."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(data, out)
    _same_positions(out.getvalue())


def test_positions_of_the_example_tenants_are_the_round_trip_loaders() -> None:
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples" / "tenants"
    files = sorted(examples.glob("*.yaml"))
    assert files
    for file in files:
        _same_positions(file.read_text(encoding="utf-8"))


def test_positions_step_aside_for_anchors_and_tags() -> None:
    for text in ("a: &x 1\nb: *x\n", "a: !!str 1\n"):
        with pytest.raises(fastyaml.NotPlain):
            fastyaml.find(text, ("b",))
