"""Clients that leave: the generation stops and the tokens produced are still billed."""

from __future__ import annotations

import contextlib
import json
import time

import httpx
from sqlalchemy import select

from levante.storage import Database
from levante.storage.models import UsageRecord
from tests.helpers import Tenant, chat_body


def _wait_for_usage(database: Database, timeout: float = 20) -> list[UsageRecord]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.session() as session:
            rows = list(session.scalars(select(UsageRecord)))
        if rows:
            return rows
        time.sleep(0.05)
    raise AssertionError("no usage record was written")


def test_aborted_stream_is_billed_for_what_was_produced(
    live_url: str, tenant: Tenant, database: Database
) -> None:
    body = chat_body("Write a very long story about the sea.", max_tokens=1500, stream=True)
    received = 0
    with (
        httpx.Client(base_url=live_url, timeout=30) as http,
        http.stream("POST", "/v1/chat/completions", json=body, headers=tenant.headers()) as r,
    ):
        for line in r.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line.removeprefix("data: "))
                received += bool(chunk["choices"][0]["delta"].get("content"))
            if received >= 5:
                break
    [row] = _wait_for_usage(database)
    assert row.status == "cancelled"
    assert row.stream is True
    assert row.prompt_tokens > 0
    # The model stopped soon after the client left, far short of max_tokens.
    assert 5 <= row.completion_tokens < 1000
    assert row.finish_reason is None


def test_aborted_plain_request_stops_and_is_billed(
    live_url: str, tenant: Tenant, database: Database
) -> None:
    body = chat_body("Write a very long story about the sea.", max_tokens=1500)
    with contextlib.suppress(httpx.ReadTimeout):
        httpx.post(
            f"{live_url}/v1/chat/completions", json=body, headers=tenant.headers(), timeout=1.5
        )
    [row] = _wait_for_usage(database)
    assert row.status == "cancelled"
    assert row.prompt_tokens > 0
    # Stopped far short of max_tokens (how far it got depends on the machine's load).
    assert row.completion_tokens < 1000


def test_complete_stream_usage_matches_what_the_client_got(
    live_url: str, tenant: Tenant, database: Database
) -> None:
    body = chat_body(stream=True, max_tokens=24)
    usage = None
    with (
        httpx.Client(base_url=live_url, timeout=30) as http,
        http.stream("POST", "/v1/chat/completions", json=body, headers=tenant.headers()) as r,
    ):
        for line in r.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line.removeprefix("data: "))
                usage = chunk.get("usage") or usage
    assert usage is not None
    [row] = _wait_for_usage(database)
    assert row.status == "completed"
    assert (row.prompt_tokens, row.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
