"""The model's own chat template (Jinja, from the GGUF), rendered as Hugging Face does."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from levante.engine.base import ChatTurn, ToolUse
from levante.engine.tools import template_message, template_renders_tools, tool_json
from levante.errors import InvalidRequestError


class _TemplateRejected(Exception):
    pass


def _raise_exception(message: str) -> None:
    raise _TemplateRejected(message)


class ChatTemplate:
    """A compiled chat template with the model's BOS and EOS token texts."""

    def __init__(self, source: str, *, bos_token: str, eos_token: str) -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = lambda fmt: time.strftime(fmt)
        self._template: Any = env.from_string(source)
        self._bos = bos_token
        self._eos = eos_token
        self.renders_tools = template_renders_tools(source)

    def render(
        self,
        turns: Sequence[ChatTurn],
        *,
        continue_last: bool = False,
        tools: ToolUse | None = None,
    ) -> str:
        """The prompt for ``turns``; with ``continue_last`` the final assistant message is left
        open so the model continues it. ``tools`` go to a template that renders them
        (``renders_tools``); other templates get turns already in the prompt format."""
        messages = [template_message(t) for t in turns]
        extra = {"tools": [tool_json(t) for t in tools.tools]} if tools is not None else {}
        try:
            rendered: str = self._template.render(
                messages=messages,
                add_generation_prompt=not continue_last,
                bos_token=self._bos,
                eos_token=self._eos,
                **extra,
            )
        except _TemplateRejected as exc:
            raise InvalidRequestError(
                f"the model's chat template rejects these messages: {exc}", param="messages"
            ) from exc
        if continue_last:
            # Drop whatever the template appended after the last message's content.
            cut = rendered.rfind(turns[-1].content)
            if cut >= 0:
                rendered = rendered[: cut + len(turns[-1].content)]
        return rendered
