"""Reading usage back: totals grouped by day, model, workspace or key, for one organisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from levante import tenancy
from levante.audit import Actor
from levante.billing.accounts import currency_of
from levante.errors import InvalidRequestError
from levante.storage.models import UsageRecord
from levante.vocabulary import Permission, Product


class GroupBy(StrEnum):
    MONTH = "month"
    DAY = "day"
    MODEL = "model"
    WORKSPACE = "workspace"
    KEY = "key"
    PRODUCT = "product"
    ORGANIZATION = "organization"


_COLUMNS: dict[GroupBy, Any] = {
    # Dates are ISO text in SQLite and cast to it in PostgreSQL: 'YYYY-MM' is the first seven.
    GroupBy.MONTH: func.substr(cast(UsageRecord.usage_date, String), 1, 7),
    GroupBy.DAY: UsageRecord.usage_date,
    GroupBy.MODEL: UsageRecord.model,
    GroupBy.WORKSPACE: UsageRecord.workspace_id,
    GroupBy.KEY: UsageRecord.api_key_id,
    GroupBy.PRODUCT: UsageRecord.product,
    GroupBy.ORGANIZATION: UsageRecord.organization_id,
}


@dataclass(frozen=True, slots=True)
class UsageRow:
    group: dict[str, str | None]
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_nanos: int = 0
    currency: str | None = None  # of the cost, when the report spans organisations

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_report(
    session: Session,
    organization_id: str | None,
    *,
    start: date | None = None,
    end: date | None = None,
    group_by: Sequence[GroupBy] = (GroupBy.DAY, GroupBy.MODEL),
    workspace_id: str | None = None,
    product: str | None = None,
) -> list[UsageRow]:
    """Usage of one organisation (None: of every one, costs by currency) between ``start``
    and ``end`` (both inclusive, UTC days), of one product or all."""
    groups = list(dict.fromkeys(group_by))
    columns = [_COLUMNS[g].label(g.value) for g in groups]
    if organization_id is None:  # money in several currencies is never added up
        columns.append(func.coalesce(UsageRecord.currency, "").label("currency"))
    query = select(
        *columns,
        func.count().label("requests"),
        func.coalesce(func.sum(UsageRecord.prompt_tokens), 0).label("prompt_tokens"),
        func.coalesce(func.sum(UsageRecord.completion_tokens), 0).label("completion_tokens"),
        func.coalesce(func.sum(UsageRecord.cached_tokens), 0).label("cached_tokens"),
        func.coalesce(func.sum(UsageRecord.cost_nanos), 0).label("cost_nanos"),
    )
    if organization_id is not None:
        query = query.where(UsageRecord.organization_id == organization_id)
    if product is not None:
        query = query.where(UsageRecord.product == product)
    if workspace_id is not None:
        query = query.where(UsageRecord.workspace_id == workspace_id)
    if start is not None:
        query = query.where(UsageRecord.usage_date >= start)
    if end is not None:
        query = query.where(UsageRecord.usage_date <= end)
    if columns:
        query = query.group_by(*columns).order_by(*columns)
    rows = []
    for result in session.execute(query).mappings():
        if not columns and result["requests"] == 0:
            continue
        rows.append(
            UsageRow(
                group={g.value: _text(result[g.value]) for g in groups},
                requests=int(result["requests"]),
                prompt_tokens=int(result["prompt_tokens"]),
                completion_tokens=int(result["completion_tokens"]),
                cached_tokens=int(result["cached_tokens"]),
                cost_nanos=int(result["cost_nanos"]),
                currency=(result["currency"] or None) if organization_id is None else None,
            )
        )
    return rows


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """An organisation's usage over a period, its total, and the currency of its costs."""

    organization_id: str
    organization_slug: str
    currency: str
    rows: list[UsageRow]
    total: UsageRow


def usage_summary(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
    group_by: Sequence[GroupBy] = (GroupBy.DAY, GroupBy.MODEL),
    workspace: str | None = None,
    product: str | None = None,
    default_currency: str,
) -> UsageSummary:
    """What an admin (or the operator) reads of an organisation's usage, optionally of one
    workspace (by name or id) or one product."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.READ_USAGE)
    workspace_id = tenancy.find_workspace(session, org.id, workspace).id if workspace else None
    rows = usage_report(
        session, org.id, start=start, end=end, group_by=group_by, workspace_id=workspace_id,
        product=_product(product),
    )  # fmt: skip
    total = UsageRow(
        group={},
        requests=sum(r.requests for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        cached_tokens=sum(r.cached_tokens for r in rows),
        cost_nanos=sum(r.cost_nanos for r in rows),
    )
    currency = currency_of(session, org.id, default_currency)
    return UsageSummary(org.id, org.slug, currency, rows, total)


def deployment_usage(
    session: Session,
    actor: Actor,
    *,
    start: date | None = None,
    end: date | None = None,
    group_by: Sequence[GroupBy] = (GroupBy.PRODUCT, GroupBy.MODEL),
    product: str | None = None,
) -> list[UsageRow]:
    """The operator's view: usage of every organisation (the cost of serving the chat, say),
    each row's cost in its own currency."""
    tenancy.require_operator(session, actor)
    return usage_report(
        session, None, start=start, end=end, group_by=group_by, product=_product(product)
    )


def _product(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return Product(value)
    except ValueError:
        names = ", ".join(Product)
        raise InvalidRequestError(f"product must be one of {names}", param="product") from None
