"""A small in-process cache with refresh-ahead, for lookups that keep the database off the
request path (API keys, organisation policies)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Hit(Generic[V]):
    value: V


class RefreshingCache(Generic[K, V]):
    """Values by key, never served more than ``ttl`` seconds after the load that read them
    began. In the second half of that time a value still serves while one background load
    renews it, so the expiry of a busy entry never sends its requests to the database at once;
    older entries are misses. ``ttl <= 0`` caches nothing."""

    def __init__(
        self, load: Callable[[K], V], ttl: float, *, name: str, max_entries: int = 100_000
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._name = name
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._refreshing: set[K] = set()
        self._lock = threading.Lock()

    def cached(self, key: K) -> Hit[V] | None:
        """The cached value, without I/O (safe on an event loop); None is a miss."""
        if self._ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        age = time.monotonic() - entry[0]
        if age >= self._ttl:
            return None
        if age >= self._ttl / 2:
            self._refresh_ahead(key)
        return Hit(entry[1])

    def get(self, key: K) -> V:
        """The cached value, or a fresh load (blocking: call it off the event loop)."""
        hit = self.cached(key)
        if hit is not None:
            return hit.value
        began = time.monotonic()
        value = self._load(key)
        self._store(key, value, began)
        return value

    def invalidate(self, key: K | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def _store(self, key: K, value: V, began: float) -> None:
        # Aged from when the load began: what it read may be that old.
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (began, value)

    def _refresh_ahead(self, key: K) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def refresh() -> None:
            began = time.monotonic()
            try:
                self._store(key, self._load(key), began)
            except Exception:  # the next request loads it in its own time
                self.invalidate(key)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=refresh, name=f"{self._name}-refresh", daemon=True).start()
