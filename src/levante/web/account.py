"""Identity pages: sign up, sign in and out, forgotten passwords, and the account page (plan,
limits, invoices, password, custom instructions, deletion)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from levante import billing, identity, tenancy
from levante.api.state import AppState
from levante.chat.subscribing import (
    CHECKOUT_RETURN_PATH,
    choose_plan,
    invoice_for,
    invoices_for,
    may_manage,
    offers,
    pay,
    set_country,
)
from levante.errors import InvalidRequestError
from levante.identity import SignupPolicy
from levante.pricing import format_cents
from levante.web.depends import Posted, PostedByAnyone, SignedIn, State, Who
from levante.web.documents import invoice_document, to_payment
from levante.web.forms import Again, Refused, after_form, in_place
from levante.web.identity import (
    SignedInVisitor,
    Visitor,
    client_address,
    end_session_cookie,
    finish,
    safe_next,
    start_session,
    tell,
)
from levante.web.limits import allowance_lines
from levante.web.templating import page

router = APIRouter(include_in_schema=False)
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


# Where a buyer may say they live: the EU's countries (whose VAT a consumer pays) and the
# countries most buyers outside it come from; any other is "elsewhere".
COUNTRIES = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "HR": "Croatia", "CY": "Cyprus",
    "CZ": "Czechia", "DK": "Denmark", "EE": "Estonia", "FI": "Finland", "FR": "France",
    "DE": "Germany", "GR": "Greece", "HU": "Hungary", "IE": "Ireland", "IT": "Italy",
    "LV": "Latvia", "LT": "Lithuania", "LU": "Luxembourg", "MT": "Malta", "NL": "Netherlands",
    "PL": "Poland", "PT": "Portugal", "RO": "Romania", "SK": "Slovakia", "SI": "Slovenia",
    "ES": "Spain", "SE": "Sweden", "GB": "United Kingdom", "CH": "Switzerland", "NO": "Norway",
    "US": "United States", "CA": "Canada", "AU": "Australia", "JP": "Japan", "IN": "India",
    "BR": "Brazil", "ZZ": "Elsewhere, outside the EU",
}  # fmt: skip


def _policy(state: AppState) -> SignupPolicy:
    chat = state.settings.chat
    return SignupPolicy(chat.signup, tuple(chat.signup_domains))


# -- the front door -------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, state: State, who: Who) -> Response:
    """Signed out, a small landing page; signed in, where the person belongs (the operator's
    console, the support queue, an organisation's console or the chat)."""
    if who.user is None:
        return finish(page(request, "account/landing.html", who), request, state, who)
    with state.database.session() as session:
        place = identity.home_of(session, who.user.user_id)
    return RedirectResponse(place, status_code=303)


# -- sign up, sign in, sign out -------------------------------------------------------------------


def _opened(request: Request, session: Any, user: Any) -> identity.OpenedSession:
    return identity.open_session(
        session, user, address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
    )  # fmt: skip


@router.get("/signup")
def signup_page(
    request: Request, state: State, who: Who, invitation: str = "", email: str = ""
) -> Response:
    if who.user is not None:
        return RedirectResponse("/", status_code=303)
    return _signup_page(request, state, who, invitation=invitation, email=email)


def _signup_page(
    request: Request, state: AppState, who: Visitor, *, invitation: str, email: str,
    name: str = "", refused: Refused | None = None,
) -> Response:  # fmt: skip
    response = page(
        request, "account/signup.html", who, policy=_policy(state), invitation=invitation,
        email=email, name=name, refused=refused,
    )  # fmt: skip
    return finish(response, request, state, who)


@router.post("/signup")
def signup(
    request: Request,
    state: State,
    who: PostedByAnyone,
    email: Field = "",
    name: Field = "",
    invitation: Field = "",
) -> Response:
    """Ask for an account: "check your mail" whatever the address; the password is chosen on
    the page the mailed link opens."""

    def ask() -> Response:
        with state.database.session() as session:
            address = identity.sign_up(
                session, email, name=name, policy=_policy(state),
                public_url=state.settings.billing.public_url, attempts=state.attempts,
                address=client_address(request), paces=state.paces,
                invitation_token=invitation or None,
            )  # fmt: skip
        response = page(request, "account/check_mail.html", who, email=address)
        return finish(response, request, state, who)

    def again(refused: Refused) -> Response:
        return _signup_page(request, state, who, invitation=invitation, email=email, name=name,
                            refused=refused)  # fmt: skip

    return in_place(request, who, ask, again)


@router.get(f"{identity.CONFIRM_PATH}{{token}}")
def confirm_page(request: Request, state: State, who: Who, token: str) -> Response:
    """The link a sign-up mailed: choose the password, and confirm (a mail scanner following
    the link makes nothing)."""
    return _confirm_page(request, state, who, token)


def _confirm_page(
    request: Request, state: AppState, who: Visitor, token: str, refused: Refused | None = None
) -> Response:
    with state.database.session() as session:
        email = identity.check_sign_up_token(session, token)
    response = page(request, "account/confirm.html", who, token=token, email=email,
                    refused=refused)  # fmt: skip
    return finish(response, request, state, who)


@router.post(f"{identity.CONFIRM_PATH}{{token}}")
def confirm(
    request: Request, state: State, who: PostedByAnyone, token: str, password: Field = ""
) -> Response:
    """Make the account the link proves, with the password chosen here, and sign in."""

    def make() -> Response:
        with state.database.session() as session:
            user = identity.confirm_sign_up(
                session, token, password, currency=state.settings.currency,
                seat_check=state.seat_check,
            )  # fmt: skip
            opened = _opened(request, session, user)
        return start_session(RedirectResponse("/", status_code=303), request, state, opened)

    return in_place(request, who, make, lambda r: _confirm_page(request, state, who, token, r))


@router.get("/login")
def login_page(
    request: Request, state: State, who: Who, next: str = "", notice: str = ""
) -> Response:
    if who.user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, state, who, next=next, notice=NOTICES.get(notice))


