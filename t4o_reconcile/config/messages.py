"""Pydantic's validation errors, reworded for someone editing a YAML file.

Each message says what was expected; a misspelt key gets the nearest valid key. The
offending value is quoted only outside secret fields: a secret never reaches a message.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from t4o_reconcile.config.problems import DocPath
from t4o_reconcile.config.tenant_models import (
    EMAIL_PATTERN,
    FIELD_RULE_ERROR,
    IDENTITY_ERROR,
    NAME_PATTERN,
    UNENCRYPTED_ERROR,
)
from t4o_reconcile.engine.sections import SECRET_FIELDS
from t4o_reconcile.vocabulary import (
    LANGUAGE_PATTERN,
    LANGUAGES,
    PDF_TEMPLATE_PATTERN,
    PDF_TEMPLATES,
    SLUG_PATTERN,
)

_SECRET_NAMES = frozenset(name for names in SECRET_FIELDS.values() for name in names)

_SECRET_REF_HELP = (
    "expected a secret reference {secret: env:NAME} or {secret: file:PATH};"
    " secrets never sit in YAML"
)


# Patterns whose regular expression says less to a reader than a sentence.
_PATTERN_WORDS = {
    EMAIL_PATTERN: "expected an e-mail address like name@example.no, without spaces, control"
    " characters or any of / \\ ? # % (it is a URL path segment of the API)",
    NAME_PATTERN: "expected a name without control characters or any of / \\ ? # % (it is a"
    " URL path segment of the API)",
    LANGUAGE_PATTERN: "expected an ISO 639-1 language code (2 or 3 lower-case letters), e.g. "
    + ", ".join(LANGUAGES),
    PDF_TEMPLATE_PATTERN: "expected the name of a PDF template (lower-case letters, digits"
    " and '-'), e.g. " + ", ".join(PDF_TEMPLATES),
}


@dataclass(slots=True)
class Located:
    path: DocPath
    message: str
    at_key: bool = False  # point at the key (unknown keys) rather than the value


def is_secret_path(path: DocPath) -> bool:
    return any(step in _SECRET_NAMES for step in path)


def describe(error: ErrorDetails, model: type[BaseModel]) -> Located:
    loc: DocPath = tuple(error["loc"])
    kind = error["type"]
    secret = is_secret_path(loc)
    if loc and loc[-1] == "[key]":
        # A dict key that is not allowed, e.g. an unknown program name.
        name = loc[-2]
        expected = error.get("ctx", {}).get("expected", "")
        return Located(loc[:-1], f"unknown key {name!r}; expected one of {expected}", True)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        return Located(loc, _unknown_key(name, valid_keys(model, loc[:-1])), True)
    if kind in (IDENTITY_ERROR, FIELD_RULE_ERROR):
        # Raised by a model as a whole (e.g. the country decides), about one of its fields.
        ctx = error.get("ctx", {})
        return Located((*loc, ctx.get("field", "")), str(ctx.get("message", error["msg"])))
    if kind == UNENCRYPTED_ERROR:
        return Located((*loc, "encryption"), error["msg"])
    if kind == "missing":
        return Located(loc[:-1], f"missing required key {loc[-1]!r}")
    if secret and kind in ("model_type", "dict_type", "string_type", "model_attributes_type"):
        return Located(loc, f"a plain value is not allowed here; {_SECRET_REF_HELP}")
    if secret and kind == "string_pattern_mismatch":
        return Located(loc, f"not a secret reference; {_SECRET_REF_HELP}")
    message = _expected(error)
    if kind == "value_error" and message.startswith("iban ") and "bank_accounts" in loc:
        loc = (*loc, "iban")
    if not secret and kind not in ("value_error",) and _quotable(error.get("input")):
        message += f"; got {error['input']!r}"
    return Located(loc, message)


def _expected(error: ErrorDetails) -> str:
    msg = error["msg"]
    kind = error["type"]
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        if pattern == SLUG_PATTERN:
            return (
                "expected a slug: 2 to 63 lower-case letters, digits and '-', not starting with '-'"
            )
        if pattern in _PATTERN_WORDS:
            return _PATTERN_WORDS[pattern]
        return f"expected text matching the pattern {pattern}"
    if kind == "literal_error":
        return f"expected one of {error.get('ctx', {}).get('expected', '')}"
    if msg.startswith("Input should be "):
        return "expected " + msg.removeprefix("Input should be ")
    return msg[0].lower() + msg[1:] if msg else "invalid value"


def _quotable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _unknown_key(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if close:
        return f"unknown key {name!r}; did you mean {close[0]!r}?"
    if valid:
        return f"unknown key {name!r}; expected one of: {', '.join(valid)}"
    return f"unknown key {name!r}"


def valid_keys(model: type[BaseModel], path: DocPath) -> list[str]:
    """The keys the model allows at ``path`` (list indices are skipped)."""
    current: Any = model
    for step in path:
        if isinstance(step, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(str(step))
        if info is None:
            return []
        current = _inner_model(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    """The model class inside ``X | None``, ``list[X]`` or ``Annotated[X, ...]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _inner_model(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
        return None
    return annotation
