"""The key that seals a saved plan (``engine.planfile``), from the trusted job's
environment: ``T4O_PLAN_KEY``, which the pull-request job does not hold. When it is set,
``plan --out`` seals the plan and ``apply --plan`` refuses a plan without a matching
seal."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

PLAN_KEY_ENV = "T4O_PLAN_KEY"


def plan_key_from_env(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The seal's key, or None when ``T4O_PLAN_KEY`` is not set. Derived under its own
    label: the same variable also keys the config digest, and the two must differ."""
    secret = (os.environ if environ is None else environ).get(PLAN_KEY_ENV)
    if not secret:
        return None
    return hmac.new(secret.encode(), b"t4o-reconcile/plan-seal/v1", hashlib.sha256).digest()
