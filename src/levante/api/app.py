"""The FastAPI application: wiring only; every rule lives in the packages it calls."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import anyio
from fastapi import FastAPI

from levante import __version__, identity
from levante.api.batchrun import LineDispatcher
from levante.api.docs import ASSETS, install_docs
from levante.api.errors import install_error_handlers
from levante.api.headers import SecurityHeadersMiddleware
from levante.api.metrics import Metrics
from levante.api.middleware import (
    GatewayMiddleware,
    LicenseMiddleware,
    forwarded_by,
    upload_limits,
)
from levante.api.nul import NulMiddleware
from levante.api.routes import (
    admin,
    batch,
    billing,
    chat,
    completions,
    embeddings,
    files,
    health,
    licensing,
    moderation,
    operator,
    revenue,
    support,
)
from levante.api.routes import models as model_routes
from levante.api.state import AppState
from levante.batch import BatchWorker
from levante.billing import BillingWorker, checkout_origins
from levante.chat import Assistant
from levante.engine import ModelRegistry
from levante.files import file_service
from levante.guardrails import ChatGuard, open_moderator
from levante.licensing import (
    Activator,
    LicenseGuard,
    encode_public,
    machine_fingerprint,
    open_guard,
    site_key,
)
from levante.mail import MailWorker
from levante.metering import Ledger
from levante.platform import prepare
from levante.pricing import PriceBook
from levante.quota import Admission, PolicyCache, Throttle, open_store
from levante.serving import InferenceService
from levante.settings import Settings
from levante.storage import Database, utcnow
from levante.support import SupportWorker
from levante.tenancy import KeyAuthenticator
from levante.web import STATIC_PATH, install_web

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    models: ModelRegistry | None = None,
    database: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """Build the app. ``models`` and ``database`` may be passed in to share them (tests do);
    the app then leaves closing them to the caller. ``clock`` is what the licence is checked
    against (tests set it)."""
    owns_models = models is None
    owns_database = database is None
    guard = open_guard(settings, clock)
    entitled = [m for m in settings.models if guard is None or guard.entitles(m.id)]
    registry = models or ModelRegistry(entitled)
    db = database or Database(settings.resolved_database_url)
    metrics = Metrics(registry)
    ledger = Ledger(
        db,
        heartbeat_seconds=settings.heartbeat_seconds,
        max_request_seconds=settings.max_request_seconds,
    )
    store = open_store(settings.redis_url)
    prices = PriceBook(db, settings.price_refresh_seconds)
    policies = PolicyCache(
        db, settings.tiers, settings.limits_cache_seconds, currency=settings.currency
    )
    admission = Admission(store=store, ledger=ledger, prices=prices, policies=policies, database=db)
    billing_worker = BillingWorker(db, settings.billing)
    mail_worker = MailWorker(db, settings.mail)
    support_worker = SupportWorker(db, settings.support)
    paces = identity.Paces.of(settings.chat)
    tidying_worker = identity.TidyingWorker(db, paces)
    moderator = open_moderator(settings, on_flag=metrics.flagged)
    chat_guard = ChatGuard(moderator, db, settings.limits_cache_seconds)
    service = InferenceService(
        registry,
        admission,
        max_choices=settings.max_choices,
        default_max_tokens=settings.default_max_tokens,
        observer=metrics,
        model_gate=guard.check_model if guard is not None else None,
        guard=chat_guard,
    )
    assistant = Assistant(
        db,
        service,
        admission,
        models=entitled,
        settings=settings.chat,
        currency=settings.currency,
    )
    files_service = file_service(settings)
    dispatcher = LineDispatcher(db)
    batch_worker = BatchWorker(
        db,
        files_service,
        dispatcher,
        instance_id=lambda: ledger.instance_id,
        heartbeat_seconds=settings.heartbeat_seconds,
        concurrency=settings.batch.concurrency,
        poll_seconds=settings.batch.poll_seconds,
    )
    state = AppState(
        settings=settings,
        database=db,
        models=registry,
        authenticator=KeyAuthenticator(db, settings.auth_cache_seconds),
        service=service,
        metrics=metrics,
        ledger=ledger,
        prices=prices,
        policies=policies,
        throttle=Throttle(store),
        assistant=assistant,
        files=files_service,
        attempts=identity.open_attempts(settings.redis_url),
        paces=paces,
        moderator=moderator,
        license=guard,
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for warning in prepare(db, settings):
            log.warning("%s", warning)
        ledger.start()
        activator = None
        if guard is not None:
            try:
                guard.check_nodes(ledger.live_hosts())
                activator = _activator(settings, guard)
            except Exception:
                ledger.close()
                raise
            for warning in guard.warnings():
                log.warning("licence: %s", warning)
        billing_worker.start()
        mail_worker.start()
        support_worker.start()
        tidying_worker.start()
        if not registry.ready:
            # Load in the background so /healthz answers while a large model loads.
            threading.Thread(
                target=_load, args=(registry,), name="model-loader", daemon=True
            ).start()
        try:
            async with anyio.create_task_group() as background:
                if settings.batch.enabled:
                    background.start_soon(batch_worker.run)
                yield
                background.cancel_scope.cancel()
        finally:
            await assistant.close()
            if activator is not None:
                activator.close()
            billing_worker.close()
            mail_worker.close()
            support_worker.close()
            tidying_worker.close()
            ledger.close()
            await store.close()
            if owns_models:
                registry.close()
            if owns_database:
                db.dispose()

    app = FastAPI(
        title="Levante",
        version=__version__,
        summary="OpenAI- and Mistral-compatible API on open-weight models, metered per token.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.levante = state
    dispatcher.bind(app)
    install_error_handlers(app)
    install_docs(app)
    install_web(app)
    for router in (
        health.router,
        operator.router,
        model_routes.router,
        chat.router,
        completions.router,
        embeddings.router,
        files.router,
        batch.router,
        moderation.router,
        admin.router,
        billing.router,
        licensing.router,
        support.router,
        revenue.router,
    ):
        app.include_router(router)
    app.add_middleware(NulMiddleware)  # innermost: inside the gateway's body limit
    if guard is not None:
        app.add_middleware(LicenseMiddleware, guard=guard)
    app.add_middleware(
        GatewayMiddleware,
        max_body_bytes=settings.max_request_bytes,
        metrics=metrics,
        uploads=upload_limits(settings),
    )
    app.add_middleware(
        SecurityHeadersMiddleware,
        https=settings.billing.public_url.startswith("https:"),
        form_targets=checkout_origins(settings.billing),
        cacheable=(f"{STATIC_PATH}/", f"{ASSETS}/"),
    )
    # Outermost: every layer inside sees the client a trusted proxy forwarded.
    app.add_middleware(forwarded_by, proxies=settings.trusted_proxies)
    return app


def create_app_from_env() -> FastAPI:
    """The factory ``levante serve`` hands uvicorn: each worker reads the same settings."""
    from levante.settings import load_settings

    app = create_app(load_settings())
    _tune_gc()
    return app


def _tune_gc() -> None:
    """A serving process allocates many short-lived objects per request. What was built at
    start-up is moved out of the collector's sight, and the youngest generation is collected
    less often: measured, the collector's share of the gateway's time drops several-fold."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(20_000, second, third)


def _activator(settings: Settings, guard: LicenseGuard) -> Activator | None:
    """Activate this node online, if the deployment is set up to (a refusal stops the start)."""
    url = settings.licensing.activation_url
    if not url:
        return None
    activator = Activator(
        url,
        guard.path.read_text,
        fingerprint=settings.licensing.node_fingerprint or machine_fingerprint(),
        heartbeat_hours=settings.licensing.heartbeat_hours,
        mode=guard.license.activation,
        site_key=encode_public(site_key(settings.site_key_file).public_key()),
    )
    activator.start()
    return activator


def _load(registry: ModelRegistry) -> None:
    try:
        registry.load_all()
    except Exception:
        log.exception("loading the models failed")
