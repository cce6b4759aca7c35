"""The support desk's pages: a customer's tickets and the form to open one, a ticket with
its thread and SLA clocks, the agents' queue, the monthly report, and the consulting hours
(packs, what is left, buying one). Each handler parses, calls :mod:`levante.support`, and
renders; a ticket the person may not see is not found."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from levante import billing, support
from levante.api.headers import download
from levante.api.state import AppState
from levante.audit import Actor
from levante.support import MOVES, Place
from levante.vocabulary import SEVERITY_LABELS, Severity, SlaTarget, TicketStatus
from levante.web.depends import Posted, PostedTicketPlace, SignedIn, State, TicketPlace
from levante.web.documents import invoice_document
from levante.web.forms import Refused, filtered, in_place
from levante.web.identity import SignedInVisitor, tell
from levante.web.templating import page

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]

TARGET_NAMES = {
    SlaTarget.FIRST_RESPONSE: "First response",
    SlaTarget.NEXT_RESPONSE: "Next response",
    SlaTarget.RESOLUTION: "Resolution",
}


def _now(state: AppState) -> datetime:
    return state.clock()


def _warn(state: AppState) -> timedelta:
    return timedelta(minutes=state.settings.support.escalate_before_minutes)


def _common(state: AppState, who: SignedInVisitor) -> dict[str, Any]:
    with state.database.session() as session:
        mine = support.places(session, who.user_id)
    return {
        "places": mine,
        "agent": any(p.agent for p in mine),
        "severities": [(int(s), SEVERITY_LABELS[s]) for s in Severity],
        "target_names": TARGET_NAMES,
    }


# -- a customer's tickets -------------------------------------------------------------------------


@router.get("/support")
def index(
    request: Request, state: State, who: SignedIn, org: str | None = None, status: str = ""
) -> Response:
    """An organisation's tickets (of one status, when ``status`` names one: any other value
    in the address shows them all rather than refusing the page)."""
    known = status in {s.value for s in TicketStatus}
    return _index(request, state, who, org=org, status=status if known else "")


def _index(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    *,
    org: str | None,
    status: str = "",
    refused: Refused | None = None,
) -> Response:
    common = _common(state, who)
    customer_places = [p for p in common["places"] if not p.agent]
    if org is None and common["agent"]:
        return RedirectResponse("/support/queue", status_code=303)
    if not customer_places:
        return page(request, "support/none.html", who, **common)
    with state.database.session() as session:
        place: Place = support.place_for(
            session, who.user_id, org or customer_places[0].organization_id
        )
        if place.agent:
            return RedirectResponse("/support/queue", status_code=303)
        actor = place.actor(who.user_id)
        tickets = support.list_tickets(session, actor, status=status or None, limit=200)
        terms = support.terms_for(session, place.organization_id, _now(state))
        return page(
            request, "support/index.html", who, place=place, customer_places=customer_places,
            tickets=tickets, terms=terms, status=status, refused=refused,
            max_bytes=state.settings.support.attachment_max_bytes, **common,
        )  # fmt: skip


@router.post("/support/tickets")
def open_ticket(
    request: Request,
    state: State,
    who: Posted,
    org: Field = "",
    subject: Field = "",
    description: Field = "",
    severity: Field = "3",
    deployment: Field = "",
    model: Field = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Open a ticket, with the file it came with if one was chosen: a file refused (too
    large, a name with a path) opens no ticket either, and the form says why."""
    now = _now(state)

    def act() -> Response:
        with state.database.session() as session:
            place = support.place_for(session, who.user_id, org or None)
            actor = place.actor(who.user_id)
            ticket = support.open_ticket(
                session, actor, subject=subject, description=description, severity=severity,
                deployment=deployment, model=model, now=now,
            )  # fmt: skip
            number = ticket.number
            if file is not None and file.filename:  # a form sent with no file chosen has none
                _attach(state, session, actor, str(number), file, now=now)
        return RedirectResponse(f"/support/tickets/{number}", status_code=303)

    def again(refused: Refused) -> Response:
        return _index(request, state, who, org=org or None, refused=refused)

    return in_place(request, who, act, again)


# -- a ticket -------------------------------------------------------------------------------------


@router.get("/support/tickets/{number}")
def ticket_page(
    request: Request, state: State, who: SignedIn, place: TicketPlace, number: str
) -> Response:
    return _ticket(request, state, who, place, number)


def _ticket(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    place: Place,
    number: str,
    *,
    refused: Refused | None = None,
) -> Response:
    common = _common(state, who)
    now = _now(state)
    with state.database.session() as session:
        seen = support.view(session, place.actor(who.user_id), number, now=now)
        agents = support.agents(session) if place.agent else []
        current = TicketStatus(seen.ticket.status)
        # The status control lists where the ticket is now (chosen) and where it may go.
        statuses = (current, *MOVES[current]) if MOVES[current] else ()
        countdowns = {t.key: support.countdown(t, now) for t in seen.sla.running}
        return page(
            request, "support/ticket.html", who, seen=seen, ticket=seen.ticket, place=place,
            agents=agents, statuses=statuses, countdowns=countdowns,
            max_bytes=state.settings.support.attachment_max_bytes, refused=refused, **common,
        )  # fmt: skip


