"""What an organisation may do: its usage tier and its spending caps, cached in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from levante.billing.accounts import RESTRICTED
from levante.billing.payments import paid_spend
from levante.billing.wallet import wallet_state
from levante.caching import RefreshingCache
from levante.errors import NotFoundError
from levante.pricing import parse_amount
from levante.settings import Limits, TierSettings
from levante.storage import Database, Topic, utcnow
from levante.storage.models import BillingAccount, Organization, SpendLimit

UNLIMITED = Limits()


@dataclass(frozen=True, slots=True)
class Policy:
    organization_id: str
    tier: TierSettings | None  # None: the operator's organisation, which no tier limits
    organization_cap_nanos: int | None
    workspace_caps_nanos: dict[str, int] = field(default_factory=dict)
    currency: str = "USD"  # the billing account's: usage is priced in it
    restricted: bool = False  # unpaid invoices: API requests are refused
    # Prepaid-only accounts: usage since ``wallet_since`` may not pass ``wallet_limit_nanos``.
    wallet_limit_nanos: int | None = None
    wallet_since: datetime | None = None

    def limits_for(self, model: str) -> Limits:
        return UNLIMITED if self.tier is None else self.tier.limits_for(model)


def tier_of(
    tiers: Sequence[TierSettings], paid: Mapping[str, int], pinned: str | None
) -> TierSettings:
    """The pinned tier if there is one (and it still exists), else the highest tier the paid
    spend has reached in any one currency: a tier's ``paid_spend`` is read in each currency,
    and amounts in different currencies are never added together."""
    if pinned is not None:
        for tier in tiers:
            if tier.name == pinned:
                return tier
    reached, most = tiers[0], max(paid.values(), default=0)
    for tier in tiers:
        if most >= parse_amount(tier.paid_spend):
            reached = tier
    return reached


class PolicyCache:
    """Policies by organisation, each trusted for ``ttl`` seconds: one small query per
    organisation and period, never one per request. Changes made through this process apply
    at once (:meth:`invalidate`), others within ``ttl``: in the second half of it one
    background load renews a busy organisation's policy, so expiry never stalls its requests."""

    def __init__(
        self,
        database: Database,
        tiers: Sequence[TierSettings],
        ttl: float,
        *,
        currency: str = "USD",
    ) -> None:
        self._database = database
        database.listen(Topic.POLICY, self.invalidate)
        self._tiers = list(tiers)
        self._currency = currency
        self._cache: RefreshingCache[str, Policy] = RefreshingCache(self.load, ttl, name="policy")

    def cached(self, organization_id: str) -> Policy | None:
        hit = self._cache.cached(organization_id)
        return hit.value if hit is not None else None

    def get(self, organization_id: str) -> Policy:
        """The policy, from the cache or the database (call off the event loop on a miss)."""
        return self._cache.get(organization_id)

    def load(self, organization_id: str) -> Policy:
        with self._database.session() as session:
            org = session.get(Organization, organization_id)
            if org is None:
                raise NotFoundError(f"organisation '{organization_id}' does not exist")
            caps = session.execute(
                select(SpendLimit.workspace_id, SpendLimit.monthly_limit_nanos).where(
                    SpendLimit.organization_id == organization_id
                )
            ).all()
            account = session.get(BillingAccount, organization_id)
            currency = account.currency if account is not None else self._currency
            wallet = None
            if account is not None and account.prepaid_only:
                wallet = wallet_state(session, organization_id, currency, utcnow())
            return Policy(
                organization_id=org.id,
                tier=None
                if org.is_operator
                else tier_of(self._tiers, paid_spend(session, org.id), org.tier),
                organization_cap_nanos=next((c for w, c in caps if w is None), None),
                workspace_caps_nanos={w: c for w, c in caps if w is not None},
                currency=currency,
                restricted=account is not None and account.state == RESTRICTED,
                wallet_limit_nanos=None if wallet is None else wallet.limit_nanos,
                wallet_since=None if wallet is None else wallet.since,
            )

    def invalidate(self, organization_id: str | None = None) -> None:
        self._cache.invalidate(organization_id)