def _login_page(
    request: Request, state: AppState, who: Visitor, *, next: str, notice: str | None = None,
    email: str = "", refused: Refused | None = None,
) -> Response:  # fmt: skip
    response = page(
        request, "account/login.html", who, next=safe_next(next), email=email, notice=notice,
        policy=_policy(state), refused=refused,
    )  # fmt: skip
    return finish(response, request, state, who)


@router.post("/login")
def login(
    request: Request,
    state: State,
    who: PostedByAnyone,
    email: Field = "",
    password: Field = "",
    next: Field = "",
) -> Response:
    def sign_in() -> Response:
        user = identity.sign_in(
            state.database, email, password, address=client_address(request),
            attempts=state.attempts, paces=state.paces,
        )  # fmt: skip
        if user is None:
            raise InvalidRequestError(identity.WRONG_SIGN_IN)
        with state.database.session() as session:
            opened = _opened(request, session, user)
        target = RedirectResponse(safe_next(next), status_code=303)
        return start_session(target, request, state, opened)

    def again(refused: Refused) -> Response:
        return _login_page(request, state, who, next=next, email=email, refused=refused)

    return in_place(request, who, sign_in, again)


# -- invitations to an organisation ---------------------------------------------------------------


@router.get("/invitations/{token}")
def invitation_page(request: Request, state: State, who: Who, token: str) -> Response:
    return _invitation_page(request, state, who, token)


def _invitation_page(
    request: Request, state: AppState, who: Visitor, token: str, refused: Refused | None = None
) -> Response:
    user_id = who.user.user_id if who.user is not None else None
    with state.database.session() as session:
        offered = tenancy.invitation_of(session, token, user_id)
    response = page(
        request, "account/invitation.html", who, token=token, email=offered.email,
        role=offered.role, organization=offered.organization, yours=offered.yours,
        refused=refused,
    )  # fmt: skip
    return finish(response, request, state, who)


@router.post("/invitations/{token}")
def accept_invitation(request: Request, state: State, who: Posted, token: str) -> Response:
    """The invited person, signed in as the invited address, joins the organisation."""

    def accept() -> Response:
        with state.database.session() as session:
            organization, _, role = tenancy.accept_invitation(
                session, who.user_id, token, seat_check=state.seat_check
            )
        tell(state, who, f"You joined {organization.name} as {role}.")
        return RedirectResponse("/", status_code=303)

    return in_place(request, who, accept, lambda r: _invitation_page(request, state, who, token, r))


