"""The chat app's pages: the conversation list and a conversation, the streamed answer, and
rename, delete, search and export. Each handler parses, calls :mod:`levante.chat`, and
renders; another user's conversation is not found, on every route."""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from levante import chat
from levante.api.errors import body_for
from levante.api.sse import EventStreamResponse
from levante.api.state import AppState
from levante.chat import Answered, ChatAccount, Delta, Mode, Reply
from levante.errors import InvalidRequestError, LevanteError, MessageLimitReachedError
from levante.web.depends import Posted, SignedIn, State
from levante.web.forms import Refused, in_place
from levante.web.identity import SignedInVisitor
from levante.web.limits import allowance_lines
from levante.web.markdown import render_markdown
from levante.web.templating import page, templates

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]

HTML_EVERY_SECONDS = 0.25  # how often a streaming answer's Markdown is rendered again


async def _account(state: AppState, user_id: str) -> ChatAccount:
    return await anyio.to_thread.run_sync(state.assistant.account, user_id)


@router.get("/chat")
def app_page(request: Request, state: State, who: SignedIn, q: str = "") -> Response:
    return _app_page(request, state, who, conversation_id=None, query=q)


@router.get("/chat/c/{conversation_id}")
def conversation_page(
    request: Request, state: State, who: SignedIn, conversation_id: str
) -> Response:
    return _app_page(request, state, who, conversation_id=conversation_id, query="")


def _app_page(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    *,
    conversation_id: str | None,
    query: str,
    refused: Refused | None = None,
) -> Response:
    """The conversations (or those a search finds) and the one open (a plain def, run in the
    thread pool: the limits are read on the event loop)."""
    account = state.assistant.account(who.user_id)
    allowance = allowance_lines(anyio.from_thread.run(state.assistant.allowance, account))
    with state.database.session() as session:
        listed = (
            chat.search(session, who.user_id, query)
            if query
            else chat.list_conversations(session, who.user_id)
        )
        current = (
            chat.transcript(session, who.user_id, conversation_id) if conversation_id else None
        )
        model = current.conversation.model if current is not None else account.default_model()
        return page(
            request, "chat/app.html", who, account=account, allowance=allowance, query=query,
            model=model, conversations=listed, current=current, refused=refused,
        )  # fmt: skip


@router.get("/chat/search")
def search_fragment(request: Request, state: State, who: SignedIn, q: str = "") -> Response:
    """The sidebar's list for a search (or all conversations, for an empty one)."""
    with state.database.session() as session:
        found = (
            chat.search(session, who.user_id, q)
            if q.strip()
            else chat.list_conversations(session, who.user_id)
        )
    return templates.TemplateResponse(
        request, "chat/_conversations.html", {"conversations": found, "current": None, "query": q}
    )


@router.post("/chat/messages")
async def send_message(request: Request, state: State, who: Posted) -> Response:
    """Answer a message, streamed as server-sent events: ``start``, then ``delta`` (text) and
    ``html`` (the answer so far, rendered and sanitised), then ``done``. A refusal (a limit,
    a model the plan lacks, bad input) is a JSON error before anything streams."""
    try:
        body = await _json_body(request)
        mode = Mode(str(body.get("mode") or "send"))
        position = body.get("position")
        account = await _account(state, who.user_id)
        reply = await state.assistant.reply(
            account,
            conversation_id=_optional_str(body.get("conversation_id")),
            content=str(body.get("content") or ""),
            model=_optional_str(body.get("model")),
            mode=mode,
            position=position if isinstance(position, int) else None,
        )
    except ValueError:
        return _error(InvalidRequestError("mode must be send, regenerate or edit", param="mode"))
    except MessageLimitReachedError as refused:
        payload = body_for(refused) | {
            "resets_at": refused.resets_at.isoformat(),
            "upgrade_url": "/account#plans",
        }
        return JSONResponse(payload, status_code=refused.status_code, headers=refused.headers)
    except LevanteError as refused:
        return _error(refused)
    return EventStreamResponse(_answer_events(state, account, reply))


