"""Each revenue metric on a small case computed by hand, through the real billing code: the
subscriptions, charges, invoices and payments the metrics read are made by ``billing``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from levante import billing, revenue
from levante.audit import Actor
from levante.errors import ExchangeRateMissingError, InvalidRequestError, PermissionDeniedError
from levante.pricing import NANOS, parse_amount
from levante.revenue.metrics import Movement
from levante.settings import RevenueSettings
from levante.storage import Database
from levante.storage.models import Invoice
from tests.billing.conftest import SELLER, record_usage, utc
from tests.helpers import make_tenant

CLI = Actor.command_line()
USD = RevenueSettings()


def money(text: str) -> int:
    return parse_amount(text)


def near(nanos: int, text: str) -> bool:
    """Within a cent of ``text``: a monthly twelfth of an annual price is not a whole cent."""
    return abs(nanos - money(text)) < NANOS // 100


def subscribe(
    db: Database, org: str, plan: str, when: datetime, *, seats: int = 1, currency: str = "USD"
) -> str:
    with db.session() as session:
        sub = billing.subscribe(
            session, org, plan, quantity=seats, now=when, default_currency=currency, actor=CLI
        )
        return sub.id


def renew(db: Database, when: datetime) -> None:
    with db.session() as session:
        billing.subscriptions.renew_due(session, when)


def invoice(db: Database, period: str, when: datetime) -> None:
    billing.invoice_period(
        db, CLI, period, settings=SELLER, default_currency="USD", settle_seconds=0, now=when
    )


def report(db: Database, first: str, last: str, settings: RevenueSettings = USD) -> revenue.Report:
    with db.session() as session:
        return revenue.report(session, CLI, settings, now=utc(2030, 1, 1), first=first, last=last)


def month(rep: revenue.Report, which: str) -> revenue.MonthFigures:
    return next(m for m in rep.months if m.month == which)


def test_an_annual_plan_counts_a_twelfth_of_its_price_each_month(catalog: Database) -> None:
    org = make_tenant(catalog, "Annual").organization_id
    subscribe(catalog, org, "enterprise-seat", utc(2026, 1, 15), seats=10)  # 650 a seat a year
    renew(catalog, utc(2027, 2, 1))
    rep = report(catalog, "2026-01", "2027-01")
    for figures in rep.months:
        enterprise = figures.streams["enterprise"]
        assert near(enterprise.mrr, "541.67"), figures.month  # 6,500 / 12
        assert near(enterprise.subscription_arr, "6500")
        assert enterprise.customers == 1
        assert figures.streams["total"].share is not None
    jan = month(rep, "2026-01")
    assert near(jan.movements["enterprise"].new, "541.67")
    # The renewal in January 2027 charges the next year; MRR does not move.
    assert month(rep, "2027-01").movements["enterprise"] == Movement()
    assert month(rep, "2026-06").streams["enterprise"].share == Decimal(1)


def test_an_upgrade_mid_month_expands_mrr_to_the_new_price(catalog: Database) -> None:
    org = make_tenant(catalog, "Upgrade").organization_id
    sub = subscribe(catalog, org, "chat-pro-monthly", utc(2026, 3, 1))  # 14.99 a month
    renew(catalog, utc(2026, 4, 1))
    with catalog.session() as session:  # half-way through April (30 days): 3 Team seats
        billing.change(
            session, org, sub, plan_code="chat-team-monthly", quantity=3,
            now=utc(2026, 4, 16), actor=CLI,
        )  # fmt: skip
    invoice(catalog, "2026-03", utc(2026, 4, 2))
    invoice(catalog, "2026-04", utc(2026, 5, 2))
    rep = report(catalog, "2026-03", "2026-04")
    march, april = month(rep, "2026-03"), month(rep, "2026-04")
    assert march.streams["chat"].mrr == money("14.99")
    assert near(april.streams["chat"].mrr, "74.97")  # 3 x 24.99
    assert near(april.movements["chat"].expansion, "59.98")
    assert april.movements["chat"].new == 0
    # April's invoice: the renewal 14.99, the unused half of Pro -7.50 (7.495 rounded away
    # from zero) and the rest of the month on Team 37.49 (37.485, rounded half up).
    assert april.invoiced["chat"] == money("44.98")
    assert march.invoiced["chat"] == money("14.99")


def test_a_churned_customer_who_comes_back_is_a_reactivation(catalog: Database) -> None:
    org = make_tenant(catalog, "Returns").organization_id
    stays = make_tenant(catalog, "Stays").organization_id
    sub = subscribe(catalog, org, "chat-pro-monthly", utc(2026, 1, 1))
    subscribe(catalog, stays, "chat-pro-monthly", utc(2026, 1, 1))
    renew(catalog, utc(2026, 2, 1))
    with catalog.session() as session:
        billing.cancel(session, org, sub, at_period_end=True, now=utc(2026, 2, 10), actor=CLI)
    renew(catalog, utc(2026, 5, 1))
    subscribe(catalog, org, "chat-pro-monthly", utc(2026, 5, 10))
    renew(catalog, utc(2026, 6, 1))
    rep = report(catalog, "2026-01", "2026-05")
    pro = money("14.99")
    assert month(rep, "2026-01").movements["chat"].new == 2 * pro
    assert month(rep, "2026-02").streams["chat"].mrr == 2 * pro
    march = month(rep, "2026-03")
    assert march.streams["chat"].mrr == pro
    assert march.movements["chat"].churn == -pro
    assert march.movements["total"].churn == -pro
    assert march.churn["chat"].gross == Decimal("0.5000")  # 14.99 lost of 29.98
    assert march.churn["chat"].net == Decimal("0.5000")
    assert month(rep, "2026-04").movements["chat"] == Movement()
    may = month(rep, "2026-05")
    assert may.movements["chat"].reactivation == pro
    assert may.movements["chat"].new == 0
    assert may.churn["chat"].net == Decimal("-1.0000")  # won back all it opened with
    assert may.streams["chat"].customers == 2
    assert may.streams["chat"].arpa == pro


def test_a_licence_renewed_with_more_seats_expands(catalog: Database) -> None:
    org = make_tenant(catalog, "Grows").organization_id
    sub = subscribe(catalog, org, "enterprise-seat", utc(2026, 1, 1), seats=10)
    renew(catalog, utc(2027, 1, 1))
    with catalog.session() as session:  # renewed for 2027 with 15 seats
        billing.change(session, org, sub, quantity=15, now=utc(2027, 1, 1), actor=CLI)
    rep = report(catalog, "2026-12", "2027-01")
    december, january = month(rep, "2026-12"), month(rep, "2027-01")
    assert near(december.streams["enterprise"].mrr, "541.67")
    assert near(january.streams["enterprise"].mrr, "812.50")  # 15 x 650 / 12
    assert near(january.movements["enterprise"].expansion, "270.83")
    assert near(january.streams["enterprise"].arr, "9750")
    cohort = rep.cohort["enterprise"]
    assert (cohort.customers, cohort.retained) == (1, 1)
    assert cohort.nrr == Decimal("1.5000")
    assert cohort.grr == Decimal("1.0000")


def test_falling_api_usage_lowers_the_run_rates_and_retention(catalog: Database) -> None:
    org = make_tenant(catalog, "Falls").organization_id
    # Output tokens at 0.60 per million: 500M is 300.00, then 200.00, then 100.00.
    for m, tokens in ((1, 500_000_000), (2, 333_333_334), (3, 166_666_667)):
        record_usage(catalog, org, utc(2026, m, 10), currency="USD", prompt=0, completion=tokens)
    for period, when in (("2026-01", utc(2026, 2, 2)), ("2026-02", utc(2026, 3, 2))):
        invoice(catalog, period, when)
    invoice(catalog, "2026-03", utc(2026, 4, 2))
    rep = report(catalog, "2026-01", "2026-03")
    api = month(rep, "2026-03").streams["api"]
    assert api.usage == money("100.00")
    assert api.run_rate_last_month == money("1200.00")
    assert api.run_rate_3_months == money("2400.00")  # 4 x (300 + 200 + 100)
    assert api.arr == money("2400.00")  # the default policy: the trailing three months
    assert api.mrr == 0  # usage is never MRR
    assert month(rep, "2026-03").streams["total"].mrr == 0
    assert api.customers == 1
    assert rep.cohort["api"].nrr == Decimal("0.3333")  # 100 of 300
    assert rep.cohort["api"].grr == Decimal("0.3333")
    last_month = report(catalog, "2026-01", "2026-03", RevenueSettings(usage_run_rate="last_month"))
    assert month(last_month, "2026-03").streams["api"].arr == money("1200.00")
    assert rep.top[0].organization_id == org
    assert rep.top[0].arr["total"] == money("2400.00")


def test_invoiced_and_collected_by_stream_leave_tax_out(catalog: Database) -> None:
    org = make_tenant(catalog, "Pays").organization_id
    subscribe(catalog, org, "chat-pro-monthly", utc(2026, 1, 5))
    record_usage(catalog, org, utc(2026, 1, 6), currency="USD", prompt=0, completion=50_000_000)
    with catalog.session() as session:  # a French consumer: 20 % VAT
        billing.update_account(
            session, org, billing.AccountChange(country="FR"), default_currency="USD", actor=CLI
        )
    invoice(catalog, "2026-01", utc(2026, 2, 1, 1))
    with catalog.session() as session:
        found = session.query(Invoice).filter_by(organization_id=org, period="2026-01").one()
        assert found.taxable_cents == 1499 + 3000
        assert found.total_cents == 5399  # 44.99 + 9.00 VAT (8.998, rounded)
        billing.record_payment(
            session, found, provider="manual", reference="wire-1", amount_cents=5399,
            now=utc(2026, 2, 10), actor=CLI,
        )  # fmt: skip
    rep = report(catalog, "2026-01", "2026-02")
    january, february = month(rep, "2026-01"), month(rep, "2026-02")
    assert january.invoiced["chat"] == money("14.99")
    assert january.invoiced["api"] == money("30.00")
    assert january.invoiced["total"] == money("44.99")
    assert january.collected["total"] == 0
    # 53.99 received, its VAT left out, shared like the lines: 14.99 and 30.00.
    assert february.collected["chat"] == money("14.99")
    assert february.collected["api"] == money("30.00")


def test_other_currencies_are_converted_at_the_month_end_rate(catalog: Database) -> None:
    org = make_tenant(catalog, "Euros").organization_id
    subscribe(catalog, org, "chat-pro-monthly", utc(2026, 1, 1), currency="EUR")  # 14.99 EUR
    renew(catalog, utc(2026, 3, 2))
    with catalog.session() as session:
        with pytest.raises(ExchangeRateMissingError, match="levante revenue rates set EUR USD"):
            revenue.report(session, CLI, USD, now=utc(2026, 4, 1), first="2026-01", last="2026-03")
        revenue.set_rate(
            session, CLI, base="EUR", quote="USD", rate="1.10", effective_on=date(2025, 12, 1)
        )
        revenue.set_rate(
            session, CLI, base="EUR", quote="USD", rate="1.20", effective_on=date(2026, 3, 1)
        )
    rep = report(catalog, "2026-01", "2026-03")
    assert month(rep, "2026-02").streams["chat"].mrr == money("16.489")
    march = month(rep, "2026-03")
    assert march.streams["chat"].mrr == money("17.988")
    # The same subscription at a new rate: no expansion, the difference is exchange.
    assert march.movements["chat"].expansion == 0
    assert march.movements["chat"].fx == money("1.499")
    assert march.movements["chat"].net == money("1.499")
    eur = report(catalog, "2026-01", "2026-03", RevenueSettings(reporting_currency="EUR"))
    assert month(eur, "2026-03").streams["chat"].mrr == money("14.99")


def test_trials_count_nothing_until_they_convert(catalog: Database) -> None:
    org = make_tenant(catalog, "Trial").organization_id
    subscribe(catalog, org, "chat-team-monthly", utc(2026, 1, 25), seats=2)  # 14-day trial
    renew(catalog, utc(2026, 3, 1))
    rep = report(catalog, "2026-01", "2026-02")
    assert month(rep, "2026-01").streams["chat"].mrr == 0
    assert month(rep, "2026-02").streams["chat"].mrr == money("49.98")


def test_only_the_operator_reads_revenue(catalog: Database) -> None:
    tenant = make_tenant(catalog, "Curious")
    key = Actor.api_key(tenant.organization_id, tenant.key_id)
    with catalog.session() as session, pytest.raises(PermissionDeniedError):
        revenue.report(session, key, USD, now=utc(2026, 5, 1))
    with catalog.session() as session, pytest.raises(PermissionDeniedError):
        revenue.set_rate(
            session, key, base="EUR", quote="USD", rate="1", effective_on=date(2026, 1, 1)
        )


def test_a_long_range_and_a_far_month_are_clear_answers(catalog: Database) -> None:
    org = make_tenant(catalog, "Old").organization_id
    subscribe(catalog, org, "support-standard", utc(2021, 1, 10))
    decade = report(catalog, "2021-01", "2030-12")  # 120 months: the most a report spans
    assert len(decade.months) == 120
    assert near(decade.months[0].streams["support"].mrr, "541.67")
    with pytest.raises(InvalidRequestError, match="at most 120 months"):
        report(catalog, "2020-12", "2030-12")
    with pytest.raises(InvalidRequestError, match="not a month"):
        report(catalog, "2026-01", "9999-12")