@router.post("/logout")
def logout(state: State, who: PostedByAnyone) -> Response:
    if who.user is not None:
        with state.database.session() as session:
            identity.end_session(session, who.user.session_id)
    return end_session_cookie(RedirectResponse("/login?notice=signed-out", status_code=303))


# -- forgotten passwords --------------------------------------------------------------------------


@router.get("/password/forgot")
def forgot_page(request: Request, state: State, who: Who) -> Response:
    return finish(page(request, "account/forgot.html", who), request, state, who)


@router.post("/password/forgot")
def forgot(request: Request, state: State, who: PostedByAnyone, email: Field = "") -> Response:
    def ask() -> Response:
        with state.database.session() as session:
            identity.request_password_reset(
                session, email, public_url=state.settings.billing.public_url,
                attempts=state.attempts, address=client_address(request), paces=state.paces,
            )  # fmt: skip
        return RedirectResponse("/login?notice=reset-sent", status_code=303)

    def again(refused: Refused) -> Response:
        response = page(request, "account/forgot.html", who, email=email, refused=refused)
        return finish(response, request, state, who)

    return in_place(request, who, ask, again)


@router.get("/password/reset/{token}")
def reset_page(request: Request, state: State, who: Who, token: str) -> Response:
    return _reset_page(request, state, who, token)


def _reset_page(
    request: Request, state: AppState, who: Visitor, token: str, refused: Refused | None = None
) -> Response:
    with state.database.session() as session:
        purpose = identity.check_reset_token(session, token)
    response = page(request, "account/reset.html", who, token=token, purpose=purpose,
                    refused=refused)  # fmt: skip
    return finish(response, request, state, who)


@router.post("/password/reset/{token}")
def reset(
    request: Request, state: State, who: PostedByAnyone, token: str, password: Field = ""
) -> Response:
    """Set the password a mailed link lets set (a link used up or unknown is not found)."""

    def set_password() -> Response:
        with state.database.session() as session:
            identity.reset_password(session, token, password)
        return end_session_cookie(RedirectResponse("/login?notice=reset", status_code=303))

    return in_place(
        request, who, set_password, lambda r: _reset_page(request, state, who, token, r)
    )


# -- the account page -----------------------------------------------------------------------------


@router.get("/account")
def account_page(request: Request, state: State, who: SignedIn) -> Response:
    return _account_page(request, state, who)


def _account_page(
    request: Request, state: AppState, who: SignedInVisitor, refused: Refused | None = None
) -> Response:
    """The plan and its limits, the invoices, the instructions, the password and the browsers
    signed in (a plain def, run in the thread pool: the limits are read on the event loop)."""
    user = who.user
    account = state.assistant.account(user.user_id)
    allowance = anyio.from_thread.run(state.assistant.allowance, account)
    with state.database.session() as session:
        org = account.organization_id
        manages = may_manage(session, user.user_id, org)
        invoices = invoices_for(session, user.user_id, org)
        return page(
            request, "account/account.html", who, account=account,
            allowance=allowance_lines(allowance), standing=account.standing, manages=manages,
            sessions=identity.list_sessions(session, user.user_id, current=user.session_id),
            offers=offers(
                session, org, currency=state.settings.currency, settings=state.settings.billing
            ) if manages else None,
            countries=COUNTRIES,
            invoices=[(i, f"{format_cents(i.total_cents)} {i.currency}") for i in invoices],
            refused=refused,
        )  # fmt: skip


def _on_the_account_page(request: Request, state: AppState, who: SignedInVisitor) -> Again:
    return lambda refused: _account_page(request, state, who, refused)


@router.post("/account/password")
def change_password(
    request: Request,
    state: State,
    who: Posted,
    current_password: Field = "",
    new_password: Field = "",
) -> Response:
    def change() -> str:
        with state.database.session() as session:
            identity.change_password(
                session, who.user_id, current_password, new_password,
                keep_session=who.user.session_id,
            )  # fmt: skip
        return NOTICES["password"]

    again = _on_the_account_page(request, state, who)
    return after_form(request, state, who, change, back="/account", again=again)


