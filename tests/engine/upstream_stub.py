"""A tiny OpenAI-protocol server on loopback, standing in for vLLM or a hosted provider."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class StubUpstream:
    """Answers every chat with ``reply`` streamed word by word, with usage."""

    name: str
    reply: str = "hello from the upstream"
    fail_with: int | None = None  # answer every request with this status
    send_usage: bool = True
    word_delay: float = 0.0
    answer_delay: float = 0.0  # before the status line: a replica that hangs
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Answer a request that has tools with these calls ({"name", "arguments"}), streamed as
    # OpenAI does: id and name first, the arguments in fragments.
    calls: list[dict[str, str]] = field(default_factory=list)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> Starlette:
        async def models(_: Request) -> Response:
            return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model"}]})

        async def chat(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            if self.answer_delay:
                await asyncio.sleep(self.answer_delay)
            if self.fail_with is not None:
                return JSONResponse({"error": {"message": "broken"}}, status_code=self.fail_with)
            return StreamingResponse(self._stream(body), media_type="text/event-stream")

        return Starlette(
            routes=[
                Route("/v1/models", models),
                Route("/v1/chat/completions", chat, methods=["POST"]),
                Route("/v1/completions", chat, methods=["POST"]),
            ]
        )

    async def _stream(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        if self.calls and body.get("tools"):
            async for data in self._stream_calls():
                yield data
            return
        words = self.reply.split(" ")[: body.get("max_tokens", 1000)]
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            if self.word_delay:
                await asyncio.sleep(self.word_delay)
        done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield f"data: {json.dumps(done)}\n\n".encode()
        if self.send_usage:
            usage = {
                "prompt_tokens": 11,
                "completion_tokens": len(words),
                "total_tokens": 11 + len(words),
            }
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    async def _stream_calls(self) -> AsyncIterator[bytes]:
        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(chunk)}\n\n".encode()

        yield event({"role": "assistant", "content": None})
        for i, call in enumerate(self.calls):
            head = {"name": call["name"], "arguments": ""}
            yield event({"tool_calls": [{"index": i, "id": f"call_{i}", "function": head}]})
            half = len(call["arguments"]) // 2
            for part in (call["arguments"][:half], call["arguments"][half:]):
                yield event({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
        yield event({}, "tool_calls")
        usage = {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}
        yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    def start(self) -> StubUpstream:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=self.port,
            log_level="error",
            timeout_graceful_shutdown=0,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stub upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.server.force_exit = True  # do not wait for kept-alive connections
        if self.thread is not None:
            self.thread.join(timeout=10)
