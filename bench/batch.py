"""Interactive latency while a batch job runs: the TTFT of 4 concurrent streams, without a
batch job and with one running, on one Levante gateway (the embedded model, 2 threads).

    .venv/bin/python bench/batch.py [--seconds 40] [--write docs/benchmarks.md]

The interactive load is 4 clients streaming chat completions back to back (greedy, 32 tokens);
the batch job is 2,000 chat lines (greedy, 32 tokens) submitted through the openai SDK, which
keeps the engine's background slots busy for the whole measured phase. Reported: TTFT p50 and
p90 of each phase, the interval between tokens of the interactive streams (one decode step),
and how many batch lines finished during the measured phase.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from serving import MODEL_ID, TOPICS, Server, levante, write_block  # noqa: E402

STREAMS = 4
TOKENS = 32
BATCH_LINES = 2000


async def _stream(client: httpx.AsyncClient, server: Server, i: int) -> tuple[float, float]:
    """One streamed answer: (time to first token, mean interval between its tokens)."""
    body = {
        "model": server.model,
        "messages": [
            {"role": "user", "content": f"Tell me about {TOPICS[i % len(TOPICS)]} ({i})."}
        ],
        # 24 to 40 tokens: the clients drift apart rather than asking in lockstep.
        "max_tokens": TOKENS - 8 + (i * 7) % 17,
        "temperature": 0,
        "stream": True,
    }
    started = time.perf_counter()
    stamps: list[float] = []
    headers = {"Authorization": f"Bearer {server.key}"}
    async with client.stream(
        "POST", f"{server.url}/v1/chat/completions", json=body, headers=headers
    ) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: {") and '"content":"' in line.replace(" ", ""):
                stamps.append(time.perf_counter() - started)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return stamps[0], statistics.mean(gaps) if gaps else 0.0


async def interactive(server: Server, seconds: float) -> tuple[list[float], list[float]]:
    """``STREAMS`` clients, each sending its next request as soon as its answer is in, for
    ``seconds``: the TTFT and mean token interval of every request."""
    ttfts: list[float] = []
    steps: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client_loop(client: httpx.AsyncClient, c: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            ttft, step = await _stream(client, server, c * 1000 + n)
            ttfts.append(ttft)
            steps.append(step)
            n += 1

    async with httpx.AsyncClient(timeout=600) as client:
        await _stream(client, server, 99)  # warm up
        await asyncio.gather(*(client_loop(client, c) for c in range(STREAMS)))
    return ttfts, steps


def _lines() -> bytes:
    rows = []
    for i in range(BATCH_LINES):
        body = {
            "model": MODEL_ID,
            "max_tokens": TOKENS,
            "temperature": 0,
            "messages": [{"role": "user", "content": f"Describe {TOPICS[i % 16]} ({i})."}],
        }
        line = {"custom_id": str(i), "method": "POST", "url": "/v1/chat/completions"}
        rows.append(json.dumps(line | {"body": body}))
    return ("\n".join(rows) + "\n").encode()


def _completed(client: openai.OpenAI, job_id: str) -> int:
    counts = client.batches.retrieve(job_id).request_counts
    return counts.completed if counts is not None else 0


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=40.0, help="of each phase")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = {"batch": json.dumps({"concurrency": 4, "poll_seconds": 0.2})}
        with levante(Path(tmp), settings=settings) as server:
            quiet, quiet_steps = asyncio.run(interactive(server, args.seconds))
            client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.key)
            upload = client.files.create(file=("lines.jsonl", _lines()), purpose="batch")
            job = client.batches.create(
                input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            while _completed(client, job.id) < 8:  # the job is under way
                time.sleep(0.2)
            before = _completed(client, job.id)
            started = time.perf_counter()
            busy, busy_steps = asyncio.run(interactive(server, args.seconds))
            seconds = time.perf_counter() - started
            after = _completed(client, job.id)
            idle_started = time.perf_counter()
            time.sleep(args.seconds / 2)
            idle_done = _completed(client, job.id) - after
            idle_seconds = time.perf_counter() - idle_started
            client.batches.cancel(job.id)
            while client.batches.retrieve(job.id).status != "cancelled":
                time.sleep(0.2)
            again, again_steps = asyncio.run(interactive(server, args.seconds))
    quiet += again
    quiet_steps += again_steps
    done = after - before
    assert after < BATCH_LINES, "the job ran out before the measured phase ended"
    lines = [
        f"{STREAMS} interactive clients, each streaming its next answer "
        f"as soon as the last is in (24 to 40 tokens, greedy): {args.seconds:.0f} s without a "
        f"batch job, {args.seconds:.0f} s with one running, {args.seconds:.0f} s without again "
        f"after cancelling it ({len(quiet)} and {len(busy)} requests). The batch job: chat "
        f"lines of {TOKENS} tokens, `batch.concurrency` 4, `parallel` 8.",
        "",
        "| Phase | TTFT p50 | TTFT p90 | Between tokens (mean) | Batch lines finished |",
        "|---|---:|---:|---:|---:|",
        f"| No batch job | {_p(quiet, 0.5) * 1000:.0f} ms | {_p(quiet, 0.9) * 1000:.0f} ms | "
        f"{statistics.mean(quiet_steps) * 1000:.0f} ms | - |",
        f"| Batch job running | {_p(busy, 0.5) * 1000:.0f} ms | {_p(busy, 0.9) * 1000:.0f} ms | "
        f"{statistics.mean(busy_steps) * 1000:.0f} ms | {done} in {seconds:.0f} s |",
        "",
        f"TTFT p50 with the batch job: {_p(busy, 0.5) / _p(quiet, 0.5) * 100 - 100:+.0f} % "
        f"({(_p(busy, 0.5) - _p(quiet, 0.5)) * 1000:+.0f} ms; one decode step between tokens "
        f"is {statistics.mean(busy_steps) * 1000:.0f} ms). With no interactive traffic the "
        f"job ran {idle_done / idle_seconds:.1f} lines/s.",
    ]
    print("\n".join(lines))
    if args.write:
        write_block(args.write, "batch", "\n".join(lines))


if __name__ == "__main__":
    main()
