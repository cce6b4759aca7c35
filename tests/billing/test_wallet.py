"""Prepaid credits: grants used first and expiring, top-ups after, usage beyond the credits."""

from __future__ import annotations

from datetime import date

import pytest

from levante import billing
from levante.audit import Actor
from levante.billing.wallet import grant_credits, wallet_state
from levante.errors import InvalidRequestError
from levante.storage import Database
from tests.billing.conftest import record_usage, utc
from tests.helpers import make_tenant

UNIT = 10**9


def credit(database: Database, org: str, kind: str, amount: int, when, expires=None) -> None:  # type: ignore[no-untyped-def]
    with database.session() as session:
        if kind == "grant":
            grant_credits(
                session,
                org,
                amount * UNIT,
                currency="USD",
                expires_on=expires,
                now=when,
                actor=Actor("t"),
            )
        else:
            billing.wallet.add_top_up(
                session, org, amount * UNIT, currency="USD", reference=f"inv-{amount}", now=when
            )


def spend(database: Database, org: str, when, dollars: int) -> None:  # type: ignore[no-untyped-def]
    # $0.60 per million output tokens: 1/0.6 M tokens per dollar.
    record_usage(database, org, when, currency="USD", prompt=0, completion=dollars * 5_000_000 // 3)


def test_grants_go_first_and_expire_unused(catalog: Database) -> None:
    org = make_tenant(catalog, "W").organization_id
    credit(catalog, org, "top_up", 20, utc(2026, 3, 1))
    credit(catalog, org, "grant", 5, utc(2026, 3, 1), expires=date(2026, 3, 10))
    spend(catalog, org, utc(2026, 3, 5, 12), 3)
    spend(catalog, org, utc(2026, 3, 12, 12), 6)
    with catalog.session() as session:
        before = wallet_state(session, org, "USD", utc(2026, 3, 9))
        assert (before.balance_nanos, before.expired_nanos) == (22 * UNIT, 0)
        after = wallet_state(session, org, "USD", utc(2026, 3, 31))
    assert after.expired_nanos == 2 * UNIT
    assert after.consumed_nanos == 9 * UNIT
    assert after.balance_nanos == 14 * UNIT
    assert after.consumed_by_month == {"2026-03": (3 * UNIT, 6 * UNIT)}
    assert after.limit_nanos == 23 * UNIT


def test_usage_beyond_the_credits_is_not_covered(catalog: Database) -> None:
    org = make_tenant(catalog, "Over").organization_id
    spend(catalog, org, utc(2026, 2, 27), 100)  # before the wallet: not covered
    credit(catalog, org, "grant", 5, utc(2026, 3, 1))
    spend(catalog, org, utc(2026, 3, 2), 9)
    with catalog.session() as session:
        state = wallet_state(session, org, "USD", utc(2026, 4, 1))
    assert (state.usage_nanos, state.consumed_nanos, state.balance_nanos) == (
        9 * UNIT,
        5 * UNIT,
        0,
    )


def test_a_top_up_is_credited_once_per_reference(catalog: Database) -> None:
    org = make_tenant(catalog, "Once").organization_id
    credit(catalog, org, "top_up", 7, utc(2026, 3, 1))
    credit(catalog, org, "top_up", 7, utc(2026, 3, 2))
    with catalog.session() as session:
        assert wallet_state(session, org, "USD", utc(2026, 3, 3)).credited_nanos == 7 * UNIT


@pytest.mark.parametrize(
    ("amount", "expires", "text"),
    [(0, None, "positive"), (5 * UNIT, date(2026, 3, 1), "after today")],
)
def test_bad_grants(catalog: Database, amount: int, expires: date | None, text: str) -> None:
    org = make_tenant(catalog, "Bad").organization_id
    with catalog.session() as session, pytest.raises(InvalidRequestError, match=text):
        grant_credits(
            session,
            org,
            amount,
            currency="USD",
            expires_on=expires,
            now=utc(2026, 3, 1),
            actor=Actor("t"),
        )
