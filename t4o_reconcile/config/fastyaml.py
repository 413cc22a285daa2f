"""The YAML parse of a tenant file: plain data built straight from libyaml's events.

The events come from PyYAML's binding to libyaml (``yaml._yaml.CParser``, libyaml 0.2.x,
which OSS-Fuzz fuzzes), and the data is built here by the YAML 1.2 core schema: the
spec's own resolution of plain scalars (``NO`` and ``yes`` are strings, ``0123`` is 123,
``1_000`` and ``2024-01-31`` are strings). Tenant files are plain block YAML: mappings,
sequences and scalars. What they never need is refused where it stands (``Refused``,
with line and column) rather than built: tags (``!!set``, ``!!binary``, ``! 12``),
anchors and aliases (and so merge keys), keys that are mappings or lists, directives, and
a second document. Duplicate keys are refused too. So every document this accepts is read
exactly as the YAML 1.2 specification reads it, and nothing else reaches the loader.

Positions (``find``) come from the same events, and are where ruamel's round-trip
loader's marks (``lc``) put them: ruamel stays where it is the right tool, the
round-trip editing of ``export`` and the positions of the rare file ``find`` steps
aside for.
"""

from __future__ import annotations

import math
import re
from typing import Any

from t4o_reconcile.errors import ConfigError

try:
    from yaml import _yaml as _libyaml
    from yaml.events import (
        MappingEndEvent as _MAPPING_END,
    )
    from yaml.events import (
        MappingStartEvent as _MAPPING_START,
    )
    from yaml.events import (
        ScalarEvent as _SCALAR,
    )
    from yaml.events import (
        SequenceEndEvent as _SEQUENCE_END,
    )
    from yaml.events import (
        SequenceStartEvent as _SEQUENCE_START,
    )

    CParser: Any = _libyaml.CParser
    LIBYAML_VERSION: str = _libyaml.get_version_string()
except ImportError:  # PyYAML built without libyaml: refused, see ``require``
    CParser = None
    LIBYAML_VERSION = ""

AVAILABLE = CParser is not None
# Part of the cache key (``config.parsecache``): what this module builds may change with it.
PARSER_VERSION = f"fastyaml-2+libyaml-{LIBYAML_VERSION}"

MISSING_PARSER = (
    "PyYAML's libyaml extension (yaml._yaml) is not installed; expected PyYAML from a"
    " wheel (pip install --force-reinstall PyYAML), or built with libyaml-dev present."
    " The pure-Python parser is not used: it is about 20 times slower and not fuzzed"
)


class ParserMissing(ConfigError):
    """PyYAML's C extension is missing: one clear error, no silent slow path."""

    def __init__(self, message: str = MISSING_PARSER) -> None:
        super().__init__(message)


def require() -> None:
    if CParser is None:
        raise ParserMissing


class Refused(Exception):
    """The document is refused at ``line``, ``column`` (1-based): what tenant files never
    use, a duplicate key, a syntax error or nesting past ``MAX_DEPTH``."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


# Deeper than any tenant file can be (the schema nests at most 5 levels): a document past
# this is refused where the nesting goes too deep, before anything recurses into it.
MAX_DEPTH = 20


class TooDeep(Refused):
    """The document nests mappings and lists deeper than ``MAX_DEPTH``."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__(
            line,
            column,
            f"mappings and lists nested deeper than {MAX_DEPTH} levels; a tenant file"
            " nests at most 5 (e.g. users[0].programs.invoicing)",
        )


class Duplicate(Refused):
    """A key given twice in one mapping; ``first_line`` is where it was first given."""

    def __init__(self, line: int, column: int, key: Any, first_line: int | None) -> None:
        where = "" if first_line is None else f" (first defined on line {first_line})"
        super().__init__(line, column, f"duplicate key {str(key)!r}{where}; expected unique keys")
        self.first_line = first_line


