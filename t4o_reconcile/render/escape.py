"""Text this program did not write (tenant files, plan files, API answers), made safe for
each place it is shown: one function per sink, and every renderer and error path uses them.

``visible`` is the core every sink starts from. A character that a reader cannot see, or
that a terminal, browser or editor would act on, is written as ``\\u`` and four hex digits
(``\\U`` and eight above U+FFFF): C0 and C1 controls (ESC is ``\\u001b``), DEL, line and
paragraph separators (CR, LF, NEL, U+2028, U+2029), bidirectional controls (U+202A–U+202E,
U+2066–U+2069, U+200E, U+200F, U+061C), zero-width and other format characters,
every space but U+0020, surrogates, private-use and unassigned code points, and the
default-ignorable letters that render as nothing (Hangul fillers, variation selectors).
A backslash is left as it is: the escapes show what is there, they are not a quoting.

A GitHub Actions runner reads workflow commands from every line a step prints, on stdout
and stderr: ``::command …::`` at the start of a line (after leading white space) and the
legacy ``##[command]`` anywhere in it. So no sink that reaches a log lets a value begin
with ``::`` or hold ``##[``; with line breaks escaped, a value can never start a line of
its own.

==================  =====================  =============================================
sink                function               what it escapes, beyond ``visible``
==================  =====================  =============================================
terminal, CI log    ``terminal``           a leading ``::`` (as ``\\u003a:``), ``##[``
                    ``terminal_message``   (as ``##\\u005b``); a message keeps only the
                                           line breaks of its own indented list
workflow command    ``workflow_data``      ``terminal``, then ``%`` ``\\r`` ``\\n`` as
                    ``workflow_property``  ``%25`` ``%0D`` ``%0A``; a property also ``:``
                                           ``,`` as ``%3A`` ``%2C`` (the runner's rules)
Markdown and HTML   ``markdown``           every character with a meaning in Markdown or
                                           HTML as a numeric reference (``&#60;``), a
                                           leading ``:`` as ``&#58;``
Markdown code span  ``code_span``          ``terminal``, fenced by more backticks than
                                           any run of them in it
HTML comment        ``comment_value``      all but ``[A-Za-z0-9._]`` percent-encoded, so
                                           ``--``, ``>`` cannot close the comment
JSON (to a log)     ``json_dumps``         the same characters as JSON ``\\uXXXX``
                                           escapes (lossless), ``##[`` as ``##\\u005b``
SARIF message       ``sarif_text``         ``terminal``, then ``\\`` ``[`` ``]`` with a
                                           backslash (SARIF's embedded-link syntax)
==================  =====================  =============================================
"""

from __future__ import annotations

import json
import re
from typing import Any

# Printable by Python's rules, invisible by Unicode's (Default_Ignorable_Code_Point or a
# blank): a name made of them looks like another name, or like nothing.
_INVISIBLE_PRINTABLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
    "\U000e0100-\U000e01ef]"
)


def _hidden(ch: str) -> bool:
    return not ch.isprintable() or _INVISIBLE_PRINTABLE.match(ch) is not None


def _clean(text: str) -> bool:
    if text.isascii():  # known in O(1): most text, and none of it invisible but controls
        return text.isprintable()
    return text.isprintable() and _INVISIBLE_PRINTABLE.search(text) is None


