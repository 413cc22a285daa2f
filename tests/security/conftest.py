"""Fixtures of the security tests: the end-to-end sandbox process and examples copy, and
canary values planted for the API token and every secret."""

from __future__ import annotations

from tests.e2e.conftest import examples_copy, server

__all__ = ["examples_copy", "server"]
