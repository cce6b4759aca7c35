"""The upstream engine: any OpenAI-compatible server (vLLM, llama-server, another Levante, a
hosted provider) as the backend of a model, over several replicas.

A request goes to the healthy replica with the fewest requests in flight. A replica that
refuses the connection, times out or answers 5xx before the first byte is marked down and the
request moves to the next; once the stream has begun, a failure ends it. Replicas marked down
are probed in the background and come back when they answer again. Usage comes from the
upstream's own ``usage``; where it sends none, completion tokens are counted as streamed
pieces and the prompt is estimated from its length.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from levante.engine.base import (
    ChatTurn,
    DecodeStats,
    EngineInfo,
    Finished,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    OutputConstraint,
    Prompt,
    Started,
    TextDelta,
    ToolCall,
    ToolCalled,
    ToolUse,
)
from levante.engine.tools import new_call_id, tool_json
from levante.errors import InvalidRequestError, UpstreamError
from levante.settings import ModelSettings, UpstreamSettings

log = logging.getLogger(__name__)

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "model_length": "model_length",
    "eos": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}
_BYTES_PER_TOKEN = 4  # the estimate used only when an upstream reports no usage


@dataclass
class _Replica:
    settings: UpstreamSettings
    in_flight: int = 0
    down_since: float | None = None

    @property
    def url(self) -> str:
        return self.settings.url.rstrip("/")

    @property
    def healthy(self) -> bool:
        return self.down_since is None

    def headers(self) -> dict[str, str]:
        key = self.settings.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}


class _Retry(Exception):
    """This replica failed before answering; try another."""


class UpstreamEngine:
    """A model served by OpenAI-compatible upstream replicas."""

    def __init__(self, settings: ModelSettings) -> None:
        if not settings.upstreams:
            raise InvalidRequestError(f"model '{settings.id}' has no upstreams")
        self._settings = settings
        self._replicas = [_Replica(u) for u in settings.upstreams]
        self._lock = threading.Lock()
        self._turn = 0
        self._timeout = httpx.Timeout(
            settings.timeout_seconds, connect=settings.connect_timeout_seconds
        )
        # Requests go through aiohttp: its connection pool costs a fraction of httpx's per
        # request (measured in bench/gateway). The background probe keeps httpx.
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._stopping = threading.Event()
        self._prober = threading.Thread(target=self._probe, name="upstream-health", daemon=True)
        self._prober.start()

    # -- the Engine interface ------------------------------------------------------------------

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(
            context_length=self._settings.context_length,
            chat_template=True,
            tokenizes_locally=False,
        )

    @property
    def queue_depth(self) -> int:
        return sum(r.in_flight for r in self._replicas)

    @property
    def idle(self) -> bool:
        return self.queue_depth == 0

    @property
    def stats(self) -> DecodeStats:
        return DecodeStats(active=self.queue_depth)

    def prepare_chat(
        self,
        turns: Sequence[ChatTurn],
        *,
        continue_last: bool = False,
        tools: ToolUse | None = None,
    ) -> Prompt:
        return Prompt(
            token_count=None, turns=tuple(turns), continue_last=continue_last, tools=tools
        )

    def prepare_text(self, text: str) -> Prompt:
        return Prompt(token_count=None, text=text)

    def prepare_fim(self, prefix: str, suffix: str) -> Prompt:
        raise InvalidRequestError(
            f"model '{self._settings.id}' does not serve fill-in-the-middle here", param="model"
        )

    def check_constraint(self, constraint: OutputConstraint) -> None:
        """The upstream enforces response formats itself."""

    def check_tools(self, tools: ToolUse) -> None:
        """The upstream reads the tools itself."""

    def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        raise InvalidRequestError(
            f"model '{self._settings.id}' does not serve embeddings here", param="model"
        )

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        client = self._session()
        tried: set[int] = set()
        while True:
            replica = self._pick(tried)
            if replica is None:
                raise UpstreamError(
                    f"no upstream replica of model '{self._settings.id}' answered",
                    headers={"Retry-After": "1"},
                )
            tried.add(id(replica))
            with self._lock:
                replica.in_flight += 1
            try:
                async for event in self._run(client, replica, request):
                    yield event
                return
            except _Retry as exc:
                log.warning("upstream %s failed (%s); trying another replica", replica.url, exc)
                self._mark_down(replica)
            finally:
                with self._lock:
                    replica.in_flight -= 1

    def close(self) -> None:
        self._stopping.set()
        self._prober.join(timeout=5)
        # The sessions belong to event loops that may be this very thread's: each is closed on
        # its own loop when that loop still runs, else left to be collected.
        sessions, self._sessions = list(self._sessions.items()), {}
        for loop, session in sessions:
            if loop.is_running() and not loop.is_closed():
                asyncio.run_coroutine_threadsafe(session.close(), loop)

    # -- routing and health --------------------------------------------------------------------

    def _pick(self, tried: set[int]) -> _Replica | None:
        """The healthy replica with the fewest requests in flight; round robin among equals.
        Replicas marked down are the last resort."""
        with self._lock:
            candidates = [r for r in self._replicas if id(r) not in tried]
            if not candidates:
                return None
            self._turn += 1
            order = (
                candidates[self._turn % len(candidates) :]
                + candidates[: self._turn % len(candidates)]
            )
            return min(order, key=lambda r: (not r.healthy, r.in_flight))

    def _mark_down(self, replica: _Replica) -> None:
        with self._lock:
            if replica.down_since is None:
                replica.down_since = time.monotonic()

    def _probe(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while not self._stopping.wait(self._settings.health_interval_seconds):
                self.probe(client)

    def probe(self, client: httpx.Client) -> None:
        """Ask every replica marked down for its model list; those that answer are back."""
        for replica in self._replicas:
            if replica.healthy:
                continue
            try:
                response = client.get(f"{replica.url}/models", headers=replica.headers())
            except httpx.HTTPError:
                continue
            if response.status_code < 500:
                log.info("upstream %s is back", replica.url)
                with self._lock:
                    replica.down_since = None

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self._settings.connect_timeout_seconds,
                    sock_read=self._settings.timeout_seconds,
                ),
                read_bufsize=1 << 20,  # the longest event line it reads
            )
            self._sessions[loop] = session
        return session

    # -- one attempt ---------------------------------------------------------------------------

    async def _run(
        self, client: aiohttp.ClientSession, replica: _Replica, request: GenerationRequest
    ) -> AsyncGenerator[GenerationEvent, None]:
        path, body = self._body(replica, request)
        started = False
        try:
            async with client.post(
                f"{replica.url}{path}", json=body, headers=replica.headers()
            ) as response:
                if response.status >= 500 or response.status == 429:
                    raise _Retry(f"status {response.status}")
                if response.status >= 400:
                    text = await response.text()
                    raise InvalidRequestError(f"upstream refused the request: {_message(text)}")
                started = True
                yield Started(cached_tokens=0)
                async for event in _events(response, request):
                    yield event
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            if not started:  # nothing reached the caller yet: another replica may serve it
                raise _Retry(f"{type(exc).__name__}: {exc}") from exc
            raise UpstreamError(f"upstream {replica.url} failed mid-stream: {exc}") from exc

    def _body(self, replica: _Replica, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": replica.settings.model or self._settings.id,
            "max_tokens": request.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "presence_penalty": sampling.presence_penalty,
            "frequency_penalty": sampling.frequency_penalty,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        # vLLM's extensions, sent only when asked for: strict servers reject unknown fields.
        if sampling.top_k > 0:
            body["top_k"] = sampling.top_k
        if sampling.min_p > 0:
            body["min_p"] = sampling.min_p
        if sampling.repetition_penalty != 1.0:
            body["repetition_penalty"] = sampling.repetition_penalty
        if request.stop:
            body["stop"] = list(request.stop)
        if request.constraint is not None:
            body["response_format"] = _response_format(request.constraint)
        prompt = request.prompt
        if prompt.text is not None:
            return "/completions", body | {"prompt": prompt.text}
        messages = [_message_json(t) for t in prompt.turns]
        if prompt.continue_last:
            messages[-1] = messages[-1] | {"prefix": True}
        if prompt.tools is not None:
            body |= _tools_json(prompt.tools)
        return "/chat/completions", body | {"messages": messages}


def _message_json(turn: ChatTurn) -> dict[str, Any]:
    message: dict[str, Any] = {"role": turn.role, "content": turn.content}
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in turn.tool_calls
        ]
    if turn.tool_call_id is not None:
        message["tool_call_id"] = turn.tool_call_id
    if turn.name is not None and turn.role == "tool":
        message["name"] = turn.name
    return message


def _tools_json(tools: ToolUse) -> dict[str, Any]:
    """The request's tools as an OpenAI-compatible server takes them: Mistral's ``any`` is
    OpenAI's ``required``, which vLLM and llama-server understand."""
    choice: Any = "required" if tools.choice == "required" else "auto"
    if tools.function is not None:
        choice = {"type": "function", "function": {"name": tools.function}}
    body: dict[str, Any] = {"tools": [tool_json(t) for t in tools.tools], "tool_choice": choice}
    if not tools.parallel:
        body["parallel_tool_calls"] = False
    return body


