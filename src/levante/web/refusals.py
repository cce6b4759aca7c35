"""The one refusal policy of the pages, for what is not a form's refusal (those come back in
place: :mod:`levante.web.forms`). Nobody signed in: a browser is sent to sign in and back
here, a script gets a 401. Any other refusal is the error page, in the refusal's status and
headers, with the visitor's own navigation and a way back to where they were.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from levante.api.errors import error_response, wants_page
from levante.api.state import AppState
from levante.errors import LevanteError
from levante.web.depends import SignInRequired
from levante.web.identity import Visitor, safe_next, to_sign_in, visitor_of
from levante.web.templating import page

_TITLES = {400: "Not quite", 403: "Not allowed", 404: "Not found", 409: "Not now",
           429: "Slow down"}  # fmt: skip
# The home of each part of the site, the longest prefix first: where the error page leads
# back to when the page the visitor came from is unknown.
_HOMES = (
    ("/console/operator", "the operator's console"),
    ("/console", "the console"),
    ("/support", "support"),
    ("/account", "your account"),
    ("/chat", "the chat"),
)


async def sign_in_first(request: Request, error: Exception) -> Response:
    """Nobody signed in: a browser goes to sign in, and comes back here after; a script (the
    chat's ``fetch``) gets the 401 and its error body."""
    assert isinstance(error, SignInRequired)
    return to_sign_in(request) if wants_page(request) else error_response(error)


def render_error_page(request: Request, error: LevanteError) -> Response:
    """A refusal as a page a person can read (the API's paths keep their JSON body): with the
    navigation of whoever is signed in, and a way back."""
    who = _visitor(request)
    back, where = way_back(request, who)
    response = page(
        request, "error.html", who, title=_TITLES.get(error.status_code, "Something went wrong"),
        message=error.message, back=back, back_to=where, status_code=error.status_code,
    )  # fmt: skip
    response.headers.update(error.headers)
    return response


def _visitor(request: Request) -> Visitor:
    """The visitor the page's dependency found, or (the refusal came before it ran: no such
    page, bad input) the one behind the cookies, leaving their notice for a real page."""
    found = getattr(request.state, "visitor", None)
    if isinstance(found, Visitor):
        return found
    state: AppState = request.app.state.levante
    return visitor_of(request, state, take_notice=False)


def way_back(request: Request, who: Visitor) -> tuple[str, str]:
    """Where the error page leads, and its name: the page the visitor came from, when it is
    one of this site's and not this one; else the home of the part of the site they are in."""
    came_from = _same_site(request.headers.get("referer", ""), request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if came_from is not None and came_from != here:
        return came_from, "the page you were on"
    for prefix, name in _HOMES:
        if request.url.path == prefix or request.url.path.startswith(prefix + "/"):
            return prefix, name
    return ("/chat", "the chat") if who.user is not None else ("/login", "sign in")


def _same_site(referer: str, request: Request) -> str | None:
    """The path (and query) of ``referer`` when it is an address on this site."""
    parts = urlsplit(referer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.url.netloc:
        return None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return target if safe_next(target, default="") else None
