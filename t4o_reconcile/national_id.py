"""Identity numbers by country: which a tenant may give, how each is checked and written.

A tenant is identified by an organisation number or, for an association without one, by
the personal number of the person responsible (Fortnox's client manager: "fyller du
istället i personnumret på den som är ansvarig för föreningen"). Which rules apply depends
on the tenant's country (its address; Norway when it gives none). The YAML models, the
sandbox and the docs all read this module.
"""

from __future__ import annotations

import re

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import fodselsnummer
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr
from stdnum.se import personnummer

DEFAULT_COUNTRY = "NO"

# country -> (what an organisation number is called there, what a personal number is)
NAMES: dict[str, tuple[str, str]] = {
    "NO": (
        "Norwegian organisation number (organisasjonsnummer: 9 digits, MOD11)",
        "Norwegian personal number (fødselsnummer: 11 digits, MOD11)",
    ),
    "SE": (
        "Swedish organisation number (organisationsnummer: 10 digits, Luhn)",
        "Swedish personal number (personnummer or samordningsnummer: YYMMDD-NNNN or"
        " YYYYMMDD-NNNN, Luhn)",
    ),
}
COUNTRIES: tuple[str, ...] = tuple(NAMES)

_SEPARATORS = re.compile(r"[\s.]")


class IdentityError(ValueError):
    """The number does not fit the country's rules; the message says what was expected."""


def organization_number(value: str, country: str) -> str:
    """The canonical organisation number of ``country``, or IdentityError."""
    name = _names(country)[0]
    try:
        if country == "NO":
            return str(no_orgnr.validate(re.sub(r"[\s.-]", "", value)))
        return str(se_orgnr.validate(_SEPARATORS.sub("", value)))
    except StdnumError as exc:
        raise IdentityError(f"not a valid {name}: {exc}") from None


def personal_number(value: str, country: str) -> str:
    """The canonical personal number of ``country``, or IdentityError."""
    name = _names(country)[1]
    try:
        if country == "NO":
            return str(fodselsnummer.validate(_SEPARATORS.sub("", value)))
        return _swedish_personal_number(value)
    except StdnumError as exc:
        raise IdentityError(f"not a valid {name}: {exc}") from None


def _swedish_personal_number(value: str) -> str:
    number = personnummer.compact(value)
    if len(number) not in (11, 13):
        return str(personnummer.validate(number))  # raises the length error
    date_part = number[:-5]
    day = int(date_part[-2:]) if date_part[-2:].isdigit() else 0
    if day <= 60:
        return str(personnummer.validate(number))
    # A samordningsnummer: the day of birth plus 60, otherwise a personnummer.
    as_birth = f"{date_part[:-2]}{day - 60:02d}{number[-5:]}"
    personnummer.get_birth_date(as_birth)
    luhn.validate((date_part + number[-4:])[-10:])
    return number


def _names(country: str) -> tuple[str, str]:
    names = NAMES.get(country)
    if names is None:
        raise IdentityError(
            f"identity numbers of country {country} are not known to this tool;"
            f" expected a tenant in {' or '.join(COUNTRIES)}"
        )
    return names


def country_of(address: object | None) -> str:
    """The country whose identity rules apply: the address's, else Norway."""
    country = getattr(address, "country", None)
    return str(country) if country else DEFAULT_COUNTRY


def last_digits(value: str, count: int = 2) -> str:
    """Enough of a personal number to recognise it, never enough to use it: ``…34``."""
    digits = re.sub(r"\D", "", value)
    return "…" + digits[-count:] if len(digits) > count else "…"
