"""The reference server of the t4o tenant admin API (docs/api.md) over SQLite.

``create_app(db_path, faults)`` for in-process use (``httpx.ASGITransport``), ``serve``
for ``t4o-reconcile serve``, ``Store`` for tokens and direct seeding.
"""
