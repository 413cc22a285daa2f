"""fastyaml builds exactly what a YAML 1.2 core-schema loader builds, or refuses.

The oracle is another parser: ruamel's C-backed loader (its own libyaml fork) with the
core schema's resolution rules, so the two agree on plain data by construction of
neither.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.resolver import VersionedResolver

from t4o_reconcile.config import fastyaml
from t4o_reconcile.config.yamlfile import YAMLSyntax, parse

pytestmark = pytest.mark.skipif(not fastyaml.AVAILABLE, reason="no C parser")


_CORE_RULES: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, _pattern, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    for _char in [*_first, ""] if _tag == "null" else _first:
        _CORE_RULES.setdefault(_char, []).append(
            (f"tag:yaml.org,2002:{_tag}", re.compile(_pattern))
        )


class _CoreSchema(VersionedResolver):
    """The YAML 1.2 core schema (spec 10.3.2) as ruamel's resolver rules."""

    @property
    def versioned_resolver(self) -> Any:
        return _CORE_RULES


_ORACLE = YAML(typ="safe", pure=False)
_ORACLE.Resolver = _CoreSchema
_ORACLE.allow_duplicate_keys = False


def full(text: str) -> Any:
    return _ORACLE.load(text)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        # A mapping's order is not part of its content (the dumper may sort keys).
        return len(a) == len(b) and all(k in b and same(a[k], b[k]) for k in a)
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
        ("n: 0o17\nm: 0x1F", {"n": 15, "m": 31}),
        ("f: 1.5e3\ng: .5\nh: 1.", {"f": 1500.0, "g": 0.5, "h": 1.0}),
        # The core schema has no underscores, binary, timestamps or sexagesimals.
        ("n: 1_000\nb: 0b101", {"n": "1_000", "b": "0b101"}),
        ("when: 2024-01-31", {"when": "2024-01-31"}),
        ("t: 12:30", {"t": "12:30"}),
        ("a: ~\nb: null\nc:", {"a": None, "b": None, "c": None}),
        ("q: '42'\nr: \"true\"", {"q": "42", "r": "true"}),
        ("body: |\n  Hei {Number}\n  Takk\n", {"body": "Hei {Number}\nTakk\n"}),
        ("- 1\n- [a, {b: c}]", [1, ["a", {"b": "c"}]]),
        ("", None),
        ("# only a comment\n", None),
        ("x: -.inf", {"x": -math.inf}),
    ],
)
def test_plain_documents_load_as_the_core_schema_reads_them(text: str, expected: Any) -> None:
    assert same(fastyaml.load(text), expected)
    assert same(full(text), expected)


# What tenant files never use (anchors, tags, explicit keys, ...) is refused where it
# stands: tests/config/test_yaml_conformance.py, through yamlfile.parse.


def test_syntax_errors_are_worded_with_their_position() -> None:
    for text in ("a: [1, 2", "a:\n\tb: 1"):
        with pytest.raises(YAMLSyntax) as error:
            parse(text)
        assert error.value.error.line >= 1
        assert "invalid YAML" in error.value.error.message or "tab" in error.value.error.message


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
    except (fastyaml.Refused, fastyaml.SyntaxProblem):
        return
    try:
        expected = full(text)
    except YAMLError:
        # The oracle's older libyaml refuses what YAML 1.2 allows (``{a: b:c}``): the
        # data the text was written from is the reference then.
        expected = data
    assert same(fast, expected), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab:-[]{},'\"#&*!|>~ \n\t019.", max_size=40))
def test_arbitrary_text_never_loads_differently(text: str) -> None:
    try:
        fast = fastyaml.load(text)
    except (fastyaml.Refused, fastyaml.SyntaxProblem):
        return  # refused with a position: never misread
    # Whatever fastyaml accepts, the oracle reads the same (it may refuse more: its
    # libyaml fork is older).
    try:
        expected = full(text)
    except YAMLError:
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


def test_without_libyaml_the_tool_stops_with_one_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """No silent fallback to a pure-Python parser: slower and not the fuzzed one."""
    from t4o_reconcile.config.loader import load_repository
    from t4o_reconcile.errors import ConfigError

    monkeypatch.setattr(fastyaml, "CParser", None)
    with pytest.raises(ConfigError, match=r"libyaml extension \(yaml._yaml\) is not installed"):
        load_repository(tmp_path, environ={}, cache=None)
    with pytest.raises(fastyaml.ParserMissing):
        fastyaml.load("a: 1")


@pytest.mark.parametrize("character", ["\x85", "\u2028", "\u2029"])
def test_a_line_break_only_yaml_1_1_knows_is_refused_where_it_stands(character: str) -> None:
    """libyaml folds one in a quoted value into a space; YAML 1.2 keeps it: refused."""
    with pytest.raises(fastyaml.Refused) as refused:
        fastyaml.load(f"name: x\nnote: 'a{character}b'\n")
    assert (refused.value.line, refused.value.column) == (2, 9)
    assert f"U+{ord(character):04X}" in refused.value.message
    assert fastyaml.load('note: "a\\Nb"\n') == {"note": "a\x85b"}  # escaped, it is kept
