"""Server-sent events that stop the producer as soon as the client goes away."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from levante.api.errors import body_for
from levante.errors import EngineError, LevanteError

log = logging.getLogger(__name__)

DONE = b"data: [DONE]\n\n"


def sse_data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class EventStreamResponse(Response):
    """An ASGI response streaming JSON events, then ``data: [DONE]``.

    A task watches for ``http.disconnect`` and cancels the stream at once, so the model stops
    generating for a client that has left; the producer is always closed, which lets it record
    what it did.
    """

    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[dict[str, Any]]) -> None:
        # Response.__init__ is not called: it renders a body, and this response has none yet.
        self.status_code = 200
        self.background = None
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async with anyio.create_task_group() as group:
            group.start_soon(self._watch_disconnect, receive, group.cancel_scope)
            try:
                await self._pump(send)
            except OSError:  # the connection broke while writing
                pass
            finally:
                group.cancel_scope.cancel()

    async def _pump(self, send: Send) -> None:
        async with aclosing(self._events):  # type: ignore[type-var]
            try:
                async for event in self._events:
                    await send(
                        {"type": "http.response.body", "body": sse_data(event), "more_body": True}
                    )
            except LevanteError as exc:
                await send(
                    {
                        "type": "http.response.body",
                        "body": sse_data(body_for(exc)),
                        "more_body": True,
                    }
                )
            except Exception:
                log.exception("stream failed")
                error = EngineError("the stream failed; the response is incomplete")
                await send(
                    {
                        "type": "http.response.body",
                        "body": sse_data(body_for(error)),
                        "more_body": True,
                    }
                )
        await send({"type": "http.response.body", "body": DONE, "more_body": False})

    @staticmethod
    async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return
