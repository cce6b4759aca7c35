"""How a batch job's line runs: as a request to this app's own route, made in-process, in
the name of the key that made the job. The line takes the path an HTTP request takes (the
body's validation, the model's limits, the answer's shape, the documented error bodies), so a
batch answer is what the endpoint would have answered; the scope marks it as a batch line, so
it runs at low priority and is billed at the batch price with its usage handed back."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from levante import tenancy
from levante.api.errors import body_for, error_body
from levante.api.state import BATCH_SCOPE
from levante.batch import Claimed, LineOutcome
from levante.errors import LevanteError
from levante.serving import BatchLine
from levante.storage import Database

# The model's queue is full, its upstreams are down, or interactive work took the line's
# slot: run the line later.
_RETRY = {503}


class LineDispatcher:
    """Runs lines through ``app``; give it the app once it is built (:meth:`bind`)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def bind(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, line: Claimed) -> LineOutcome:
        try:
            principal = await anyio.to_thread.run_sync(self._principal, line)
        except LevanteError as exc:
            return LineOutcome(exc.status_code, body_for(exc))
        tag = BatchLine(line.job_id)
        app = self._app

        async def marked(scope: Scope, receive: Receive, send: Send) -> None:
            state = scope.setdefault("state", {})
            state[BATCH_SCOPE] = (principal, tag)
            state["request_id"] = line.request_id
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=marked)
        async with httpx.AsyncClient(transport=transport, base_url="http://batch") as client:
            response = await client.post(line.endpoint, json=line.body, timeout=None)
        body = _json(response)
        if response.status_code in _RETRY:
            # Overloaded, or preempted by interactive work: the line runs again later, and
            # what the discarded attempt consumed is not billed.
            return LineOutcome(response.status_code, body, retry=True)
        return LineOutcome(response.status_code, body, usage=list(tag.usage))

    def _principal(self, line: Claimed) -> tenancy.Principal:
        if line.api_key_id is None:
            raise LevanteError("the job has no API key to run in the name of")
        with self._database.session() as session:
            return tenancy.key_principal(session, line.api_key_id)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except json.JSONDecodeError:
        return error_body(response.text[:500], error_type="server_error")
    return body if isinstance(body, dict) else {"data": body}
