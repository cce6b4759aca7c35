"""Per-request sampler chains and output grammars for llama.cpp."""

from __future__ import annotations

import ctypes
import functools
import json
import math
import random
from collections.abc import Sequence
from typing import Any

import llama_cpp
import numpy
from llama_cpp._internals import LlamaModel, LlamaSampler
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar, json_schema_to_gbnf

from levante.engine.base import OutputConstraint, SamplingParams, ToolUse
from levante.engine.tools import CLOSE, OPEN, call_schema
from levante.errors import InvalidRequestError

# Penalties look back this many tokens (llama.cpp's default).
PENALTY_WINDOW = 64

# llama-cpp-python's JSON-schema converter lets raw control characters (a newline, say) into
# strings, which makes invalid JSON; JSON forbids them unescaped.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'
# At most this many calls in one answer: a small model, free to go on, may repeat a call.
MAX_PARALLEL_CALLS = 8
# Bounds on a tool's string and array arguments where its schema sets none (see ``bounded``).
MAX_STRING = 200
MAX_ITEMS = 8
# A lazy grammar starts at the opening tag, wherever in the answer it comes.
_CALL_TRIGGER = f"[\\s\\S]*?({OPEN})[\\s\\S]*"


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


def tool_grammar(tools: ToolUse) -> tuple[LlamaGrammar, tuple[str, ...]]:
    """The grammar of an answer that calls the tools, and the patterns that start it: none
    when a call is forced (the answer is calls and nothing else), the opening tag under
    ``auto`` (the model writes text until it opens a call, or never does)."""
    grammar = _tool_grammar(
        json.dumps(bounded(call_schema(tools))),  # in the schemas' own order: the output's
        MAX_PARALLEL_CALLS - 1 if tools.parallel else 0,
    )
    return grammar, (() if tools.forced else (_CALL_TRIGGER,))


def bounded(schema: Any) -> Any:
    """The schema with a bound on every string and array that has none (``MAX_STRING``
    characters, ``MAX_ITEMS`` items). Greedy decoding on a small model can loop inside a
    value (the same word, the same list item) until the token limit; a bound closes the
    value, so the call still ends and parses. A schema's own bounds stand."""
    if isinstance(schema, list):
        return [bounded(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: (v if k in ("enum", "const", "default", "examples") else bounded(v))
        for k, v in schema.items()
    }
    kinds = out.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    free = not ({"enum", "const", "pattern", "format"} & out.keys())
    if "string" in kinds and free and "maxLength" not in out:
        out["maxLength"] = MAX_STRING
    if "array" in kinds and "maxItems" not in out:
        out["maxItems"] = MAX_ITEMS
    return out


@functools.lru_cache(maxsize=256)
def _tool_grammar(schema: str, more: int) -> LlamaGrammar:
    repeat = f' ("\\n" call){{0,{more}}}' if more else ""
    head = f'root ::= call{repeat}\ncall ::= "{OPEN}\\n" call-body "\\n{CLOSE}"\n'
    try:
        body = json_schema_to_gbnf(schema, prop_order=["name", "arguments"])
        body = body.replace(_LOOSE_CHAR, _JSON_CHAR).replace("root ::=", "call-body ::=", 1)
        return LlamaGrammar.from_string(head + body, verbose=False)
    except Exception as exc:
        raise InvalidRequestError(
            f"a tool's parameters cannot be turned into a grammar: {exc}", param="tools"
        ) from exc


def build_sampler(
    model: LlamaModel,
    params: SamplingParams,
    *,
    banned: Sequence[int] = (),
) -> LlamaSampler:
    """A sampler chain: banned tokens (removed later by :func:`unban`), penalties, then
    greedy (temperature 0) or top-k / top-p / min-p / temperature and a seeded draw. A
    grammar goes beside it (:class:`GrammarSampler`), not in it."""
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


def plain_greedy(params: SamplingParams) -> bool:
    """Whether the chain :func:`build_sampler` makes for these settings only picks the token
    with the highest logit (the first such, as llama.cpp's greedy sampler does), once any
    banned tokens are released; then an argmax over the logits gives the same token."""
    return params.temperature == 0 and not _penalised(params)


_TOKEN_DATA = numpy.dtype([("id", numpy.int32), ("logit", numpy.float32), ("p", numpy.float32)])
assert _TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)


class GrammarSampler:
    """A grammar beside a sampler chain, applied as llama.cpp's own common sampler applies
    it: the chain picks from the raw logits, and if the grammar allows that token it is
    taken; only if not does the grammar mask the whole vocabulary for the chain to pick
    again. Checking one token costs microseconds; masking 49,152 (what a grammar inside the
    chain does at every step) costs milliseconds per sequence and step. The token is the
    one a grammar inside the chain would give: the chain's pick stands whenever the grammar
    allows it. With ``triggers`` the grammar is lazy: it holds from the first match on."""

    def __init__(self, model: LlamaModel, grammar: LlamaGrammar, triggers: Sequence[str]) -> None:
        self._grammar = LlamaSampler()
        if triggers:
            self._grammar.add_grammar_lazy_patterns(model, grammar, list(triggers), [])
        else:
            self._grammar.add_grammar(model, grammar)
        self._n_vocab = model.n_vocab()
        self._ids = numpy.arange(self._n_vocab, dtype=numpy.int32)
        self._all = numpy.zeros(self._n_vocab, dtype=_TOKEN_DATA)
        self._one = numpy.zeros(1, dtype=_TOKEN_DATA)

    def sample(self, chain: LlamaSampler, logits: Any) -> int:
        """The next token, from a row's logits (a ctypes pointer); both samplers accept it."""
        values = numpy.ctypeslib.as_array(logits, shape=(self._n_vocab,))
        token = self._pick(chain, values, masked=False)
        one = self._one
        one["id"], one["logit"] = token, 0.0
        _apply(self._grammar, one)
        if not numpy.isfinite(one["logit"][0]):  # not allowed here: mask, then pick again
            token = self._pick(chain, values, masked=True)
        llama_cpp.llama_sampler_accept(self._grammar.sampler, token)
        llama_cpp.llama_sampler_accept(chain.sampler, token)
        return token

    def _pick(self, chain: LlamaSampler, values: Any, *, masked: bool) -> int:
        data = self._all
        data["id"], data["logit"], data["p"] = self._ids, values, 0.0
        if masked:
            _apply(self._grammar, data)
        selected = _apply(chain, data)
        return int(data["id"][selected])

    def close(self) -> None:
        self._grammar.close()


def _apply(sampler: LlamaSampler, data: Any) -> int:
    """Run a sampler over candidates in place; the index it selected (-1: none)."""
    candidates = llama_cpp.llama_token_data_array(
        data=data.ctypes.data_as(llama_cpp.llama_token_data_p),
        size=len(data),
        selected=-1,
        sorted=False,
    )
    llama_cpp.llama_sampler_apply(sampler.sampler, ctypes.byref(candidates))
    return int(candidates.selected)


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
