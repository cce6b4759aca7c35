"""What a console's form does once it has run: back to its page, with the outcome or the
refusal in words (``?done=`` or ``?error=``), so that bad input reads as a sentence on the
page it came from. A fault of the server's is not a refusal: it propagates."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi.responses import RedirectResponse

from levante.errors import LevanteError

# A refusal the operator can act on, though it is the deployment's (no signing key yet).
_SAID_ON_THE_PAGE = {"configuration_error"}


def after_form(url: str, action: Callable[[], str]) -> RedirectResponse:
    """Run ``action`` (which returns what it did) and go back to ``url``."""
    try:
        key, message = "done", action()
    except LevanteError as exc:
        if exc.status_code >= 500 and exc.code not in _SAID_ON_THE_PAGE:
            raise
        key, message = "error", exc.message
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}{key}={quote(message)}", status_code=303)