def _shown(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(value: object) -> str:
    """Every control, separator, bidirectional and invisible character as ``\\u202e``;
    the rest as it is. The result holds no line break and nothing a terminal acts on."""
    text = str(value)
    if _clean(text):
        return text
    return "".join(_shown(ch) if _hidden(ch) else ch for ch in text)


def terminal(value: object) -> str:
    """For a terminal or a CI log (stdout and stderr of a GitHub Actions step): ``visible``,
    and no workflow command can start in it."""
    text = visible(value)
    if "##[" in text:
        text = text.replace("##[", "##\\u005b")
    stripped = text.lstrip(" ")
    if stripped.startswith("::"):
        text = text[: len(text) - len(stripped)] + "\\u003a" + stripped[1:]
    return text


def terminal_lines(text: str) -> str:
    """Text whose line breaks this program made (a traceback) with untrusted parts: each
    line through ``terminal``."""
    return "\n".join(terminal(line) for line in text.split("\n"))


def terminal_message(text: str) -> str:
    """An error message for a terminal: one line, or a first line and a list indented by
    two spaces (``apply refused, nothing was written:\\n  - …``). Those line breaks are
    the message's own; any other came from a value it quotes and is shown (``\\u000a``),
    so a plan file or an answer cannot add a line of its own."""
    lines: list[str] = []
    for line in text.split("\n"):
        if lines and not line.startswith("  "):
            lines[-1] += "\n" + line  # made visible below, with the rest of the line
        else:
            lines.append(line)
    return "\n".join(terminal(line) for line in lines)


def workflow_data(value: object) -> str:
    """The message of a workflow command (after ``::error …::``), escaped as the runner
    unescapes it (``%25``, ``%0D``, ``%0A``)."""
    return terminal(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(value: object) -> str:
    """A property of a workflow command (``file=…``, ``title=…``): the message's escapes
    and ``:`` and ``,``, which would end the property."""
    return workflow_data(value).replace(":", "%3A").replace(",", "%2C")


_MARKUP = frozenset("&<>\"'`*_[]|\\#~!(){}@$")


def markdown(value: object) -> str:
    """Text safe in Markdown prose, a table cell, a heading, a ``<summary>`` or any other
    raw HTML: ``visible``, then every character with a meaning there as a numeric character
    reference, which GitHub shows as the character and never interprets."""
    text = visible(value)
    out = [f"&#{ord(ch)};" if ch in _MARKUP else ch for ch in text]
    if out and out[0] == ":":
        out[0] = "&#58;"  # never the start of a workflow command
    # A bare URL or e-mail address is still linked by GitHub, to itself: the link shows
    # its own target, so it tells the reader nothing the text does not.
    return "".join(out)


_BACKTICKS = re.compile(r"`+")


def code_span(value: object) -> str:
    """A Markdown code span showing the value literally: inside one nothing is markup and
    no character reference is decoded, so it only goes through ``terminal`` (the comment is
    printed to a CI log too) and is fenced with more backticks than any run in it. Not for
    a table cell (a ``|`` would split it)."""
    text = terminal(value)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip(" ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_COMMENT_SAFE = re.compile(r"[A-Za-z0-9._]*")


def comment_value(value: object) -> str:
    """A value inside an HTML comment (the sticky marker): every byte outside
    ``[A-Za-z0-9._]`` of its UTF-8 as ``%XX``. A plan id as ``plan`` writes it (32 hex
    digits) is unchanged; nothing can close the comment or break its line."""
    text = str(value)
    if _COMMENT_SAFE.fullmatch(text):
        return text
    return "".join(
        ch
        if _COMMENT_SAFE.fullmatch(ch)
        else "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        for ch in text
    )


def _json_escapes(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_safe(text: str) -> str:
    """JSON text (as ``json.dumps`` writes it, ``ensure_ascii=False``) with the characters
    ``visible`` shows written as JSON escapes instead, and ``##[`` as ``##\\u005b``: the
    same document to a parser, nothing hidden or acted on in a log. Such characters occur
    only inside strings (JSON's own white space is ``\\n`` and spaces, left as they are)."""
    if "##[" in text:
        text = text.replace("##[", "##\\u005b")
    if "\n" not in text:
        return text if _clean(text) else _json_escaped(text)
    lines = text.split("\n")
    if all(_clean(line) for line in lines):
        return text
    return "\n".join(line if _clean(line) else _json_escaped(line) for line in lines)


def _json_escaped(line: str) -> str:
    return "".join(_json_escapes(ch) if _hidden(ch) else ch for ch in line)


def json_dumps(document: Any, **options: Any) -> str:
    """``json.dumps(document, ensure_ascii=False, **options)`` through ``json_safe``."""
    return json_safe(json.dumps(document, ensure_ascii=False, **options))


def sarif_text(value: object) -> str:
    """A SARIF ``message.text``: ``terminal``, then ``\\``, ``[`` and ``]`` escaped with a
    backslash, as SARIF 2.1.0 (§3.11.6) asks of brackets that are not an embedded link."""
    text = terminal(value)
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
