"""What a console's form does once it has run: back to its page, with the outcome or the
refusal in words left on the session for that page (never in the URL), so that bad input reads
as a sentence on the page it came from. A fault of the server's is not a refusal: it
propagates."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import RedirectResponse

from levante.api.state import AppState
from levante.errors import LevanteError
from levante.web.identity import Visitor, tell

# A refusal the operator can act on, though it is the deployment's (no signing key yet).
_SAID_ON_THE_PAGE = {"configuration_error"}


def after_form(
    state: AppState, who: Visitor, url: str, action: Callable[[], str]
) -> RedirectResponse:
    """Run ``action`` (which returns what it did) and go back to ``url``."""
    try:
        message, is_error = action(), False
    except LevanteError as exc:
        if exc.status_code >= 500 and exc.code not in _SAID_ON_THE_PAGE:
            raise
        message, is_error = exc.message, True
    tell(state, who, message, is_error=is_error)
    return RedirectResponse(url, status_code=303)
