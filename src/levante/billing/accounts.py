"""Billing accounts: one per organisation, created on first use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from levante import audit, tenancy
from levante.audit import Actor
from levante.billing.tax import valid_vat_number
from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.pricing import CENT, models_unpriced_in, parse_cents
from levante.storage import Topic, announce, utcnow, visible
from levante.storage.models import (
    BillingAccount,
    Invoice,
    Membership,
    Organization,
    Subscription,
    User,
    WalletEntry,
)
from levante.vocabulary import AccountState, check_currency

ACTIVE, RESTRICTED = AccountState.ACTIVE, AccountState.RESTRICTED


def ensure_account(session: Session, organization_id: str, currency: str) -> BillingAccount:
    """The organisation's billing account, created with ``currency`` if it has none."""
    account = session.get(BillingAccount, organization_id)
    if account is not None:
        return account
    if session.get(Organization, organization_id) is None:
        raise NotFoundError(f"organisation '{organization_id}' does not exist")
    currency = check_currency(currency)
    account = BillingAccount(
        organization_id=organization_id,
        legal_name="",
        email="",
        address="",
        is_business=False,
        currency=currency,
        prepaid_only=False,
        low_balance_alerted=False,
        state=ACTIVE,
    )
    session.add(account)
    session.flush()
    return account


def currency_of(session: Session, organization_id: str, default: str) -> str:
    """The organisation's billing currency, without creating its account."""
    account = session.get(BillingAccount, organization_id)
    return account.currency if account is not None else default


@dataclass(frozen=True, slots=True)
class AccountChange:
    """Fields to change, as people type them; None leaves a field as it is ("" clears a text
    field). The credit terms (``prepaid_only``, ``low_balance_threshold``: a decimal amount,
    "" removes it) are the operator's to set (:func:`levante.billing.edit_account`)."""

    legal_name: str | None = None
    email: str | None = None
    address: str | None = None
    country: str | None = None
    vat_number: str | None = None
    is_business: bool | None = None
    currency: str | None = None
    # Move to a currency some priced models have no price in (their requests are refused).
    force: bool = False
    # Operator-only:
    prepaid_only: bool | None = None
    low_balance_threshold: str | None = None


_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _one_line(text: str, param: str) -> str:
    """Text for one line of an invoice: what a reader sees (no bidi overrides, which would
    reverse it under "Bill to"), and no control character (a line break in a mail header)."""
    text = visible(text).strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidRequestError(f"the {param.replace('_', ' ')} is one line", param=param)
    return text


def _lines(text: str, param: str) -> str:
    """A postal address: lines of :func:`_one_line` text."""
    return "\n".join(_one_line(line, param) for line in text.strip().splitlines())


def update_account(
    session: Session,
    organization_id: str,
    change: AccountChange,
    *,
    default_currency: str,
    actor: Actor,
) -> BillingAccount:
    announce(session, Topic.POLICY, organization_id)
    account = ensure_account(session, organization_id, default_currency)
    before = _snapshot(account)
    if change.legal_name is not None:
        account.legal_name = _one_line(change.legal_name, "legal_name")
    if change.email is not None:
        email = _one_line(change.email, "email")
        if email and not _ADDRESS.fullmatch(email):
            raise InvalidRequestError(
                "The billing email must be an email address, like billing@example.com.",
                param="email",
            )
        account.email = email
    if change.address is not None:
        account.address = _lines(change.address, "address")
    if change.country is not None:
        country = change.country.strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            raise InvalidRequestError(
                "The country must be its two-letter code (ISO 3166), like FR or US.",
                param="country",
            )
        account.country = country or None
    if change.vat_number is not None:
        account.vat_number = change.vat_number.replace(" ", "").upper() or None
    if change.is_business is not None:
        account.is_business = change.is_business
    currency = None if change.currency is None else change.currency.upper()
    if currency is not None and currency != account.currency:
        _change_currency(session, account, currency, force=change.force)
    if change.prepaid_only is not None:
        account.prepaid_only = change.prepaid_only
    threshold = change.low_balance_threshold
    if threshold == "":
        account.low_balance_nanos = None
    elif threshold is not None:
        low = parse_cents(threshold, param="low_balance_threshold") * CENT
        if low < 0:
            raise InvalidRequestError("a low-balance threshold must not be negative")
        account.low_balance_nanos = low
        account.low_balance_alerted = False
    if account.vat_number:
        if account.country is None:
            raise InvalidRequestError("a VAT number needs a country", param="country")
        if not valid_vat_number(account.vat_number, account.country):
            raise InvalidRequestError(
                f"The VAT number is not one of {account.country}'s: it starts with the "
                "country's code and has 2 to 13 more letters or digits.",
                param="vat_number",
            )
    account.updated_at = utcnow()
    after = _snapshot(account)
    changed = {k: {"before": before[k], "after": v} for k, v in after.items() if before[k] != v}
    if changed:
        audit.record(
            session,
            organization_id=organization_id,
            actor=actor,
            action="billing_account.updated",
            target=organization_id,
            details=changed,
        )
    return account


def _change_currency(
    session: Session, account: BillingAccount, currency: str, *, force: bool
) -> None:
    currency = check_currency(currency)
    org = account.organization_id
    for model in (Invoice, Subscription, WalletEntry):
        if session.scalar(select(model.id).where(model.organization_id == org).limit(1)):
            raise ConflictError(
                "the currency cannot change once the organisation has invoices, "
                "subscriptions or credits",
                param="currency",
            )
    unpriced = models_unpriced_in(session, currency)
    if unpriced and not force:
        raise ConflictError(
            f"no price in {currency} for {', '.join(unpriced)}: this organisation's requests "
            f"would be refused (model_not_priced). Set {currency} prices first ('levante price "
            f"set MODEL --currency {currency} ...'), or change the currency with force",
            param="currency",
            code="currency_not_priced",
        )
    account.currency = currency


def _snapshot(account: BillingAccount) -> dict[str, Any]:
    return {
        "legal_name": account.legal_name,
        "email": account.email,
        "address": account.address,
        "country": account.country,
        "vat_number": account.vat_number,
        "is_business": account.is_business,
        "currency": account.currency,
        "prepaid_only": account.prepaid_only,
        "low_balance_nanos": account.low_balance_nanos,
    }


def find_customers(
    session: Session, actor: Actor, query: str = "", *, limit: int = 50
) -> list[tuple[Organization, BillingAccount | None]]:
    """The operator's customers whose name, slug, billing name, billing email, VAT number or
    a member's email contains ``query`` (all of them, by name, when it is empty)."""
    tenancy.require_operator(session, actor)
    found = (
        select(Organization, BillingAccount)
        .outerjoin(BillingAccount, BillingAccount.organization_id == Organization.id)
        .where(Organization.is_operator.is_(False))
        .order_by(Organization.name)
        .limit(max(1, min(limit, 500)))
    )
    text = query.strip().lower()
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        members = (
            select(Membership.organization_id)
            .join(User, User.id == Membership.user_id)
            .where(User.email.ilike(like))
        )
        found = found.where(
            or_(
                Organization.name.ilike(like),
                Organization.slug.ilike(like),
                BillingAccount.legal_name.ilike(like),
                BillingAccount.email.ilike(like),
                BillingAccount.vat_number.ilike(like.replace(" ", "")),
                Organization.id.in_(members),
            )
        )
    return [(org, account) for org, account in session.execute(found).all()]
