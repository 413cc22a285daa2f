"""Reading one YAML file: a fast parse for every file, positions only when needed.

``fastyaml`` parses every file from libyaml's events (YAML 1.2, so ``country: NO`` stays
the string "NO"). Positions come from the same events, read again only for a file with
a problem to report; ruamel's round-trip loader places what those step aside for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t4o_reconcile.config import fastyaml
from t4o_reconcile.config.problems import DocPath


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
    """The document as plain Python data; raises ``ParseError``-carrying ``YAMLSyntax``.

    ``fastyaml`` reads it (YAML 1.2, libyaml's events) and refuses what tenant files never
    use; a syntax error is worded here from libyaml's marks."""
    try:
        return fastyaml.load(text)
    except fastyaml.Refused as exc:
        raise YAMLSyntax(ParseError(exc.line, exc.column, exc.message)) from None
    except fastyaml.SyntaxProblem as exc:
        raise YAMLSyntax(_describe(exc.error, text)) from None


class YAMLSyntax(Exception):
    def __init__(self, error: ParseError) -> None:
        super().__init__(error.message)
        self.error = error


def _describe(exc: Any, text: str) -> ParseError:
    # libyaml's own messages can quote values (a duplicate key's value may be a secret),
    # so the message is rebuilt from the marks and the fixed problem descriptions.
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
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


@dataclass(slots=True)
class SourceFile:
    """A file's text and (lazily) the positions of its keys and values."""

    path: Path
    _text: str | None  # None: let go (``let_go``), read again when a place is named
    _positions: _Rt | None = field(default=None, repr=False)
    # Positions already found: a problem across files names the other file's place too,
    # and one file (the first holder of a shared value) may be named by every other.
    _found: dict[tuple[DocPath, bool], tuple[int, int] | None] = field(
        default_factory=dict, repr=False
    )

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _read_again(self.path)
        return self._text

    def let_go(self) -> None:
        """Drop the text of a file that loaded: a rule across files may name a place in
        it later (the first holder of a shared value), and only then is it read again.
        Held for every file, the texts were 50 MB of a 10,000-tenant plan."""
        self._text = None
        self._positions = None

    def _tree(self) -> _Rt:
        if self._positions is None:
            # Only a file with a problem gets here: most runs never import ruamel.
            from ruamel.yaml import YAML

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


def _read_again(path: Path) -> str:
    """A file's text read again to name a place in it (never through a link); empty when
    it can no longer be read, and the place is then its first line."""
    from t4o_reconcile.config.loader import MAX_FILE_BYTES
    from t4o_reconcile.config.regularfile import NotRegular, read_regular

    try:
        text = decode(read_regular(path, MAX_FILE_BYTES))
    except (NotRegular, OSError):
        return ""
    return text if isinstance(text, str) else ""