async def _answer_events(
    state: AppState, account: ChatAccount, reply: Reply
) -> AsyncIterator[dict[str, Any]]:
    yield {
        "type": "start",
        "conversation_id": reply.conversation_id,
        "title": reply.conversation_title,
        "user_position": reply.user_position,
        "answer_position": reply.answer_position,
        "model": reply.model,
    }
    text: list[str] = []
    rendered_at = time.monotonic()
    events = reply.events()
    async for event in events:
        if isinstance(event, Delta):
            text.append(event.text)
            yield {"type": "delta", "text": event.text}
            if time.monotonic() - rendered_at >= HTML_EVERY_SECONDS:
                rendered_at = time.monotonic()
                yield {"type": "html", "html": str(render_markdown("".join(text)))}
        elif isinstance(event, Answered):
            allowance = allowance_lines(await state.assistant.allowance(account))
            yield {
                "type": "done",
                "html": str(render_markdown(event.content)),
                "state": event.state,
                "usage": {
                    "prompt_tokens": event.prompt_tokens,
                    "cached_tokens": event.cached_tokens,
                    "completion_tokens": event.completion_tokens,
                    "time_to_first_token_ms": event.time_to_first_token_ms,
                },
                "allowance": [line.as_json() for line in allowance],
            }


@router.get("/chat/allowance")
async def allowance_now(state: State, who: SignedIn) -> Response:
    """The allowance as it stands (the page asks after stopping an answer, which counts)."""
    account = await anyio.to_thread.run_sync(state.assistant.account, who.user_id)
    lines = allowance_lines(await state.assistant.allowance(account))
    return JSONResponse({"allowance": [line.as_json() for line in lines]})


@router.get("/chat/c/{conversation_id}/title")
def conversation_title(state: State, who: SignedIn, conversation_id: str) -> Response:
    with state.database.session() as session:
        found = chat.transcript(session, who.user_id, conversation_id).conversation
        return JSONResponse({"title": found.title, "source": found.title_source})


@router.post("/chat/c/{conversation_id}/rename")
def rename(
    request: Request, state: State, who: Posted, conversation_id: str, title: Field = ""
) -> Response:
    def act() -> Response:
        with state.database.session() as session:
            chat.rename(session, who.user_id, conversation_id, title)
        return RedirectResponse(f"/chat/c/{conversation_id}", status_code=303)

    def again(refused: Refused) -> Response:
        return _app_page(request, state, who, conversation_id=conversation_id, query="",
                         refused=refused)  # fmt: skip

    return in_place(request, who, act, again)


@router.post("/chat/c/{conversation_id}/delete")
def delete(state: State, who: Posted, conversation_id: str) -> Response:
    with state.database.session() as session:
        chat.remove(session, who.user_id, conversation_id)
    return RedirectResponse("/chat", status_code=303)


@router.get("/chat/c/{conversation_id}/export")
def export_one(state: State, who: SignedIn, conversation_id: str, format: str = "md") -> Response:
    with state.database.session() as session:
        item = chat.transcript(session, who.user_id, conversation_id)
        if format == "json":
            text = json.dumps(chat.as_json(item), indent=2)
            return _download(text, chat.export_name(item, "json"))
        return _download(chat.as_markdown(item), chat.export_name(item, "md"))


@router.get("/chat/export")
def export_all(state: State, who: SignedIn, format: str = "md") -> Response:
    with state.database.session() as session:
        items = chat.all_transcripts(session, who.user_id)
        if format == "json":
            data = {"conversations": [chat.as_json(item) for item in items]}
            return _download(json.dumps(data, indent=2), "conversations.json")
        text = "\n\n---\n\n".join(chat.as_markdown(item) for item in items)
        return _download(text or "No conversations yet.\n", "conversations.md")


def _download(text: str, filename: str) -> Response:
    media = "application/json" if filename.endswith(".json") else "text/markdown; charset=utf-8"
    # A plain-ASCII name for old clients, and the name itself (RFC 6266) for the rest.
    bare = "".join(
        c for c in unicodedata.normalize("NFKD", filename) if not unicodedata.combining(c)
    )
    fallback = bare.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f'attachment; filename="{fallback}"'
    if fallback != filename:
        disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return Response(text, media_type=media, headers={"Content-Disposition": disposition})


def _error(error: LevanteError) -> JSONResponse:
    return JSONResponse(body_for(error), status_code=error.status_code, headers=error.headers)


async def _json_body(request: Request) -> dict[str, Any]:
    if "json" not in request.headers.get("content-type", ""):  # a form's body is read already
        raise InvalidRequestError("the request body is JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise InvalidRequestError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    return body


def _optional_str(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value else None
