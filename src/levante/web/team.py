"""The Team pages: members, invitations and seats for the owner; the invitation link for the
person invited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from levante.api.state import AppState
from levante.chat import team
from levante.errors import InvalidRequestError
from levante.web.depends import Posted, SignedIn, State, Who
from levante.web.forms import Again, Refused, in_place
from levante.web.identity import SignedInVisitor, Visitor, finish
from levante.web.templating import page

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
BACK = "/chat/team"


def _org(state: AppState, user_id: str) -> str:
    return state.assistant.account(user_id).organization_id


def _team_page(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    *,
    link: str | None = None,
    notice: str | None = None,
    refused: Refused | None = None,
) -> Response:
    org = _org(state, who.user_id)
    with state.database.session() as session:
        view = team.team_of(session, who.user_id, org)
        return page(
            request, "chat/team.html", who, team=view, link=link, notice=notice,
            mail_configured=bool(state.settings.mail.smtp_host), refused=refused,
        )  # fmt: skip


def _on_the_team_page(request: Request, state: AppState, who: SignedInVisitor) -> Again:
    return lambda refused: _team_page(request, state, who, refused=refused)


@router.get("/chat/team")
def team_page(request: Request, state: State, who: SignedIn) -> Response:
    account = state.assistant.account(who.user_id)
    with state.database.session() as session:
        manages = team.manages_team(session, who.user_id, account.organization_id)
    if not manages:  # a member: the owner manages the team
        return page(request, "chat/member.html", who, account=account)
    return _team_page(request, state, who)


@router.post("/chat/team/invite")
def invite(request: Request, state: State, who: Posted, email: Field = "") -> Response:
    """Invite someone by email; without a mail server, the page shows the link this once."""
    base = state.settings.billing.public_url.rstrip("/")

    def act() -> Response:
        with state.database.session() as session:
            invited = team.invite(
                session, who.user_id, _org(state, who.user_id), email,
                link=f"{base}/chat/join/{{token}}", attempts=state.attempts, paces=state.paces,
            )  # fmt: skip
            link, address = invited.link, invited.invitation.email
        shown = None if state.settings.mail.smtp_host else link
        return _team_page(request, state, who, link=shown, notice=f"{address} is invited.")

    return in_place(request, who, act, _on_the_team_page(request, state, who))


@router.post("/chat/team/members/{member_id}/remove")
def remove(request: Request, state: State, who: Posted, member_id: str) -> Response:
    def act() -> Response:
        with state.database.session() as session:
            team.remove_member(session, who.user_id, _org(state, who.user_id), member_id)
        return RedirectResponse(BACK, status_code=303)

    return in_place(request, who, act, _on_the_team_page(request, state, who))


@router.post("/chat/team/invitations/{invitation_id}/withdraw")
def withdraw(request: Request, state: State, who: Posted, invitation_id: str) -> Response:
    def act() -> Response:
        with state.database.session() as session:
            team.withdraw(session, who.user_id, _org(state, who.user_id), invitation_id)
        return RedirectResponse(BACK, status_code=303)

    return in_place(request, who, act, _on_the_team_page(request, state, who))


@router.post("/chat/team/seats")
def seats(request: Request, state: State, who: Posted, seats: Field = "") -> Response:
    def act() -> Response:
        if not seats.strip().isdecimal():
            raise InvalidRequestError("seats must be a whole number", param="seats")
        with state.database.session() as session:
            team.set_seats(session, who.user_id, _org(state, who.user_id), int(seats))
        return RedirectResponse(BACK, status_code=303)

    return in_place(request, who, act, _on_the_team_page(request, state, who))


@router.get("/chat/join/{token}")
def join_page(request: Request, state: State, who: Who, token: str) -> Response:
    return _join_page(request, state, who, token)


def _join_page(
    request: Request, state: AppState, who: Visitor, token: str, refused: Refused | None = None
) -> Response:
    user_id = who.user.user_id if who.user is not None else None
    with state.database.session() as session:
        invitation, host = team.invitation_for(session, user_id, token)
        email = invitation.email
    response = page(request, "chat/join.html", who, token=token, host=host, email=email,
                    refused=refused)  # fmt: skip
    return finish(response, request, state, who)


@router.post("/chat/join/{token}")
def join(request: Request, state: State, who: Posted, token: str) -> Response:
    def accept() -> Response:
        with state.database.session() as session:
            team.join(session, who.user_id, token)
        state.assistant.account(who.user_id)  # the chat account, on the Team from now on
        return RedirectResponse("/chat", status_code=303)

    return in_place(request, who, accept, lambda r: _join_page(request, state, who, token, r))
