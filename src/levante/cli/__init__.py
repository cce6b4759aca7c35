"""The ``levante`` command line."""

from levante.cli.main import app, main

__all__ = ["app", "main"]
