"""The machine-readable plan (``--format json``): the engine's plan document, secrets
masked, one line."""

from __future__ import annotations

import json

from t4o_reconcile.engine.document import plan_to_dict
from t4o_reconcile.engine.plan import Plan


def render_json(plan: Plan) -> str:
    # Compact: the C encoder keeps a 30,000-action plan fast; pipe through jq to read it.
    return json.dumps(plan_to_dict(plan), sort_keys=True, ensure_ascii=False) + "\n"
