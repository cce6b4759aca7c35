"""The refresh-ahead cache behind API-key and policy lookups."""

from __future__ import annotations

import threading
import time

from levante.caching import RefreshingCache


def test_a_stale_entry_serves_while_one_background_load_renews_it() -> None:
    loads: list[str] = []
    release = threading.Event()

    def load(key: str) -> int:
        loads.append(key)
        if len(loads) > 1:
            release.wait(5)
        return len(loads)

    cache: RefreshingCache[str, int] = RefreshingCache(load, 0.1, name="test")
    assert cache.cached("k") is None
    assert cache.get("k") == 1
    time.sleep(0.12)  # stale, still usable
    for _ in range(5):
        hit = cache.cached("k")
        assert hit is not None
        assert hit.value == 1
    release.set()
    deadline = time.monotonic() + 5
    while (hit := cache.cached("k")) is not None and hit.value == 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert loads == ["k", "k"]  # one refresh for five stale reads
    time.sleep(0.25)
    assert cache.cached("k") is None  # too old to serve


def test_no_ttl_caches_nothing_and_invalidate_drops() -> None:
    calls = []
    off: RefreshingCache[str, int] = RefreshingCache(lambda k: calls.append(k) or 0, 0, name="t")
    off.get("a")
    off.get("a")
    assert len(calls) == 2
    on: RefreshingCache[str, int] = RefreshingCache(lambda k: 7, 60, name="t")
    on.get("a")
    assert on.cached("a") is not None
    on.invalidate("a")
    assert on.cached("a") is None
