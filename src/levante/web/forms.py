"""What a form does once its service has run. Done: back to its page (redirect after post),
with the outcome in words left on the session for that page (never in the URL). Refused:
its page again, in place, with the status of the refusal (4xx), the reason beside the form
and what was typed still in it. A fault of the server's is not a refusal: it propagates.

A handler says how to render its form's page again (``again``); the template shows the
reason and the typed values with ``refusal(action)`` and ``typed(action)``
(:mod:`levante.web.templating`), for the one form on the page that was sent (a password is
never typed back). Anything that is not a form's refusal is :mod:`levante.web.refusals`'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from levante.api.state import AppState
from levante.errors import InvalidRequestError, LevanteError
from levante.web.identity import Visitor, tell

# A refusal the operator can act on, though it is the deployment's (no signing key yet).
_SAID_ON_THE_PAGE = {"configuration_error"}


@dataclass(frozen=True, slots=True)
class Refused:
    """A form the services refused: which one (the path it posts to), why, and what was in it."""

    action: str
    message: str
    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    typed: ImmutableMultiDict[str, str] = field(default_factory=ImmutableMultiDict)


# How a form's page is rendered again, with the refusal beside the form.
Again = Callable[[Refused], Response]


def said_on_the_page(error: LevanteError) -> bool:
    """Whether a refusal is the person's to act on (4xx), rather than the server's fault."""
    return error.status_code < 500 or error.code in _SAID_ON_THE_PAGE


def refused(request: Request, who: Visitor, error: LevanteError) -> Refused:
    """``error``, as the form of this request shows it. A deployment not set up for the form
    yet is a conflict with the state of the server (409), the operator's to resolve."""
    status = error.status_code if error.status_code < 500 else 409
    return Refused(request.url.path, error.message, status, error.headers, who.typed)


def in_place(
    request: Request,
    who: Visitor,
    act: Callable[[], Response],
    again: Again,
) -> Response:
    """Answer ``act()``; refused, the form's page again (``again``) with the refusal."""
    try:
        return act()
    except LevanteError as error:
        if not said_on_the_page(error):
            raise
        return again(refused(request, who, error))


def parse_day(text: str, *, param: str, label: str = "the day") -> date:
    """A date a form's field holds (YYYY-MM-DD), or a 400 naming the field."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequestError(f"{label} is a date, YYYY-MM-DD", param=param) from None


def filtered(
    action: str,
    query: Mapping[str, str],
    show: Callable[[], Response],
    unfiltered: Again,
) -> Response:
    """A page narrowed by its query (a range of months, an organisation): a filter the
    services refuse is said beside the filter form (``action``, its GET target), with what
    was typed kept in it, over the page as it is unfiltered."""
    try:
        return show()
    except LevanteError as error:
        if not said_on_the_page(error):
            raise
        typed = ImmutableMultiDict({k: v for k, v in query.items() if v})
        return unfiltered(Refused(action, error.message, error.status_code, error.headers, typed))


def after_form(
    request: Request,
    state: AppState,
    who: Visitor,
    act: Callable[[], str],
    *,
    back: str,
    again: Again,
) -> Response:
    """Run ``act`` (which returns what it did, in words): done, back to ``back`` with that
    notice; refused, in place."""

    def done() -> Response:
        tell(state, who, act())
        return RedirectResponse(back, status_code=303)

    return in_place(request, who, done, again)
