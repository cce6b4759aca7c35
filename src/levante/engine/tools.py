"""Function calling on a local model: how tools are shown to it, how its calls are read back.

Calls are written in one format, the tagged JSON of Hermes and Qwen models::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

A model whose chat template renders tools itself in that format (its source names ``tools``
and ``<tool_call>``) gets the tools and the history's calls through the template. Any other
model gets the documented prompt format of docs/api.md: the tools' schemas and the format in
the system message, earlier calls written into the assistant's turns in the same tags, and
results as user turns within ``<tool_response>`` tags (a user turn, so that templates which
only know ``user`` and ``assistant`` still alternate). Either way the output is held to the
format by a grammar (see ``sampling.tool_grammar``), and :class:`CallParser` reads it.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from levante.engine.base import ChatTurn, ToolCall, ToolSpec, ToolUse

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
_ID_ALPHABET = string.ascii_letters + string.digits


def new_call_id() -> str:
    """A call's id: nine letters and digits, the form Mistral's models are trained on (and
    one OpenAI's clients take as well)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))


def template_renders_tools(source: str) -> bool:
    """Whether a chat template shows tools to the model in the tagged format itself."""
    return "tools" in source and OPEN in source


def tool_json(tool: ToolSpec) -> dict[str, Any]:
    """A tool as chat templates and OpenAI's API know it."""
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    return {"type": "function", "function": function}


def instructions(tools: ToolUse) -> str:
    """The system text that shows the tools to a model whose template cannot."""
    listing = "\n".join(json.dumps(tool_json(t), ensure_ascii=False) for t in tools.tools)
    return (
        "You may call functions to help answer. Their signatures, as JSON schemas, are "
        f"within <tools></tools>:\n<tools>\n{listing}\n</tools>\n"
        "To call a function, answer with a JSON object holding its name and arguments "
        f"within {OPEN}{CLOSE} tags:\n{OPEN}\n"
        '{"name": <function-name>, "arguments": <arguments-object>}\n'
        f"{CLOSE}\n"
        "The results come back within <tool_response></tool_response> tags."
    )


def call_text(call: ToolCall) -> str:
    """A call as the model writes it."""
    body = json.dumps(
        {"name": call.name, "arguments": _arguments(call.arguments)}, ensure_ascii=False
    )
    return f"{OPEN}\n{body}\n{CLOSE}"


def plain_turns(turns: Sequence[ChatTurn], tools: ToolUse | None) -> list[ChatTurn]:
    """The conversation in the documented prompt format, for a template without tools."""
    out: list[ChatTurn] = []
    for turn in turns:
        if turn.role == "assistant" and turn.tool_calls:
            calls = "\n".join(call_text(c) for c in turn.tool_calls)
            content = f"{turn.content}\n{calls}" if turn.content else calls
            out.append(ChatTurn("assistant", content))
        elif turn.role == "tool":
            name = f' name="{turn.name}"' if turn.name else ""
            response = f"<tool_response{name}>\n{turn.content}\n</tool_response>"
            if out and out[-1].role == "user" and out[-1].content.endswith("</tool_response>"):
                # The results of one answer's calls go back in one turn.
                out[-1] = replace(out[-1], content=f"{out[-1].content}\n{response}")
            else:
                out.append(ChatTurn("user", response))
        else:
            out.append(ChatTurn(turn.role, turn.content))
    if tools is not None:
        shown = instructions(tools)
        if out and out[0].role == "system":
            out[0] = ChatTurn("system", f"{out[0].content}\n\n{shown}")
        else:
            out.insert(0, ChatTurn("system", shown))
    return out


def template_message(turn: ChatTurn) -> dict[str, Any]:
    """A turn as a chat template that renders tools expects it (Hugging Face's shape)."""
    message: dict[str, Any] = {"role": turn.role, "content": turn.content}
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": _arguments(c.arguments)},
            }
            for c in turn.tool_calls
        ]
    if turn.tool_call_id is not None:
        message["tool_call_id"] = turn.tool_call_id
    if turn.name is not None:
        message["name"] = turn.name
    return message


def _arguments(text: str) -> Any:
    """A call's arguments as a value; text that is not JSON is shown as the client sent it."""
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text


def call_schema(tools: ToolUse) -> dict[str, Any]:
    """The JSON schema of one call's body: the name of a callable tool and its arguments."""
    alternatives = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": t.parameters},
            "required": ["name", "arguments"],
        }
        for t in tools.callable()
    ]
    return alternatives[0] if len(alternatives) == 1 else {"oneOf": alternatives}


Piece = str | ToolCall


class CallParser:
    """Reads a generation's text into plain text and whole calls, as it streams.

    Text that might be the start of a call's opening tag is held back until it is known not
    to be; a call is given out once its closing tag arrives. What never closes (a generation
    cut by ``max_tokens``) comes out as text at :meth:`flush`, so nothing is lost.

    A call that repeats an earlier one of the same answer (same function, same arguments)
    is not given out, and ``repeated`` is set: the engine ends the answer there. Small
    models, free to add calls, tend to write the same one again until the token limit.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._in_call = False
        self._seen: set[tuple[str, str]] = set()
        self.calls = 0
        self.repeated = False

    def feed(self, text: str) -> list[Piece]:
        self._buffer += text
        pieces: list[Piece] = []
        while True:
            if self._in_call:
                end = self._buffer.find(CLOSE)
                if end < 0:
                    return pieces
                body = self._buffer[:end]
                self._buffer = self._buffer[end + len(CLOSE) :].lstrip("\n")
                self._in_call = False
                call = _parse_call(body)
                if call is None:
                    pieces.append(f"{OPEN}{body}{CLOSE}")
                elif (call.name, call.arguments) in self._seen:
                    self.repeated = True
                    self._buffer = ""
                    return pieces
                else:
                    self._seen.add((call.name, call.arguments))
                    self.calls += 1
                    pieces.append(call)
                continue
            start = self._buffer.find(OPEN)
            if start >= 0:
                before = self._buffer[:start]
                if self.calls:  # only whitespace separates consecutive calls
                    before = before.strip()
                if before:
                    pieces.append(before)
                self._buffer = self._buffer[start + len(OPEN) :]
                self._in_call = True
                continue
            keep = _partial_tag(self._buffer)
            ready = self._buffer[: len(self._buffer) - keep]
            self._buffer = self._buffer[len(self._buffer) - keep :]
            if self.calls:
                ready = ready.strip()
            if ready:
                pieces.append(ready)
            return pieces

    def flush(self) -> list[Piece]:
        rest = f"{OPEN}{self._buffer}" if self._in_call else self._buffer
        self._buffer, self._in_call = "", False
        if self.calls:
            rest = rest.strip()
        return [rest] if rest else []


def _partial_tag(text: str) -> int:
    """How many characters at the end of ``text`` could begin the opening tag."""
    for size in range(min(len(OPEN) - 1, len(text)), 0, -1):
        if OPEN.startswith(text[-size:]):
            return size
    return 0


def _parse_call(body: str) -> ToolCall | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", {})
    if isinstance(arguments, str):  # some models write the arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(new_call_id(), value["name"], json.dumps(arguments, ensure_ascii=False))
