#!/usr/bin/env bash
# The main job: the whole loop on the examples against the embedded sandbox —
# validate, plan, apply, plan again (no changes), export, and plan the export (no changes).
set -euo pipefail
BIN=${1:-.venv/bin}
T4O="$BIN/t4o-reconcile"
EXAMPLES=examples/tenants
EXPORT=.t4o/demo-export

# A sandbox of its own, started empty, so the demo shows the same thing every time.
export T4O_SANDBOX_DB=.t4o/demo.db
rm -rf .t4o/demo.db .t4o/demo.db-wal .t4o/demo.db-shm "$EXPORT"
unset T4O_API_TOKEN T4O_SECRET_ENV_PREFIX T4O_SECRETS_DIR T4O_SECRETS_FILE
export T4O_API_URL=embedded   # the embedded sandbox by name: the demo runs where CI is set too

# Every secret the examples reference gets a demo value (one home: example-secrets.sh).
. scripts/example-secrets.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
expect() { # expect CODE command...: run, and fail the demo unless it exits with CODE
  local want=$1; shift
  set +e; "$@"; local got=$?; set -e
  if [ "$got" -ne "$want" ]; then echo "demo: '$*' exited $got, expected $want" >&2; exit 1; fi
}

step "t4o-reconcile validate $EXAMPLES"
"$T4O" validate "$EXAMPLES"

step "t4o-reconcile plan $EXAMPLES   (a new sandbox: everything is a create)"
expect 2 "$T4O" plan "$EXAMPLES" --detailed-exitcode

step "t4o-reconcile apply $EXAMPLES --auto-approve"
"$T4O" apply "$EXAMPLES" --auto-approve

step "t4o-reconcile plan $EXAMPLES   (converged: no changes)"
expect 0 "$T4O" plan "$EXAMPLES" --detailed-exitcode

step "t4o-reconcile export --all --out $EXPORT"
"$T4O" export --all --out "$EXPORT"

step "t4o-reconcile plan $EXPORT   (the export describes the live state: no changes)"
expect 0 "$T4O" plan "$EXPORT" --detailed-exitcode

printf '\nDemo complete: validate, plan, apply, plan (no changes), export, plan (no changes).\n'
