"""t4o-reconcile: tenant administration as code."""

__version__ = "0.1.0"
