"""read_object reads what json.loads reads, an array element at a time, in any chunking."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t4o_reconcile.jsonstream import StreamError, read_object

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
documents = st.dictionaries(st.text(max_size=8), values, max_size=6)


def tagged(element: Any) -> tuple[str, Any]:
    return ("element", element)


def read(text: str, chunk: int, streamed: tuple[str, ...] = ()) -> dict[str, Any]:
    return read_object(io.StringIO(text), dict.fromkeys(streamed, tagged), chunk=chunk)


@settings(max_examples=300, deadline=None)
@given(
    document=documents,
    elements=st.lists(values, max_size=5),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_any_object_in_any_chunking_reads_as_json_loads_reads_it(
    document: dict[str, Any], elements: list[Any], indent: int | None, ascii_only: bool, chunk: int
) -> None:
    document = {**document, "tenants": elements}
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)

    got = read(text, chunk, streamed=("tenants",))

    expected = json.loads(text)
    expected["tenants"] = [tagged(e) for e in expected["tenants"]]
    assert got == expected


def test_each_element_is_handed_on_as_it_is_read_not_after_the_whole_document() -> None:
    seen: list[tuple[int, int]] = []
    handle = io.StringIO(json.dumps({"tenants": [{"n": n} for n in range(50)], "z": 1}))

    def each(element: dict[str, int]) -> int:
        seen.append((element["n"], handle.tell()))
        return element["n"]

    assert read_object(handle, {"tenants": each}, chunk=16)["tenants"] == list(range(50))
    assert seen[0][1] < seen[-1][1]  # the first came when only part of the text was read


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("", "expected a JSON object", 1, 1),
        ("[1, 2]", "expected a JSON object", 1, 1),
        ('{"a": 1,\n "b": }', "Expecting value", 2, 7),
        ('{"a": 1\n "b": 2}', "Expecting ',' delimiter or '}'", 2, 2),
        ('{"tenants": [1,\n 2', "Expecting ',' delimiter or ']'", 2, 3),
        ('{"tenants": {"a": 1}}', "expected an array", 1, 13),
        ('{"a": "unterminated}', "Unterminated string starting at", 1, 7),
        ('{"a": 1} {"b": 2}', "Extra data", 1, 10),
        ("{1: 2}", "Expecting property name enclosed in double quotes", 1, 2),
    ],
)
@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_bad_text_is_refused_with_its_line_and_column(
    text: str, message: str, line: int, column: int, chunk: int
) -> None:
    with pytest.raises(StreamError) as raised:
        read(text, chunk, streamed=("tenants",))

    assert raised.value.message == message
    assert (raised.value.line, raised.value.column) == (line, column)


@settings(max_examples=300, deadline=None)
@given(
    document=documents,
    cut=st.integers(min_value=0),
    insert=st.sampled_from([*'{}[],:"0a \\', ""]),
    chunk=st.sampled_from([1, 2, 7, 1 << 20]),
)
def test_text_json_loads_refuses_is_refused_too(
    document: dict[str, Any], cut: int, insert: str, chunk: int
) -> None:
    text = json.dumps(document, indent=2)
    at = cut % (len(text) + 1)
    broken = text[:at] + insert + (text[at:] if insert else "")
    try:
        expected = json.loads(broken)
    except json.JSONDecodeError:
        with pytest.raises(StreamError):
            read(broken, chunk)
        return
    if isinstance(expected, dict):
        assert read(broken, chunk) == expected
    else:
        with pytest.raises(StreamError):
            read(broken, chunk)
