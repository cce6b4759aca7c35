"""Chat benchmarks: the browser's path (the web app's streamed answer) beside the API's, and
many signed-in people chatting at once.

    .venv/bin/python bench/chat.py [--users 50] [--write docs/benchmarks.md]

One Levante on loopback (SQLite, SmolLM2-135M-Instruct on 2 threads, greedy). Measures:
- time to first token of the same chat answer through POST /chat/messages (a signed-in
  browser's path: session, CSRF, the conversation kept) and POST /v1/chat/completions,
  interleaved;
- USERS people signed in, each sending more messages than the Free window allows, all at
  once, while a prober loads /chat pages: errors, the messages admitted against the limit,
  one ledger record per answer, and the pages' time to first byte;
- the size of the app's own JavaScript and CSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from levante.storage import Database
from levante.storage.models import Plan, UsageRecord
from serving import THREADS, levante, write_block

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "src" / "levante" / "web" / "static"
PASSWORD = "correct horse battery"
PROMPT = "Name three rivers of Europe."
WINDOW = 3  # Free messages per window, for the load run
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def sign_up(base: str, email: str) -> tuple[httpx.AsyncClient, str]:
    client = httpx.AsyncClient(base_url=base, timeout=300)
    page = await client.get("/signup")
    token = _CSRF.search(page.text)
    assert token, page.text[:500]
    response = await client.post(
        "/signup", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text[:500]
    page = await client.get("/chat")
    found = _CSRF.search(page.text)
    assert found
    return client, found.group(1)


async def web_answer(client: httpx.AsyncClient, csrf: str, content: str) -> tuple[int, float]:
    """One message through the web app: (status, seconds to the first text)."""
    started = time.perf_counter()
    first: float | None = None
    async with client.stream(
        "POST", "/chat/messages", json={"content": content}, headers={"X-CSRF-Token": csrf}
    ) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, time.perf_counter() - started
        async for line in response.aiter_lines():
            if first is None and line.startswith('data: {"type":"delta"'):
                first = time.perf_counter() - started
    return 200, first if first is not None else time.perf_counter() - started


async def api_answer(client: httpx.AsyncClient, key: str, content: str, tokens: int) -> float:
    body = {
        "model": "smollm2-135m-instruct",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
    }
    started = time.perf_counter()
    first: float | None = None
    headers = {"Authorization": f"Bearer {key}"}
    async with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if first is None and '"content":"' in line and '"content":""' not in line:
                first = time.perf_counter() - started
    return first if first is not None else time.perf_counter() - started


def set_free_window(data: Path, messages: int) -> None:
    database = Database(f"sqlite:///{data / 'levante.db'}")
    with database.session() as session:
        plan = session.scalars(select(Plan).where(Plan.code == "chat-free")).one()
        plan.features = {**(plan.features or {}), "messages_per_window": messages,
                         "messages_per_week": max(messages, 1000)}  # fmt: skip
    database.dispose()


def chat_records(data: Path) -> int:
    database = Database(f"sqlite:///{data / 'levante.db'}")
    with database.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(UsageRecord)
            .where(UsageRecord.endpoint == "chat.message")
        )
    database.dispose()
    return int(count or 0)


async def ttft(base: str, key: str, rounds: int, tokens: int) -> tuple[list[float], list[float]]:
    web, csrf = await sign_up(base, "ttft@example.com")
    async with httpx.AsyncClient(base_url=base, timeout=300) as api:
        await api_answer(api, key, PROMPT, tokens)  # warm: both paths find the prompt cached
        await web_answer(web, csrf, PROMPT)
        webs, apis = [], []
        for _ in range(rounds):
            status, seconds = await web_answer(web, csrf, PROMPT)
            assert status == 200, status
            webs.append(seconds)
            apis.append(await api_answer(api, key, PROMPT, tokens))
    await web.aclose()
    return webs, apis


async def crowd(base: str, users: int) -> dict[str, float]:
    people = await asyncio.gather(*(sign_up(base, f"user{i}@example.com") for i in range(users)))
    statuses: list[int] = []
    first_bytes: list[float] = []
    done = asyncio.Event()

    async def person(client: httpx.AsyncClient, csrf: str) -> None:
        for n in range(WINDOW + 1):  # one more than the window allows
            status, _ = await web_answer(client, csrf, f"Say the word number {n}.")
            statuses.append(status)

    async def prober() -> None:
        client, _ = people[0]
        while not done.is_set():
            started = time.perf_counter()
            async with client.stream("GET", "/chat") as response:
                first_bytes.append(time.perf_counter() - started)
                await response.aread()
            await asyncio.sleep(0.05)

    probe = asyncio.create_task(prober())
    started = time.perf_counter()
    await asyncio.gather(*(person(c, t) for c, t in people))
    seconds = time.perf_counter() - started
    done.set()
    await probe
    for client, _ in people:
        await client.aclose()
    first_bytes.sort()
    return {
        "answered": statuses.count(200),
        "refused": statuses.count(429),
        "errors": len([s for s in statuses if s not in (200, 429)]),
        "seconds": seconds,
        "pages": len(first_bytes),
        "p50": statistics.median(first_bytes),
        "p99": first_bytes[min(len(first_bytes) - 1, int(len(first_bytes) * 0.99))],
    }


WORDS = (
    "river", "mountain", "forest", "ocean", "desert", "island", "valley", "glacier", "volcano",
    "canyon", "meadow", "harbour", "bridge", "castle", "garden", "market", "library", "theatre",
    "station", "lighthouse", "orchard", "vineyard",
)  # fmt: skip


def search_at_scale(url: str, conversations: int) -> tuple[float, int]:
    """Search one user's ``conversations`` (two messages each): median seconds of a
    two-word query, and how many it found."""
    import random

    from levante.chat import search
    from levante.chat.conversations import add_message, start_conversation
    from levante.identity import SignupPolicy, sign_up
    from levante.storage import upgrade, utcnow
    from levante.vocabulary import MessageRole

    database = Database(url)
    upgrade(database.engine)
    rng = random.Random(7)
    with database.session() as session:
        user = sign_up(session, "many@example.com", PASSWORD, policy=SignupPolicy(),
                       currency="USD").id  # fmt: skip
    for batch in range(0, conversations, 500):
        with database.session() as session:
            for _ in range(min(500, conversations - batch)):
                text = " ".join(rng.choice(WORDS) for _ in range(12))
                conversation = start_conversation(session, user, text, model="m", now=utcnow())
                add_message(session, conversation, 0, MessageRole.USER, text, now=utcnow())
                answer = " ".join(rng.choice(WORDS) for _ in range(40))
                add_message(session, conversation, 1, MessageRole.ASSISTANT, answer, now=utcnow())
    timings = []
    found = 0
    for _ in range(20):
        started = time.perf_counter()
        with database.session() as session:
            found = len(search(session, user, "volcano lighthouse"))
        timings.append(time.perf_counter() - started)
    database.dispose()
    return statistics.median(timings), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--write", type=Path, help="write the results into this markdown file")
    args = parser.parse_args()
    tokens = 32
    os.environ["LEVANTE_CHAT__TEMPERATURE"] = "0"
    os.environ["LEVANTE_CHAT__MAX_ANSWER_TOKENS"] = str(tokens)
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    with tempfile.TemporaryDirectory() as tmp, levante(Path(tmp), parallel=8) as server:
        data = next(Path(tmp).glob("levante-*"))
        set_free_window(data, 1000)
        webs, apis = asyncio.run(ttft(server.url, server.key, args.rounds, tokens))
        set_free_window(data, WINDOW)
        before = chat_records(data)
        result = asyncio.run(crowd(server.url, args.users))
        time.sleep(1)  # the ledger writes just after each answer
        recorded = chat_records(data) - before

    web_ms, api_ms = statistics.median(webs) * 1000, statistics.median(apis) * 1000
    assets = {
        p.name: p.stat().st_size for p in sorted(STATIC.iterdir()) if p.suffix in (".js", ".css")
    }
    say(f"Time to first token, median of {args.rounds} interleaved answers of {tokens} tokens "
        f"to the same prompt ({THREADS} threads, greedy):")  # fmt: skip
    say()
    say("| path | first token |")
    say("|---|---:|")
    say(f"| `POST /v1/chat/completions` (API key) | {api_ms:.0f} ms |")
    say(f"| `POST /chat/messages` (signed in, kept in a conversation) | {web_ms:.0f} ms "
        f"({(web_ms / api_ms - 1) * 100:+.0f} %) |")  # fmt: skip
    say()
    say(f"{args.users} signed-in users at once, each sending {WINDOW + 1} messages against a "
        f"Free window of {WINDOW}, while a prober loads `/chat`:")  # fmt: skip
    say()
    say("| | |")
    say("|---|---:|")
    say(f"| answered / refused by the limit / errors | {result['answered']} / "
        f"{result['refused']} / {result['errors']} |")  # fmt: skip
    say(f"| expected answered (users x window) | {args.users * WINDOW} |")
    say(f"| chat usage records written | {recorded} |")
    say(f"| wall time | {result['seconds']:.0f} s |")
    say(f"| `/chat` first byte while answers stream: p50 / p99 ({result['pages']} pages) | "
        f"{result['p50'] * 1000:.0f} ms / {result['p99'] * 1000:.0f} ms |")  # fmt: skip
    say()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = search_at_scale(f"sqlite:///{tmp}/search.db", args.conversations)
    say(f"Search over one user's {args.conversations:,} conversations (two messages each), "
        "a two-word query, median of 20, with at most 50 results shown:")  # fmt: skip
    say()
    say("| database | search | conversations found |")
    say("|---|---:|---:|")
    say(f"| SQLite | {sqlite[0] * 1000:.0f} ms | {sqlite[1]} |")
    postgres = _fresh_postgres(args.postgres)
    if postgres is not None:
        url, drop = postgres
        try:
            pg = search_at_scale(url, args.conversations)
            say(f"| PostgreSQL | {pg[0] * 1000:.0f} ms | {pg[1]} |")
        finally:
            drop()
    say()
    total = sum(assets.values())
    say("The app's own JavaScript and CSS, uncompressed: "
        + ", ".join(f"`{name}` {size / 1024:.1f} KB" for name, size in assets.items())
        + f"; {total / 1024:.1f} KB in all.")  # fmt: skip
    if args.write:
        write_block(args.write, "chat", "\n".join(lines))


def _fresh_postgres(url: str) -> tuple[str, Callable[[], None]] | None:
    """A new database on the PostgreSQL server at ``url``, and how to drop it; None if the
    server is not there."""
    import secrets

    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=3) as conn:
            name = f"levante_bench_{secrets.token_hex(4)}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.rsplit("/", 1)[0] + f"/{name}", drop


if __name__ == "__main__":
    main()