@router.post("/account/sessions/end-others")
def end_other_sessions(request: Request, state: State, who: Posted) -> Response:
    """Sign out every other browser signed in to this account."""

    def end() -> str:
        with state.database.session() as session:
            ended = identity.end_sessions(session, who.user_id, keep=who.user.session_id)
        return f"Signed out of {ended} other session" + ("s." if ended != 1 else ".")

    again = _on_the_account_page(request, state, who)
    return after_form(request, state, who, end, back="/account#sessions", again=again)


@router.post("/account/instructions")
def save_instructions(
    request: Request, state: State, who: Posted, instructions: Field = ""
) -> Response:
    def save() -> str:
        state.assistant.set_instructions(who.user_id, instructions)
        return NOTICES["instructions"]

    again = _on_the_account_page(request, state, who)
    return after_form(request, state, who, save, back="/account", again=again)


@router.post("/account/plan")
def change_plan(
    request: Request, state: State, who: Posted, plan: Field = "", seats: Field = ""
) -> Response:
    """Choose a plan: the payment provider's page when it has one, else the account page
    saying how the plan starts."""

    def choose() -> Response:
        account = state.assistant.account(who.user_id)
        count = int(seats) if seats.strip().isdecimal() else None
        with state.database.session() as session:
            change = choose_plan(
                session, who.user_id, account.organization_id, plan, seats=count,
                settings=state.settings.billing, currency=state.settings.currency,
            )  # fmt: skip
        if change.checkout is not None and change.checkout.url:
            return RedirectResponse(change.checkout.url, status_code=303)
        message = change.message
        if change.checkout is not None:
            message += " " + change.checkout.instructions
        tell(state, who, message)
        return RedirectResponse("/account", status_code=303)

    return in_place(request, who, choose, _on_the_account_page(request, state, who))


@router.post("/account/invoices/{ref}/pay")
def pay_invoice(request: Request, state: State, who: Posted, ref: str) -> Response:
    """Pay an invoice still due: the provider's page, or the transfer's details."""

    def act() -> Response:
        account = state.assistant.account(who.user_id)
        with state.database.session() as session:
            checkout = pay(
                session, who.user_id, account.organization_id, ref,
                settings=state.settings.billing,
            )  # fmt: skip
        return to_payment(state, who, checkout, back="/account#inv-h")

    return in_place(request, who, act, _on_the_account_page(request, state, who))


@router.post("/account/country")
def change_country(request: Request, state: State, who: Posted, country: Field = "") -> Response:
    """Where the buyer lives: the VAT their prices include."""

    def act() -> Response:
        account = state.assistant.account(who.user_id)
        with state.database.session() as session:
            code = set_country(
                session, who.user_id, account.organization_id, country,
                currency=state.settings.currency,
            )  # fmt: skip
        tell(state, who, f"Your country is {COUNTRIES.get(code, code)}: prices include its VAT.")
        return RedirectResponse("/account#plans", status_code=303)

    return in_place(request, who, act, _on_the_account_page(request, state, who))


@router.post("/account/delete")
def delete_account(request: Request, state: State, who: Posted, password: Field = "") -> Response:
    def delete() -> Response:
        with state.database.session() as session:
            identity.delete_account(session, who.user_id, password)
        return end_session_cookie(RedirectResponse("/login?notice=deleted", status_code=303))

    return in_place(request, who, delete, _on_the_account_page(request, state, who))


@router.get("/account/invoices/{ref}")
def invoice_page(state: State, who: SignedIn, ref: str, format: str = "html") -> Response:
    """One of the organisation's invoices, as HTML or PDF; another's is not found."""
    account = state.assistant.account(who.user_id)
    with state.database.session() as session:
        found, lines = invoice_for(session, who.user_id, account.organization_id, ref)
        return invoice_document(found, lines, "pdf" if format == "pdf" else "html")


@router.get(f"{CHECKOUT_RETURN_PATH}/{{invoice_id}}")
def checkout_return(
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
