"""A job that every gateway process runs on a timer, in a daemon thread of its own: the
billing cycle, sending mail, the support desk's round. Each job is idempotent, so processes
run it side by side; one that fails is logged and tried again at the next tick."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Runs ``job`` every ``interval_seconds`` (first after one interval, or at once with
    ``run_at_start``) until :meth:`close`."""

    def __init__(
        self,
        name: str,
        interval_seconds: float,
        job: Callable[[], object],
        *,
        run_at_start: bool = False,
        enabled: bool = True,
    ) -> None:
        self.name = name
        self._interval = interval_seconds
        self._job = job
        self._run_at_start = run_at_start
        self._enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self._enabled:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        if not self._run_at_start and self._stop.wait(self._interval):
            return
        while not self._stop.is_set():
            try:
                self._job()
            except Exception:
                log.exception("%s failed; it runs again in %s s", self.name, self._interval)
            self._stop.wait(self._interval)
