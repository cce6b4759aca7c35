"""Pure ASGI middleware: request ids, the body size limit, HTTP metrics, last-resort errors,
the client behind a trusted proxy.

Pure ASGI rather than ``BaseHTTPMiddleware`` so streaming responses and client disconnects
pass through untouched.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from levante.api.errors import body_for, error_body, error_response
from levante.api.metrics import Metrics
from levante.api.state import BATCH_SCOPE
from levante.errors import LevanteError, PayloadTooLargeError
from levante.licensing import LicenseGuard
from levante.settings import Settings
from levante.storage import new_id

log = logging.getLogger(__name__)


# Room for a multipart envelope around an uploaded file.
_ENVELOPE = 64 * 1024


def upload_limits(settings: Settings) -> list[tuple[re.Pattern[str], int]]:
    """The routes that take a file, and how large a body each may have: its file limit and
    room for the multipart envelope (the route checks the file itself)."""
    return [
        (re.compile(r"^(/v1)?/support/tickets/[^/]+/attachments/?$"),
         settings.support.attachment_max_bytes + _ENVELOPE),
        (re.compile(r"^/v1/files/?$"), settings.files.max_file_bytes + _ENVELOPE),
    ]  # fmt: skip


class GatewayMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        metrics: Metrics,
        uploads: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        # A file upload may be larger than an API request (see ``upload_limits``).
        self.uploads = [(path, max(max_body_bytes, limit)) for path, limit in uploads]

    def _limit_for(self, path: str) -> int:
        for pattern, limit in self.uploads:
            if pattern.match(path):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        # A batch line, run in-process, comes with its own request id (see api.batchrun).
        request_id = state["request_id"] if BATCH_SCOPE in state else new_id("req", 24)
        state["request_id"] = request_id
        started = time.perf_counter()
        response: dict[str, Any] = {"started": False, "status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["started"] = True
                response["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                for name, value in scope["state"].get("response_headers", {}).items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            limit = self._limit_for(scope["path"])
            receive_body = await self._limit_body(scope, receive, limit)
            if receive_body is None:
                too_large = PayloadTooLargeError(
                    f"the request body exceeds the limit of {limit} bytes"
                )
                await _send_json(send_with_id, too_large.status_code, body_for(too_large))
                return
            await self.app(scope, receive_body, send_with_id)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            if not response["started"]:
                body = error_body(
                    f"internal error; quote request id {request_id} when reporting it",
                    error_type="server_error",
                    code="internal_error",
                )
                await _send_json(send_with_id, 500, body)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.observe_http(
                scope["method"], path, response["status"], time.perf_counter() - started
            )

    async def _limit_body(self, scope: Scope, receive: Receive, limit: int) -> Receive | None:
        """Return a receive that replays the (bounded) body, or None when it is too large.
        Whatever the method: a body without a declared length (chunked) is read up to the
        limit before any route sees it."""
        declared = _content_length(scope)
        if declared is not None:
            return receive if declared <= limit else None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return replay


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class LicenseMiddleware:
    """In a licensed deployment whose licence and grace period have ended: reads pass, changes
    are refused with 403 (see ``LicenseGuard.check_request``)."""

    def __init__(self, app: ASGIApp, *, guard: LicenseGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                self.guard.check_request(scope["method"], scope["path"])
            except LevanteError as refused:
                await error_response(refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def forwarded_by(app: ASGIApp, proxies: Sequence[str]) -> ASGIApp:
    """``app``, seeing the client and scheme a proxy of ``proxies`` (addresses or networks)
    forwarded in ``X-Forwarded-For`` and ``X-Forwarded-Proto``. Another peer's headers are
    ignored, so no one reaching the server directly can claim an address; with no proxies,
    ``app`` itself. (uvicorn's middleware, which takes the last address that is not a proxy.)"""
    if not proxies:
        return app
    # uvicorn types ASGI apps with its own, narrower, TypedDicts: the same protocol.
    return ProxyHeadersMiddleware(app, trusted_hosts=list(proxies))  # type: ignore[arg-type,return-value]
