"""The one place where errors become HTTP responses with Mistral's error body."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from levante.errors import (
    ConfigurationError,
    InvalidRequestError,
    LevanteError,
    NotFoundError,
    StoreUnavailableError,
    ValidationFailedError,
)

log = logging.getLogger(__name__)

_HTTP_TYPES = {401: "authentication_error", 403: "authentication_error", 429: "rate_limit_error"}


def error_body(
    message: str,
    *,
    error_type: str,
    param: str | None = None,
    code: str | None = None,
    detail: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object": "error",
        "message": message,
        "type": error_type,
        "param": param,
        "code": code,
    }
    if detail is not None:
        # FastAPI-style details as well, which the mistralai SDK reads on a 422.
        body["detail"] = detail
    return body


def body_for(error: LevanteError) -> dict[str, Any]:
    return error_body(
        error.message,
        error_type=error.error_type,
        param=error.param,
        code=error.code,
        detail=error.detail,
    )


def error_response(error: LevanteError) -> JSONResponse:
    return JSONResponse(body_for(error), status_code=error.status_code, headers=error.headers)


def _is_union_tag(part: Any) -> bool:
    """Pydantic puts the union member it tried into the location (``constrained-str``,
    ``list[str]``, ``function-after[...]``); those are not field names."""
    return isinstance(part, str) and ("[" in part or "-" in part or part in _TYPE_TAGS)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})
_LOCATIONS = frozenset({"body", "query", "path", "header"})


def _field_and_message(errors: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """The field the first problem is about, and every way that field failed."""
    locs = [[p for p in e["loc"] if p not in _LOCATIONS] for e in errors]
    top = locs[0][:1]
    related = [(loc, e["msg"]) for loc, e in zip(locs, errors, strict=True) if loc[:1] == top]
    prefix = list(related[0][0])
    for loc, _ in related[1:]:
        size = 0
        while size < min(len(prefix), len(loc)) and prefix[size] == loc[size]:
            size += 1
        prefix = prefix[:size]
    parts = [str(p) for p in prefix if not _is_union_tag(p)]
    field = ".".join(parts) if parts else "body"
    reasons = "; or ".join(dict.fromkeys(msg for _, msg in related))
    return field, f"{field}: {reasons}"


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    return {"type": error["type"], "loc": list(error["loc"]), "msg": error["msg"]}


def wants_page(request: Request) -> bool:
    """Whether a refusal goes to a person's browser as a page: a web page's address (not the
    API's), asked for by a browser that takes HTML."""
    path = request.url.path
    if path.startswith(("/v1/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _renders_pages(request: Request) -> bool:
    return getattr(request.app.state, "render_error_page", None) is not None


def refusal(request: Request, error: LevanteError) -> Response:
    """A refusal as the client takes it: the error page for a person's browser on a web page
    (see :func:`wants_page`), the error body otherwise."""
    if _renders_pages(request) and wants_page(request):
        page: Response = request.app.state.render_error_page(request, error)
        return page
    return error_response(error)


async def _refusal(request: Request, error: LevanteError) -> Response:
    """:func:`refusal`, with the page rendered off the event loop: it shows who is signed in,
    which may wait on the database."""
    if _renders_pages(request) and wants_page(request):
        return await anyio.to_thread.run_sync(refusal, request, error)
    return error_response(error)


async def _levante_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LevanteError)
    if _renders_pages(request) and wants_page(request):
        return await _refusal(request, exc)
    if isinstance(exc, ConfigurationError):
        # Its message names files and settings of the server: for the operator's log only.
        request_id = request.scope.get("state", {}).get("request_id", "unknown")
        log.error("configuration error in request %s: %s", request_id, exc.message)
        return JSONResponse(
            error_body(
                "the server is not set up for this request; its operator will find the cause "
                f"in the log under request id {request_id}",
                error_type=exc.error_type,
                code=exc.code,
            ),
            status_code=exc.status_code,
        )
    if exc.status_code >= 500 and not isinstance(exc, StoreUnavailableError):
        log.error("%s: %s", type(exc).__name__, exc.message)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # A page's query or form is refused in the same words, as a page a person can read.
    return await _refusal(request, _validation_failure(list(exc.errors())))


def _validation_failure(errors: list[dict[str, Any]]) -> LevanteError:
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidRequestError("the request body is not valid JSON", code="invalid_json")
    if not errors:
        errors = [{"type": "value_error", "loc": ("body",), "msg": "invalid request"}]
    field, message = _field_and_message(errors)
    others = len({str(e["loc"][:2]) for e in errors}) - 1
    if others > 0:
        message += f" (and problems with {others} other field{'s' if others > 1 else ''})"
    return ValidationFailedError(message, param=field, detail=[_clean(e) for e in errors])


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _renders_pages(request) and wants_page(request) and exc.status_code in (404, 405):
        return await _refusal(request, NotFoundError("there is no page at this address"))
    error_type = _HTTP_TYPES.get(exc.status_code, "invalid_request_error")
    if exc.status_code >= 500:
        error_type = "server_error"
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = "no such endpoint"
    return JSONResponse(
        error_body(message, error_type=error_type, code=f"http_{exc.status_code}"),
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id", "unknown")
    log.exception("unhandled error in request %s", request_id, exc_info=exc)
    return JSONResponse(
        error_body(
            f"internal error; quote request id {request_id} when reporting it",
            error_type="server_error",
            code="internal_error",
        ),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LevanteError, _levante_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
