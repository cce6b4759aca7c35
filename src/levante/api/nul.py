"""Refuse text with NUL characters at the door: in the path, the query, a header, a JSON body,
a form's fields or an uploaded file's name (a file's own bytes may hold anything).

PostgreSQL cannot store a NUL in text, nor compare one, and psycopg refuses it with an error
that would be a 500; SQLite would keep it. Refusing it here, once, keeps the two alike and
answers a 400 that names where it was, before any route runs: the API's error body, or the
error page for a person's browser.

Pure ASGI, like :mod:`levante.api.middleware`. A JSON, form or text body is read whole before
the route runs (the gateway has bounded its size); a multipart body is streamed to the route as
it comes and read alongside, and refused as soon as a NUL turns up: a route reads its whole
form before it runs, so nothing has been done by then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from levante.api.errors import refusal
from levante.errors import InvalidRequestError

NUL = "\x00"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NulCharacterError(InvalidRequestError):
    """Text with a NUL character in it (400): no database column can hold one everywhere."""

    default_code = "nul_character"

    def __init__(self, where: str) -> None:
        super().__init__(f"{where}: text may not contain NUL characters", param=where)


class NulMiddleware:
    """Answer 400 to a request whose text holds a NUL, wherever it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _in_address(scope) or _in_headers(scope)
        kind = _body_kind(scope) if where is None else None
        if kind == "multipart":
            await self._streamed(scope, receive, send)
            return
        if kind is not None:
            body, receive = await _read_whole(receive)
            where = _in_body(kind, body)
        if where is not None:
            await _refuse(scope, receive, send, where)
            return
        await self.app(scope, receive, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a multipart body on as it comes, reading it alongside; at the first NUL, answer
        the refusal, tell the route the client has gone, and drop whatever the route answers."""
        boundary = _boundary(scope)
        if boundary is None:
            await self.app(scope, receive, send)
            return
        reader = _MultipartReader(boundary)
        refused = False

        async def receive_read() -> Message:
            nonlocal refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                reader.feed(message.get("body", b""))
                if reader.found is not None:
                    refused = True
                    await _refuse(scope, receive, send, reader.found)
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, receive_read, send_unless_refused)


async def _refuse(scope: Scope, receive: Receive, send: Send, where: str) -> None:
    response = refusal(Request(scope, receive), NulCharacterError(where))
    await response(scope, receive, send)


# -- where a NUL can be -----------------------------------------------------------------------


def _in_address(scope: Scope) -> str | None:
    if NUL in scope["path"]:
        return "path"
    query = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query:
        return _first_in_pairs(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    return None


def _in_headers(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if b"\x00" in value:
            return str(name.decode("latin-1"))
    return None


def _first_in_pairs(pairs: list[tuple[str, str]]) -> str | None:
    for name, value in pairs:
        if NUL in name or NUL in value:
            return name.replace(NUL, "\\0") or "query"
    return None


def _header(scope: Scope, wanted: bytes) -> bytes:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return b""


def _body_kind(scope: Scope) -> str | None:
    """How the body will be read: ``json`` (also what FastAPI assumes without a content type),
    ``form``, ``multipart`` or ``text``; None for a body nobody reads as text."""
    if scope["method"] not in _BODY_METHODS:
        return None
    kind, _ = parse_options_header(_header(scope, b"content-type"))
    kind = kind.lower()
    if not kind or kind == b"application/json" or kind.endswith(b"+json"):
        return "json"
    if kind == b"application/x-www-form-urlencoded":
        return "form"
    if kind == b"multipart/form-data":
        return "multipart"
    if kind.startswith(b"text/"):
        return "text"
    return None


def _boundary(scope: Scope) -> bytes | None:
    _, options = parse_options_header(_header(scope, b"content-type"))
    boundary = options.get(b"boundary")
    return bytes(boundary) if boundary else None


async def _read_whole(receive: Receive) -> tuple[bytes, Receive]:
    """The body, and a receive that gives it again (then hears of a disconnect as before)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            first: Message | None = message
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            first = None
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            if first is not None:
                return first
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _in_body(kind: str, body: bytes) -> str | None:
    if kind == "form":
        if b"\x00" in body or b"%00" in body:
            return _first_in_pairs(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        return None
    if kind == "text":
        return "body" if b"\x00" in body else None
    # JSON: a NUL is written \u0000 in a string (a raw one makes it no JSON at all).
    if b"\x00" in body:
        return "body"
    if b"\\u0000" not in body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None  # the route says the body is not JSON
    return next(_nul_paths(document, []), None)


def _nul_paths(value: Any, at: list[str]) -> Iterator[str]:
    """Where ``value`` holds a string with a NUL, as ``messages.0.content``."""
    if isinstance(value, str):
        if NUL in value:
            yield ".".join(at) or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield ".".join([*at, key.replace(NUL, "\\0")])
            yield from _nul_paths(item, [*at, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, [*at, str(index)])


class _MultipartReader:
    """Reads a multipart body as it comes, for the first NUL in a part's headers (its field
    name, its file name, its content type) or in a field's value; a file's bytes are its own.
    A body it cannot read is left to the form parser to refuse."""

    def __init__(self, boundary: bytes) -> None:
        self.found: str | None = None
        self._failed = False
        self._field = bytearray()
        self._value = bytearray()
        self._name = ""
        self._is_file = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begins,
                "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
                "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
                "on_header_end": self._header_ends,
                "on_part_data": self._data,
            },
        )

    def feed(self, chunk: bytes) -> None:
        if self.found is not None or self._failed or not chunk:
            return
        try:
            self._parser.write(chunk)
        except Exception:
            self._failed = True

    def _part_begins(self) -> None:
        self._name, self._is_file = "", False

    def _header_ends(self) -> None:
        field, value = bytes(self._field).lower(), bytes(self._value)
        self._field.clear()
        self._value.clear()
        if field == b"content-disposition":
            _, options = parse_options_header(value)
            self._name = options.get(b"name", b"").decode("utf-8", "replace")
            self._is_file = b"filename" in options
        if b"\x00" in value and self.found is None:
            self.found = self._name.replace(NUL, "\\0") or field.decode("latin-1")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file and b"\x00" in data[start:end] and self.found is None:
            self.found = self._name or "body"