class _CallDeltas:
    """The pieces of streamed tool calls, by index, put together: OpenAI-style servers send a
    call's id and name first and its arguments in fragments; Mistral's send each whole."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, deltas: list[dict[str, Any]]) -> None:
        for position, delta in enumerate(deltas):
            index = delta.get("index", position)
            call = self._calls.setdefault(int(index), {"id": "", "name": "", "arguments": ""})
            function = delta.get("function") or {}
            if delta.get("id"):
                call["id"] = str(delta["id"])
            if function.get("name"):
                call["name"] += str(function["name"])
            arguments = function.get("arguments")
            if isinstance(arguments, dict):  # Mistral's API may send the object itself
                call["arguments"] = json.dumps(arguments, ensure_ascii=False)
            elif arguments:
                call["arguments"] += str(arguments)

    def take(self) -> list[ToolCall]:
        calls = [
            ToolCall(c["id"] or new_call_id(), c["name"], c["arguments"] or "{}")
            for _, c in sorted(self._calls.items())
        ]
        self._calls.clear()
        return calls


async def _events(
    response: aiohttp.ClientResponse, request: GenerationRequest
) -> AsyncGenerator[GenerationEvent, None]:
    """Turn the upstream's server-sent events into engine events.

    The text of all the events that arrive in one network read becomes one ``TextDelta``:
    downstream, every delta costs a chunk to encode and a send through the ASGI stack, and an
    upstream that answers fast sends many events per read.
    """
    produced = 0
    finish: FinishReason | None = None
    usage: dict[str, Any] | None = None
    calls = _CallDeltas()
    done = False
    pending = b""
    # Read to the end even after [DONE]: a response read whole returns its connection to the
    # pool, one left half-read closes it, and a new connection per request is costly.
    at_end = False
    while not at_end:
        data = await response.content.readany()
        at_end = not data
        lines = (pending + data).split(b"\n")
        # An incomplete last line waits for the next read, unless the body has ended.
        pending = b"" if at_end else lines.pop()
        texts: list[str] = []
        for raw in lines:
            if done or not raw.startswith(b"data:"):
                continue
            payload = raw[5:].strip().decode("utf-8")
            if payload == "[DONE]":
                done = True
                continue
            chunk = json.loads(payload)
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                text = delta.get("content") if "delta" in choice else choice.get("text")
                if text:
                    produced += 1
                    texts.append(text)
                if delta.get("tool_calls"):
                    produced += 1
                    calls.add(delta["tool_calls"])
                if choice.get("finish_reason"):
                    finish = _FINISH_REASONS.get(choice["finish_reason"], "stop")
        if texts:
            yield TextDelta("".join(texts), produced)
    for call in calls.take():  # whole once the stream has ended: fragments may come till then
        yield ToolCalled(call, produced)
    if usage is not None:
        details = usage.get("prompt_tokens_details") or {}
        yield Finished(
            finish or "stop",
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", produced)),
            int(details.get("cached_tokens") or 0),
        )
    else:
        yield Finished(finish or "stop", _estimate_prompt(request.prompt), produced, 0)


def _estimate_prompt(prompt: Prompt) -> int:
    text = prompt.text if prompt.text is not None else "".join(t.content for t in prompt.turns)
    return max(1, -(-len(text.encode()) // _BYTES_PER_TOKEN))


def _response_format(constraint: OutputConstraint) -> dict[str, Any]:
    if constraint.kind == "json_object" or constraint.schema is None:
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": constraint.schema}}


def _message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
    return json.dumps(body)[:500]
