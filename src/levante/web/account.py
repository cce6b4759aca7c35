"""Identity pages: sign up, sign in and out, forgotten passwords, and the account page (plan,
limits, invoices, password, custom instructions, deletion)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from levante import billing, identity
from levante.api.headers import standalone_document
from levante.api.state import AppState, app_state
from levante.chat import ChatAccount
from levante.chat.subscribing import (
    CHECKOUT_RETURN_PATH,
    choose_plan,
    invoice_for,
    invoices_for,
    may_manage,
    offers,
)
from levante.errors import LevanteError, NotFoundError
from levante.identity import SignupPolicy
from levante.pricing import format_cents
from levante.web.identity import (
    CSRF_FIELD,
    Visitor,
    client_address,
    end_session_cookie,
    finish,
    safe_next,
    start_session,
    tell,
    to_sign_in,
    visitor,
)
from levante.web.limits import allowance_lines
from levante.web.templating import page

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
Who = Annotated[Visitor, Depends(visitor)]
Field = Annotated[str, Form()]

# What the pages say after a form: the signed-in ones through the session, the signed-out
# ones by a key in the URL that picks one of these texts (never text from the URL).
NOTICES = {
    "password": "Your password is changed; your other sessions are signed out.",
    "instructions": "Your custom instructions are saved.",
    "reset": "Your password is set. Sign in with it.",
    "reset-sent": "If an account has this address, a link to reset its password is on its way.",
    "signed-out": "You are signed out.",
    "deleted": "Your account and its conversations are deleted.",
}


def _policy(state: AppState) -> SignupPolicy:
    chat = state.settings.chat
    return SignupPolicy(chat.signup, tuple(chat.signup_domains))


def _seat_check(state: AppState) -> Callable[[int], None] | None:
    return state.license.check_seats if state.license is not None else None


# -- sign up, sign in, sign out -------------------------------------------------------------------


@router.get("/signup")
def signup_page(
    request: Request, state: State, who: Who, invitation: str = "", email: str = ""
) -> Response:
    if who.user is not None:
        return RedirectResponse("/chat", status_code=303)
    policy = _policy(state)
    response = page(
        request, "account/signup.html", who, policy=policy, invitation=invitation,
        email=email, error=None,
    )  # fmt: skip
    return finish(response, request, state, who)


@router.post("/signup")
def signup(
    request: Request,
    state: State,
    who: Who,
    email: Field = "",
    password: Field = "",
    name: Field = "",
    invitation: Field = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Ask for an account: "check your mail" whatever the address, unless an invitation mailed
    to it proves it (then signed in at once)."""
    policy = _policy(state)
    opened = None
    try:
        who.check_csrf(csrf_token)
        with state.database.session() as session:
            asked = identity.sign_up(
                session, email, password, name=name, policy=policy,
                public_url=state.settings.billing.public_url, attempts=state.attempts,
                address=client_address(request), paces=state.paces,
                invitation_token=invitation or None,
                currency=state.settings.currency, seat_check=_seat_check(state),
            )  # fmt: skip
            if asked.user is not None:
                opened = identity.open_session(
                    session, asked.user, address=client_address(request),
                    user_agent=request.headers.get("user-agent", ""),
                )  # fmt: skip
    except LevanteError as problem:
        response = page(
            request, "account/signup.html", who, policy=policy, invitation=invitation,
            email=email, name=name, error=problem.message, status_code=problem.status_code,
        )  # fmt: skip
        return finish(response, request, state, who)
    if opened is None:
        response = page(request, "account/check_mail.html", who, email=asked.email)
        return finish(response, request, state, who)
    target = f"/chat/join/{invitation}" if invitation else "/chat"
    return start_session(RedirectResponse(target, status_code=303), request, state, opened)


@router.get(f"{identity.CONFIRM_PATH}{{token}}")
def confirm_page(request: Request, state: State, who: Who, token: str) -> Response:
    """The link a sign-up mailed: a button to confirm (a mail scanner following the link
    makes nothing)."""
    with state.database.session() as session:
        email = identity.check_sign_up_token(session, token)
    response = page(request, "account/confirm.html", who, token=token, email=email)
    return finish(response, request, state, who)


