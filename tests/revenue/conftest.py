"""Revenue fixtures: the billing catalogue, shared with the billing tests."""

from __future__ import annotations

from tests.billing.conftest import catalog

__all__ = ["catalog"]
