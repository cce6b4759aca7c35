"""``kill -9`` of a gateway in the middle of streams: every request that reached the model is
billed exactly once, by the gateway process that comes up next."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from levante.metering import UsageStatus
from levante.storage import Database
from levante.storage.models import Reservation, UsageRecord
from tests.e2e.processes import gateway_process
from tests.engine.upstream_stub import StubUpstream
from tests.helpers import Tenant

STREAMS = 6


def _stream(url: str, tenant: Tenant, ids: list[str], started: threading.Semaphore) -> None:
    body = {
        "model": "slow",
        "messages": [{"role": "user", "content": "tell me a long story"}],
        "stream": True,
    }
    try:
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", json=body, headers=tenant.headers(), timeout=60
        ) as response:
            ids.append(response.headers["x-request-id"])
            lines = response.iter_lines()
            for line in lines:
                if line.startswith("data: {"):
                    started.release()  # the model is producing tokens for this request
                    break
            for _ in lines:
                pass
    except httpx.HTTPError:
        pass  # the gateway died under us: expected


def test_requests_running_when_the_gateway_is_killed_are_billed_once(
    tmp_path: Path, database_url: str, database: Database, tenant: Tenant
) -> None:
    upstream = StubUpstream("slow", reply=" ".join(["word"] * 400), word_delay=0.05).start()
    models = [{"id": "slow", "upstreams": [{"url": upstream.url}], "context_length": 8192}]
    settings = {"heartbeat_seconds": "0.5", "tiers": [{"name": "unlimited"}]}
    try:
        with gateway_process(tmp_path, database_url, models, **settings) as first:
            done = httpx.post(
                f"{first.url}/v1/chat/completions",
                json={"model": "slow", "messages": [{"role": "user", "content": "hi"}],
                      "max_tokens": 3},
                headers=tenant.headers(),
                timeout=30,
            )  # fmt: skip
            assert done.status_code == 200, done.text
            ids: list[str] = []
            started = threading.Semaphore(0)
            threads = [
                threading.Thread(target=_stream, args=(first.url, tenant, ids, started))
                for _ in range(STREAMS)
            ]
            for thread in threads:
                thread.start()
            for _ in range(STREAMS):
                assert started.acquire(timeout=30)
            first.process.kill()  # SIGKILL: no shutdown, no flush
            first.process.wait(timeout=10)
            for thread in threads:
                thread.join(timeout=30)
        assert len(ids) == STREAMS
        with database.session() as session:
            held = set(session.scalars(select(Reservation.request_id)))
        assert held == set(ids)  # durable before dispatch, still there after the kill

        with gateway_process(tmp_path, database_url, models, **settings):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with database.session() as session:
                    left = session.scalar(select(func.count()).select_from(Reservation))
                if left == 0:
                    break
                time.sleep(0.2)
            assert left == 0
    finally:
        upstream.stop()

    with database.session() as session:
        rows = list(session.scalars(select(UsageRecord)))
    by_id = {r.request_id: r for r in rows}
    assert len(by_id) == len(rows) == STREAMS + 1  # each exactly once
    assert done.headers["x-request-id"] in by_id
    for request_id in ids:
        row = by_id[request_id]
        assert row.status == UsageStatus.INTERRUPTED
        assert row.prompt_tokens > 0
