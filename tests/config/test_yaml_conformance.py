"""The YAML layer agrees with YAML 1.2 on every document it accepts (issue 24, item 3).

Each case is a document of the public conformance corpus (yaml-test-suite, named by its
id) that the layer once read differently, accepted although invalid, or crashed on. Now
each is either read as the specification reads it, or refused with one problem at its
line and column: never misread, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.config.yamlfile import YAMLSyntax, parse

from .conftest import HEAD


def refused(text: str) -> tuple[int, int, str]:
    with pytest.raises(YAMLSyntax) as error:
        parse(text)
    found = error.value.error
    return found.line, found.column, found.message


# -- valid documents the layer read differently: now read as the spec does, or refused


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A block scalar's trailing lines (L24T/01, JEF9/02): libyaml drops the last line
        # when no line break ends the stream.
        ("foo: |\n  x\n   ", {"foo": "x\n \n"}),
        ("- |+\n   ", ["\n"]),
        ("keep: |+\n  x\n\n\nnext: 1\n", {"keep": "x\n\n\n", "next": 1}),
        ("strip: |-\n  x\n\n", {"strip": "x"}),
        ("clip: >\n  a\n  b\n\n", {"clip": "a b\n"}),
        # The core schema, not YAML 1.1 and not ruamel's extensions.
        (
            "a: NO\nb: on\nc: 0123\nd: 1_000\ne: 2024-01-31",
            {"a": "NO", "b": "on", "c": 123, "d": "1_000", "e": "2024-01-31"},
        ),
        # A ':' inside a plain scalar in flow (4ABK's neighbours): one scalar.
        ("{secret: env:X}", {"secret": "env:X"}),
        ("a: b#c\n", {"a": "b#c"}),  # a '#' inside a plain scalar is not a comment
    ],
)
def test_valid_documents_are_read_as_the_specification_reads_them(text: str, expected: Any) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "line", "column", "what"),
    [
        ("key: &an:chor value", 1, 6, "an anchor (&an"),  # was read as ":chor value"
        ("? foo\n: bar\n", 1, 1, "an explicit key (?)"),  # 5WE3, 7W2P
        ("? foo\n", 1, 1, "an explicit key (?)"),
        ("{ ?foo: bar }", 1, 3, "an explicit key (?)"),  # 652Z: the spec's key is '?foo'
        ("[?x]", 1, 2, "an explicit key (?)"),  # HM87/01: the spec's item is '?x'
        ("a: ! 12", 1, 4, "a tag (!)"),  # the spec: the string "12"
        ("s: !!set {a, b}", 1, 4, "a tag (tag:yaml.org,2002:set)"),
        ("b: !!binary aGVsbG8=", 1, 4, "a tag (tag:yaml.org,2002:binary)"),
        ("o: !!omap\n  - a: 1\n", 1, 4, "a tag (tag:yaml.org,2002:omap)"),
        ("a: &x 1\nb: *x\n", 1, 4, "an anchor (&x)"),
        ("--- a\n--- b\n", 2, 1, "a second document"),
        ("%TAG !e! tag:example.com,2000:\n---\na: 1\n", 1, 1, "a %TAG directive"),
        ("a: 1\nb: *x", 2, 4, "an alias (*x)"),
        ("a: !!str 12", 1, 4, "a tag (tag:yaml.org,2002:str)"),
        ("base: &b {x: 1}\nother:\n  <<: *b", 1, 7, "an anchor"),
        ("a: 1\na: 2", 2, 1, "duplicate key 'a' (first defined on line 1)"),
        ("? [a, b]\n: c", 1, 1, "an explicit key (?)"),
        ("[a, b]: c", 1, 1, "a key that is a mapping or a list"),
        ("{[a]: b}", 1, 2, "a key that is a mapping or a list"),
        ("- a\n---\n- b", 2, 1, "a second document"),
        ("%YAML 1.1\n---\na: 1", 1, 1, "a %YAML 1.1 directive"),
    ],
)
def test_what_tenant_files_never_use_is_refused_at_its_place(
    text: str, line: int, column: int, what: str
) -> None:
    found = refused(text)
    assert found[:2] == (line, column), found
    assert what in found[2], found


# -- invalid documents libyaml takes: refused


@pytest.mark.parametrize(
    ("case", "text", "line", "column"),
    [
        ("9C9N wrong indented flow sequence", "---\nflow: [a,\nb,\nc]\n", 3, 1),
        ("QB6E wrong indented multi-line quoted scalar", '---\nquoted: "a\nb\nc"\n', 3, 1),
        ("DK95/01 a tab that looks like indentation", 'foo: "bar\n\tbaz"\n', 2, 1),
        ("Y79Y/003 a tab in a flow sequence", "- [\n\tfoo,\n foo\n ]\n", 2, 1),
        ("9JBA a comment glued to ]", "---\n[ a, b, c, ]#invalid\n", 2, 13),
        ("CVW2 a comment glued to ,", "---\n[ a, b, c,#invalid\n]\n", 2, 11),
        ("SU5Z a comment glued to a quote", 'key: "value"# invalid comment\n', 1, 13),
        ("X4QW a comment glued to a block header", "block: ># comment\n  scalar\n", 1, 9),
        ("G5U8 plain dashes in flow", "---\n- [-, -]\n", 2, 4),
        ("YJV2 a dash in flow", "[-]\n", 1, 2),
        (
            "S98Z leading lines wider than the first",
            "empty block scalar: >\n \n  \n   \n # comment",
            5,
            2,
        ),
    ],
)
def test_invalid_documents_are_refused_at_their_place(
    case: str, text: str, line: int, column: int
) -> None:
    found = refused(text)
    assert found[:2] == (line, column), (case, found)


# -- no traceback, through validate too


@pytest.mark.parametrize(
    "extra",
    [
        "[a, b]: c\n",  # a flow sequence as a key: once TypeError: unhashable type: 'list'
        "? [a, b]\n: c\n",
        "billing: {[licenses]: 1}\n",
        "{a: 1}: x\n",
    ],
)
def test_a_collection_as_a_key_is_one_problem_through_validate(tmp_path: Path, extra: str) -> None:
    (tmp_path / "club.yaml").write_text(HEAD + extra, encoding="utf-8")

    result = load_repository(tmp_path, environ={}, cache=None)

    (problem,) = result.problems
    assert problem.file.endswith("club.yaml") and problem.line == 4, problem
    assert "key" in problem.message and problem.is_error


def test_the_cli_validate_reports_it_without_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "club.yaml").write_text(HEAD + "[a, b]: c\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "t4o_reconcile", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "T4O_CACHE": "off"},
    )

    assert done.returncode == 1, done.stderr
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "club.yaml:4:1" in output, output
