"""Embeddings from a GGUF model: mean-pooled, L2-normalised hidden states.

A context of its own, created on first use, so embedding requests never touch the KV cache
of the decode loop; one request embeds at a time (calls are serialised by a lock).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import llama_cpp
from llama_cpp._internals import LlamaContext, LlamaModel

from levante.errors import ContextLengthExceededError, EngineError


class Embedder:
    def __init__(self, model: LlamaModel, *, context_length: int, n_threads: int) -> None:
        self._model = model
        self._context_length = context_length
        self._n_threads = n_threads
        self._context: LlamaContext | None = None
        self._batch = None
        self._lock = threading.Lock()

    def embed(self, token_lists: Sequence[Sequence[int]]) -> list[list[float]]:
        """One normalised vector per token list (blocking; call it off the event loop)."""
        for i, tokens in enumerate(token_lists):
            if len(tokens) > self._context_length:
                raise ContextLengthExceededError(
                    f"input {i} has {len(tokens)} tokens; the limit is {self._context_length}",
                    param="input",
                )
        with self._lock:
            context = self._open()
            return [self._one(context, tokens) for tokens in token_lists]

    def close(self) -> None:
        with self._lock:
            if self._batch is not None:
                llama_cpp.llama_batch_free(self._batch)
                self._batch = None
            if self._context is not None:
                self._context.close()
                self._context = None

    def _open(self) -> LlamaContext:
        if self._context is None:
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = self._context_length
            # Pooling needs the whole input in one micro-batch.
            params.n_batch = params.n_ubatch = self._context_length
            params.n_seq_max = 1
            params.n_threads = params.n_threads_batch = self._n_threads
            params.embeddings = True
            params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_MEAN
            params.no_perf = True
            self._context = LlamaContext(model=self._model, params=params, verbose=False)
            self._batch = llama_cpp.llama_batch_init(self._context_length, 0, 1)
        return self._context

    def _one(self, context: LlamaContext, tokens: Sequence[int]) -> list[float]:
        batch = self._batch
        assert batch is not None
        llama_cpp.llama_memory_clear(context.memory, True)
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = True
        batch.n_tokens = len(tokens)
        if llama_cpp.llama_decode(context.ctx, batch) != 0:
            raise EngineError("the model failed to embed the input")
        pointer = llama_cpp.llama_get_embeddings_seq(context.ctx, 0)
        vector = [float(pointer[i]) for i in range(self._model.n_embd())]
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]
