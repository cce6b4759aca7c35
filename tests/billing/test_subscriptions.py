"""Subscriptions: trials, renewals, cancellation, seats and plan changes with proration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from levante import audit, billing
from levante.audit import Actor
from levante.billing.subscriptions import add_months, prorate, resume
from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.pricing import parse_amount
from levante.settings import BillingSettings
from levante.storage import Database
from levante.storage.models import Charge
from tests.billing.conftest import utc
from tests.helpers import make_tenant

EUR: dict[str, Any] = {"default_currency": "EUR", "actor": Actor("test")}


def charges(database: Database, org: str) -> list[tuple[str, int]]:
    with database.session() as session:
        rows = session.scalars(
            select(Charge)
            .where(Charge.organization_id == org)
            .order_by(Charge.charged_at, Charge.created_at)
        )
        return [(c.kind, c.amount_nanos) for c in rows]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (utc(2026, 1, 31), 1, utc(2026, 2, 28)),
        (utc(2028, 1, 31), 1, utc(2028, 2, 29)),
        (utc(2026, 1, 31), 3, utc(2026, 4, 30)),
        (utc(2026, 12, 15, 9), 1, utc(2027, 1, 15, 9)),
        (utc(2026, 3, 1), 12, utc(2027, 3, 1)),
    ],
)
def test_months_keep_the_anchor_day(start, months, expected) -> None:  # type: ignore[no-untyped-def]
    assert add_months(start, months) == expected


def test_proration_rounds_half_up_to_a_nano() -> None:
    day = timedelta(days=1)
    assert prorate(30, 15 * day, 30 * day) == 15
    assert prorate(1, day, 2 * day) == 1  # 0.5 nano rounds up
    assert prorate(-1, day, 2 * day) == -1
    assert prorate(100, -day, 30 * day) == 0


def test_monthly_plan_renews_each_month_from_its_anchor(catalog: Database) -> None:
    org = make_tenant(catalog, "Renew").organization_id
    with catalog.session() as session:
        sub = billing.subscribe(session, org, "chat-pro-monthly", now=utc(2026, 1, 31, 10), **EUR)
        assert sub.current_period_end == utc(2026, 2, 28, 10)
        assert billing.run_cycle(session, BillingSettings(), utc(2026, 4, 1)).renewed == 2
        assert (sub.current_period_start, sub.current_period_end) == (
            utc(2026, 3, 31, 10),
            utc(2026, 4, 30, 10),
        )
    assert charges(catalog, org) == [("subscription", parse_amount("14.99"))] * 3


def test_renewing_twice_charges_once(catalog: Database) -> None:
    org = make_tenant(catalog, "Twice").organization_id
    with catalog.session() as session:
        billing.subscribe(session, org, "chat-pro-monthly", now=utc(2026, 1, 1), **EUR)
    for _ in range(2):
        with catalog.session() as session:
            billing.subscriptions.renew_due(session, utc(2026, 2, 1, 1))
    assert len(charges(catalog, org)) == 2


def test_trial_charges_nothing_until_it_ends(catalog: Database) -> None:
    org = make_tenant(catalog, "Trial").organization_id
    with catalog.session() as session:
        sub = billing.subscribe(
            session, org, "chat-team-monthly", quantity=4, now=utc(2026, 5, 1), **EUR
        )
        assert (sub.status, sub.trial_end) == ("trialing", utc(2026, 5, 15))
    assert charges(catalog, org) == []
    with catalog.session() as session:
        billing.subscriptions.renew_due(session, utc(2026, 5, 15))
        sub = session.get_one(type(sub), sub.id)
        assert sub.status == "active"
        assert (sub.current_period_start, sub.current_period_end) == (
            utc(2026, 5, 15),
            utc(2026, 6, 15),
        )
    assert charges(catalog, org) == [("subscription", 4 * parse_amount("24.99"))]


def test_a_second_trial_of_a_product_is_not_given(catalog: Database) -> None:
    org = make_tenant(catalog, "Again").organization_id
    with catalog.session() as session:
        first = billing.subscribe(session, org, "chat-team-monthly", now=utc(2026, 5, 1), **EUR)
        billing.cancel(
            session, org, first.id, at_period_end=False, now=utc(2026, 5, 2), actor=Actor("t")
        )
        second = billing.subscribe(session, org, "chat-team-monthly", now=utc(2026, 5, 3), **EUR)
        assert second.status == "active"


def test_cancel_at_period_end_then_resume_or_end(catalog: Database) -> None:
    org = make_tenant(catalog, "Cancel").organization_id
    with catalog.session() as session:
        sub = billing.subscribe(session, org, "chat-pro-monthly", now=utc(2026, 1, 10), **EUR)
        billing.cancel(session, org, sub.id, now=utc(2026, 1, 20), actor=Actor("t"))
        resume(session, org, sub.id, actor=Actor("t"))
        assert not sub.cancel_at_period_end
        billing.cancel(session, org, sub.id, now=utc(2026, 1, 21), actor=Actor("t"))
        billing.subscriptions.renew_due(session, utc(2026, 3, 1))
        assert (sub.status, sub.ended_at) == ("canceled", utc(2026, 2, 10))
        actions = [e.action for e in audit.list_events(session, org)]
    assert charges(catalog, org) == [("subscription", parse_amount("14.99"))]
    assert actions[:3] == [
        "subscription.ended",
        "subscription.cancel_scheduled",
        "subscription.resumed",
    ]


def test_adding_seats_mid_period_is_prorated(catalog: Database) -> None:
    org = make_tenant(catalog, "Seats").organization_id
    with catalog.session() as session:
        sub = billing.subscribe(
            session, org, "chat-team-monthly", quantity=2, trial=False, now=utc(2026, 4, 1), **EUR
        )
        billing.change(session, org, sub.id, quantity=5, now=utc(2026, 4, 16), actor=Actor("t"))
    seat = parse_amount("24.99")
    half = 15 / 30
    assert charges(catalog, org) == [
        ("subscription", 2 * seat),
        ("proration", -round(2 * seat * half)),
        ("proration", round(5 * seat * half)),
    ]


def test_monthly_to_annual_starts_a_new_period(catalog: Database) -> None:
    org = make_tenant(catalog, "Annual").organization_id
    with catalog.session() as session:
        sub = billing.subscribe(session, org, "chat-pro-monthly", now=utc(2026, 4, 1), **EUR)
        billing.change(
            session,
            org,
            sub.id,
            plan_code="chat-pro-annual",
            now=utc(2026, 4, 11),
            actor=Actor("t"),
        )
        assert (sub.current_period_start, sub.current_period_end) == (
            utc(2026, 4, 11),
            utc(2027, 4, 11),
        )
    month = parse_amount("14.99")
    assert charges(catalog, org) == [
        ("subscription", month),
        ("proration", -round(month * 20 / 30)),
        ("subscription", parse_amount("143.90")),
    ]


@pytest.mark.parametrize(
    ("plan", "quantity", "error", "text"),
    [
        ("chat-pro-monthly", 2, InvalidRequestError, "flat fee"),
        ("chat-team-monthly", 0, InvalidRequestError, "between 1 and"),
        ("no-such-plan", 1, NotFoundError, "does not exist"),
    ],
)
def test_bad_subscriptions_are_refused(catalog, plan, quantity, error, text) -> None:  # type: ignore[no-untyped-def]
    org = make_tenant(catalog, "Bad").organization_id
    with catalog.session() as session, pytest.raises(error, match=text):
        billing.subscribe(session, org, plan, quantity=quantity, now=utc(2026, 1, 1), **EUR)


def test_one_live_subscription_per_product(catalog: Database) -> None:
    org = make_tenant(catalog, "One").organization_id
    other = make_tenant(catalog, "Other").organization_id
    with catalog.session() as session:
        sub = billing.subscribe(session, org, "chat-pro-monthly", now=utc(2026, 1, 1), **EUR)
        with pytest.raises(ConflictError, match="change that one"):
            billing.subscribe(session, org, "chat-team-monthly", now=utc(2026, 1, 2), **EUR)
        with pytest.raises(InvalidRequestError, match="not a chat plan"):
            billing.change(
                session,
                org,
                sub.id,
                plan_code="support-standard",
                now=utc(2026, 1, 3),
                actor=Actor("t"),
            )
        with pytest.raises(NotFoundError):
            billing.cancel(session, other, sub.id, now=utc(2026, 1, 3), actor=Actor("t"))
