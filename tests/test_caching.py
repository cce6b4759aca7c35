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

    cache: RefreshingCache[str, int] = RefreshingCache(load, 0.4, name="test")
    assert cache.cached("k") is None
    assert cache.get("k") == 1
    time.sleep(0.22)  # past half its time: still served, and renewed in the background
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
    time.sleep(0.45)
    assert cache.cached("k") is None  # too old to serve


def test_a_change_is_seen_within_one_ttl_however_busy_the_key() -> None:
    """A revocation committed at time T is never hidden past T + ttl: an entry ages from when
    the load that read it began, and refresh-ahead happens inside the ttl, not after it."""
    state = {"revoked": False}
    cache: RefreshingCache[str, bool] = RefreshingCache(
        lambda _: state["revoked"], 0.2, name="test"
    )
    cache.get("k")
    revoked_at = time.monotonic() + 0.15
    stale_after_bound = 0
    while time.monotonic() < revoked_at + 0.6:
        now = time.monotonic()
        if now >= revoked_at:
            state["revoked"] = True
        hit = cache.cached("k")
        if hit is None:
            cache.get("k")
        elif hit.value is False and now >= revoked_at + 0.2:
            stale_after_bound += 1
        time.sleep(0.002)
    assert stale_after_bound == 0


def test_no_ttl_caches_nothing_and_invalidate_drops() -> None:
    calls: list[str] = []

    def load(key: str) -> int:
        calls.append(key)
        return 0

    off: RefreshingCache[str, int] = RefreshingCache(load, 0, name="t")
    off.get("a")
    off.get("a")
    assert len(calls) == 2
    on: RefreshingCache[str, int] = RefreshingCache(lambda k: 7, 60, name="t")
    on.get("a")
    assert on.cached("a") is not None
    on.invalidate("a")
    assert on.cached("a") is None
