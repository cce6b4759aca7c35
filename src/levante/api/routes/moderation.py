"""``POST /v1/moderations`` and ``POST /v1/chat/moderations``: texts, or conversations,
scored by category with the configured classifier (any API key)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from levante.api.schemas.moderation import (
    ChatModerationRequest,
    ModerationRequest,
    ModerationResponse,
    ModerationResult,
)
from levante.api.state import Caller, State, request_id
from levante.guardrails import Moderation, Turn

router = APIRouter()


@router.post("/v1/moderations")
async def moderations(
    body: ModerationRequest, request: Request, state: State, caller: Caller
) -> ModerationResponse:
    model = state.moderator.check_model(body.model)
    results = await state.moderator.moderate(body.texts(), endpoint="moderations")
    return _response(request, model, results)


@router.post("/v1/chat/moderations")
async def chat_moderations(
    body: ChatModerationRequest, request: Request, state: State, caller: Caller
) -> ModerationResponse:
    model = state.moderator.check_model(body.model)
    conversations = [[Turn(m.role, m.text()) for m in c] for c in body.conversations()]
    results = await state.moderator.moderate_chats(conversations, endpoint="chat.moderations")
    return _response(request, model, results)


def _response(request: Request, model: str, results: list[Moderation]) -> ModerationResponse:
    return ModerationResponse(
        id="mod-" + request_id(request).removeprefix("req_"),
        model=model,
        results=[ModerationResult.of(r) for r in results],
    )
