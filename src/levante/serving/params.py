"""From a protocol request to engine parameters: sampling, output constraints, token budget."""

from __future__ import annotations

from levante.engine import EngineInfo, OutputConstraint, SamplingParams
from levante.errors import ContextLengthExceededError, ValidationFailedError
from levante.protocol import SamplingFields

DEFAULT_TEMPERATURE = 0.7


def sampling_params(fields: SamplingFields, choice: int) -> SamplingParams:
    """Sampling for choice number ``choice``; each choice of a seeded request gets its own seed."""
    seed = fields.effective_seed()
    return SamplingParams(
        temperature=DEFAULT_TEMPERATURE if fields.temperature is None else fields.temperature,
        top_p=fields.top_p,
        top_k=fields.top_k,
        min_p=fields.min_p,
        repetition_penalty=fields.repetition_penalty,
        presence_penalty=fields.presence_penalty,
        frequency_penalty=fields.frequency_penalty,
        seed=None if seed is None else (seed + choice) % 2**32,
    )


def output_constraint(fields: SamplingFields) -> OutputConstraint | None:
    fmt = fields.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return OutputConstraint("json_object")
    assert fmt.json_schema is not None  # checked by the request model
    return OutputConstraint("json_schema", fmt.json_schema.schema_)


def check_choices(fields: SamplingFields, max_choices: int) -> None:
    if fields.n > max_choices:
        raise ValidationFailedError(
            f"n must be at most {max_choices}; got {fields.n}",
            param="n",
            detail=[_detail("n", f"Input should be less than or equal to {max_choices}")],
        )


def token_budget(
    fields: SamplingFields,
    *,
    model: str,
    prompt_tokens: int | None,
    info: EngineInfo,
    default_max_tokens: int | None,
    max_context_tokens: int | None = None,
) -> int:
    """How many tokens a completion may have; rejects a prompt that leaves no room.

    ``max_context_tokens`` is the caller's own cap (a chat plan's), where it is below the
    model's context. Where the engine cannot count the prompt (an upstream server), the
    request goes as asked and the upstream enforces its own context."""
    limit = info.context_length
    if max_context_tokens is not None and max_context_tokens < limit:
        limit = max_context_tokens
    if prompt_tokens is None:
        return fields.max_tokens or default_max_tokens or limit
    if prompt_tokens >= limit:
        raise ContextLengthExceededError(
            f"the prompt has {prompt_tokens} tokens, but model '{model}' has a context of "
            f"{limit} tokens; shorten the prompt",
            param="messages",
        )
    room = limit - prompt_tokens
    if fields.max_tokens is None:
        return min(room, default_max_tokens) if default_max_tokens else room
    if fields.max_tokens > room:
        raise ContextLengthExceededError(
            f"model '{model}' has a context of {limit} tokens, but "
            f"{prompt_tokens + fields.max_tokens} were requested ({prompt_tokens} in the "
            f"prompt, {fields.max_tokens} for the completion); lower max_tokens or shorten "
            "the prompt",
            param="max_tokens",
        )
    return fields.max_tokens


def _detail(field: str, message: str) -> dict[str, object]:
    return {"type": "value_error", "loc": ["body", field], "msg": message}
