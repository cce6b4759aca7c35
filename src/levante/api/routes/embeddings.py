"""``POST /v1/embeddings``."""

from __future__ import annotations

import base64
import struct

from fastapi import APIRouter, Request

from levante.api.state import Caller, State, request_context
from levante.protocol import Embedding, EmbeddingList, EmbeddingRequest, EmbeddingUsage

router = APIRouter()


@router.post("/v1/embeddings")
async def embeddings(
    body: EmbeddingRequest, request: Request, state: State, caller: Caller
) -> EmbeddingList:
    context = request_context(request, caller, "embeddings")
    model, vectors, tokens = await state.service.embed(context, body)
    data = [
        Embedding(
            index=i,
            embedding=_base64(v) if body.encoding_format == "base64" else v,
        )
        for i, v in enumerate(vectors)
    ]
    return EmbeddingList(
        id="emb-" + context.request_id.removeprefix("req_"),
        model=model,
        data=data,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )


def _base64(vector: list[float]) -> str:
    """Little-endian float32, as OpenAI's base64 encoding."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
