"""A model's vocabulary as the engine needs it: token bytes, end-of-generation and FIM tokens."""

from __future__ import annotations

import ctypes

import llama_cpp
from llama_cpp._internals import LlamaModel


class Vocabulary:
    def __init__(self, model: LlamaModel) -> None:
        self._vocab = model.vocab
        self._pieces: dict[tuple[int, bool], bytes] = {}
        self.bos = model.token_bos()
        self.eos = model.token_eos()
        self.end_of_generation = tuple(
            t for t in range(model.n_vocab()) if llama_cpp.llama_vocab_is_eog(self._vocab, t)
        )
        self._eog = frozenset(self.end_of_generation)
        fim = (
            llama_cpp.llama_vocab_fim_pre(self._vocab),
            llama_cpp.llama_vocab_fim_suf(self._vocab),
            llama_cpp.llama_vocab_fim_mid(self._vocab),
        )
        # Prefix, suffix and middle tokens, where the model has all three.
        self.fim: tuple[int, int, int] | None = fim if all(t >= 0 for t in fim) else None

    def ends_generation(self, token: int) -> bool:
        return token in self._eog

    def piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes of one token (cached: the vocabulary is fixed)."""
        key = (token, special)
        piece = self._pieces.get(key)
        if piece is None:
            size = 64
            while True:
                buffer = ctypes.create_string_buffer(size)
                n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, size, 0, special)
                if n >= 0:
                    piece = buffer.raw[:n]
                    break
                size = -n
            self._pieces[key] = piece
        return piece

    def text(self, token: int) -> str:
        """A special token's text (BOS, EOS) for chat templates; empty for none."""
        if token < 0:
            return ""
        return self.piece(token, special=True).decode("utf-8", errors="replace")
