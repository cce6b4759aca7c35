"""The Team pages: members, invitations and seats for the owner; the invitation link for the
person invited."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from levante.api.state import AppState, app_state
from levante.chat import team
from levante.chat.subscribing import may_manage
from levante.errors import LevanteError
from levante.web.identity import CSRF_FIELD, Visitor, finish, to_sign_in, visitor
from levante.web.templating import page

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
Who = Annotated[Visitor, Depends(visitor)]
Field = Annotated[str, Form()]
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


def _org(state: AppState, user_id: str) -> str:
    return state.assistant.account(user_id).organization_id


def _render(
    request: Request,
    state: AppState,
    who: Visitor,
    *,
    link: str | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    assert who.user is not None
    org = _org(state, who.user.user_id)
    with state.database.session() as session:
        view = team.team_of(session, who.user.user_id, org)
        return page(
            request, "chat/team.html", who, team=view, link=link, error=error, notice=notice,
            mail_configured=bool(state.settings.mail.smtp_host), status_code=status_code,
        )  # fmt: skip


@router.get("/chat/team")
def team_page(request: Request, state: State, who: Who) -> Response:
    if who.user is None:
        return to_sign_in(request)
    account = state.assistant.account(who.user.user_id)
    with state.database.session() as session:
        manages = may_manage(session, who.user.user_id, account.organization_id)
    if not manages:  # a member: the owner manages the team
        return page(request, "chat/member.html", who, account=account)
    return _render(request, state, who)


@router.post("/chat/team/invite")
def invite(
    request: Request, state: State, who: Who, email: Field = "", csrf_token: Csrf = ""
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    base = state.settings.billing.public_url.rstrip("/")
    org = _org(state, who.user.user_id)
    try:
        with state.database.session() as session:
            invited = team.invite(
                session,
                who.user.user_id,
                org,
                email,
                link=f"{base}/chat/join/{{token}}",
                attempts=state.attempts,
                paces=state.paces,
            )
            link, address = invited.link, invited.invitation.email
    except LevanteError as problem:
        if problem.status_code == 404:
            raise
        return _render(request, state, who, error=problem.message, status_code=problem.status_code)
    shown = None if state.settings.mail.smtp_host else link
    return _render(request, state, who, link=shown, notice=f"{address} is invited.")


@router.post("/chat/team/members/{member_id}/remove")
def remove(
    request: Request, state: State, who: Who, member_id: str, csrf_token: Csrf = ""
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    with state.database.session() as session:
        team.remove_member(session, who.user.user_id, _org(state, who.user.user_id), member_id)
    return RedirectResponse("/chat/team", status_code=303)


@router.post("/chat/team/invitations/{invitation_id}/withdraw")
def withdraw(
    request: Request, state: State, who: Who, invitation_id: str, csrf_token: Csrf = ""
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    with state.database.session() as session:
        team.withdraw(session, who.user.user_id, _org(state, who.user.user_id), invitation_id)
    return RedirectResponse("/chat/team", status_code=303)


@router.post("/chat/team/seats")
def seats(
    request: Request, state: State, who: Who, seats: Field = "", csrf_token: Csrf = ""
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    if not seats.strip().isdecimal():
        return _render(request, state, who, error="seats must be a whole number", status_code=400)
    try:
        with state.database.session() as session:
            team.set_seats(session, who.user.user_id, _org(state, who.user.user_id), int(seats))
    except LevanteError as problem:
        if problem.status_code == 404:
            raise
        return _render(request, state, who, error=problem.message, status_code=problem.status_code)
    return RedirectResponse("/chat/team", status_code=303)


@router.get("/chat/join/{token}")
def join_page(request: Request, state: State, who: Who, token: str) -> Response:
    user_id = who.user.user_id if who.user is not None else None
    with state.database.session() as session:
        invitation, host = team.invitation_for(session, user_id, token)
        email = invitation.email
    response = page(request, "chat/join.html", who, token=token, host=host, email=email)
    return finish(response, request, state, who)


@router.post("/chat/join/{token}")
async def join(request: Request, state: State, who: Who, token: str) -> Response:
    if who.user is None:
        return to_sign_in(request)
    form = await request.form()
    who.check_csrf(str(form.get(CSRF_FIELD) or ""))
    user_id = who.user.user_id

    def accept() -> None:
        with state.database.session() as session:
            team.join(session, user_id, token)
        state.assistant.account(user_id)  # the chat account, on the Team from now on

    await anyio.to_thread.run_sync(accept)
    return RedirectResponse("/chat", status_code=303)