class SyntaxProblem(Exception):
    """libyaml's own error, kept whole for the caller to word (``yamlfile``)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


# -- the YAML 1.2 core schema (spec 1.2.2, 10.3.2), by the first character of a plain
# scalar. Anything that matches none is a string.
_NULL = re.compile(r"null|Null|NULL|~")
_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")


# A plain scalar the spec does not allow ('-' alone or before a space, which libyaml takes
# in flow collections): found on the resolver's path, so that it costs nothing per event.
_DASH = object()


def _resolve(value: str) -> Any:
    if not value or _NULL.fullmatch(value):
        return None
    first = value[0]
    if first == "-" and (len(value) == 1 or value[1] == " "):
        return _DASH
    if first in "tTfF" and _BOOL.fullmatch(value):
        return value[0] in "tT"
    if first in "0123456789+-.":
        if _INT10.fullmatch(value):
            return int(value)
        if _INT8.fullmatch(value):
            return int(value[2:], 8)
        if _INT16.fullmatch(value):
            return int(value[2:], 16)
        if _FLOAT.fullmatch(value):
            return float(value)
        if _INF.fullmatch(value):
            return -math.inf if first == "-" else math.inf
        if _NAN.fullmatch(value):
            return math.nan
    return value


# Plain scalars repeat across files (roles, rights, flags, hosts): each is resolved once.
# The results are immutable (str, int, float, bool, None); the cache is bounded.
_RESOLVED: dict[str, Any] = {}
_RESOLVED_MAX = 50_000


def _plain(value: str) -> Any:
    try:
        return _RESOLVED[value]
    except KeyError:
        pass
    resolved = _resolve(value)
    if len(_RESOLVED) < _RESOLVED_MAX and len(value) <= 64:
        _RESOLVED[value] = resolved
    return resolved


def load(text: str) -> Any:
    """The single document in ``text`` as plain Python data (None for an empty file).

    Raises ``Refused`` (with its position) for what tenant files never use, a duplicate
    key or nesting past ``MAX_DEPTH``; ``SyntaxProblem`` for a syntax error."""
    require()
    _refuse_other_line_breaks(text)
    if not text.endswith("\n"):
        # libyaml drops a block scalar's last line when no line break ends it ("x\n "
        # for the spec's "x\n \n"); ending the stream with one changes nothing else.
        text += "\n"
    try:
        if "?" in text or _glued_comment(text):
            _check_tokens(text)
        return _Builder(CParser(text), text).document()
    except Duplicate:
        # Read again keeping each key's line, for the message: only for this error.
        try:
            _Builder(CParser(text), text, lines=True).document()
        except Duplicate as exc:
            raise exc from None
        raise  # pragma: no cover - the same text gives the same error
    except Refused:
        raise
    except RecursionError:  # cannot happen below MAX_DEPTH; never a traceback
        raise Refused(1, 1, "the document cannot be read; expected a tenant file") from None
    except Exception as exc:  # libyaml's scanner or parser error
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):
            _too_deep(text)  # libyaml stops at 1,000 levels; the limit is where 21 opens
        if hasattr(exc, "problem_mark"):
            raise SyntaxProblem(exc) from None
        raise Refused(1, 1, f"the document cannot be read ({type(exc).__name__})") from None


def _too_deep(text: str) -> None:
    """Raise ``TooDeep`` where the nesting passes ``MAX_DEPTH``, from PyYAML's Python
    parser (no depth limit of its own, events one at a time): only for a document that
    libyaml refused for nesting past its own limit."""
    import yaml

    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, _MAPPING_START | _SEQUENCE_START):
                depth += 1
                if depth > MAX_DEPTH:
                    raise TooDeep(*_at(event))
            elif isinstance(event, _MAPPING_END | _SEQUENCE_END):
                depth -= 1
    except yaml.YAMLError:
        return


def _at(event: Any) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


def _refuse_extras(event: Any) -> None:
    """Anchors and tags: never in a tenant file, so never built (``&a:b c`` or ``! 12``
    misread would be worse than refused)."""
    line, column = _at(event)
    if event.anchor is not None:
        raise Refused(
            line,
            column,
            f"an anchor (&{event.anchor}); tenant files do not use anchors or aliases:"
            " expected the value written out in full",
        )
    tag = event.tag
    raise Refused(
        line,
        column,
        f"a tag ({tag}); tenant files do not use tags: expected a plain value"
        " (quote it to make it a string)",
    )


# A '#' straight after a quote, a flow indicator or a block scalar's header: the spec
# wants a space before a comment; libyaml takes it as one. Only a hint: the tokens say
# whether that '#' is inside a scalar.
_GLUED_COMMENT = re.compile(r"[\]},\"']#|([|>][-+1-9]{0,2})#")
_BEFORE_COMMENT = frozenset("]},\"'|>-+123456789")


def _refuse_other_line_breaks(text: str) -> None:
    """NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR (``_OTHER_BREAKS``) are line breaks to
    libyaml (YAML 1.1), which folds one inside a quoted value into a space, and ordinary
    characters to YAML 1.2: a value would read differently to the two, so it is refused
    where it stands."""
    starts = [at for at in (text.find(brk) for brk in _OTHER_BREAKS) if at >= 0]
    if not starts:
        return
    at = min(starts)
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    raise Refused(
        line,
        column,
        f"character U+{ord(text[at]):04X} (a line break to YAML 1.1, not to 1.2);"
        " expected a plain line break (\\n), or the character escaped in a double-quoted"
        ' value ("\\N", "\\L", "\\P")',
    )


def _glued_comment(text: str) -> bool:
    """Whether a '#' follows one of those characters anywhere (``str.find`` is some
    twenty times faster than the regular expression's search over a whole file)."""
    index = text.find("#", 1)
    while index != -1:
        if text[index - 1] in _BEFORE_COMMENT and _GLUED_COMMENT.search(
            text, max(0, index - 3), index + 1
        ):
            return True
        index = text.find("#", index + 1)
    return False


def _check_tokens(text: str) -> None:
    """What libyaml's scanner takes but the spec refuses (only for a file that has a
    '?' or a glued '#'): an explicit key ('?', which libyaml also reads where the spec
    sees a plain '?x'), and a comment not separated by a space."""
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    headers: set[int] = set()  # where block scalars start
    next_token = CParser(text).get_token
    while (token := next_token()) is not None:
        name = type(token).__name__
        start = token.start_mark
        if name == "KeyToken" and text[start.index : start.index + 1] == "?":
            raise Refused(
                start.line + 1,
                start.column + 1,
                "an explicit key (?); expected a plain key such as name:",
            )
        if name == "ScalarToken":
            end = token.end_mark
            spans.append(((start.line, start.column), (end.line, end.column)))
            if token.style in ("|", ">"):
                headers.add(start.index)
    for match in _GLUED_COMMENT.finditer(text):
        index = match.end() - 1
        line = text.count("\n", 0, index)
        column = index - (text.rfind("\n", 0, index) + 1)
        if match.group(1) is not None:
            glued = match.start() in headers
        else:
            glued = not any(first <= (line, column) < last for first, last in spans)
        if glued:
            raise Refused(
                line + 1,
                column + 1,
                "a comment right after a value; expected a space before '#'",
            )


class _Builder:
    def __init__(self, parser: Any, text: str, *, lines: bool = False) -> None:
        self._next = parser.get_event
        self._text = text
        self._depth = 0
        self._lines = lines
        # The column of each block collection the builder is in: what a continuation
        # line of a flow collection or a quoted scalar must be indented past.
        self._indents: list[int] = [-1]
        self._split: list[str] | None = None
        self._end_line = 0  # the line of the last collection's end

    def document(self) -> Any:
        self._next()  # the stream's start
        event = self._next()
        if type(event).__name__ == "StreamEndEvent":
            return None  # an empty file
        self._check_directives(event)
        data = self._value(self._next())
        self._next()  # the document's end
        following = self._next()
        if type(following).__name__ != "StreamEndEvent":
            line, column = _at(following)
            raise Refused(
                line,
                column,
                "a second document (---); expected one document per tenant file",
            )
        return data

    @staticmethod
    def _check_directives(event: Any) -> None:
        if event.tags or (event.version is not None and tuple(event.version) != (1, 2)):
            line, column = _at(event)
            what = "%TAG" if event.tags else "%YAML " + ".".join(map(str, event.version))
            raise Refused(
                line,
                column,
                f"a {what} directive; expected a YAML 1.2 document without directives",
            )

    def _value(self, event: Any) -> Any:
        # Classes compared by identity: this runs for each of the ~600 events of a file.
        cls = event.__class__
        if cls is _SCALAR:
            if event.anchor is not None or event.tag is not None:
                _refuse_extras(event)
            if event.style:
                if event.end_mark.line != event.start_mark.line:
                    self._check_lines(event)
                return event.value
            value = _plain(event.value)
            if value is _DASH:
                raise Refused(*_at(event), "a '-' that starts no list item; quote it as a string")
            return value
        if cls is _MAPPING_START or cls is _SEQUENCE_START:
            return self._collection(event, cls is _MAPPING_START)
        line, column = _at(event)
        if type(event).__name__ == "AliasEvent":
            raise Refused(
                line,
                column,
                f"an alias (*{event.anchor}); tenant files do not use anchors or aliases:"
                " expected the value written out in full",
            )
        raise Refused(line, column, f"unexpected {type(event).__name__}")

    def _collection(self, event: Any, mapping: bool) -> Any:
        if event.anchor is not None or event.tag is not None:
            _refuse_extras(event)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise TooDeep(*_at(event))
        flow = event.flow_style
        if not flow:
            self._indents.append(event.start_mark.column)
        built = self._mapping() if mapping else self._sequence()
        if not flow:
            self._indents.pop()
        elif self._end_line != event.start_mark.line:
            self._check_continuation(event.start_mark.line, self._end_line)
        self._depth -= 1
        return built

    def _check_lines(self, event: Any) -> None:
        if event.style in "|>":
            self._check_block_scalar(event)
        else:
            self._check_continuation(event.start_mark.line, event.end_mark.line)

    def _mapping(self) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        next_event, value = self._next, self._value
        while True:
            event = next_event()
            cls = event.__class__
            if cls is _MAPPING_END:
                self._end_line = event.end_mark.line
                return mapping
            if cls is not _SCALAR:
                line, column = _at(event)
                raise Refused(
                    line,
                    column,
                    "a key that is a mapping or a list; expected a plain key such as name:",
                )
            key = value(event)
            if key in mapping:
                raise Duplicate(*_at(event), event.value, lines.get(key))
            if self._lines:
                lines[key] = event.start_mark.line + 1
            mapping[key] = value(next_event())

    def _sequence(self) -> list[Any]:
        sequence: list[Any] = []
        next_event, value = self._next, self._value
        while True:
            event = next_event()
            if event.__class__ is _SEQUENCE_END:
                self._end_line = event.end_mark.line
                return sequence
            sequence.append(value(event))

    def _text_lines(self) -> list[str]:
        if self._split is None:
            self._split = self._text.split("\n")
        return self._split

    def _check_continuation(self, first: int, last: int) -> None:
        """The lines after the first of a multi-line flow collection or quoted scalar
        must be indented past the block collection it is in (spaces, not tabs): libyaml
        takes them at any indentation."""
        need = self._indents[-1] + 1
        if need <= 0:
            return
        lines = self._text_lines()
        for number in range(first + 1, min(last, len(lines) - 1) + 1):
            line = lines[number]
            content = line.lstrip(" ")
            if not content.strip():
                continue  # an empty line folds; its spaces do not matter
            if len(line) - len(content) < need:
                raise Refused(
                    number + 1,
                    len(line) - len(content) + 1,
                    f"a continuation line indented less than its value; expected at least"
                    f" {need} spaces (tabs do not indent)",
                )

    def _check_block_scalar(self, event: Any) -> None:
        """Leading empty lines of a block scalar may not hold more spaces than its first
        line of text (spec 8.1.1.1); libyaml does not check."""
        value = event.value
        if value and not value.startswith("\n"):
            return  # no leading empty lines
        lines = self._text_lines()
        header = lines[event.start_mark.line][event.start_mark.column :].split("#")[0]
        if any(char.isdigit() for char in header):
            return  # an explicit indentation: nothing is detected
        widest = 0
        for number in range(event.start_mark.line + 1, len(lines)):
            line = lines[number]
            if line.strip(" "):
                indent = len(line) - len(line.lstrip(" "))
                if indent > self._indents[-1] and widest > indent:
                    raise Refused(
                        number + 1,
                        indent + 1,
                        "a block scalar's leading empty lines hold more spaces than its"
                        " first line of text; expected no more",
                    )
                return
            widest = max(widest, len(line))


# -- positions

# A position is (line, column), both 0-based as the parser's marks are.
Position = tuple[int, int]
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")
_STARTS = ("MappingStartEvent", "SequenceStartEvent")
_ENDS = ("MappingEndEvent", "SequenceEndEvent")


class NotPlain(Exception):
    """``find`` cannot place this path from the events; the round-trip loader does."""


def find(text: str, path: tuple[str | int, ...], *, key: bool = False) -> Position | None:
    """Where the round-trip loader's marks (``lc``) put the value at ``path`` (its key
    with ``key``; a nested mapping or list by its key), read from the parser's events and
    only as far as the path goes: a problem's position without building anything.

    A path that does not exist all the way gives the deepest part that does; None for a
    document that is not a collection. ``NotPlain`` for anything the round-trip loader
    must place (line breaks the two parsers count differently, a document ``load``
    refuses)."""
    if CParser is None:
        raise NotPlain("no C parser")
    if any(brk in text for brk in _OTHER_BREAKS):
        raise NotPlain("the two parsers count these line breaks differently")
    try:
        return _find(CParser(text).get_event, path, key)
    except NotPlain:
        raise
    except Exception as exc:
        raise NotPlain(type(exc).__name__) from None


def _find(next_event: Any, path: tuple[str | int, ...], key: bool) -> Position | None:
    if _kind(next_event()) != "StreamStartEvent" or _kind(next_event()) != "DocumentStartEvent":
        raise NotPlain("document")
    node = _plain_event(next_event())
    if _kind(node) not in _STARTS:
        return None
    found = _mark(node)
    for index, step in enumerate(path):
        if isinstance(step, str) and _kind(node) == "MappingStartEvent":
            at = _into_mapping(next_event, step, key and index == len(path) - 1)
        elif isinstance(step, int) and _kind(node) == "SequenceStartEvent" and step >= 0:
            at = _into_sequence(next_event, step)
        else:
            break
        if at is None:
            return found  # no such key or item: the node that should hold it
        found, node = at
    return found


def _into_mapping(next_event: Any, name: str, key: bool) -> tuple[Position, Any] | None:
    """The position of ``name``'s value (of the key itself with ``key``, or when the value
    is a collection) and the value's event; None when the mapping has no such key."""
    while True:
        key_event = _plain_event(next_event())
        if _kind(key_event) == "MappingEndEvent":
            return None
        if _kind(key_event) != "ScalarEvent":
            raise NotPlain("complex key")
        found = key_event.value if key_event.style else _plain(key_event.value)
        value = _plain_event(next_event())
        if found == name:
            at_key = key or _kind(value) in _STARTS
            return (_mark(key_event) if at_key else _mark(value)), value
        _skip(next_event, value)


def _into_sequence(next_event: Any, step: int) -> tuple[Position, Any] | None:
    position = 0
    while True:
        item = _plain_event(next_event())
        if _kind(item) == "SequenceEndEvent":
            return None
        if position == step:
            return _mark(item), item
        _skip(next_event, item)
        position += 1


def _kind(event: Any) -> str:
    return type(event).__name__


def _plain_event(event: Any) -> Any:
    if _kind(event) == "AliasEvent" or getattr(event, "anchor", None) is not None:
        raise NotPlain("anchor or alias")
    if getattr(event, "tag", None) is not None:
        raise NotPlain("tag")
    return event


def _skip(next_event: Any, event: Any) -> None:
    """Read past the node that ``event`` starts."""
    depth = 1 if _kind(event) in _STARTS else 0
    while depth:
        kind = _kind(_plain_event(next_event()))
        if kind in _STARTS:
            depth += 1
        elif kind in _ENDS:
            depth -= 1


def _mark(event: Any) -> Position:
    return (event.start_mark.line, event.start_mark.column)
