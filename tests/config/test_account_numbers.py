"""The account number's fast path (issue 24.4) answers exactly as python-stdnum does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import kontonr

from t4o_reconcile import normalize
from t4o_reconcile.config.tenant_models import BankAccount, _account_number


def _stdnum(value: str) -> str | None:
    try:
        return str(kontonr.validate(normalize.account_number(value)))
    except StdnumError:
        return None


def _ours(value: str) -> str | None:
    try:
        return _account_number(value)
    except ValueError:
        return None


@given(st.integers(min_value=0, max_value=10**15 - 1), st.sampled_from(["{}", "0000{}", " {} "]))
def test_every_number_is_checked_as_stdnum_checks_it(number: int, shape: str) -> None:
    for digits in (f"{number:011d}", f"{number:07d}", str(number)):
        value = shape.format(digits)
        assert _ours(value) == _stdnum(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("15030000061", "15030000061"),  # valid, 11 digits: the fast path
        ("1503.00.00061", "15030000061"),  # separators: stdnum's clean-up
        ("000015030000061", "15030000061"),  # the postgiro bank code stripped
        ("15030000062", None),  # a wrong check digit
        ("12345678901", None),  # another wrong check digit
        ("1503000006", None),  # 10 digits
    ],
)
def test_known_numbers(value: str, expected: str | None) -> None:
    assert _ours(value) == expected == _stdnum(value)


def test_a_wrong_check_digit_is_stdnums_error_at_the_field() -> None:
    with pytest.raises(ValueError, match=r"not a valid Norwegian account number.*checksum"):
        BankAccount.model_validate({"account_number": "15030000062"})
