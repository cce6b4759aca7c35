"""Per-request sampler chains and output grammars for llama.cpp."""

from __future__ import annotations

import functools
import json
import math
import random
from collections.abc import Sequence

import llama_cpp
from llama_cpp._internals import LlamaModel, LlamaSampler
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar, json_schema_to_gbnf

from levante.engine.base import OutputConstraint, SamplingParams
from levante.errors import InvalidRequestError

# Penalties look back this many tokens (llama.cpp's default).
PENALTY_WINDOW = 64

# llama-cpp-python's JSON-schema converter lets raw control characters (a newline, say) into
# strings, which makes invalid JSON; JSON forbids them unescaped.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


def compile_grammar(constraint: OutputConstraint | None) -> LlamaGrammar | None:
    """The GBNF grammar enforcing ``constraint``; InvalidRequestError if it cannot be built."""
    if constraint is None:
        return None
    if constraint.kind == "json_object" or constraint.schema is None:
        return _grammar(None)
    return _grammar(json.dumps(constraint.schema, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _grammar(schema: str | None) -> LlamaGrammar:
    """Compiled once per schema: the serving layer checks a constraint before the stream
    starts and the engine uses it again; a grammar is only text, so sharing it is safe."""
    try:
        if schema is None:
            return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
        gbnf = json_schema_to_gbnf(schema)
        return LlamaGrammar.from_string(gbnf.replace(_LOOSE_CHAR, _JSON_CHAR), verbose=False)
    except Exception as exc:
        raise InvalidRequestError(
            f"the JSON schema cannot be turned into a grammar: {exc}",
            param="response_format.json_schema.schema",
        ) from exc


def build_sampler(
    model: LlamaModel,
    params: SamplingParams,
    grammar: LlamaGrammar | None,
    *,
    banned: Sequence[int] = (),
) -> LlamaSampler:
    """A sampler chain: banned tokens (removed later by :func:`unban`), penalties, grammar,
    then greedy (temperature 0) or top-k / top-p / min-p / temperature and a seeded draw."""
    sampler = LlamaSampler()
    if banned:
        sampler.add_logit_bias(model.n_vocab(), {token: -math.inf for token in banned})
    if _penalised(params):
        sampler.add_penalties(
            n_vocab=model.n_vocab(),
            penalty_last_n=PENALTY_WINDOW,
            penalty_repeat=params.repetition_penalty,
            penalty_freq=params.frequency_penalty,
            penalty_present=params.presence_penalty,
        )
    if grammar is not None:
        sampler.add_grammar(model, grammar)
    if params.temperature == 0:
        sampler.add_greedy()
        return sampler
    if params.top_k > 0:
        sampler.add_top_k(params.top_k)
    if params.top_p < 1.0:
        sampler.add_top_p(params.top_p, 1)
    if params.min_p > 0.0:
        sampler.add_min_p(params.min_p, 1)
    sampler.add_temp(params.temperature)
    seed = params.seed if params.seed is not None else random.getrandbits(32)
    sampler.add_dist(seed)
    return sampler


def plain_greedy(params: SamplingParams, grammar: LlamaGrammar | None) -> bool:
    """Whether the chain :func:`build_sampler` makes for these settings only picks the token
    with the highest logit (the first such, as llama.cpp's greedy sampler does), once any
    banned tokens are released; then an argmax over the logits gives the same token."""
    return params.temperature == 0 and grammar is None and not _penalised(params)


def _penalised(params: SamplingParams) -> bool:
    return (
        params.repetition_penalty != 1.0
        or params.frequency_penalty != 0.0
        or params.presence_penalty != 0.0
    )


def unban(sampler: LlamaSampler) -> None:
    """Drop the banned-token bias that :func:`build_sampler` put first in the chain."""
    removed = llama_cpp.llama_sampler_chain_remove(sampler.sampler, 0)
    llama_cpp.llama_sampler_free(removed)
