"""The official ``openai`` SDK against a live Levante, unmodified but for base_url and key."""

from __future__ import annotations

import json

import openai
import pytest

from tests.helpers import MODEL, Tenant


@pytest.fixture
def sdk(live_url: str, tenant: Tenant) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_url}/v1", api_key=tenant.key, max_retries=0)


def test_chat(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "What is the capital of France? Answer in one word."}
        ],
        temperature=0,
        seed=1,
        max_tokens=16,
    )
    assert "Paris" in (completion.choices[0].message.content or "")
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


def test_streaming_with_usage(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "What is the capital of France? Answer in one word."}
        ],
        temperature=0,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    assert "Paris" in text
    assert usage is not None
    assert usage.completion_tokens > 0


def test_json_mode(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Describe a dog as JSON with name and age."}],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=100,
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_text_completion(sdk: openai.OpenAI) -> None:
    completion = sdk.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=5, temperature=0
    )
    assert completion.choices[0].text
    assert completion.usage is not None


def test_models(sdk: openai.OpenAI) -> None:
    models = sdk.models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert sdk.models.retrieve("smollm2").id == MODEL


def test_errors_are_the_sdks_own_types(sdk: openai.OpenAI, live_url: str) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError):
        sdk.chat.completions.create(model=MODEL, messages=[])
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=10**6
        )
    bad = openai.OpenAI(base_url=f"{live_url}/v1", api_key="lv-wrong-key-0000000000", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_embeddings(sdk: openai.OpenAI) -> None:
    # The SDK asks for base64 and decodes it itself.
    result = sdk.embeddings.create(model=MODEL, input=["a cat", "a dog"])
    assert [len(d.embedding) for d in result.data] == [576, 576]
    assert result.usage.prompt_tokens > 0
