"""``POST /v1/moderations`` and ``POST /v1/chat/moderations``: texts, or conversations,
scored by category with the configured classifier (any API key)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from levante import guardrails
from levante.api.schemas.moderation import (
    ChatModerationRequest,
    GuardrailPolicyView,
    ModerationRequest,
    ModerationResponse,
    ModerationResult,
)
from levante.api.state import Admin, Caller, State, request_id
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


@router.get("/v1/admin/guardrails")
def get_guardrails(state: State, caller: Admin) -> GuardrailPolicyView:
    """The organisation's guardrails on chat requests."""
    with state.database.session() as session:
        return GuardrailPolicyView.of(guardrails.policy_of(session, caller.actor))


@router.put("/v1/admin/guardrails")
def put_guardrails(body: GuardrailPolicyView, state: State, caller: Admin) -> GuardrailPolicyView:
    """Set them: each category ``block`` (the request is refused with 400 ``content_blocked``
    before it reaches a model) or ``flag`` (it runs; audited, counted)."""
    with state.database.session() as session:
        rules = guardrails.set_policy(
            session, caller.actor, caller.organization_id, rules=dict(body.rules),
            thresholds=body.thresholds, now=state.clock(),
        )  # fmt: skip
    return GuardrailPolicyView.of(rules)
