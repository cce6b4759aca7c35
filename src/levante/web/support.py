"""The support desk's pages: a customer's tickets and the form to open one, a ticket with
its thread and SLA clocks, the agents' queue, the monthly report, and the consulting hours
(packs, what is left, buying one). Each handler parses, calls :mod:`levante.support`, and
renders; a ticket the person may not see is not found."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from levante import billing, support
from levante.api.headers import standalone_document
from levante.api.state import AppState, app_state
from levante.errors import LevanteError
from levante.support import MOVES, Place
from levante.vocabulary import SEVERITY_LABELS, Severity, SlaTarget, TicketStatus
from levante.web.identity import CSRF_FIELD, Visitor, tell, to_sign_in, visitor
from levante.web.templating import page

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
Who = Annotated[Visitor, Depends(visitor)]
Field = Annotated[str, Form()]
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]

TARGET_NAMES = {
    SlaTarget.FIRST_RESPONSE: "First response",
    SlaTarget.NEXT_RESPONSE: "Next response",
    SlaTarget.RESOLUTION: "Resolution",
}


def _now(state: AppState) -> datetime:
    return state.clock()


def _warn(state: AppState) -> timedelta:
    return timedelta(minutes=state.settings.support.escalate_before_minutes)


def _common(state: AppState, who: Visitor) -> dict[str, Any]:
    assert who.user is not None
    with state.database.session() as session:
        mine = support.places(session, who.user.user_id)
    return {
        "places": mine,
        "agent": any(p.agent for p in mine),
        "severities": [(int(s), SEVERITY_LABELS[s]) for s in Severity],
        "target_names": TARGET_NAMES,
    }


# -- a customer's tickets -------------------------------------------------------------------------


@router.get("/support")
def index(
    request: Request, state: State, who: Who, org: str | None = None, status: str = ""
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    return _index(request, state, who, org=org, status=status)


def _index(
    request: Request,
    state: AppState,
    who: Visitor,
    *,
    org: str | None,
    status: str = "",
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert who.user is not None
    common = _common(state, who)
    customer_places = [p for p in common["places"] if not p.agent]
    if org is None and common["agent"]:
        return RedirectResponse("/support/queue", status_code=303)
    if not customer_places:
        return page(request, "support/none.html", who, **common)
    with state.database.session() as session:
        place: Place = support.place_for(
            session, who.user.user_id, org or customer_places[0].organization_id
        )
        if place.agent:
            return RedirectResponse("/support/queue", status_code=303)
        actor = place.actor(who.user.user_id)
        tickets = support.list_tickets(session, actor, status=status or None, limit=200)
        terms = support.terms_for(session, place.organization_id, _now(state))
        return page(
            request, "support/index.html", who, place=place, customer_places=customer_places,
            tickets=tickets, terms=terms, status=status, error=error, form=form or {},
            status_code=status_code, **common,
        )  # fmt: skip


@router.post("/support/tickets")
def open_ticket(
    request: Request,
    state: State,
    who: Who,
    org: Field = "",
    subject: Field = "",
    description: Field = "",
    severity: Field = "3",
    deployment: Field = "",
    model: Field = "",
    csrf_token: Csrf = "",
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    try:
        with state.database.session() as session:
            place = support.place_for(session, who.user.user_id, org or None)
            ticket = support.open_ticket(
                session, place.actor(who.user.user_id), subject=subject,
                description=description, severity=severity, deployment=deployment,
                model=model, now=_now(state),
            )  # fmt: skip
            number = ticket.number
    except LevanteError as problem:
        if problem.status_code == 404:
            raise
        form = {"subject": subject, "description": description, "severity": severity,
                "deployment": deployment, "model": model}  # fmt: skip
        return _index(request, state, who, org=org or None, error=problem.message, form=form,
                      status_code=problem.status_code)  # fmt: skip
    return RedirectResponse(f"/support/tickets/{number}", status_code=303)


# -- a ticket -------------------------------------------------------------------------------------


@router.get("/support/tickets/{number}")
def ticket_page(request: Request, state: State, who: Who, number: str) -> Response:
    if who.user is None:
        return to_sign_in(request)
    return _ticket(request, state, who, number)


def _ticket(
    request: Request,
    state: AppState,
    who: Visitor,
    number: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    assert who.user is not None
    common = _common(state, who)
    now = _now(state)
    with state.database.session() as session:
        place = support.ticket_place(session, who.user.user_id, number)
        seen = support.view(session, place.actor(who.user.user_id), number, now=now)
        agents = support.agents(session) if place.agent else []
        current = TicketStatus(seen.ticket.status)
        return page(
            request, "support/ticket.html", who, seen=seen, ticket=seen.ticket, place=place,
            agents=agents, moves=MOVES[current], now=now, warn=_warn(state),
            max_bytes=state.settings.support.attachment_max_bytes, error=error,
            notice=notice, status_code=status_code, **common,
        )  # fmt: skip


def _act(
    request: Request,
    state: AppState,
    who: Visitor,
    number: str,
    csrf_token: str,
    action: Any,
    *,
    anchor: str = "",
) -> Response:
    """Run ``action(session, actor)`` for the signed-in person on ticket ``number``; back to
    the ticket, or the ticket again with the reason it was refused."""
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    try:
        with state.database.session() as session:
            place = support.ticket_place(session, who.user.user_id, number)
            action(session, place.actor(who.user.user_id))
    except LevanteError as problem:
        if problem.status_code == 404:
            raise
        return _ticket(request, state, who, number, error=problem.message,
                       status_code=problem.status_code)  # fmt: skip
    return RedirectResponse(f"/support/tickets/{number}{anchor}", status_code=303)


@router.post("/support/tickets/{number}/reply")
def reply(
    request: Request,
    state: State,
    who: Who,
    number: str,
    body: Field = "",
    internal: Field = "",
    solve: Field = "",
    csrf_token: Csrf = "",
) -> Response:
    now = _now(state)
    days = state.settings.support.reopen_days

    def run(session: Any, actor: Any) -> None:
        if internal:
            support.add_note(session, actor, number, body, now=now)
        elif body.strip() or not solve:
            support.reply(session, actor, number, body, reopen_days=days, now=now)
        if solve:
            support.set_status(session, actor, number, "solved", now=now)

    return _act(request, state, who, number, csrf_token, run, anchor="#latest")


@router.post("/support/tickets/{number}/status")
def status(
    request: Request, state: State, who: Who, number: str, status: Field = "",
    csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    now = _now(state)
    return _act(request, state, who, number, csrf_token,
                lambda s, a: support.set_status(s, a, number, status, now=now))  # fmt: skip


@router.post("/support/tickets/{number}/severity")
def severity(
    request: Request, state: State, who: Who, number: str, severity: Field = "",
    reason: Field = "", csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    now = _now(state)
    return _act(request, state, who, number, csrf_token,
                lambda s, a: support.set_severity(s, a, number, severity, reason=reason,
                                                  now=now))  # fmt: skip


@router.post("/support/tickets/{number}/assign")
def assign(
    request: Request, state: State, who: Who, number: str, agent: Field = "",
    csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    now = _now(state)
    return _act(request, state, who, number, csrf_token,
                lambda s, a: support.assign(s, a, number, agent or None, now=now))  # fmt: skip


@router.post("/support/tickets/{number}/time")
def log_time(
    request: Request, state: State, who: Who, number: str, minutes: Field = "",
    note: Field = "", csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    now = _now(state)
    if not minutes.strip().isdecimal():
        minutes = "0"
    return _act(request, state, who, number, csrf_token,
                lambda s, a: support.log_time(s, a, number, int(minutes), note=note,
                                              now=now))  # fmt: skip


@router.post("/support/tickets/{number}/attachments")
def attach(
    request: Request,
    state: State,
    who: Who,
    number: str,
    file: Annotated[UploadFile, File()],
    internal: Field = "",
    csrf_token: Csrf = "",
) -> Response:
    now = _now(state)

    def run(session: Any, actor: Any) -> None:
        support.attach(
            session, actor, number, filename=file.filename or "",
            content_type=file.content_type or "", stream=file.file,
            root=state.settings.attachments_dir,
            max_bytes=state.settings.support.attachment_max_bytes,
            internal=bool(internal), now=now,
        )  # fmt: skip

    return _act(request, state, who, number, csrf_token, run, anchor="#latest")


@router.get("/support/tickets/{number}/attachments/{attachment_id}")
def attachment(
    request: Request, state: State, who: Who, number: str, attachment_id: str
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    with state.database.session() as session:
        place = support.ticket_place(session, who.user.user_id, number)
        actor = place.actor(who.user.user_id)
        root = state.settings.attachments_dir
        stored = support.open_attachment(session, actor, number, attachment_id, root=root)
    return FileResponse(
        stored.path, media_type=stored.attachment.content_type,
        filename=stored.attachment.filename, content_disposition_type="attachment",
        headers={"x-content-type-options": "nosniff"},
    )  # fmt: skip


# -- the agents' queue and the reports ------------------------------------------------------------


@router.get("/support/queue")
def queue_page(request: Request, state: State, who: Who, assignee: str | None = None) -> Response:
    if who.user is None:
        return to_sign_in(request)
    common = _common(state, who)
    now = _now(state)
    with state.database.session() as session:
        place = support.place_for(session, who.user.user_id, None)
        items = support.queue(session, place.actor(who.user.user_id), now=now,
                              warn_before=_warn(state), assignee=assignee or None)  # fmt: skip
        return page(request, "support/queue.html", who, items=items, assignee=assignee or "",
                    me=who.user.email, **common)  # fmt: skip


@router.get("/support/reports")
def reports_page(
    request: Request, state: State, who: Who, period: str = "", org: str | None = None,
    format: str = "html",
) -> Response:  # fmt: skip
    if who.user is None:
        return to_sign_in(request)
    now = _now(state)
    period = period or f"{now:%Y-%m}"
    common = _common(state, who)
    with state.database.session() as session:
        place = support.place_for(session, who.user.user_id, org)
        rows = support.monthly_report(session, place.actor(who.user.user_id), period, now=now)
    if format == "csv":
        return PlainTextResponse(
            support.report_csv(rows), media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="support-{period}.csv"'},
        )  # fmt: skip
    return page(request, "support/reports.html", who, rows=rows, period=period, place=place,
                **common)  # fmt: skip


# -- consulting hours -----------------------------------------------------------------------------


@router.get("/support/hours")
def hours_page(request: Request, state: State, who: Who, org: str | None = None) -> Response:
    if who.user is None:
        return to_sign_in(request)
    return _hours(request, state, who, org=org)


def _hours(
    request: Request,
    state: AppState,
    who: Visitor,
    *,
    org: str | None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    assert who.user is not None
    common = _common(state, who)
    now = _now(state)
    customers = [p for p in common["places"] if not p.agent]
    with state.database.session() as session:
        if not org and not common["agent"] and customers:
            org = customers[0].organization_id
        if not org:
            place = support.place_for(session, who.user.user_id, None)
            return page(request, "support/hours.html", who, place=place, hours=None, org="",
                        error=error, status_code=status_code, **common)  # fmt: skip
        place = support.place_on(session, who.user.user_id, org)
        actor = place.actor(who.user.user_id)
        found = support.hours_of(session, actor, org, now=now)
        buys = support.may_buy(session, actor, found.organization_id)
        return page(
            request, "support/hours.html", who, place=place, hours=found,
            org=found.organization_id, buys=buys, now=now, once=secrets.token_urlsafe(16),
            offers=support.pack_offers(session, now=now) if buys else [],
            currency=billing.currency_of(session, found.organization_id, state.settings.currency),
            error=error, status_code=status_code, **common,
        )  # fmt: skip


@router.post("/support/hours")
def buy_hours(
    request: Request, state: State, who: Who, org: Field = "", plan: Field = "",
    once: Field = "", csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    try:
        with state.database.session() as session:
            place = support.place_on(session, who.user.user_id, org)
            bought = support.buy_pack(
                session, place.actor(who.user.user_id), plan, organization=org or None,
                now=_now(state), settings=state.settings.billing,
                default_currency=state.settings.currency, request_key=once or None,
            )  # fmt: skip
            number = bought.invoice.number if bought.invoice is not None else ""
    except LevanteError as problem:
        if problem.status_code == 404 and problem.param != "plan":
            raise  # not theirs: as if it did not exist
        return _hours(request, state, who, org=org or None, error=problem.message,
                      status_code=problem.status_code)  # fmt: skip
    said = "The pack is yours: its hours are there now."
    if number:
        said += f" Invoice {number} has been issued for it (see the console's billing page)."
    tell(state, who, said)
    return RedirectResponse(f"/support/hours?org={quote(org)}", status_code=303)


@router.get("/support/hours/invoices/{ref}")
def pack_invoice(request: Request, state: State, who: Who, ref: str, org: str = "") -> Response:
    """An invoice of the organisation, for those who may buy hours for it."""
    if who.user is None:
        return to_sign_in(request)
    with state.database.session() as session:
        place = support.place_on(session, who.user.user_id, org)
        found, lines = support.pack_invoice(session, place.actor(who.user.user_id), org, ref)
        return standalone_document(billing.render_html(found, lines))
