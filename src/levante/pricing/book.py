"""Price versions and the in-memory book that prices requests without touching the database."""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from levante.pricing.money import per_tokens
from levante.storage import Database, utcnow
from levante.storage.models import Price

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PriceVersion:
    id: str
    model: str
    currency: str
    input_nanos: int  # per million prompt tokens
    cached_input_nanos: int  # per million prompt tokens read from the prefix cache
    output_nanos: int  # per million completion tokens
    batch_discount_percent: int
    effective_from: datetime

    @classmethod
    def of(cls, row: Price) -> PriceVersion:
        return cls(
            id=row.id,
            model=row.model,
            currency=row.currency,
            input_nanos=row.input_nanos,
            cached_input_nanos=row.cached_input_nanos,
            output_nanos=row.output_nanos,
            batch_discount_percent=row.batch_discount_percent,
            effective_from=row.effective_from,
        )


@dataclass(frozen=True, slots=True)
class Cost:
    """What a request costs, in nanos of ``currency``; all zero for an unpriced model."""

    price_id: str | None
    currency: str | None
    input_nanos: int = 0
    cached_nanos: int = 0
    output_nanos: int = 0

    @property
    def total_nanos(self) -> int:
        return self.input_nanos + self.cached_nanos + self.output_nanos


FREE = Cost(price_id=None, currency=None)


def price_usage(
    version: PriceVersion | None,
    *,
    prompt_tokens: int,
    cached_tokens: int,
    completion_tokens: int,
    batch: bool = False,
) -> Cost:
    """The one pricing rule, for streams and non-streams alike. Cached prompt tokens are
    charged at the cached rate, the rest of the prompt at the input rate; each part is rounded
    to a nano, then a batch discount applies to each part."""
    if version is None:
        return FREE
    cached = min(cached_tokens, prompt_tokens)
    parts = [
        per_tokens(prompt_tokens - cached, version.input_nanos),
        per_tokens(cached, version.cached_input_nanos),
        per_tokens(completion_tokens, version.output_nanos),
    ]
    if batch and version.batch_discount_percent:
        keep = 100 - version.batch_discount_percent
        parts = [(p * keep + 50) // 100 for p in parts]
    return Cost(version.id, version.currency, *parts)


class PriceBook:
    """Every price version, held in memory and reloaded every ``refresh_seconds``.

    A new version may not take effect sooner than ``refresh_seconds`` after it is written (see
    :func:`levante.pricing.services.create_price`), so every gateway process knows a version
    before it applies and a request is always priced with the version in force when it started.
    """

    def __init__(self, database: Database, refresh_seconds: float) -> None:
        self._database = database
        self._refresh = refresh_seconds
        self._loaded_at = float("-inf")
        self._versions: dict[str, list[PriceVersion]] = {}
        self._lock = threading.Lock()
        self._refreshing = False

    def reload(self) -> None:
        with self._database.session() as session:
            rows = session.scalars(select(Price).order_by(Price.model, Price.effective_from))
            versions: dict[str, list[PriceVersion]] = {}
            for row in rows:
                versions.setdefault(row.model, []).append(PriceVersion.of(row))
        with self._lock:
            self._versions = versions
            self._loaded_at = time.monotonic()

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at >= self._refresh

    @property
    def loaded(self) -> bool:
        return self._loaded_at != float("-inf")

    def refresh_ahead(self) -> None:
        """Once the list is half its allowed age, reload it in the background while readers
        keep using it. A list may serve until it is ``refresh_seconds`` old: every version in
        force by then was written at least that long before (see ``create_price``), so it is in
        the list; past that age, callers must reload before they price (:meth:`stale`)."""
        with self._lock:
            if self._refreshing or time.monotonic() - self._loaded_at < self._refresh / 2:
                return
            self._refreshing = True

        def reload() -> None:
            try:
                self.reload()
            except Exception:
                log.exception("reloading prices failed; keeping the current list")
            finally:
                with self._lock:
                    self._refreshing = False

        threading.Thread(target=reload, name="price-refresh", daemon=True).start()

    def version(
        self, model: str, at: datetime | None = None, currency: str | None = None
    ) -> PriceVersion | None:
        """The version of ``model`` in ``currency`` (any, if None) in force at ``at`` (now by
        default); None if unpriced. Reloads a stale list first (blocking: callers on an event
        loop reload it off the loop when :meth:`stale` says so), and refreshes an ageing one in
        the background."""
        if self.stale():
            self.reload()
        else:
            self.refresh_ahead()
        when = at or utcnow()
        with self._lock:
            versions = self._versions.get(model, [])
        if currency is not None:
            versions = [v for v in versions if v.currency == currency]
        index = bisect_right([v.effective_from for v in versions], when)
        return versions[index - 1] if index else None

    def currencies(self, model: str) -> set[str]:
        """The currencies ``model`` has prices in; empty for a model that is free."""
        with self._lock:
            return {v.currency for v in self._versions.get(model, [])}
