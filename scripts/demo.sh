#!/usr/bin/env bash
# The main job: the whole loop on the examples against the embedded sandbox.
set -euo pipefail
BIN=${1:-.venv/bin}
T4O="$BIN/t4o-reconcile"
"$T4O" validate examples/tenants
