"""Who is on a page: the session cookie, the CSRF token every state-changing request carries,
and the redirects to sign in.

Signed in, the CSRF token is the session's own (kept in its row); before signing in, it is
a random value in a cookie of its own that the form must repeat (double submit). Either way
a form or a ``fetch`` from another site cannot carry it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from levante import identity
from levante.api.state import AppState, app_state
from levante.errors import PermissionDeniedError
from levante.identity import SESSION_DAYS, OpenedSession, find_session, leave_notice

SESSION_COOKIE = "lv_session"
CSRF_COOKIE = "lv_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfError(PermissionDeniedError):
    default_code = "csrf_failed"


@dataclass(frozen=True, slots=True)
class Visitor:
    """The person on the page (``user`` None: not signed in), their CSRF token, and what the
    request's form carried, once checked (a refused form's page shows it again)."""

    user: identity.SignedIn | None
    csrf_token: str
    set_csrf_cookie: bool = False
    typed: ImmutableMultiDict[str, str] = field(default_factory=ImmutableMultiDict)

    def check_csrf(self, submitted: str | None) -> None:
        """Refuse a state-changing request without this visitor's token."""
        if not submitted or not hmac.compare_digest(submitted.encode(), self.csrf_token.encode()):
            raise CsrfError(
                "this form has expired or did not come from this site; reload the page and "
                "try again"
            )


@dataclass(frozen=True, slots=True)
class SignedInVisitor(Visitor):
    """A visitor who is signed in (what :data:`levante.web.depends.SignedIn` gives a page)."""

    user: identity.SignedIn

    @property
    def user_id(self) -> str:
        return self.user.user_id


def visitor(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Visitor:
    """The visitor behind the request's cookies (a plain def: FastAPI runs it in the thread
    pool, where the session lookup may wait on the database). A page view takes the notice
    left for it; the visitor is kept on the request, so that an error page that follows shows
    the same navigation (and that notice) without a second lookup."""
    page_view = request.method == "GET" and "text/html" in request.headers.get("accept", "")
    who = visitor_of(request, state, take_notice=page_view)
    request.state.visitor = who
    return who


def visitor_of(request: Request, state: AppState, *, take_notice: bool) -> Visitor:
    """The visitor behind the request's cookies; with ``take_notice``, the notice the server
    left for their next page comes along (and is cleared)."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        with state.database.session() as session:
            user = find_session(session, secret, take_notice=take_notice)
        if user is not None:
            return Visitor(user, user.csrf_token)
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) < 20 or len(token) > 100:
        return Visitor(None, secrets.token_urlsafe(32), set_csrf_cookie=True)
    return Visitor(None, token)


def tell(state: AppState, who: Visitor, text: str) -> None:
    """Leave what a form did for the visitor's next page: notices come from the server, never
    from the URL, so that nobody can make the site say something in its own voice by a link.
    A refusal is never a notice: it is shown in place (:mod:`levante.web.forms`)."""
    if who.user is not None:
        with state.database.session() as session:
            leave_notice(session, who.user.session_id, text)


def secure(request: Request, state: AppState) -> bool:
    """Whether cookies are marked ``Secure``: behind https (as the proxy tells uvicorn, or as
    the public address says)."""
    return request.url.scheme == "https" or state.settings.billing.public_url.startswith("https:")


def finish(response: Response, request: Request, state: AppState, who: Visitor) -> Response:
    """Set the anonymous CSRF cookie on a response, if this visitor needs one."""
    if who.set_csrf_cookie:
        response.set_cookie(
            CSRF_COOKIE, who.csrf_token, httponly=True, samesite="lax",
            secure=secure(request, state), path="/",
        )  # fmt: skip
    return response


def start_session(
    response: Response, request: Request, state: AppState, opened: OpenedSession
) -> Response:
    response.set_cookie(
        SESSION_COOKIE, opened.secret, httponly=True, samesite="lax",
        secure=secure(request, state), path="/",
        max_age=SESSION_DAYS * 86400,
    )  # fmt: skip
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def end_session_cookie(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def to_sign_in(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """A place to go after signing in: a path on this site only."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"
