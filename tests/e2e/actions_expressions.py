"""GitHub Actions expressions (``${{ ... }}`` and ``if:``), evaluated as the runner does, so
that the week's harness can run the shipped workflows' steps with their own conditions,
env and ``with:`` values instead of a copy of them.

What GitHub documents under "Evaluate expressions in workflows and actions": literals,
context access (``a.b``, ``a['b']``, the object filter ``a.*.b``), ``! < <= > >= == != &&
||`` with loose, case-insensitive equality, and the functions ``contains``,
``startsWith``, ``endsWith``, ``format``, ``join``, ``toJSON``, ``fromJSON``, ``success``,
``always``, ``failure``, ``cancelled``. Anything else (``hashFiles``, an unknown name) is an
``ExpressionError``, never a silent empty string, so a workflow that grows a construct the
harness cannot run fails the step loudly."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
_EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.S)


class ExpressionError(Exception):
    """An expression the harness cannot evaluate as GitHub would."""


@dataclass(frozen=True)
class Status:
    """The job's state for the status functions: has an earlier step failed?"""

    failed: bool = False
    cancelled: bool = False


class _Filtered(list[Any]):
    """The result of an object filter (``labels.*.name``): a list that ``.x`` maps over."""


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot read {text!r} at column {position + 1}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class _Parser:
    def __init__(
        self, text: str, contexts: Mapping[str, Any], functions: dict[str, Callable[..., Any]]
    ) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.contexts = contexts
        self.functions = functions

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"{self.text!r}: expected {value or 'more'} at token {self.at}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.either()
        if self.peek() is not None:
            raise ExpressionError(f"{self.text!r}: unexpected {self.peek()}")
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.both()
            value = value if truthy(value) else right
        return value

    def both(self) -> Any:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in {("op", o) for o in ("==", "!=", "<", "<=", ">", ">=")}:
            op = self.take()[1]
            value = compare(op, value, self.unary())
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "number":
            return float(int(value, 16)) if value.lower().startswith("0x") else float(value)
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "op" and value == "(":
            inner = self.either()
            self.take(")")
            return inner
        if kind != "name":
            raise ExpressionError(f"{self.text!r}: unexpected {value!r}")
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        if self.peek() == ("op", "("):
            self.take()
            args: list[Any] = []
            while self.peek() != ("op", ")"):
                args.append(self.either())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            function = self.functions.get(value.lower())
            if function is None:
                raise ExpressionError(f"{self.text!r}: the harness has no function {value}()")
            return function(*args)
        if value not in self.contexts:
            raise ExpressionError(f"{self.text!r}: no context {value!r} in this harness")
        return self.contexts[value]

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind == "op" and name == "*":
                    value = _Filtered(_members(value))
                else:
                    value = _index(value, name)
            else:
                key = self.either()
                self.take("]")
                value = _index(value, "*" if key == "*" else key)
        return value


def _members(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, _Filtered):
        return _Filtered(item for item in (_index(v, key) for v in value) if item is not None)
    if isinstance(value, dict):
        # Context keys are case-insensitive.
        for name, item in value.items():
            if isinstance(key, str) and name.lower() == key.lower():
                return item
        return None
    if isinstance(value, list) and isinstance(key, float) and key.is_integer():
        return value[int(key)] if 0 <= key < len(value) else None
    return None


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, list | dict):
        return True
    return bool(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float | int):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a: Any = left.lower()
        b: Any = right.lower()
    elif type(left) is type(right) and isinstance(left, list | dict):
        a, b = id(left), id(right)
    else:
        a, b = _number(left), _number(right)
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if isinstance(a, float) and (math.isnan(a) or math.isnan(b)):
        return False
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def text(value: Any) -> str:
    """A value as ``${{ }}`` writes it into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list | dict):
        return json.dumps(value, indent=2)
    return str(value)


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(compare("==", item, needle) for item in haystack)
    return text(needle).lower() in text(haystack).lower()


def _format(template: Any, *args: Any) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        return text(args[int(match.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", one, text(template))


def _join(items: Any, separator: Any = ",") -> str:
    if isinstance(items, list):
        return text(separator).join(text(i) for i in items)
    return text(items)


def _hash_files(*patterns: Any) -> str:
    raise ExpressionError("hashFiles() is not evaluated by this harness")


def evaluate(expression: str, contexts: Mapping[str, Any], status: Status = Status()) -> Any:
    functions: dict[str, Callable[..., Any]] = {
        "contains": _contains,
        "startswith": lambda a, b: text(a).lower().startswith(text(b).lower()),
        "endswith": lambda a, b: text(a).lower().endswith(text(b).lower()),
        "format": _format,
        "join": _join,
        "tojson": lambda v: json.dumps(v, indent=2),
        "fromjson": lambda v: json.loads(text(v)),
        "hashfiles": _hash_files,
        "success": lambda: not status.failed and not status.cancelled,
        "failure": lambda: status.failed,
        "always": lambda: True,
        "cancelled": lambda: status.cancelled,
    }
    return _Parser(expression, contexts, functions).parse()


def condition(source: Any, contexts: Mapping[str, Any], status: Status) -> bool:
    """An ``if:`` as the runner reads it: ``${{ }}`` optional; without a status function,
    ``success() &&`` is implied."""
    if source is None:
        return not status.failed and not status.cancelled
    if isinstance(source, bool):
        return source
    expression = str(source).strip()
    whole = _EMBEDDED.fullmatch(expression)
    if whole:
        expression = whole.group(1)
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", expression):
        expression = f"success() && ({expression})"
    return truthy(evaluate(expression, contexts, status))


def interpolate(source: Any, contexts: Mapping[str, Any], status: Status = Status()) -> str:
    """A string with every ``${{ }}`` replaced by its value."""
    return _EMBEDDED.sub(lambda m: text(evaluate(m.group(1), contexts, status)), text(source))
