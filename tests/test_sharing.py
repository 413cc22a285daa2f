"""Repeated values in snapshots are one object each; anything else is left as it is."""

from __future__ import annotations

import pytest

from t4o_reconcile import sharing


def fresh(text: str) -> str:
    """An equal string that is not the same object (as a parser gives each occurrence)."""
    return "".join(list(text))


def test_equal_short_strings_become_one_object() -> None:
    first, second = fresh("member"), fresh("member")
    assert first is not second
    assert sharing.shared(first) is sharing.shared(second)


def test_long_strings_are_left_alone() -> None:
    text = fresh("x" * (sharing.SHORT + 1))
    assert sharing.shared(text) is text


def test_equal_program_rights_are_one_mapping() -> None:
    rights = {"invoicing": fresh("user"), "events": fresh("admin")}
    again = {"invoicing": fresh("user"), "events": fresh("admin")}
    assert sharing.shared(rights) is sharing.shared(again)
    assert sharing.shared(rights) == rights


def test_a_mapping_with_other_values_is_copied_with_its_short_strings_shared() -> None:
    contact = {"email": fresh("someone@a-long-domain.example"), "phone": 12345678}
    got = sharing.shared(contact)
    assert got == contact
    assert sharing.shared(contact) is not got  # never kept: each is its own
    assert sharing.shared({"kind": fresh("order"), "n": 1})["kind"] is sharing.one("order")


def test_other_values_pass_through() -> None:
    value = [fresh("member")]
    assert sharing.shared(value) is value
    assert sharing.shared(7) == 7


def test_the_kept_values_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sharing, "_STRINGS", {})
    monkeypatch.setattr(sharing, "_MAX", 2)
    for word in ("a1", "a2", "a3", "a4"):
        sharing.one(fresh(word))
    assert len(sharing._STRINGS) == 2
    late = fresh("a4")
    assert sharing.one(late) is late  # not kept: the cache is full
