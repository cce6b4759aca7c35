"""The operator's revenue routes: the report (every customer, or one) and the exchange rates
it converts with. Each takes the :data:`~levante.api.state.Operator` dependency; the services
check it again."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from levante import revenue
from levante.api.schemas.revenue import RateList, RateView, RevenueView, SetRate
from levante.api.state import Operator, State

router = APIRouter(prefix="/v1/admin/revenue")


@router.get("")
def revenue_report(
    state: State,
    caller: Operator,
    first: str | None = None,
    last: str | None = None,
    organization: str | None = None,
    top: int = 10,
) -> RevenueView:
    """Revenue per stream and in total for the months ``first`` to ``last`` (``YYYY-MM``; by
    default the twelve ending with the last closed month), with movements, churn, invoiced
    and collected revenue, the top customers and the cohort of ``first``; of one customer
    with ``organization``."""
    with state.database.session() as session:
        report = revenue.report(
            session, caller.actor, state.settings.revenue, now=datetime.now(UTC),
            first=first, last=last, organization=organization, top=top,
        )  # fmt: skip
    return RevenueView.of(report, organization)


@router.get("/rates")
def list_rates(state: State, caller: Operator) -> RateList:
    """Every exchange rate set, by pair, newest first."""
    with state.database.session() as session:
        rates = revenue.list_rates(session, caller.actor)
    return RateList(data=[RateView.of(r) for r in rates])


@router.post("/rates", status_code=201)
def set_rate(body: SetRate, state: State, caller: Operator) -> RateView:
    """Set what one ``base`` is worth in ``quote`` from ``effective_on`` on; a second rate for
    the same day replaces the first (the audit log keeps both)."""
    with state.database.session() as session:
        rate = revenue.set_rate(session, caller.actor, **body.model_dump())
    return RateView.of(rate)
