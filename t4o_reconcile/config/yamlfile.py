"""Reading one YAML file: a fast parse for every file, positions only when needed.

The C safe loader (YAML 1.2, so ``country: NO`` stays the string "NO") parses every
file. The pure-Python round-trip loader, which keeps the line and column of every key
and value, is about seven times slower, so it runs only for a file that has a problem
to report, on the first request for a position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

from t4o_reconcile.config import fastyaml
from t4o_reconcile.config.problems import DocPath


class _Yaml12Resolver(VersionedResolver):
    """YAML 1.2 rules, looked up once: ruamel's resolver asks for the document's
    version on every scalar (through attribute errors), a third of the parse time."""

    @property
    def processing_version(self) -> Any:
        return (1, 2)

    @property
    def versioned_resolver(self) -> Any:
        cached = self.__dict__.get("_rules")
        if cached is None:
            cached = self.__dict__["_rules"] = VersionedResolver.versioned_resolver.fget(self)  # type: ignore[attr-defined]
        return cached


_FAST = YAML(typ="safe", pure=False)
_FAST.Resolver = _Yaml12Resolver
_FAST.allow_duplicate_keys = False


@dataclass(slots=True)
class ParseError:
    line: int  # 1-based
    column: int  # 1-based
    message: str


def decode(data: bytes) -> str | ParseError:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return ParseError(
            line,
            column,
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} cannot be decoded);"
            " expected a UTF-8 text file",
        )


def parse(text: str) -> Any:
    """The document as plain Python data; raises ``ParseError``-carrying ``YAMLSyntax``."""
    try:
        return fastyaml.load(text)
    except fastyaml.NotPlain:
        pass  # anchors, tags, odd keys, errors: the full loader builds or words them
    except fastyaml.TooDeep as exc:
        raise YAMLSyntax(_too_deep(exc)) from None
    try:
        fastyaml.check_depth(text)
    except fastyaml.TooDeep as exc:
        raise YAMLSyntax(_too_deep(exc)) from None
    try:
        return _FAST.load(text)
    except MarkedYAMLError as exc:
        raise YAMLSyntax(_describe(exc, text)) from None
    except ReaderError as exc:
        raise YAMLSyntax(_unreadable(exc, text)) from None


def _unreadable(exc: ReaderError, text: str) -> ParseError:
    # A character YAML does not allow (a NUL, most control characters): named by its code
    # point, never printed.
    position = exc.position if isinstance(exc.position, int) else 0
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    return ParseError(
        line,
        column,
        f"character U+{code:04X} is not allowed in YAML; expected printable text",
    )


def _too_deep(exc: fastyaml.TooDeep) -> ParseError:
    return ParseError(
        exc.line,
        exc.column,
        f"mappings and lists nested deeper than {fastyaml.MAX_DEPTH} levels; a tenant file"
        " nests at most 5 (e.g. users[0].programs.invoicing)",
    )


class YAMLSyntax(Exception):
    def __init__(self, error: ParseError) -> None:
        super().__init__(error.message)
        self.error = error


def _describe(exc: MarkedYAMLError, text: str) -> ParseError:
    # ruamel's own messages can quote values (a duplicate key's value may be a secret),
    # so the message is rebuilt from the marks and the fixed problem descriptions.
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    if isinstance(exc, DuplicateKeyError):
        key = _key_at(text, line, column)
        start = exc.context_mark.line if exc.context_mark is not None else 0
        first = _first_key_line(text, key, start, line - 1, column - 1)
        where = f" (first defined on line {first})" if first else ""
        return ParseError(line, column, f"duplicate key {key!r}{where}; expected unique keys")
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        return ParseError(line, column, "tab character; YAML indentation must use spaces, not tabs")
    problem = (exc.problem or "invalid YAML").strip()
    context = f" {exc.context.strip()}" if exc.context else ""
    message = f"invalid YAML{context}: {problem}"
    began = exc.context_mark
    if (
        began is not None
        and mark is not None
        and (began.line, began.column)
        != (
            mark.line,
            mark.column,
        )
    ):
        # Point at where the broken construct (an unclosed [ or {) began: that is what to
        # fix. Where the parser noticed is often lines later, at the next key.
        message += f" (it began here; the parser noticed at line {line}, column {column})"
        line, column = began.line + 1, began.column + 1
    if "unexpected ':'" in problem and "{" in _line(text, mark.line if mark else 0):
        # The usual cause: {secret: env:NAME} in flow style needs quotes.
        message += '; inside { } quote values that contain ":", e.g. {secret: "env:NAME"}'
    return ParseError(line, column, message)


def _line(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line] if 0 <= line < len(lines) else ""


def _char_at(text: str, line: int, column: int) -> str:
    content = _line(text, line)
    return content[column] if 0 <= column < len(content) else ""


def _first_key_line(text: str, key: str, start: int, stop: int, column: int) -> int | None:
    """The line (1-based) of the earlier ``key:`` in the same block mapping, if any."""
    for number in range(start, stop):
        rest = _line(text, number)[column:]
        if rest.startswith(key) and rest[len(key) :].lstrip().startswith(":"):
            return number + 1
    return None


def _key_at(text: str, line: int, column: int) -> str:
    rest = text.split("\n")[line - 1][column - 1 :]
    return rest.split(":", 1)[0].strip().strip("'\"")


@dataclass(slots=True)
class SourceFile:
    """A file's text and (lazily) the positions of its keys and values."""

    path: Path
    text: str
    _positions: _Rt | None = field(default=None, repr=False)
    # Positions already found: a problem across files names the other file's place too,
    # and one file (the first holder of a shared value) may be named by every other.
    _found: dict[tuple[DocPath, bool], tuple[int, int] | None] = field(
        default_factory=dict, repr=False
    )

    def _tree(self) -> _Rt:
        if self._positions is None:
            try:
                self._positions = _Rt(YAML(typ="rt").load(self.text))
            except Exception:
                self._positions = _Rt({})
        return self._positions

    def position(self, path: DocPath, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at ``path`` (of its key with ``key``).

        When the path does not exist all the way down (a missing key), the deepest
        part that exists is given: the mapping that should hold the missing key.
        A nested mapping or list is pointed at by its key, where it starts as the
        reader sees it; a scalar by its value.
        """
        found: tuple[int, int] | None = None
        if (path, key) in self._found:
            found = self._found[path, key]
        elif self._positions is None:
            try:
                # The C parser's events for a plain file, read only as far as the path
                # goes, nothing kept; the round-trip loader (seven times slower than a
                # whole C parse, and its tree kept) only for what this steps aside for.
                found = self._found[path, key] = fastyaml.find(self.text, path, key=key)
            except fastyaml.NotPlain:
                self._tree()
        if self._positions is not None:
            found = self._positions.find(path, key)
        line, column = found or (0, 0)
        return line + 1, column + 1


class _Rt:
    """Positions from the round-trip loader's ``lc`` attributes."""

    __slots__ = ("root",)

    def __init__(self, root: Any) -> None:
        self.root = root

    def find(self, path: DocPath, key: bool) -> tuple[int, int] | None:
        node = self.root
        found = _start_of(node)
        for index, step in enumerate(path):
            last = index == len(path) - 1
            if isinstance(step, str) and _is_mapping(node) and step in node:
                child = node[step]
                at_key = (last and key) or _has_position(child)
                found = node.lc.key(step) if at_key else node.lc.value(step)
                node = child
            elif isinstance(step, int) and _is_sequence(node) and 0 <= step < len(node):
                found = node.lc.item(step)
                node = node[step]
            else:
                break
        return found


def _is_mapping(node: Any) -> bool:
    return hasattr(node, "lc") and hasattr(node, "keys")


def _is_sequence(node: Any) -> bool:
    return hasattr(node, "lc") and isinstance(node, list)


def _has_position(node: Any) -> bool:
    return hasattr(node, "lc")


def _start_of(node: Any) -> tuple[int, int] | None:
    if hasattr(node, "lc") and node.lc.line is not None:
        return int(node.lc.line), int(node.lc.col)
    return None
