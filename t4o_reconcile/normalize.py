"""Canonical forms of field values, shared by the YAML side, the sandbox and the engine.

Both sides of a diff pass through these, so a value the API writes in its own form
(an IBAN in groups of four, a phone with spaces) never shows as a perpetual change.
"""

from __future__ import annotations

import re

from stdnum import bic as std_bic
from stdnum import iban as std_iban
from stdnum.no import kontonr

_SPACE_RUN = re.compile(r"[ \t]+")


def text(value: str) -> str:
    """Trailing whitespace on each line and at both ends is never significant."""
    if "\n" not in value:  # one line, as nearly every value is: the same result, cheaper
        return value.strip()
    lines = [line.rstrip() for line in value.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


def email(value: str) -> str:
    return value.strip().lower()


def iban(value: str) -> str:
    return std_iban.compact(value)


def bic(value: str) -> str:
    return std_bic.compact(value)


def account_number(value: str) -> str:
    """Norwegian account numbers are often written 1503.00.12345 or 1503 00 12345."""
    if value.isascii() and value.isdigit():
        # What kontonr.compact leaves of plain digits, without its per-character clean:
        # this runs for every account of every tenant on both sides of each plan.
        return value[4:] if value.startswith("0000") else value
    return kontonr.compact(value)


def organization_number(value: str) -> str:
    return re.sub(r"[\s.-]", "", value)


def phone(value: str) -> str:
    """E.164-like: digits with a leading +; a bare 8-digit number is Norwegian."""
    raw = value.strip()
    digits = re.sub(r"[^\d]", "", raw)
    if raw.startswith("+"):
        return "+" + digits
    if raw.startswith("00"):
        return "+" + digits[2:]
    if len(digits) == 8:
        return "+47" + digits
    return digits


def country(value: str) -> str:
    return value.strip().upper()


def postal_code(value: str) -> str:
    return _SPACE_RUN.sub("", value.strip())