def _on_ticket(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    place: Place,
    number: str,
    action: Callable[[Any, Actor], object],
    *,
    anchor: str = "",
) -> Response:
    """Run ``action(session, actor)`` as the person's place on ticket ``number``: back to the
    ticket, or the ticket again, in place, with the reason it was refused."""

    def act() -> Response:
        with state.database.session() as session:
            action(session, place.actor(who.user_id))
        return RedirectResponse(f"/support/tickets/{number}{anchor}", status_code=303)

    def again(refused: Refused) -> Response:
        return _ticket(request, state, who, place, number, refused=refused)

    return in_place(request, who, act, again)


@router.post("/support/tickets/{number}/reply")
def reply(
    request: Request,
    state: State,
    who: Posted,
    place: PostedTicketPlace,
    number: str,
    body: Field = "",
    internal: Field = "",
    solve: Field = "",
) -> Response:
    now = _now(state)
    days = state.settings.support.reopen_days

    def run(session: Any, actor: Actor) -> None:
        if internal:
            support.add_note(session, actor, number, body, now=now)
        elif body.strip() or not solve:
            support.reply(session, actor, number, body, reopen_days=days, now=now,
                          public_url=state.settings.billing.public_url)  # fmt: skip
        if solve:
            support.set_status(session, actor, number, "solved", now=now)

    return _on_ticket(request, state, who, place, number, run, anchor="#latest")


@router.post("/support/tickets/{number}/status")
def status(
    request: Request, state: State, who: Posted, place: PostedTicketPlace, number: str,
    status: Field = "",
) -> Response:  # fmt: skip
    now = _now(state)
    return _on_ticket(request, state, who, place, number,
                      lambda s, a: support.set_status(s, a, number, status, now=now))  # fmt: skip


@router.post("/support/tickets/{number}/severity")
def severity(
    request: Request, state: State, who: Posted, place: PostedTicketPlace, number: str,
    severity: Field = "", reason: Field = "",
) -> Response:  # fmt: skip
    now = _now(state)
    return _on_ticket(request, state, who, place, number,
                      lambda s, a: support.set_severity(s, a, number, severity, reason=reason,
                                                        now=now))  # fmt: skip


@router.post("/support/tickets/{number}/assign")
def assign(
    request: Request, state: State, who: Posted, place: PostedTicketPlace, number: str,
    agent: Field = "",
) -> Response:  # fmt: skip
    now = _now(state)
    to = agent or None
    return _on_ticket(request, state, who, place, number,
                      lambda s, a: support.assign(s, a, number, to, now=now))  # fmt: skip


@router.post("/support/tickets/{number}/time")
def log_time(
    request: Request, state: State, who: Posted, place: PostedTicketPlace, number: str,
    minutes: Field = "", note: Field = "",
) -> Response:  # fmt: skip
    now = _now(state)
    count = int(minutes) if minutes.strip().isdecimal() else 0  # the service refuses 0

    def run(session: Any, actor: Actor) -> None:
        support.log_time(session, actor, number, count, note=note, now=now)

    return _on_ticket(request, state, who, place, number, run)


@router.post("/support/tickets/{number}/attachments")
def attach(
    request: Request,
    state: State,
    who: Posted,
    place: PostedTicketPlace,
    number: str,
    file: Annotated[UploadFile, File()],
    internal: Field = "",
) -> Response:
    now = _now(state)

    def run(session: Any, actor: Actor) -> None:
        _attach(state, session, actor, number, file, internal=bool(internal), now=now)

    return _on_ticket(request, state, who, place, number, run, anchor="#latest")


def _attach(
    state: AppState,
    session: Any,
    actor: Actor,
    number: str,
    file: UploadFile,
    *,
    internal: bool = False,
    now: datetime,
) -> None:
    support.attach(
        session, actor, number, filename=file.filename or "",
        content_type=file.content_type or "", stream=file.file,
        root=state.settings.attachments_dir,
        max_bytes=state.settings.support.attachment_max_bytes, internal=internal, now=now,
    )  # fmt: skip


@router.get("/support/tickets/{number}/attachments/{attachment_id}")
def attachment(
    state: State, who: SignedIn, place: TicketPlace, number: str, attachment_id: str
) -> Response:
    with state.database.session() as session:
        actor = place.actor(who.user_id)
        root = state.settings.attachments_dir
        stored = support.open_attachment(session, actor, number, attachment_id, root=root)
    return download(
        str(stored.path), content_type=stored.attachment.content_type,
        filename=stored.attachment.filename,
    )  # fmt: skip


# -- the agents' queue and the reports ------------------------------------------------------------


QUEUE = "/support/queue"
# What the queue's status filter offers: the waiting tickets by default, or these.
SHOWING = (("", "waiting (new, open, pending)"), ("solved", "solved"), ("closed", "closed"),
           ("all", "all"))  # fmt: skip


