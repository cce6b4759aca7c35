"""The pages' dependencies, as the API has its own (``api.state``: ``Caller``, ``Admin``,
``Operator``): who is on the page, that they are signed in, that a state-changing request
carries their CSRF token, and where they sit (a console's seat, the operator's console, the
desk's place for a ticket). They run before the handler, so that a handler only parses,
calls one service and renders.

No permission is decided here: each place is the service's answer (``tenancy.console_seat``,
``tenancy.operator_console``, ``support.ticket_place``), and a refusal is an exception that
the one refusal policy (:mod:`levante.web.refusals`) turns into a page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Form, Request
from starlette.datastructures import FormData, ImmutableMultiDict

from levante import support, tenancy
from levante.api.state import AppState, app_state
from levante.audit import Actor
from levante.errors import AuthenticationError
from levante.support import Place
from levante.web.identity import CSRF_FIELD, CSRF_HEADER, SignedInVisitor, Visitor, visitor

__all__ = [
    "Operating",
    "Posted",
    "PostedByAnyone",
    "PostedOperating",
    "PostedSeat",
    "PostedTicketPlace",
    "Seat",
    "SignInRequired",
    "SignedIn",
    "State",
    "TicketPlace",
    "Who",
]

State = Annotated[AppState, Depends(app_state)]
Who = Annotated[Visitor, Depends(visitor)]


class SignInRequired(AuthenticationError):
    """Nobody is signed in: a browser is sent to sign in and back, a script gets a 401."""

    default_code = "signed_out"

    def __init__(self) -> None:
        super().__init__("sign in first")


def signed_in(who: Who) -> SignedInVisitor:
    """The visitor, who must be signed in."""
    if who.user is None:
        raise SignInRequired()
    return SignedInVisitor(who.user, who.csrf_token, who.set_csrf_cookie, who.typed)


SignedIn = Annotated[SignedInVisitor, Depends(signed_in)]


async def checked(request: Request, who: Who) -> Visitor:
    """The visitor, once the request shows their CSRF token: the ``X-CSRF-Token`` header of a
    ``fetch``, or the form's ``csrf_token`` field. It is checked before anything else, signed
    in or not, so that a forged request learns nothing (not even that it should sign in).
    Starlette keeps the parsed form on the request: FastAPI's ``Form()`` parameters read the
    same one."""
    form = await request.form()
    submitted = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    who.check_csrf(submitted if isinstance(submitted, str) else None)
    return replace(who, typed=_typed(form))


def _typed(form: FormData) -> ImmutableMultiDict[str, str]:
    """What a person typed into the form (its text fields, never the token)."""
    return ImmutableMultiDict(
        [(name, value) for name, value in form.multi_items()
         if isinstance(value, str) and name != CSRF_FIELD]
    )  # fmt: skip


PostedByAnyone = Annotated[Visitor, Depends(checked)]


def posted(who: PostedByAnyone) -> SignedInVisitor:
    """The signed-in visitor behind a state-changing request that carries their token."""
    return signed_in(who)


Posted = Annotated[SignedInVisitor, Depends(posted)]


# -- where the person sits ------------------------------------------------------------------------


def _seat(state: AppState, who: SignedInVisitor, org: str) -> tenancy.ConsoleSeat:
    with state.database.session() as session:
        return tenancy.console_seat(session, who.user_id, org or None)


def seat(state: State, who: SignedIn, org: str = "") -> tenancy.ConsoleSeat:
    """The console of the organisation in ``?org=`` (an id or a slug; by default the
    person's first), as the service places the person there."""
    return _seat(state, who, org)


def posted_seat(state: State, who: Posted, org: Annotated[str, Form()] = "") -> tenancy.ConsoleSeat:
    """The console behind a form: its ``org`` field, once the token is checked."""
    return _seat(state, who, org)


Seat = Annotated[tenancy.ConsoleSeat, Depends(seat)]
PostedSeat = Annotated[tenancy.ConsoleSeat, Depends(posted_seat)]


def _operator(state: AppState, who: SignedInVisitor) -> Actor:
    with state.database.session() as session:
        return tenancy.operator_console(session, who.user_id)


def operating(state: State, who: SignedIn) -> Actor:
    """The actor a person is on the operator's console (the service refuses anyone else)."""
    return _operator(state, who)


def posted_operating(state: State, who: Posted) -> Actor:
    """The operator behind a form of the operator's console, once the token is checked."""
    return _operator(state, who)


Operating = Annotated[Actor, Depends(operating)]
PostedOperating = Annotated[Actor, Depends(posted_operating)]


def _ticket_place(state: AppState, who: SignedInVisitor, number: str) -> Place:
    with state.database.session() as session:
        return support.ticket_place(session, who.user_id, number)


def ticket_place(state: State, who: SignedIn, number: str) -> Place:
    """Where the person sits for ticket ``number``: as an agent, or as a member of its
    organisation; anyone else finds no such ticket."""
    return _ticket_place(state, who, number)


def posted_ticket_place(state: State, who: Posted, number: str) -> Place:
    """The place behind a form on ticket ``number``, once the token is checked."""
    return _ticket_place(state, who, number)


TicketPlace = Annotated[Place, Depends(ticket_place)]
PostedTicketPlace = Annotated[Place, Depends(posted_ticket_place)]