@router.post(f"{identity.CONFIRM_PATH}{{token}}")
def confirm(
    request: Request,
    state: State,
    who: Who,
    token: str,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Make the account the link proves, and sign in to it."""
    who.check_csrf(csrf_token)
    with state.database.session() as session:
        user = identity.confirm_sign_up(
            session, token, currency=state.settings.currency, seat_check=_seat_check(state)
        )
        opened = identity.open_session(
            session, user, address=client_address(request),
            user_agent=request.headers.get("user-agent", ""),
        )  # fmt: skip
    return start_session(RedirectResponse("/chat", status_code=303), request, state, opened)


@router.get("/login")
def login_page(
    request: Request, state: State, who: Who, next: str = "", notice: str = ""
) -> Response:
    if who.user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    response = page(
        request, "account/login.html", who, next=safe_next(next), error=None,
        notice=NOTICES.get(notice), policy=_policy(state),
    )  # fmt: skip
    return finish(response, request, state, who)


@router.post("/login")
def login(
    request: Request,
    state: State,
    who: Who,
    email: Field = "",
    password: Field = "",
    next: Field = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    error = None
    status = 400
    headers: dict[str, str] = {}
    try:
        who.check_csrf(csrf_token)
        with state.database.session() as session:
            user = identity.sign_in(
                session, email, password, address=client_address(request),
                attempts=state.attempts, paces=state.paces,
            )  # fmt: skip
            if user is not None:
                opened = identity.open_session(
                    session, user, address=client_address(request),
                    user_agent=request.headers.get("user-agent", ""),
                )  # fmt: skip
            else:
                error = identity.WRONG_SIGN_IN
    except LevanteError as problem:
        error, status, headers = problem.message, problem.status_code, problem.headers
    if error is not None:
        response = page(
            request, "account/login.html", who, next=safe_next(next), error=error,
            email=email, notice=None, policy=_policy(state), status_code=status,
        )  # fmt: skip
        response.headers.update(headers)
        return finish(response, request, state, who)
    return start_session(RedirectResponse(safe_next(next), status_code=303), request, state, opened)


@router.post("/logout")
def logout(
    state: State, who: Who, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = ""
) -> Response:
    if who.user is not None:
        who.check_csrf(csrf_token)
        with state.database.session() as session:
            identity.end_session(session, who.user.session_id)
    return end_session_cookie(RedirectResponse("/login?notice=signed-out", status_code=303))


# -- forgotten passwords --------------------------------------------------------------------------


@router.get("/password/forgot")
def forgot_page(request: Request, state: State, who: Who) -> Response:
    return finish(page(request, "account/forgot.html", who), request, state, who)


@router.post("/password/forgot")
def forgot(
    request: Request,
    state: State,
    who: Who,
    email: Field = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    try:
        who.check_csrf(csrf_token)
        with state.database.session() as session:
            identity.request_password_reset(
                session, email, public_url=state.settings.billing.public_url,
                attempts=state.attempts, address=client_address(request), paces=state.paces,
            )  # fmt: skip
    except LevanteError as problem:
        response = page(
            request, "account/forgot.html", who, email=email, error=problem.message,
            status_code=problem.status_code,
        )  # fmt: skip
        return finish(response, request, state, who)
    return RedirectResponse("/login?notice=reset-sent", status_code=303)


@router.get("/password/reset/{token}")
def reset_page(request: Request, state: State, who: Who, token: str) -> Response:
    with state.database.session() as session:
        purpose = identity.check_reset_token(session, token)
    response = page(request, "account/reset.html", who, token=token, purpose=purpose, error=None)
    return finish(response, request, state, who)


@router.post("/password/reset/{token}")
def reset(
    request: Request,
    state: State,
    who: Who,
    token: str,
    password: Field = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    who.check_csrf(csrf_token)
    try:
        with state.database.session() as session:
            identity.reset_password(session, token, password)
    except NotFoundError:
        raise
    except LevanteError as problem:
        response = page(
            request, "account/reset.html", who, token=token, error=problem.message,
            status_code=problem.status_code,
        )  # fmt: skip
        return finish(response, request, state, who)
    return end_session_cookie(RedirectResponse("/login?notice=reset", status_code=303))


# -- the account page -----------------------------------------------------------------------------


@router.get("/account")
async def account_page(request: Request, state: State, who: Who) -> Response:
    if who.user is None:
        return to_sign_in(request)
    user = who.user
    account: ChatAccount = await anyio.to_thread.run_sync(state.assistant.account, user.user_id)
    allowance = await state.assistant.allowance(account)

    def read() -> dict[str, Any]:
        with state.database.session() as session:
            org = account.organization_id
            standing = account.standing
            manages = may_manage(session, user.user_id, org)
            invoices = invoices_for(session, user.user_id, org)
            sessions = identity.list_sessions(session, user.user_id, current=user.session_id)
            return {
                "sessions": sessions,
                "standing": standing,
                "manages": manages,
                "offers": offers(session, org, currency=state.settings.currency) if manages else [],
                "invoices": [(i, f"{format_cents(i.total_cents)} {i.currency}") for i in invoices],
            }

    context = await anyio.to_thread.run_sync(read)
    return page(
        request, "account/account.html", who, account=account,
        allowance=allowance_lines(allowance), error=None, **context,
    )  # fmt: skip


@router.post("/account/password")
def change_password(
    request: Request,
    state: State,
    who: Who,
    current_password: Field = "",
    new_password: Field = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    with state.database.session() as session:
        identity.change_password(
            session, who.user.user_id, current_password, new_password,
            keep_session=who.user.session_id,
        )  # fmt: skip
    tell(state, who, NOTICES["password"])
    return RedirectResponse("/account", status_code=303)


@router.post("/account/sessions/end-others")
def end_other_sessions(
    request: Request,
    state: State,
    who: Who,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Sign out every other browser signed in to this account."""
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    with state.database.session() as session:
        ended = identity.end_sessions(session, who.user.user_id, keep=who.user.session_id)
    tell(state, who, f"Signed out of {ended} other session" + ("s." if ended != 1 else "."))
    return RedirectResponse("/account#sessions", status_code=303)


@router.post("/account/instructions")
def save_instructions(
    request: Request,
    state: State,
    who: Who,
    instructions: Field = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    state.assistant.set_instructions(who.user.user_id, instructions)
    tell(state, who, NOTICES["instructions"])
    return RedirectResponse("/account", status_code=303)


@router.post("/account/plan")
def change_plan(
    request: Request,
    state: State,
    who: Who,
    plan: Field = "",
    seats: Field = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    account = state.assistant.account(who.user.user_id)
    count = int(seats) if seats.strip().isdecimal() else None
    with state.database.session() as session:
        change = choose_plan(
            session, who.user.user_id, account.organization_id, plan, seats=count,
            settings=state.settings.billing, currency=state.settings.currency,
        )  # fmt: skip
    if change.checkout is not None and change.checkout.url:
        return RedirectResponse(change.checkout.url, status_code=303)
    message = change.message
    if change.checkout is not None:
        message += " " + change.checkout.instructions
    tell(state, who, message)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/delete")
def delete_account(
    request: Request,
    state: State,
    who: Who,
    password: Field = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    with state.database.session() as session:
        identity.delete_account(session, who.user.user_id, password)
    return end_session_cookie(RedirectResponse("/login?notice=deleted", status_code=303))


@router.get("/account/invoices/{ref}")
def invoice_page(
    request: Request, state: State, who: Who, ref: str, format: str = "html"
) -> Response:
    """One of the organisation's invoices, as HTML or PDF; another's is not found."""
    if who.user is None:
        return to_sign_in(request)
    account = state.assistant.account(who.user.user_id)
    with state.database.session() as session:
        found, lines = invoice_for(session, who.user.user_id, account.organization_id, ref)
        if format == "pdf":
            name = found.number or found.id
            return Response(
                billing.render_pdf(found, lines),
                media_type="application/pdf",
                headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
            )
        return standalone_document(billing.render_html(found, lines))


@router.get(f"{CHECKOUT_RETURN_PATH}/{{invoice_id}}")
def checkout_return(
    request: Request,
    state: State,
    who: Who,
    invoice_id: str,
    token: str = "",
    checkout: str = billing.Outcome.SUCCESS,
) -> Response:
    """Back from the payment provider: the account page, signed in, saying where the payment
    stands (an address Levante did not make is not found)."""
    with state.database.session() as session:
        returned = billing.returned_from_checkout(
            session, invoice_id, token, checkout, state.settings.billing
        )
    if who.user is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    tell(state, who, returned.message)
    return RedirectResponse("/account", status_code=303)
