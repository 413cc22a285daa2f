"""The operator's list of tenants kept outside Git: read, or refused in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from t4o_reconcile.config.kept_outside import LIMIT, load_kept_outside
from t4o_reconcile.errors import ConfigError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    return tenants


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_one_slug_a_line_with_comments_and_blank_lines(tree: Path) -> None:
    listed = write(
        tree.parent / "kept.txt",
        "# run by the federation's office\nklubb-250   # its own admin\n\n  ok-gammel\n",
    )
    assert load_kept_outside(listed, tree) == {"klubb-250", "ok-gammel"}


def test_an_empty_list_keeps_nothing_outside(tree: Path) -> None:
    assert load_kept_outside(write(tree.parent / "kept.txt", ""), tree) == frozenset()


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("ok-a\nOK B\n", ":2:1:", "'OK B' is not a tenant slug"),
        ("ok-a\n   ../ok\n", ":2:4:", "'../ok' is not a tenant slug"),
        ("ok-a\nok-b\nok-a # again\n", ":3:1:", "'ok-a' is listed twice (first on line 1)"),
        ("ok-a\n\x1b[31mred\n", ":2:1:", "'\\x1b[31mred' is not a tenant slug"),
        ("- ok-a\n", ":1:1:", "'- ok-a' is not a tenant slug"),
    ],
)
def test_a_bad_line_is_one_error_naming_file_line_and_column(
    tree: Path, text: str, where: str, what: str
) -> None:
    listed = write(tree.parent / "kept.txt", text)
    with pytest.raises(ConfigError) as caught:
        load_kept_outside(listed, tree)
    message = str(caught.value)
    assert message.startswith(f"{listed}{where}")
    assert what in message
    assert "expected one tenant slug a line" in message or "list each tenant once" in message
    assert "\n" not in message and "\x1b" not in message


def test_a_list_inside_the_tenant_tree_is_refused(tree: Path) -> None:
    """A pull request writes the tenant tree: a list there could widen what drift ignores."""
    listed = write(tree / "kept.txt", "ok-a\n")
    with pytest.raises(ConfigError, match=r"kept\.txt:1:1: .*inside the tenant directory"):
        load_kept_outside(listed, tree)


def test_a_link_into_the_tenant_tree_is_refused_too(tree: Path) -> None:
    target = write(tree / "kept.txt", "ok-a\n")
    link = tree.parent / "kept-link.txt"
    link.symlink_to(target)
    with pytest.raises(ConfigError, match="inside the tenant directory"):
        load_kept_outside(link, tree)


def test_a_link_elsewhere_is_not_followed(tree: Path, tmp_path: Path) -> None:
    target = write(tmp_path / "elsewhere.txt", "ok-a\n")
    (tmp_path / "ops").mkdir()
    link = tmp_path / "ops" / "kept.txt"
    link.symlink_to(target)
    with pytest.raises(ConfigError, match=r"kept\.txt:1:1: is a symbolic link; expected"):
        load_kept_outside(link, tree)


def test_a_missing_directory_or_fifo_list_is_one_error(tree: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.txt:1:1: cannot read the list"):
        load_kept_outside(tree.parent / "missing.txt", tree)
    fifo = tree.parent / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="named pipe"):
        load_kept_outside(fifo, tree)


def test_binary_and_oversized_lists_are_refused_where_they_go_wrong(tree: Path) -> None:
    binary = write(tree.parent / "bin.txt", b"ok-a\nok-\xff\n")
    with pytest.raises(ConfigError, match=r"bin\.txt:2:4: not UTF-8 text"):
        load_kept_outside(binary, tree)
    big = write(tree.parent / "big.txt", b"ok-a\n" * (LIMIT // 5 + 1))
    with pytest.raises(ConfigError, match=r"big\.txt:\d+:1: the list is over"):
        load_kept_outside(big, tree)
