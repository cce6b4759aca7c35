"""Function calling in the engine: the prompt format, the grammar, the parser; on the real
model where a generation is involved."""

from __future__ import annotations

import json

import anyio
import jsonschema
import pytest

from levante.engine import (
    ChatTurn,
    Finished,
    GenerationEvent,
    GenerationRequest,
    ModelRegistry,
    Prompt,
    SamplingParams,
    TextDelta,
    ToolCall,
    ToolCalled,
    ToolSpec,
    ToolUse,
)
from levante.engine.llamacpp import LlamaCppEngine
from levante.engine.sampling import MAX_PARALLEL_CALLS, MAX_STRING, bounded, tool_grammar
from levante.engine.template import ChatTemplate
from levante.engine.tools import CallParser, plain_turns
from levante.errors import InvalidRequestError
from tests.fixtures.tool_prompts import PROMPTS, SCHEMAS, TOOLS

GREEDY = SamplingParams(temperature=0)
WEATHER = ToolSpec(
    "get_weather",
    "The current weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def _engine(registry: ModelRegistry) -> LlamaCppEngine:
    engine = registry.get("smollm2").engine
    assert isinstance(engine, LlamaCppEngine)
    return engine


async def _run(engine: LlamaCppEngine, prompt: Prompt, limit: int = 80) -> list[GenerationEvent]:
    return [e async for e in engine.generate(GenerationRequest(prompt, limit, GREEDY))]


def test_the_parser_splits_text_and_whole_calls_across_any_chunking() -> None:
    text = (
        'Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
        '</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
        "</tool_call>"
    )
    for size in (1, 3, 7, len(text)):
        parser = CallParser()
        pieces = [p for i in range(0, len(text), size) for p in parser.feed(text[i : i + size])]
        pieces += parser.flush()
        assert "".join(p for p in pieces if isinstance(p, str)) == "Let me look.\n"
        calls = [p for p in pieces if isinstance(p, ToolCall)]
        assert [json.loads(c.arguments)["city"] for c in calls] == ["Paris", "Oslo"]
        assert len({c.id for c in calls}) == 2


def test_the_parser_keeps_what_is_not_a_call() -> None:
    parser = CallParser()
    pieces = parser.feed("a < b and <tool_c") + parser.feed("all>\nnot json\n</tool_call> end")
    pieces += parser.feed('<tool_call>\n{"name": "f", "argu') + parser.flush()
    assert "".join(str(p) for p in pieces) == (
        'a < b and <tool_call>\nnot json\n</tool_call> end<tool_call>\n{"name": "f", "argu'
    )


def test_a_repeated_call_ends_the_answer() -> None:
    call = '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>\n'
    parser = CallParser()
    pieces = parser.feed(call * 3)
    assert len(pieces) == 1
    assert parser.repeated


def test_without_a_tool_template_tools_go_in_the_system_turn() -> None:
    call = ToolCall("abcdefghi", "get_weather", '{"city": "Rome"}')
    turns = plain_turns(
        [
            ChatTurn("system", "Be brief."),
            ChatTurn("user", "Weather in Rome?"),
            ChatTurn("assistant", "", tool_calls=(call,)),
            ChatTurn("tool", '{"temperature": 20}', tool_call_id=call.id, name="get_weather"),
        ],
        ToolUse((WEATHER,)),
    )
    assert [t.role for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[0].content.startswith("Be brief.\n\n")
    assert '"name": "get_weather"' in turns[0].content
    assert "<tools>" in turns[0].content
    assert turns[2].content == (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>'
    )
    assert turns[3].content == (
        '<tool_response name="get_weather">\n{"temperature": 20}\n</tool_response>'
    )


def test_a_template_that_renders_tools_gets_them_itself() -> None:
    source = (
        "{% if tools %}<tools>{% for t in tools %}{{ t.function.name }};{% endfor %}</tools>"
        "{% endif %}{% for m in messages %}[{{ m.role }}]{{ m.content }}"
        "{% for c in m.tool_calls or [] %}<tool_call>{{ c.function.name }}"
        "{{ c.function.arguments.city }}</tool_call>{% endfor %}{% endfor %}"
    )
    template = ChatTemplate(source, bos_token="", eos_token="")
    assert template.renders_tools
    call = ToolCall("abcdefghi", "get_weather", '{"city": "Rome"}')
    turns = [ChatTurn("user", "Rome?"), ChatTurn("assistant", "", tool_calls=(call,))]
    text = template.render(turns, tools=ToolUse((WEATHER,)))
    assert text == (
        "<tools>get_weather;</tools>[user]Rome?[assistant]<tool_call>get_weatherRome</tool_call>"
    )


def test_a_schema_the_grammar_cannot_hold_is_refused() -> None:
    bad = ToolSpec("f", "", {"type": "object", "properties": {"x": {"$ref": "#/nowhere"}}})
    with pytest.raises(InvalidRequestError) as caught:
        tool_grammar(ToolUse((bad,), choice="required"))
    assert caught.value.param == "tools"


def test_required_calls_follow_the_schema(model_registry: ModelRegistry) -> None:
    engine = _engine(model_registry)
    prompt = engine.prepare_chat(
        [ChatTurn("user", "Tell me a joke.")], tools=ToolUse((WEATHER,), choice="required")
    )
    events = anyio.run(_run, engine, prompt)
    calls = [e.call for e in events if isinstance(e, ToolCalled)]
    assert 1 <= len(calls) <= MAX_PARALLEL_CALLS
    assert all(c.name == "get_weather" for c in calls)
    assert all("city" in json.loads(c.arguments) for c in calls)
    assert not [e for e in events if isinstance(e, TextDelta)]
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.finish_reason == "tool_calls"


def test_auto_holds_a_call_to_the_schema_once_the_model_opens_one(
    model_registry: ModelRegistry,
) -> None:
    # A text whose pattern the model continues: it opens a call by itself. The examples
    # name the argument "town"; the grammar, engaged at the opening tag, makes it "city".
    engine = _engine(model_registry)
    examples = "".join(
        f'Weather in {c}:\n<tool_call>\n{{"name": "get_weather", "arguments": '
        f'{{"town": "{c}"}}}}\n</tool_call>\n\n'
        for c in ("Rome", "Oslo", "Lima")
    )
    tokens = engine.tokenize(examples + "Weather in Paris:\n")
    prompt = Prompt(len(tokens), tuple(tokens), tools=ToolUse((WEATHER,), parallel=False))
    events = anyio.run(_run, engine, prompt)
    [call] = [e.call for e in events if isinstance(e, ToolCalled)]
    assert set(json.loads(call.arguments)) == {"city"}
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.finish_reason == "tool_calls"


def test_a_hundred_varied_prompts_give_a_hundred_valid_calls(
    model_registry: ModelRegistry,
) -> None:
    """The acceptance figure: with ``any``, every prompt gets a call whose arguments
    validate against the schema of the function it names (bench/tools.py measures more)."""
    engine = _engine(model_registry)
    tools = ToolUse(
        tuple(
            ToolSpec(
                t["function"]["name"], t["function"]["description"], t["function"]["parameters"]
            )
            for t in TOOLS
        ),
        choice="required",
        parallel=False,  # one call per prompt: the figure counts prompts answered by a call
    )
    answers: dict[int, list[ToolCall]] = {}
    room = anyio.CapacityLimiter(16)  # within the engine's queue

    async def ask(i: int, question: str) -> None:
        prompt = engine.prepare_chat([ChatTurn("user", question)], tools=tools)
        async with room:
            events = await _run(engine, prompt, limit=1300)  # what the context leaves
        answers[i] = [e.call for e in events if isinstance(e, ToolCalled)]

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for i, (_, question) in enumerate(PROMPTS):
                group.start_soon(ask, i, question)

    anyio.run(main)
    unanswered = [PROMPTS[i][1] for i in range(len(PROMPTS)) if not answers[i]]
    assert not unanswered
    for calls in answers.values():
        for call in calls:
            jsonschema.validate(json.loads(call.arguments), SCHEMAS[call.name])


def test_unbounded_strings_and_arrays_get_a_bound_and_given_ones_stand() -> None:
    schema = {
        "type": "object",
        "properties": {
            "free": {"type": "string"},
            "short": {"type": "string", "maxLength": 5},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    out = bounded(schema)["properties"]
    assert out["free"]["maxLength"] == MAX_STRING
    assert out["short"]["maxLength"] == 5
    assert "maxLength" not in out["kind"]
    assert out["tags"]["maxItems"] > 0
    assert out["tags"]["items"]["maxLength"] == MAX_STRING
