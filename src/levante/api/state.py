"""What the HTTP layer holds for the life of the app, and the dependencies that read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import Depends, Request

from levante import tenancy
from levante.api.metrics import Metrics
from levante.chat import Assistant
from levante.engine import ModelRegistry
from levante.files import FileService
from levante.guardrails import Moderator
from levante.identity import Attempts, Paces
from levante.licensing import LicenseGuard
from levante.metering import Ledger
from levante.pricing import PriceBook
from levante.quota import PolicyCache, Throttle
from levante.serving import InferenceService, RequestContext
from levante.settings import Settings
from levante.storage import Database, utcnow
from levante.tenancy import KeyAuthenticator, Principal
from levante.vocabulary import Permission


@dataclass
class AppState:
    settings: Settings
    database: Database
    models: ModelRegistry
    authenticator: KeyAuthenticator
    service: InferenceService
    metrics: Metrics
    ledger: Ledger
    prices: PriceBook
    policies: PolicyCache
    throttle: Throttle
    assistant: Assistant
    files: FileService
    moderator: Moderator
    attempts: Attempts  # sign-ins, sign-ups and mailed links, paced
    paces: Paces
    license: LicenseGuard | None = None
    clock: Callable[[], datetime] = utcnow

    @property
    def seat_check(self) -> Callable[[int], None] | None:
        """The licence's cap on seats, for a service that adds a user (none unlicensed)."""
        return self.license.check_seats if self.license is not None else None


async def app_state(request: Request) -> AppState:
    # async: FastAPI runs a plain-def dependency in the thread pool, a hop per request.
    state: AppState = request.app.state.levante
    return state


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def principal(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Principal:
    """The caller behind ``Authorization: Bearer``: from the key cache, or looked up in the
    thread pool."""
    line = request.scope["state"].get(BATCH_SCOPE)
    if line is not None:  # a batch job's line, run in-process in its key's name
        batch_principal: Principal = line[0]
        return batch_principal
    secret = _bearer(request)
    cached = state.authenticator.cached(secret)
    if cached is not None:
        return cached
    return await anyio.to_thread.run_sync(state.authenticator.authenticate, secret)


# The scope state's key of a batch job's line: (Principal, BatchLine), set by
# levante.api.batchrun, never by a client (a client reaches no scope state).
BATCH_SCOPE = "levante.batch"


# What a licensed deployment can always reach, admin API or not: its licence (to see why, and
# to renew it) and the usage report it owes.
_LICENSE_DUTIES = frozenset({"/v1/admin/license", "/v1/admin/license/usage-report"})


async def admin_principal(
    request: Request,
    caller: Annotated[Principal, Depends(principal)],
    state: Annotated[AppState, Depends(app_state)],
) -> Principal:
    tenancy.require_granted(caller.actor, Permission.USE_ADMIN_API)
    per_minute = state.settings.admin_requests_per_minute
    await state.throttle.check(
        f"admin:{caller.api_key_id}",
        per_hour=per_minute * 60,
        burst=max(1, int(per_minute)),
        what="admin requests from this key",
    )
    if state.license is not None and request.url.path not in _LICENSE_DUTIES:
        state.license.require("admin_api")
    return caller


async def operator_principal(
    caller: Annotated[Principal, Depends(admin_principal)],
    state: Annotated[AppState, Depends(app_state)],
) -> Principal:
    """An admin key of the operator's organisation, checked before the route does anything."""

    def check() -> None:
        with state.database.session() as session:
            tenancy.require_operator(session, caller.actor)

    await anyio.to_thread.run_sync(check)
    return caller


def request_id(request: Request) -> str:
    rid: str = request.scope["state"]["request_id"]
    return rid


def request_context(request: Request, caller: Principal, endpoint: str) -> RequestContext:
    headers: dict[str, str] = request.scope["state"].setdefault("response_headers", {})
    line = request.scope["state"].get(BATCH_SCOPE)
    return RequestContext(
        principal=caller,
        request_id=request_id(request),
        endpoint=endpoint,
        response_headers=headers,
        batch=line[1] if line is not None else None,
    )


async def ledger_flushed(state: Annotated[AppState, Depends(app_state)]) -> None:
    """What this process has queued for the ledger is written before the route reads it: a
    client that has its answer finds its usage."""
    await state.ledger.flush()


State = Annotated[AppState, Depends(app_state)]
Flushed = Annotated[None, Depends(ledger_flushed)]
Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin_principal)]
Operator = Annotated[Principal, Depends(operator_principal)]
