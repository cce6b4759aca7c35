"""The consoles, beside the chat app on the same sessions and CSRF: the customer's
(``/console``: usage, keys, billing, licences, members; :func:`levante.tenancy.console_seat`)
and the operator's (``/console/operator``: revenue, customers;
:func:`levante.tenancy.operator_console`). Each page parses, calls the owning package's
service and renders, after its one permission check."""

from __future__ import annotations

from levante.web.console.customer import router as customer_router
from levante.web.console.operator import router as operator_router

__all__ = ["customer_router", "operator_router"]
