"""An OpenAI-compatible upstream that answers at once, so that only the gateway in front of it
is measured: a bare asyncio HTTP/1.1 server with keep-alive, no framework.

    python bench/gateway/stub.py --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import json

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "stub",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello from the stub"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }
).encode()


def _event(payload: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


STREAM = b"".join(
    [
        *(
            _event(
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": "stub",
                    "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}],
                }
            )
            for w in ("hello", " from", " the", " stub")
        ),
        _event(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": "stub",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
            }
        ),
        b"data: [DONE]\n\n",
    ]
)
MODELS = json.dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}).encode()


def _response(body: bytes, content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


ANSWERS = {
    "plain": _response(COMPLETION, b"application/json"),
    "stream": _response(STREAM, b"text/event-stream"),
    "models": _response(MODELS, b"application/json"),
}


class Stub(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(
                    head[
                        marker + 15 : head.find(b"\r\n", marker)
                        if head.find(b"\r\n", marker) > 0
                        else None
                    ]
                )
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            if head.startswith(b"get"):
                self.transport.write(ANSWERS["models"])
            elif b'"stream":true' in body.replace(b" ", b""):
                self.transport.write(ANSWERS["stream"])
            else:
                self.transport.write(ANSWERS["plain"])


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Stub, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
