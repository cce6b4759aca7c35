"""Cancel work for a non-streaming request whose client has gone away."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import aclosing
from typing import TypeVar

import anyio
from fastapi import Request

from levante.errors import LevanteError

T = TypeVar("T")


class ClientDisconnected(LevanteError):
    """The client closed the connection before the answer was ready (nginx's 499)."""

    status_code = 499
    error_type = "invalid_request_error"
    default_code = "client_closed_request"


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it if the client disconnects first."""
    result: list[T] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def run() -> None:
            try:
                result.append(await work)
            except Exception as exc:  # re-raised below, outside the task group's wrapping
                failure.append(exc)
            group.cancel_scope.cancel()

        async def watch() -> None:
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    group.cancel_scope.cancel()
                    return

        group.start_soon(run)
        group.start_soon(watch)
    if failure:
        raise failure[0]
    if not result:
        raise ClientDisconnected("the client closed the connection")
    return result[0]


async def started(request: Request, stream: AsyncGenerator[T, None]) -> AsyncIterator[T]:
    """Wait for a stream's first item before any byte goes out, so that errors up to then
    (a full queue, say) still get their own status; the item is put back in front."""
    try:
        first = await unless_disconnected(request, anext(stream))
    except BaseException:
        await stream.aclose()
        raise

    async def resumed() -> AsyncIterator[T]:
        async with aclosing(stream):
            yield first
            async for item in stream:
                yield item

    return resumed()
