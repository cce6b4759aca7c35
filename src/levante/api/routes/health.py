"""Liveness, readiness and Prometheus metrics; none of them needs an API key."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from levante.api.state import State

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


@router.get("/metrics")
async def metrics(state: State) -> Response:
    body = await anyio.to_thread.run_sync(state.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
