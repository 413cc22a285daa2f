"""The forge stand-in, served for each test that asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ci.forge_standin import Forge, serve


@pytest.fixture
def forge() -> Iterator[Forge]:
    with serve(Forge()) as running:
        yield running
