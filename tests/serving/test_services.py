"""Prompt building and token budgets, without HTTP."""

from __future__ import annotations

import pytest

from levante.engine import EngineInfo
from levante.errors import ContextLengthExceededError, ValidationFailedError
from levante.protocol import ChatCompletionRequest, ChatMessage
from levante.serving import SAFE_PROMPT
from levante.serving.params import check_choices, sampling_params, token_budget
from levante.serving.services import chat_turns

INFO = EngineInfo(context_length=100, chat_template=True)


def _request(**fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]} | fields
    )


def test_safe_prompt_leads_the_system_prompt() -> None:
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="hi"),
    ]
    turns = chat_turns(messages, safe_prompt=True)
    assert turns[0].role == "system"
    assert turns[0].content == f"{SAFE_PROMPT}\n\nBe brief."
    bare = chat_turns([ChatMessage(role="user", content="hi")], safe_prompt=True)
    assert [t.role for t in bare] == ["system", "user"]


def test_developer_role_is_a_system_turn_and_parts_are_joined() -> None:
    message = ChatMessage.model_validate(
        {
            "role": "developer",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        }
    )
    [turn] = chat_turns([message], safe_prompt=False)
    assert (turn.role, turn.content) == ("system", "ab")


def test_budget_fills_the_context_when_max_tokens_is_absent() -> None:
    assert (
        token_budget(_request(), model="m", prompt_tokens=30, info=INFO, default_max_tokens=None)
        == 70
    )
    assert (
        token_budget(_request(), model="m", prompt_tokens=30, info=INFO, default_max_tokens=10)
        == 10
    )
    assert (
        token_budget(
            _request(max_tokens=5), model="m", prompt_tokens=30, info=INFO, default_max_tokens=None
        )
        == 5
    )


def test_budget_rejects_what_cannot_fit() -> None:
    with pytest.raises(ContextLengthExceededError, match="context of 100 tokens"):
        token_budget(_request(), model="m", prompt_tokens=100, info=INFO, default_max_tokens=None)
    with pytest.raises(ContextLengthExceededError, match="80 in the prompt, 30 for the completion"):
        token_budget(
            _request(max_tokens=30), model="m", prompt_tokens=80, info=INFO, default_max_tokens=None
        )


def test_seeds_differ_per_choice_and_random_seed_wins() -> None:
    request = _request(random_seed=5, seed=9, n=2)
    assert [sampling_params(request, i).seed for i in (0, 1)] == [5, 6]
    assert sampling_params(_request(), 0).seed is None
    assert sampling_params(_request(), 0).temperature == 0.7


def test_vllm_style_sampling_extensions_reach_the_engine() -> None:
    params = sampling_params(_request(top_k=40, min_p=0.05, repetition_penalty=1.1), 0)
    assert (params.top_k, params.min_p, params.repetition_penalty) == (40, 0.05, 1.1)


def test_choices_are_capped() -> None:
    with pytest.raises(ValidationFailedError):
        check_choices(_request(n=9), max_choices=8)
