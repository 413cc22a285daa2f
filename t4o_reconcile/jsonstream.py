"""Reading one big JSON object without holding it: its long arrays an element at a time.

A saved plan of 10,000 tenants is a few hundred MB of JSON; ``json.loads`` of it held the
text and every parsed object at once (1.4 GB). ``read_object`` reads the text in chunks
and hands each element of the named arrays to a function as soon as it is parsed, so
only the current element is held as parsed JSON. Each value is parsed by the standard
library's decoder; this module only finds where the values are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TextIO

CHUNK = 1 << 20
_SPACE = re.compile(r"[ \t\n\r]*")
# A decode error this close to the end of the text read so far may be a value cut by the
# chunk (a literal, an escape, a number); the decoder names an unterminated string by
# where it starts instead.
_TAIL = 8


class StreamError(ValueError):
    """The text is not the JSON expected; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message}: line {line} column {column}")
        self.message = message
        self.line = line
        self.column = column


def read_object(
    handle: TextIO, streamed: Mapping[str, Callable[[Any], Any]], *, chunk: int = CHUNK
) -> dict[str, Any]:
    """The JSON object in ``handle`` as a dict. The value of a member named in
    ``streamed`` must be an array: each element goes through its function as soon as it
    is read, and the member's value is the list of what the function returned."""
    return _Reader(handle, chunk).document(streamed)


class _Reader:
    def __init__(self, handle: TextIO, chunk: int) -> None:
        self._handle = handle
        self._chunk = chunk
        self._text = ""
        self._pos = 0
        self._eof = False
        self._decoder = json.JSONDecoder()
        # Where the dropped text ended: its newlines and the offset after the last one.
        self._dropped = 0
        self._lines = 0
        self._line_start = 0

    def document(self, streamed: Mapping[str, Callable[[Any], Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        self._expect("{", "expected a JSON object")
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                if self._peek() != '"':
                    self._fail("Expecting property name enclosed in double quotes")
                key = self._value()
                self._expect(":", "Expecting ':' delimiter")
                if key in streamed:
                    found[key] = self._array(streamed[key])
                else:
                    found[key] = self._value()
                if not self._member_follows("}"):
                    break
        if self._peek() != "":
            self._fail("Extra data")
        return found

    def _array(self, each: Callable[[Any], Any]) -> list[Any]:
        self._expect("[", "expected an array")
        out: list[Any] = []
        if self._peek() == "]":
            self._pos += 1
            return out
        while True:
            out.append(each(self._value()))
            if not self._member_follows("]"):
                return out

    def _member_follows(self, end: str) -> bool:
        """After a member: True past a comma, False past ``end``."""
        found = self._peek()
        if found == ",":
            self._pos += 1
            return True
        if found == end:
            self._pos += 1
            return False
        self._fail(f"Expecting ',' delimiter or {end!r}")

    def _value(self) -> Any:
        self._peek()
        want = self._chunk
        while True:
            try:
                value, end = self._decoder.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as exc:
                cut = (
                    exc.msg.startswith("Unterminated string") or exc.pos >= len(self._text) - _TAIL
                )
                if self._eof or not cut:
                    self._fail(exc.msg, at=exc.pos)
                self._read(want)
                want *= 2  # a value far longer than a chunk is not parsed over and over
                continue
            if end > len(self._text) - _TAIL and not self._eof:
                # A number may go on in the next chunk ("1" of "15", "1" of "1.5e3").
                self._read(want)
                continue
            self._pos = end
            return value

    def _expect(self, char: str, message: str) -> None:
        if self._peek() != char:
            self._fail(message)
        self._pos += 1

    def _peek(self) -> str:
        """The next character after white space; "" at the end of the text."""
        while True:
            self._pos = _SPACE.match(self._text, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._text) or self._eof:
                return self._text[self._pos : self._pos + 1]
            self._read(self._chunk)

    def _read(self, size: int) -> None:
        more = self._handle.read(size)
        if not more:
            self._eof = True
            return
        # Drop what was parsed; keep its line count for positions in errors.
        done = self._text[: self._pos]
        newlines = done.count("\n")
        if newlines:
            self._lines += newlines
            self._line_start = self._dropped + done.rfind("\n") + 1
        self._dropped += self._pos
        self._text = self._text[self._pos :] + more
        self._pos = 0

    def _fail(self, message: str, *, at: int | None = None) -> NoReturn:
        where = self._pos if at is None else at
        before = self._text[:where]
        newlines = before.count("\n")
        line = self._lines + newlines + 1
        if newlines:
            column = where - before.rfind("\n")
        else:
            column = self._dropped + where - self._line_start + 1
        raise StreamError(message, line, column)
