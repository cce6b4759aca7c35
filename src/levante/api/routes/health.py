"""Liveness, readiness and Prometheus metrics; none of them needs an API key (the metrics
may need a token of their own, ``metrics_token``)."""

from __future__ import annotations

import hmac

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from levante.api.state import State
from levante.errors import AuthenticationError

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    checks = {
        "database": await anyio.to_thread.run_sync(state.database.reachable),
        "models": state.models.ready,
    }
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def scraper(request: Request, state: State) -> None:
    """With ``metrics_token`` set, only a scraper that sends it as ``Authorization: Bearer``
    reads the metrics (compared in constant time); without it, anyone may."""
    token = state.settings.metrics_token
    if not token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise AuthenticationError(
            "the metrics need the bearer token set in metrics_token",
            code="invalid_metrics_token",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", dependencies=[Depends(scraper)])
async def metrics(state: State) -> Response:
    body = await anyio.to_thread.run_sync(state.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
