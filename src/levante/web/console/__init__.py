"""The consoles: the operator's (``/console/operator``: revenue, customers) beside the chat
app, on the same sessions and CSRF. Each page parses, calls the owning package's service and
renders; one permission check per page, :func:`levante.tenancy.operator_console`."""

from __future__ import annotations

from levante.web.console.operator import router as operator_router

__all__ = ["operator_router"]
