"""The chat app's pages: the conversation list and a conversation, the streamed answer, and
rename, delete, search and export. Each handler parses, calls :mod:`levante.chat`, and
renders; another user's conversation is not found, on every route."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from levante import chat
from levante.api.errors import body_for
from levante.api.sse import EventStreamResponse
from levante.api.state import AppState, app_state
from levante.chat import Answered, ChatAccount, Delta, Mode, Reply
from levante.errors import InvalidRequestError, LevanteError, MessageLimitReachedError
from levante.web.identity import CSRF_FIELD, CSRF_HEADER, Visitor, to_sign_in, visitor
from levante.web.limits import allowance_lines
from levante.web.markdown import render_markdown
from levante.web.templating import page, templates

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
Who = Annotated[Visitor, Depends(visitor)]
Field = Annotated[str, Form()]
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]

HTML_EVERY_SECONDS = 0.25  # how often a streaming answer's Markdown is rendered again


async def _account(state: AppState, user_id: str) -> ChatAccount:
    return await anyio.to_thread.run_sync(state.assistant.account, user_id)


@router.get("/chat")
async def app_page(request: Request, state: State, who: Who, q: str = "") -> Response:
    if who.user is None:
        return to_sign_in(request)
    return await _render_app(request, state, who, conversation_id=None, query=q)


@router.get("/chat/c/{conversation_id}")
async def conversation_page(
    request: Request, state: State, who: Who, conversation_id: str
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    return await _render_app(request, state, who, conversation_id=conversation_id, query="")


async def _render_app(
    request: Request, state: AppState, who: Visitor, *, conversation_id: str | None, query: str
) -> Response:
    assert who.user is not None
    user_id = who.user.user_id
    account = await _account(state, user_id)
    allowance = allowance_lines(await state.assistant.allowance(account))

    def read() -> dict[str, Any]:
        with state.database.session() as session:
            listed = (
                chat.search(session, user_id, query)
                if query
                else chat.list_conversations(session, user_id)
            )
            current = (
                chat.transcript(session, user_id, conversation_id) if conversation_id else None
            )
            return {"conversations": listed, "current": current}

    context = await anyio.to_thread.run_sync(read)
    current = context["current"]
    model = current.conversation.model if current is not None else account.default_model()
    return page(
        request, "chat/app.html", who, account=account, allowance=allowance, query=query,
        model=model, **context,
    )  # fmt: skip


@router.get("/chat/search")
def search_fragment(request: Request, state: State, who: Who, q: str = "") -> Response:
    """The sidebar's list for a search (or all conversations, for an empty one)."""
    if who.user is None:
        return to_sign_in(request)
    with state.database.session() as session:
        found = (
            chat.search(session, who.user.user_id, q)
            if q.strip()
            else chat.list_conversations(session, who.user.user_id)
        )
    return templates.TemplateResponse(
        request, "chat/_conversations.html", {"conversations": found, "current": None, "query": q}
    )


@router.post("/chat/messages")
async def send_message(request: Request, state: State, who: Who) -> Response:
    """Answer a message, streamed as server-sent events: ``start``, then ``delta`` (text) and
    ``html`` (the answer so far, rendered and sanitised), then ``done``. A refusal (a limit,
    a model the plan lacks, bad input) is a JSON error before anything streams."""
    if who.user is None:
        return JSONResponse(
            {"object": "error", "message": "sign in first", "code": "signed_out"}, 401
        )
    try:
        who.check_csrf(request.headers.get(CSRF_HEADER))
        body = await _json_body(request)
        mode = Mode(str(body.get("mode") or "send"))
        position = body.get("position")
        account = await _account(state, who.user.user_id)
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
                "allowance": [line.text for line in allowance],
            }


@router.get("/chat/c/{conversation_id}/title")
def conversation_title(state: State, who: Who, conversation_id: str) -> Response:
    if who.user is None:
        return JSONResponse({"object": "error", "message": "sign in first"}, 401)
    with state.database.session() as session:
        found = chat.transcript(session, who.user.user_id, conversation_id).conversation
        return JSONResponse({"title": found.title, "source": found.title_source})


@router.post("/chat/c/{conversation_id}/rename")
def rename(
    request: Request,
    state: State,
    who: Who,
    conversation_id: str,
    title: Field = "",
    csrf_token: Csrf = "",
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    with state.database.session() as session:
        chat.rename(session, who.user.user_id, conversation_id, title)
    return RedirectResponse(f"/chat/c/{conversation_id}", status_code=303)


@router.post("/chat/c/{conversation_id}/delete")
def delete(
    request: Request, state: State, who: Who, conversation_id: str, csrf_token: Csrf = ""
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    who.check_csrf(csrf_token)
    with state.database.session() as session:
        chat.remove(session, who.user.user_id, conversation_id)
    return RedirectResponse("/chat", status_code=303)


@router.get("/chat/c/{conversation_id}/export")
def export_one(
    request: Request, state: State, who: Who, conversation_id: str, format: str = "md"
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    with state.database.session() as session:
        item = chat.transcript(session, who.user.user_id, conversation_id)
        if format == "json":
            return _download(json.dumps(chat.as_json(item), indent=2), f"{conversation_id}.json")
        return _download(chat.as_markdown(item), f"{conversation_id}.md")


@router.get("/chat/export")
def export_all(request: Request, state: State, who: Who, format: str = "md") -> Response:
    if who.user is None:
        return to_sign_in(request)
    with state.database.session() as session:
        items = chat.all_transcripts(session, who.user.user_id)
        if format == "json":
            data = {"conversations": [chat.as_json(item) for item in items]}
            return _download(json.dumps(data, indent=2), "conversations.json")
        text = "\n\n---\n\n".join(chat.as_markdown(item) for item in items)
        return _download(text or "No conversations yet.\n", "conversations.md")


def _download(text: str, filename: str) -> Response:
    media = "application/json" if filename.endswith(".json") else "text/markdown; charset=utf-8"
    return Response(
        text,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _error(error: LevanteError) -> JSONResponse:
    return JSONResponse(body_for(error), status_code=error.status_code, headers=error.headers)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidRequestError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    return body


def _optional_str(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value else None
