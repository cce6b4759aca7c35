"""Function-calling benchmark: a hundred varied prompts with ``tool_choice: "any"``.

    .venv/bin/python bench/tools.py [--write docs/benchmarks.md] [--llama-server PATH]

One Levante on loopback (SQLite, SmolLM2-135M-Instruct on 2 threads, greedy), asked through
the official ``openai`` SDK, eight requests at a time, the five tools of
tests/fixtures/tool_prompts.py on offer in each, one call per answer
(``parallel_tool_calls: false``). Counted: answers holding a call, calls whose arguments
parse and validate against the schema of the function they name, calls of the function the
prompt was written for (the model's judgement, not the grammar's), completion tokens and
wall time. With a llama-server binary (bench/build_llama_server.sh) the same prompts go to
it as well (``--jinja``, tool_choice ``required``), side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from tests.fixtures.tool_prompts import PROMPTS, SCHEMAS, TOOLS  # noqa: E402

from serving import Server, levante, llama_server, write_block  # noqa: E402

CONCURRENCY = 8
MAX_TOKENS = 1024


@dataclass
class Outcome:
    called: bool = False
    valid: bool = False
    right: bool = False
    tokens: int = 0
    error: str = ""


async def ask(client: openai.AsyncOpenAI, model: str, expected: str, question: str) -> Outcome:
    try:
        response = await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": question}],
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice="required",
            parallel_tool_calls=False,
            temperature=0,
            max_tokens=MAX_TOKENS,
        )
    except openai.APIError as exc:
        return Outcome(error=str(exc)[:200])
    outcome = Outcome(tokens=response.usage.completion_tokens if response.usage else 0)
    calls = response.choices[0].message.tool_calls or []
    if not calls:
        return outcome
    call = calls[0]
    outcome.called = True
    name = call.function.name  # type: ignore[union-attr]
    outcome.right = name == expected
    try:
        arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
        jsonschema.validate(arguments, SCHEMAS[name])
        outcome.valid = True
    except (ValueError, KeyError, jsonschema.ValidationError) as exc:
        outcome.error = str(exc)[:200]
    return outcome


async def run(server: Server) -> tuple[list[Outcome], float]:
    client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=server.key, timeout=900)
    room = asyncio.Semaphore(CONCURRENCY)

    async def one(expected: str, question: str) -> Outcome:
        async with room:
            return await ask(client, server.model, expected, question)

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(e, q) for e, q in PROMPTS))
    return list(outcomes), time.perf_counter() - started


def table(results: list[tuple[str, list[Outcome], float]]) -> str:
    lines = [
        "| Server | Answers with a call | Arguments valid | Right function | Completion tokens "
        "| Wall time |",
        "|---|---|---|---|---|---|",
    ]
    for name, outcomes, seconds in results:
        n = len(outcomes)
        lines.append(
            f"| {name} | {sum(o.called for o in outcomes)}/{n} "
            f"| {sum(o.valid for o in outcomes)}/{n} | {sum(o.right for o in outcomes)}/{n} "
            f"| {sum(o.tokens for o in outcomes):,} | {seconds:.0f} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    parser.add_argument(
        "--llama-server", type=Path, help="llama-server binary (default: bench/.build)"
    )
    args = parser.parse_args()
    binary = args.llama_server or ROOT / "bench" / ".build" / "llama-server"
    results = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        workdir = Path(tmp)
        targets = [servers.enter_context(levante(workdir))]
        if binary.is_file():
            targets.append(servers.enter_context(llama_server(workdir, binary, extra=("--jinja",))))
        else:
            print(f"(no llama-server at {binary}; run bench/build_llama_server.sh)")
        for server in targets:
            outcomes, seconds = asyncio.run(run(server))
            results.append((server.name, outcomes, seconds))
            for (expected, question), o in zip(PROMPTS, outcomes, strict=True):
                if o.error or not o.valid:
                    print(f"  {server.name}: {question!r} ({expected}): {o.error or 'no call'}")
    text = table(results)
    print(text)
    if args.write:
        write_block(args.write, "tools", text)


if __name__ == "__main__":
    main()
