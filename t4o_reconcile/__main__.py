"""``python -m t4o_reconcile``: the command line."""

from t4o_reconcile.cli import main

main()
