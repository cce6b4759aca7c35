"""A fixed-rate HTTP/1.1 load generator: requests start on a schedule whatever the server
does (no coordinated omission), each timed from its scheduled start to its last byte."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Latencies:
    seconds: list[float]
    errors: int
    late: int  # requests that could not even start on time (all connections busy)

    def percentile(self, p: float) -> float:
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            marker = lower.index(b"content-length:") + 15
            length = int(lower[marker : lower.index(b"\r\n", marker)])
            await self.reader.readexactly(length)
        if b"connection: close" in lower:
            self.writer.close()
            self.writer = None
        return status


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def fixed_rate(
    url: str,
    body: bytes,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    connections: int = 64,
) -> Latencies:
    parts = urlsplit(url)
    raw = raw_post(url, body, headers)
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(_Connection(parts.hostname or "127.0.0.1", parts.port or 80))
    latencies: list[float] = []
    errors = late = 0

    async def one(scheduled: float) -> None:
        nonlocal errors, late
        connection = await idle.get()
        if time.perf_counter() - scheduled > 0.001:
            late += 1
        try:
            status = await connection.request(raw)
            if status == 200:
                latencies.append(time.perf_counter() - scheduled)
            else:
                errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            connection.writer = None
        finally:
            idle.put_nowait(connection)

    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    return Latencies(latencies, errors, late)
