"""``GET /v1/models`` and ``GET /v1/models/{id}``."""

from __future__ import annotations

from fastapi import APIRouter

from levante.api.state import Caller, State
from levante.engine import EngineInfo
from levante.errors import ModelNotFoundError
from levante.protocol import ModelCapabilities, ModelCard, ModelList
from levante.serving.params import DEFAULT_TEMPERATURE
from levante.settings import ModelSettings

router = APIRouter()
_CREATED = 1_735_689_600  # 2025-01-01: stable across restarts, unlike a load time


def _card(model: ModelSettings, info: EngineInfo | None) -> ModelCard:
    return ModelCard(
        id=model.id,
        created=_CREATED,
        owned_by=model.owned_by,
        name=model.id,
        description=model.description,
        max_context_length=info.context_length if info else model.context_length,
        aliases=list(model.aliases),
        capabilities=ModelCapabilities(
            completion_chat=info.chat_template if info else True,
            completion_fim=info.fill_in_the_middle if info else False,
            function_calling=info.chat_template if info else True,
        ),
        default_model_temperature=DEFAULT_TEMPERATURE,
    )


def _cards(state: State, caller: Caller) -> list[ModelCard]:
    infos = {m.id: m.engine.info for m in state.models.loaded()}
    return [
        _card(model, infos.get(model.id))
        for model in state.models.configured()
        if caller.may_use(model.id) and (state.license is None or state.license.entitles(model.id))
    ]


@router.get("/v1/models")
def list_models(state: State, caller: Caller) -> ModelList:
    return ModelList(data=_cards(state, caller))


@router.get("/v1/models/{model_id:path}")
def get_model(model_id: str, state: State, caller: Caller) -> ModelCard:
    canonical = state.models.canonical_id(model_id)
    for card in _cards(state, caller):
        if card.id == canonical:
            return card
    # Not visible to this key: answer as if it did not exist.
    raise ModelNotFoundError(f"model '{model_id}' does not exist", param="model")
