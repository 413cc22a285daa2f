"""The fast path of the YAML parse: plain data built straight from the C parser's events.

ruamel's C-backed safe loader still spends about three quarters of its time in its Python
constructor (node objects, tags, a resolver call per scalar). Tenant files are plain
block YAML: mappings, sequences and scalars, with no anchors, aliases, explicit tags or
merge keys. For such a document this builds exactly what the YAML 1.2 safe loader builds,
from the same C parser's events and with ruamel's own YAML 1.2 resolution rules, at about
a third of the cost. Anything else (``NotPlain``) is left to the full loader, and so is
every syntax error, so that messages and positions come from one place.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any, cast

from ruamel.yaml.events import (
    MappingEndEvent as _MAPPING_END,
)
from ruamel.yaml.events import (
    MappingStartEvent as _MAPPING_START,
)
from ruamel.yaml.events import (
    ScalarEvent as _SCALAR,
)
from ruamel.yaml.events import (
    SequenceEndEvent as _SEQUENCE_END,
)
from ruamel.yaml.events import (
    SequenceStartEvent as _SEQUENCE_START,
)
from ruamel.yaml.resolver import implicit_resolvers

try:
    from _ruamel_yaml import CParser
except ImportError:  # no C extension: the full loader does everything
    CParser = None

AVAILABLE = CParser is not None


class NotPlain(Exception):
    """The document uses something only the full loader builds (or is not valid YAML)."""


# Deeper than any tenant file can be (the schema nests at most 5 levels): a document past
# this is refused where the nesting goes too deep, before any loader recurses into it.
MAX_DEPTH = 20


class TooDeep(Exception):
    """The document nests mappings and lists deeper than ``MAX_DEPTH``."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__(f"nested deeper than {MAX_DEPTH} levels")
        self.line = line  # 1-based, where the level past the limit opens
        self.column = column


def check_depth(text: str) -> None:
    """Raise ``TooDeep`` at the first collection past ``MAX_DEPTH`` (events only, nothing
    built); a syntax error is left for the loader to word."""
    if CParser is None:
        return
    parser = CParser(text)
    depth = 0
    try:
        while True:
            event = parser.get_event()
            kind = type(event).__name__
            if kind in ("MappingStartEvent", "SequenceStartEvent"):
                depth += 1
                if depth > MAX_DEPTH:
                    raise TooDeep(event.start_mark.line + 1, event.start_mark.column + 1)
            elif kind in ("MappingEndEvent", "SequenceEndEvent"):
                depth -= 1
            elif kind == "StreamEndEvent":
                return
    except TooDeep:
        raise
    except Exception:
        return  # not valid YAML: the loader reports it


# ruamel's implicit resolvers for YAML 1.2, per first character, in ruamel's order.
_RULES: dict[str, list[tuple[str, re.Pattern[str]]]] = defaultdict(list)
for _versions, _tag, _regexp, _first in implicit_resolvers:
    if (1, 2) in _versions:
        for _char in _first:
            # ruamel wraps each compiled pattern in a lazy proxy with the same methods.
            _RULES[_char].append((_tag.rsplit(":", 1)[-1], cast(re.Pattern[str], _regexp)))


def _resolve(value: str) -> Any:
    for kind, regexp in _RULES.get(value[:1], ()):
        if regexp.match(value):
            return _construct(kind, value)
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
    resolved = _resolve(value)  # NotPlain is raised before anything is cached
    if len(_RESOLVED) < _RESOLVED_MAX and len(value) <= 64:
        _RESOLVED[value] = resolved
    return resolved


def _construct(kind: str, value: str) -> Any:
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() == "true"
    if kind == "int":
        return _int(value)
    if kind == "float":
        return _float(value)
    raise NotPlain(kind)  # timestamp, merge key, '=' or an indicator


def _int(value: str) -> int:
    digits = value.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


def _float(value: str) -> float:
    digits = value.replace("_", "").lower()
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    if digits == ".inf":
        return sign * math.inf
    if digits == ".nan":
        return math.nan
    return sign * float(digits)


def load(text: str) -> Any:
    """The single document in ``text`` as plain Python data; raises ``NotPlain`` for
    anything the full loader must handle (including every error)."""
    if CParser is None:
        raise NotPlain("no C parser")
    try:
        return _Builder(CParser(text)).document()
    except (NotPlain, TooDeep):
        raise
    except Exception as exc:  # a syntax error: the full loader words it
        raise NotPlain(type(exc).__name__) from None


class _Builder:
    def __init__(self, parser: Any) -> None:
        self._next = parser.get_event
        self._depth = 0

    def document(self) -> Any:
        self._expect("StreamStartEvent")
        event = self._next()
        if type(event).__name__ == "StreamEndEvent":
            return None  # an empty file
        if type(event).__name__ != "DocumentStartEvent":
            raise NotPlain("document")
        data = self._value(self._next())
        self._expect("DocumentEndEvent")
        self._expect("StreamEndEvent")  # a second document is the full loader's error
        return data

    def _expect(self, name: str) -> None:
        if type(self._next()).__name__ != name:
            raise NotPlain(name)

    def _value(self, event: Any) -> Any:
        # Classes compared by identity and the tag read from its slot (``tag`` is a
        # property): this runs for each of the ~600 events of a tenant file.
        cls = event.__class__
        if cls is _SCALAR:
            if event.anchor is not None or event.ctag is not None:
                raise NotPlain("anchor or tag")
            return _plain(event.value) if not event.style else event.value
        if cls is _MAPPING_START or cls is _SEQUENCE_START:
            if event.anchor is not None or event.ctag is not None:
                raise NotPlain("anchor or tag")
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise TooDeep(event.start_mark.line + 1, event.start_mark.column + 1)
            built = self._mapping() if cls is _MAPPING_START else self._sequence()
            self._depth -= 1
            return built
        raise NotPlain(cls.__name__)  # an alias, or the parser's own surprise

    def _mapping(self) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        next_event, value = self._next, self._value
        while True:
            event = next_event()
            if event.__class__ is _MAPPING_END:
                return mapping
            key = value(event)
            if isinstance(key, dict | list) or key in mapping:
                raise NotPlain("complex or duplicate key")  # the full loader reports it
            mapping[key] = value(next_event())

    def _sequence(self) -> list[Any]:
        sequence: list[Any] = []
        next_event, value = self._next, self._value
        while True:
            event = next_event()
            if event.__class__ is _SEQUENCE_END:
                return sequence
            sequence.append(value(event))


# -- positions

# A position is (line, column), both 0-based as the parser's marks are.
Position = tuple[int, int]
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")
_STARTS = ("MappingStartEvent", "SequenceStartEvent")
_ENDS = ("MappingEndEvent", "SequenceEndEvent")


def find(text: str, path: tuple[str | int, ...], *, key: bool = False) -> Position | None:
    """Where the round-trip loader's marks (``lc``) put the value at ``path`` (its key
    with ``key``; a nested mapping or list by its key), read from the C parser's events
    and only as far as the path goes: a problem's position without building anything.

    A path that does not exist all the way gives the deepest part that does; None for a
    document that is not a collection. ``NotPlain`` for anything the round-trip loader
    must place (anchors, tags, odd keys, line breaks the two parsers count differently)."""
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
