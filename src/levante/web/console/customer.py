"""The customer console: an organisation's usage (charted by day, and by model, key and
workspace), its API keys, billing (account, wallet, subscriptions, invoices as HTML and
PDF), licences and members, for its owners, admins and billing users. Every page takes its
organisation from ``?org=`` (a form, from its ``org`` field) through the one check,
:func:`levante.tenancy.console_seat` (the ``Seat`` dependency); keys and members change only
for owners and admins. The pages call the services the admin API calls, with the signed-in
person as the actor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from levante import billing, licensing, metering, quota, tenancy
from levante.api.state import AppState, Flushed
from levante.errors import InvalidRequestError
from levante.metering import GroupBy
from levante.pricing import NANOS, format_amount, format_cents, to_cents
from levante.vocabulary import Permission
from levante.web.depends import Posted, PostedSeat, Seat, SignedIn, State
from levante.web.documents import invoice_document, to_payment
from levante.web.forms import Again, Refused, after_form, in_place, parse_day
from levante.web.identity import SignedInVisitor
from levante.web.templating import page

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
PERIODS = (7, 30, 90)
SPLITS = {"model": GroupBy.MODEL, "key": GroupBy.KEY, "workspace": GroupBy.WORKSPACE}
MOST_SERIES = 8  # series a chart splits into; the rest is one "other"


def cost(nanos: int) -> str:
    """A usage cost on a page: to the cent with separators from one unit up, exact below
    (a few requests cost a fraction of a cent)."""
    return format_cents(to_cents(nanos)) if abs(nanos) >= NANOS else format_amount(nanos)


def _common(seat: tenancy.ConsoleSeat) -> dict[str, Any]:
    org = seat.organization
    return {"seat": seat, "org": org, "orgs": seat.choices, "q": f"?org={quote(org.slug)}"}


def _here(path: str, seat: tenancy.ConsoleSeat, **extra: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in {"org": seat.organization.slug, **extra}.items())
    return f"{path}?{query}"


# What the usage page shows: one product's usage ("" for every product's).
PRODUCTS = {"api": "API", "chat": "Chat", "": "every product"}


def _period(days: str) -> int:
    """The days a usage page covers: one of the periods it offers, else thirty (a period typed
    into the address is no reason to refuse the page)."""
    return int(days) if days in {str(p) for p in PERIODS} else 30


# -- usage ----------------------------------------------------------------------------------------


@router.get("/console")
@router.get("/console/usage")
def usage_page(
    request: Request, state: State, who: SignedIn, seat: Seat, _: Flushed, days: str = "30",
    product: str = "api",
    by: str = "",
) -> Response:  # fmt: skip
    """Usage of the last ``days`` days: tokens and cost by day, charted (split by model, key
    or workspace with ``by``), and tables by model, by key and by workspace. The ledger is
    flushed first, so a request just answered is counted."""
    return _usage_page(request, state, who, seat, days=_period(days), by=by, product=product)


def _usage_page(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    seat: tenancy.ConsoleSeat,
    *,
    days: int = 30,
    by: str = "",
    product: str = "api",
    refused: Refused | None = None,
) -> Response:
    """The usage of one product (the API by default: keys and workspaces are the API's; the
    chat's messages are its own product), with every product's total beside it."""
    product = product if product in PRODUCTS else "api"
    end = datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    currency = state.settings.currency
    with state.database.session() as session:

        def summary(*groups: GroupBy) -> metering.UsageSummary:
            return metering.usage_summary(
                session, seat.actor, start=start, end=end, group_by=groups,
                default_currency=currency, product=product or None,
            )  # fmt: skip

        by_product = metering.usage_summary(
            session, seat.actor, start=start, end=end, group_by=[GroupBy.PRODUCT],
            default_currency=currency,
        )  # fmt: skip
        by_day, by_model = summary(GroupBy.DAY), summary(GroupBy.MODEL)
        by_key, by_workspace = summary(GroupBy.KEY), summary(GroupBy.WORKSPACE)
        split = summary(GroupBy.DAY, SPLITS[by]) if by in SPLITS else None
        keys = {k.id: k.name for k in tenancy.list_keys(session, seat.actor, include_revoked=True)}
        spaces = {w.id: w.name for w in tenancy.workspaces_of(session, seat.actor)}
        standing = quota.tier_standing(session, seat.actor, tiers=state.settings.tiers)
        limits = quota.spend_limits(session, seat.actor, default_currency=currency)
    daily = {str(row.group.get("day")): row for row in by_day.rows}
    labels = [(start + timedelta(days=n)).isoformat() for n in range(days)]
    chart: dict[str, Any] = {
        "currency": by_day.currency,
        "days": labels,
        "tokens": [daily[d].total_tokens if d in daily else 0 for d in labels],
        "cost": [round(daily[d].cost_nanos / 1e9, 6) if d in daily else 0 for d in labels],
    }
    if split is not None:
        names = {"key": keys, "workspace": spaces}.get(by, {})
        chart["series"] = _series(split.rows, by, labels, names)
    return page(
        request, "console/usage.html", who, days=days, periods=PERIODS, start=start, end=end,
        by=by if by in SPLITS else "", splits=tuple(SPLITS), product=product,
        products=PRODUCTS, by_product=by_product.rows, by_key_too=product != "chat",
        total=by_day.total, currency=by_day.currency, chart=chart, by_model=by_model.rows,
        by_key=by_key.rows, by_workspace=by_workspace.rows, keys=keys, spaces=spaces,
        tier=standing.tier.name if standing.tier else None, limits=limits,
        amount=cost, refused=refused, **_common(seat),
    )  # fmt: skip


@router.post("/console/spend-limit")
def set_spend_limit(
    request: Request, state: State, who: Posted, seat: PostedSeat, monthly_limit: Text = "",
    workspace: Text = "",
) -> Response:  # fmt: skip
    """Set (an amount) or remove (empty) the monthly cap of the organisation or a workspace."""

    def act() -> str:
        with state.database.session() as session:
            quota.change_spend_limit(
                session, seat.actor, monthly_limit=monthly_limit.strip() or None,
                workspace=workspace or None, default_currency=state.settings.currency,
            )  # fmt: skip
        return f"monthly limit of {workspace or 'the organisation'}: {monthly_limit or 'none'}"

    return after_form(
        request, state, who, act, back=_here("/console/usage", seat),
        again=lambda refused: _usage_page(request, state, who, seat, refused=refused),
    )  # fmt: skip


def _series(
    rows: list[metering.UsageRow], by: str, days: list[str], names: dict[str, str]
) -> dict[str, list[int]]:
    """Tokens per day of each model, key or workspace: the largest few, and the rest as one."""
    totals: dict[str, int] = {}
    per: dict[tuple[str, str], int] = {}
    for row in rows:
        ref = str(row.group.get(by) or "—")
        label = names.get(ref, ref)
        totals[label] = totals.get(label, 0) + row.total_tokens
        key = (label, str(row.group.get("day")))
        per[key] = per.get(key, 0) + row.total_tokens
    ranked = sorted(totals, key=lambda label: -totals[label])
    shown, rest = ranked[:MOST_SERIES], ranked[MOST_SERIES:]
    out = {label: [per.get((label, d), 0) for d in days] for label in shown}
    if rest:
        out["other"] = [sum(per.get((label, d), 0) for label in rest) for d in days]
    return out


# -- API keys -------------------------------------------------------------------------------------


@router.get("/console/keys")
def keys_page(request: Request, state: State, who: SignedIn, seat: Seat, _: Flushed) -> Response:
    """The keys, each with when it was last used (the ledger is flushed first, so a request
    just answered counts)."""
    return _keys(request, state, who, seat)


def _keys(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    seat: tenancy.ConsoleSeat,
    *,
    created: tenancy.IssuedKey | None = None,
    refused: Refused | None = None,
) -> Response:
    with state.database.session() as session:
        keys = tenancy.list_keys(session, seat.actor, include_revoked=True)
        last_used = tenancy.keys_last_used(session, seat.actor)
        spaces = tenancy.workspaces_of(session, seat.actor)
        names = {w.id: w.name for w in spaces}
        return page(
            request, "console/keys.html", who, keys=keys, last_used=last_used, spaces=spaces,
            names=names, created=created, models=[m.id for m in state.models.configured()],
            status_code=201 if created is not None else 200, refused=refused,
            now=datetime.now(UTC), **_common(seat),
        )  # fmt: skip


def _on_the_keys_page(
    request: Request, state: AppState, who: SignedInVisitor, seat: tenancy.ConsoleSeat
) -> Again:
    return lambda refused: _keys(request, state, who, seat, refused=refused)


@router.post("/console/workspaces")
def add_workspace(
    request: Request, state: State, who: Posted, seat: PostedSeat, name: Text = ""
) -> Response:
    """A new workspace: keys are made in one, and its usage and cap are its own."""

    def act() -> str:
        with state.database.session() as session:
            made = tenancy.add_workspace(session, seat.actor, name=name)
            return f"workspace {made.name} is ready"

    again = _on_the_keys_page(request, state, who, seat)
    return after_form(request, state, who, act, back=_here("/console/keys", seat), again=again)


@router.post("/console/keys")
def create_key(
    request: Request,
    state: State,
    who: Posted,
    seat: PostedSeat,
    name: Text = "",
    workspace: Text = "",
    models: Annotated[list[str] | None, Form()] = None,
    expires_on: Text = "",
) -> Response:
    """Create a key; the page shows its secret this once."""

    def act() -> Response:
        expires = _expiry(expires_on)
        with state.database.session() as session:
            issued = tenancy.create_key(
                session, seat.actor, name=name, models=state.models.names,
                workspace=workspace or tenancy.DEFAULT_WORKSPACE, expires_at=expires,
                allowed_models=models or None,
            )  # fmt: skip
        return _keys(request, state, who, seat, created=issued)

    return in_place(request, who, act, _on_the_keys_page(request, state, who, seat))


def _expiry(text: str) -> datetime | None:
    if not text.strip():
        return None
    day = parse_day(text, param="expires_on", label="the expiry")
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    # A key works through its last day; the service refuses a day too far ahead (date.max too).
    return start + timedelta(days=1) if day < date.max else start


@router.post("/console/keys/{key_id}/revoke")
def revoke_key(
    request: Request, state: State, who: Posted, seat: PostedSeat, key_id: str
) -> Response:
    def act() -> Response:
        with state.database.session() as session:
            tenancy.revoke_key(session, seat.actor, key_id=key_id)
        return RedirectResponse(_here("/console/keys", seat), status_code=303)

    return in_place(request, who, act, _on_the_keys_page(request, state, who, seat))


# -- billing --------------------------------------------------------------------------------------


@router.get("/console/billing")
def billing_page(request: Request, state: State, who: SignedIn, seat: Seat, _: Flushed) -> Response:
    """The billing account (its details editable by those who buy), the wallet, the
    subscriptions and the invoices."""
    return _billing(request, state, who, seat)


# The billing details' form: its fields, as the account holds them.
DETAILS = ("legal_name", "email", "address", "country", "vat_number")


def _billing(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    seat: tenancy.ConsoleSeat,
    refused: Refused | None = None,
) -> Response:
    with state.database.session() as session:
        wallet = billing.wallet_of(session, seat.actor, default_currency=state.settings.currency)
        subscriptions = billing.subscriptions_of(session, seat.actor, include_ended=False)
        invoices = billing.invoices_of(session, seat.actor, limit=100)
        account = wallet.account
        # The form holds the account's details, or what was typed into it when it was refused.
        details = {name: getattr(account, name) or "" for name in DETAILS} | {
            "kind": "business" if account.is_business else "consumer"
        }
        if refused is not None and refused.action == "/console/billing-details":
            details = {name: refused.typed.get(name, "") for name in details}
        return page(
            request, "console/billing.html", who, wallet=wallet, subscriptions=subscriptions,
            invoices=invoices, amount=cost, refused=refused, details=details,
            edits_details=seat.may(Permission.BUY), **_common(seat),
        )  # fmt: skip


@router.post("/console/billing-details")
def edit_billing_details(
    request: Request, state: State, who: Posted, seat: PostedSeat, legal_name: Text = "",
    email: Text = "", address: Text = "", country: Text = "", vat_number: Text = "",
    kind: Text = "consumer",
) -> Response:  # fmt: skip
    """Change who the invoices are for: the legal name, the billing address (email and
    postal), the country, the VAT number, and whether the organisation is a business."""

    def act() -> str:
        change = billing.AccountChange(
            legal_name=legal_name, email=email, address=address, country=country,
            vat_number=vat_number, is_business=kind == "business",
        )  # fmt: skip
        with state.database.session() as session:
            billing.edit_account(
                session, seat.actor, change=change, default_currency=state.settings.currency
            )
        return "The billing details are saved: the next invoices carry them."

    return after_form(
        request, state, who, act, back=_here("/console/billing", seat),
        again=lambda refused: _billing(request, state, who, seat, refused),
    )  # fmt: skip


@router.post("/console/top-ups")
def top_up(
    request: Request, state: State, who: Posted, seat: PostedSeat, amount: Text = ""
) -> Response:
    """Buy prepaid credits: an invoice for them, and the way to pay it (the provider's page,
    or the transfer's instructions); the credits arrive when it is paid."""

    def act() -> Response:
        with state.database.session() as session:
            _, checkout = billing.buy_credits(
                session, seat.actor, amount=amount, settings=state.settings.billing,
                default_currency=state.settings.currency,
            )  # fmt: skip
        return to_payment(state, who, checkout, back=_here("/console/billing", seat))

    return in_place(request, who, act, lambda r: _billing(request, state, who, seat, r))


@router.post("/console/invoices/{ref}/pay")
def pay_invoice(
    request: Request, state: State, who: Posted, seat: PostedSeat, ref: str
) -> Response:
    """Pay an invoice still due: the provider's page, or the transfer's details."""

    def act() -> Response:
        with state.database.session() as session:
            checkout = billing.pay_invoice(
                session, seat.actor, ref, settings=state.settings.billing,
                organization=seat.organization.id,
            )  # fmt: skip
        return to_payment(state, who, checkout, back=_here("/console/billing", seat))

    return in_place(request, who, act, lambda r: _billing(request, state, who, seat, r))


@router.get("/console/invoices/{ref}.{kind}")
def invoice_file(state: State, who: SignedIn, seat: Seat, ref: str, kind: str) -> Response:
    """An invoice as HTML or PDF: one of the organisation's, or not found."""
    with state.database.session() as session:
        found, lines = billing.invoice_of(session, seat.actor, ref, own=True)
        return invoice_document(found, lines, kind)


# -- licences and members -------------------------------------------------------------------------


@router.get("/console/licenses")
def licenses_page(request: Request, state: State, who: SignedIn, seat: Seat) -> Response:
    """The organisation's self-hosted licences: seats, expiry, the last usage report."""
    with state.database.session() as session:
        records = licensing.licenses_of(session, seat.actor, seat.organization.id)
        now = datetime.now(UTC)
        rows = [(r, licensing.license_status(r, now)) for r in records]
        return page(request, "console/licenses.html", who, rows=rows, **_common(seat))


@router.get("/console/members")
def members_page(request: Request, state: State, who: SignedIn, seat: Seat) -> Response:
    return _members(request, state, who, seat)


def _members(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    seat: tenancy.ConsoleSeat,
    refused: Refused | None = None,
) -> Response:
    """The organisation's people and open invitations; those who manage members add, invite,
    change roles and remove here (owners alone make or unmake owners: the service says)."""
    with state.database.session() as session:
        people, invited = tenancy.members(session, seat.actor)
        return page(
            request, "console/members.html", who, people=people, invited=invited,
            roles=[r.value for r in tenancy.Role], refused=refused, **_common(seat),
        )  # fmt: skip


def _on_the_members_page(
    request: Request, state: AppState, who: SignedInVisitor, seat: tenancy.ConsoleSeat
) -> Again:
    return lambda refused: _members(request, state, who, seat, refused)


@router.post("/console/members")
def add_member(
    request: Request, state: State, who: Posted, seat: PostedSeat, email: Text = "",
    role: Text = "member",
) -> Response:  # fmt: skip
    """Add someone by address (a new user gets a claim link; another organisation's user, an
    invitation to accept), or change a member's role."""

    def act() -> str:
        with state.database.session() as session:
            change = tenancy.add_member(
                session, seat.actor, email=email, role=_role(role),
                public_url=state.settings.billing.public_url, seat_check=state.seat_check,
                attempts=state.attempts, paces=state.paces,
            )  # fmt: skip
        said = {"added": "is added; a link to choose a password is on its way",
                "updated": f"is now {change.role}",
                "invited": "is invited; the invitation is on its way"}  # fmt: skip
        return f"{change.email} {said.get(change.status, change.status)}."

    again = _on_the_members_page(request, state, who, seat)
    return after_form(request, state, who, act, back=_here("/console/members", seat), again=again)


@router.post("/console/members/{user_id}/remove")
def remove_member(
    request: Request, state: State, who: Posted, seat: PostedSeat, user_id: str
) -> Response:
    def act() -> str:
        with state.database.session() as session:
            gone = tenancy.remove_member(session, seat.actor, user_id=user_id)
        return f"{gone.email} is no longer a member."

    again = _on_the_members_page(request, state, who, seat)
    return after_form(request, state, who, act, back=_here("/console/members", seat), again=again)


def _role(text: str) -> tenancy.Role:
    try:
        return tenancy.Role(text)
    except ValueError:
        roles = ", ".join(r.value for r in tenancy.Role)
        raise InvalidRequestError(f"A role is one of {roles}.", param="role") from None
