"""Billing: the catalogue, subscriptions, prepaid credits, invoices and payments, for every
revenue stream on one customer record (the organisation's billing account)."""

from levante.billing.accounts import (
    ACTIVE,
    RESTRICTED,
    AccountChange,
    currency_of,
    ensure_account,
    update_account,
)
from levante.billing.catalog import (
    CURRENCIES,
    DEFAULT_PLANS,
    ensure_catalog,
    find_plan,
    list_plans,
    plan_price,
    plan_prices,
    set_plan_price,
)
from levante.billing.cycle import BillingWorker, CycleReport, run_cycle
from levante.billing.invoices import (
    Generated,
    create_top_up_invoice,
    generate_for,
    get_invoice,
    invoice_lines,
    invoice_pending_charges,
    list_invoices,
    organizations_to_invoice,
    parse_period,
    void_invoice,
)
from levante.billing.payments import (
    Checkout,
    PaymentProvider,
    WebhookOutcome,
    add_paid_spend,
    handle_stripe_webhook,
    paid_spend,
    provider_for,
    record_payment,
)
from levante.billing.render import render_html, render_pdf
from levante.billing.runs import InvoiceRun, run_invoices
from levante.billing.subscriptions import cancel, change, list_subscriptions, resume, subscribe
from levante.billing.tax import TaxTreatment, treatment
from levante.billing.wallet import WalletState, grant_credits, list_entries, wallet_state

__all__ = [
    "ACTIVE",
    "CURRENCIES",
    "DEFAULT_PLANS",
    "RESTRICTED",
    "AccountChange",
    "BillingWorker",
    "Checkout",
    "CycleReport",
    "Generated",
    "InvoiceRun",
    "PaymentProvider",
    "TaxTreatment",
    "WalletState",
    "WebhookOutcome",
    "add_paid_spend",
    "cancel",
    "change",
    "create_top_up_invoice",
    "currency_of",
    "ensure_account",
    "ensure_catalog",
    "find_plan",
    "generate_for",
    "get_invoice",
    "grant_credits",
    "handle_stripe_webhook",
    "invoice_lines",
    "invoice_pending_charges",
    "list_entries",
    "list_invoices",
    "list_plans",
    "list_subscriptions",
    "organizations_to_invoice",
    "paid_spend",
    "parse_period",
    "plan_price",
    "plan_prices",
    "provider_for",
    "record_payment",
    "render_html",
    "render_pdf",
    "resume",
    "run_cycle",
    "run_invoices",
    "set_plan_price",
    "subscribe",
    "treatment",
    "update_account",
    "void_invoice",
    "wallet_state",
]
