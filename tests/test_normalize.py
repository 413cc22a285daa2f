"""Canonical forms: the quick paths give exactly what the general rules give."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from stdnum.no import kontonr

from t4o_reconcile import normalize


def _text_by_lines(value: str) -> str:
    lines = [line.rstrip() for line in value.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


@given(st.text(alphabet=st.sampled_from("ab \t\r\n\u00a0\u2003.")))
def test_text_is_the_same_with_or_without_line_breaks(value: str) -> None:
    assert normalize.text(value) == _text_by_lines(value)


def test_text_drops_trailing_space_on_each_line_and_around() -> None:
    assert normalize.text("  Hei  \r\nDere \n\n") == "Hei\nDere"
    assert normalize.text(" Faktura {Number} ") == "Faktura {Number}"


@given(st.text(alphabet=st.sampled_from("0123456789 .-٣"), max_size=16))
def test_account_numbers_compact_as_stdnum_does(value: str) -> None:
    assert normalize.account_number(value) == kontonr.compact(value)


def test_an_account_number_loses_its_separators_and_the_postgiro_prefix() -> None:
    assert normalize.account_number("1503.00.12345") == "15030012345"
    assert normalize.account_number("000015030012345") == "15030012345"