@router.get(QUEUE)
def queue_page(
    request: Request, state: State, who: SignedIn, assignee: str = "", status: str = "",
    q: str = "",
) -> Response:  # fmt: skip
    """The agents' queue: the waiting tickets, or those of ``status`` (``all``), narrowed to
    an ``assignee`` and to those a search (``q``) finds. A search or status the service
    refuses is said beside the filters, over the waiting tickets."""
    common = _common(state, who)
    now = _now(state)

    def show(status: str, q: str, refused: Refused | None = None) -> Response:
        with state.database.session() as session:
            place = support.place_for(session, who.user_id, None)
            items = support.queue(
                session, place.actor(who.user_id), now=now, warn_before=_warn(state),
                assignee=assignee or None, status=status or None, search=q,
            )  # fmt: skip
            return page(
                request, "support/queue.html", who, items=items, assignee=assignee, status=status,
                q=q, showing=SHOWING, me=who.user.email, refused=refused, **common,
            )  # fmt: skip

    return filtered(
        QUEUE, {"status": status, "q": q}, lambda: show(status, q),
        lambda refused: show("", "", refused),
    )  # fmt: skip


@router.get("/support/reports")
def reports_page(
    request: Request, state: State, who: SignedIn, period: str = "", org: str | None = None,
    format: str = "html",
) -> Response:  # fmt: skip
    now = _now(state)
    period = period or f"{now:%Y-%m}"
    common = _common(state, who)
    with state.database.session() as session:
        place = support.place_for(session, who.user_id, org)
        rows = support.monthly_report(session, place.actor(who.user_id), period, now=now)
    if format == "csv":
        return PlainTextResponse(
            support.report_csv(rows), media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="support-{period}.csv"'},
        )  # fmt: skip
    return page(request, "support/reports.html", who, rows=rows, period=period, place=place,
                **common)  # fmt: skip


# -- consulting hours -----------------------------------------------------------------------------


@router.get("/support/hours")
def hours_page(request: Request, state: State, who: SignedIn, org: str | None = None) -> Response:
    return _hours(request, state, who, org=org)


def _hours(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    *,
    org: str | None,
    refused: Refused | None = None,
) -> Response:
    common = _common(state, who)
    now = _now(state)
    customers = [p for p in common["places"] if not p.agent]
    with state.database.session() as session:
        if not org and not common["agent"] and customers:
            org = customers[0].organization_id
        if not org:
            place = support.place_for(session, who.user_id, None)
            # An agent picks the customer; the customers they may see are the service's word.
            choices = support.customers(session, place.actor(who.user_id)) if place.agent else []
            return page(request, "support/hours.html", who, place=place, hours=None, org="",
                        customers=choices, refused=refused, **common)  # fmt: skip
        place = support.place_on(session, who.user_id, org)
        actor = place.actor(who.user_id)
        found = support.hours_of(session, actor, org, now=now)
        buys = support.may_buy(session, actor, found.organization_id)
        return page(
            request, "support/hours.html", who, place=place, hours=found,
            org=found.organization_id, buys=buys, now=now, once=secrets.token_urlsafe(16),
            offers=support.pack_offers(session, now=now) if buys else [],
            currency=billing.currency_of(session, found.organization_id, state.settings.currency),
            customers=support.customers(session, actor) if place.agent else [],
            refused=refused, **common,
        )  # fmt: skip


@router.post("/support/hours")
def buy_hours(
    request: Request, state: State, who: Posted, org: Field = "", plan: Field = "",
    once: Field = "",
) -> Response:  # fmt: skip
    """Buy a pack of consulting hours: invoiced at once, its hours there at once."""

    def act() -> Response:
        with state.database.session() as session:
            place = support.place_on(session, who.user_id, org)
            bought = support.buy_pack(
                session, place.actor(who.user_id), plan, organization=org or None,
                now=_now(state), settings=state.settings.billing,
                default_currency=state.settings.currency, request_key=once or None,
            )  # fmt: skip
            number = bought.invoice.number if bought.invoice is not None else ""
        said = "The pack is yours: its hours are there now."
        if number:
            said += f" Invoice {number} has been issued for it (see the console's billing page)."
        tell(state, who, said)
        return RedirectResponse(f"/support/hours?org={quote(org)}", status_code=303)

    # Refused, the hours' page again; an organisation not theirs is not found there either.
    return in_place(request, who, act, lambda r: _hours(request, state, who, org=org or None,
                                                        refused=r))  # fmt: skip


@router.get("/support/hours/invoices/{ref}")
def pack_invoice(state: State, who: SignedIn, ref: str, org: str = "") -> Response:
    """An invoice of the organisation, for those who may buy hours for it."""
    with state.database.session() as session:
        place = support.place_on(session, who.user_id, org)
        found, lines = support.pack_invoice(session, place.actor(who.user_id), org, ref)
        return invoice_document(found, lines, "html")
