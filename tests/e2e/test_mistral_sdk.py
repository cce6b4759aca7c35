"""The official ``mistralai`` SDK against a live Levante, unmodified but for server_url and key."""

from __future__ import annotations

import json

import pytest
from mistralai.client import Mistral, errors
from mistralai.client.models import BaseModelCard, UserMessage

from tests.helpers import MODEL, Tenant


@pytest.fixture
def sdk(live_url: str, tenant: Tenant) -> Mistral:
    return Mistral(api_key=tenant.key, server_url=live_url)


def test_chat(sdk: Mistral) -> None:
    response = sdk.chat.complete(
        model=MODEL,
        messages=[UserMessage(content="What is the capital of France? Answer in one word.")],
        temperature=0,
        random_seed=1,
        max_tokens=16,
    )
    message = response.choices[0].message
    assert message is not None
    assert message.content
    assert "Paris" in str(message.content)
    assert (response.usage.total_tokens or 0) > 0


def test_streaming(sdk: Mistral) -> None:
    text = ""
    usage = None
    for event in sdk.chat.stream(
        model=MODEL,
        messages=[UserMessage(content="What is the capital of France? Answer in one word.")],
        temperature=0,
        max_tokens=16,
    ):
        chunk = event.data
        if chunk.choices:
            text += str(chunk.choices[0].delta.content or "")
        if chunk.usage is not None:
            usage = chunk.usage
    assert "Paris" in text
    assert usage is not None
    assert usage.completion_tokens > 0


def test_json_mode(sdk: Mistral) -> None:
    response = sdk.chat.complete(
        model=MODEL,
        messages=[UserMessage(content="Describe a dog as JSON with name and age.")],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=100,
    )
    message = response.choices[0].message
    assert message is not None
    assert isinstance(json.loads(str(message.content)), dict)


def test_models(sdk: Mistral) -> None:
    models = sdk.models.list()
    assert models.data is not None
    [card] = models.data
    assert isinstance(card, BaseModelCard)
    assert card.id == MODEL
    assert card.max_context_length == 2048
    assert card.capabilities.completion_chat is True


def test_errors_are_the_sdks_own_types(sdk: Mistral, live_url: str) -> None:
    with pytest.raises(errors.SDKError) as not_found:
        sdk.chat.complete(model="nope", messages=[UserMessage(content="hi")])
    assert not_found.value.status_code == 404
    with pytest.raises(errors.HTTPValidationError):
        sdk.chat.complete(model=MODEL, messages=[])
    bad = Mistral(api_key="lv-wrong-key-0000000000", server_url=live_url)
    with pytest.raises(errors.SDKError) as unauthorized:
        bad.models.list()
    assert unauthorized.value.status_code == 401


def test_embeddings(sdk: Mistral) -> None:
    result = sdk.embeddings.create(model=MODEL, inputs=["a cat", "a dog"])
    assert [len(d.embedding or []) for d in result.data] == [576, 576]
