"""Two gateway processes sharing one Redis hold one global requests-per-second limit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import gateway_process
from tests.engine.upstream_stub import StubUpstream
from tests.helpers import Tenant
from tests.quota.test_store import REDIS_URL, redis_available


def test_two_gateways_on_one_redis_share_one_limit(
    tmp_path: Path, database_url: str, tenant: Tenant, stubs: list[StubUpstream]
) -> None:
    if not redis_available():
        pytest.skip(f"no Redis at {REDIS_URL} (set LEVANTE_TEST_REDIS_URL)")
    models = [{"id": "stub", "upstreams": [{"url": stubs[0].url}]}]
    settings = {
        "redis_url": REDIS_URL,
        "tiers": [{"name": "one-per-second", "requests_per_second": 1}],
    }
    body = {"model": "stub", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}

    async def burst(urls: list[str]) -> tuple[list[tuple[str, int]], float]:
        async with httpx.AsyncClient(timeout=30) as client:
            started = time.monotonic()
            responses = await asyncio.gather(
                *(
                    client.post(f"{urls[i % 2]}/v1/chat/completions", json=body,
                                headers=tenant.headers())
                    for i in range(10)
                )
            )  # fmt: skip
            elapsed = time.monotonic() - started
        return [(str(r.request.url), r.status_code) for r in responses], elapsed

    with (
        gateway_process(tmp_path / "a", database_url, models, **settings) as a,
        gateway_process(tmp_path / "b", database_url, models, **settings) as b,
    ):
        results, elapsed = asyncio.run(burst([a.url, b.url]))
    served = [url for url, status in results if status == 200]
    refused = {url.split("/v1")[0] for url, status in results if status == 429}
    assert {status for _, status in results} <= {200, 429}
    # One request per second across both processes: one at once, one more per second after.
    assert 1 <= len(served) <= 1 + int(elapsed)
    assert refused == {a.url, b.url}  # each process refused what the other had taken
