"""The batch worker of one gateway process: it claims lines while it has room, runs each
through the same path an HTTP request takes (given by the API layer as ``run_line``), settles
it with its usage, and closes the jobs that are done. Any number of processes run one each."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio

from levante.batch.lines import Claimed, claim, close_job, jobs_to_close, release, settle
from levante.files import FileService
from levante.metering import UsageEvent
from levante.storage import Database, alive_since, utcnow

log = logging.getLogger(__name__)

# A line the model keeps turning away (overloaded) is answered with that error after this
# many attempts, rather than tried for ever.
MAX_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """What running a line gave: the answer's status and body, and its usage events. With
    ``retry`` the line is given back to run later (the model was overloaded)."""

    status_code: int
    body: dict[str, Any]
    usage: list[UsageEvent] = field(default_factory=list)
    retry: bool = False

    @property
    def error_code(self) -> str | None:
        if 200 <= self.status_code < 300:
            return None
        code = self.body.get("code") or self.body.get("type")
        return str(code) if code else f"http_{self.status_code}"


LineRunner = Callable[[Claimed], Awaitable[LineOutcome]]


class BatchWorker:
    def __init__(
        self,
        database: Database,
        files: FileService,
        run_line: LineRunner,
        *,
        instance_id: Callable[[], str],
        heartbeat_seconds: float,
        concurrency: int,
        poll_seconds: float,
    ) -> None:
        self._database = database
        self._files = files
        self._run_line = run_line
        self._instance_id = instance_id
        self._heartbeat = timedelta(seconds=heartbeat_seconds)
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._running = 0
        self._quiet_until = 0.0
        self._next_close = 0.0
        self._changed = anyio.Event()
        self.lines_run = 0

    async def run(self) -> None:
        """Until cancelled: close what is done, claim what there is room for, wait. Nothing
        that goes wrong here stops the loop (or the process): it is logged and tried again."""
        async with anyio.create_task_group() as group:
            while True:
                claimed: list[Claimed] = []
                try:
                    if time.monotonic() >= self._next_close:  # once a round, not once a line
                        self._next_close = time.monotonic() + self._poll
                        await anyio.to_thread.run_sync(self._close_due)
                    if time.monotonic() >= self._quiet_until:
                        claimed = await anyio.to_thread.run_sync(
                            self._claim, self._concurrency - self._running
                        )
                except Exception:
                    log.exception("batch: a round failed; trying again")
                for line in claimed:
                    self._running += 1
                    group.start_soon(self._run_one, line)
                if claimed:
                    continue  # there may be more: claim again once there is room
                with anyio.move_on_after(self._poll):
                    await self._changed.wait()
                self._changed = anyio.Event()

    def _live_since(self) -> Any:
        return alive_since(utcnow(), self._heartbeat)

    def _claim(self, room: int) -> list[Claimed]:
        if room <= 0:
            return []
        with self._database.session() as session:
            return claim(session, self._instance_id(), live_since=self._live_since(),
                         limit=room, now=utcnow())  # fmt: skip

    def _close_due(self) -> None:
        with self._database.session() as session:
            due = jobs_to_close(session, live_since=self._live_since(), now=utcnow())
        for job_id in due:
            if close_job(self._database, self._files, job_id, live_since=self._live_since(),
                         now=utcnow()):  # fmt: skip
                log.info("batch job %s closed", job_id)

    async def _run_one(self, line: Claimed) -> None:
        try:
            try:
                outcome = await self._run_line(line)
            except Exception as exc:
                log.exception("batch: line %s of %s failed", line.line, line.job_id)
                outcome = LineOutcome(
                    500, {"object": "error", "message": f"the request failed: {exc}",
                          "type": "server_error", "param": None, "code": "internal_error"},
                )  # fmt: skip
            with anyio.CancelScope(shield=True):
                await self._settle_with_retries(line, outcome)
        finally:
            self._running -= 1
            self._changed.set()

    async def _settle_with_retries(self, line: Claimed, outcome: LineOutcome) -> None:
        """Settle the line; a database that fails is asked again, then the line is given back
        (unbilled: it runs again)."""
        for wait in (0.5, 2.0, 5.0, None):
            try:
                await anyio.to_thread.run_sync(self._settle, line, outcome)
                return
            except Exception:
                log.exception("batch: settling line %s of %s failed", line.line, line.job_id)
                if wait is not None:
                    await anyio.sleep(wait)
        try:
            await anyio.to_thread.run_sync(self._give_back, line)
        except Exception:
            log.exception("batch: giving line %s of %s back failed", line.line, line.job_id)

    def _give_back(self, line: Claimed) -> None:
        with self._database.session() as session:
            release(session, line, self._instance_id())

    def _settle(self, line: Claimed, outcome: LineOutcome) -> None:
        me = self._instance_id()
        if outcome.retry and line.attempts < MAX_ATTEMPTS:
            # The model was busy: wait a round before claiming again, rather than spin.
            self._quiet_until = time.monotonic() + self._poll
            with self._database.session() as session:
                release(session, line, me)
            return
        with self._database.session() as session:
            kept = settle(
                session, line, me, status_code=outcome.status_code, response=outcome.body,
                error_code=outcome.error_code, usage=outcome.usage, now=utcnow(),
            )  # fmt: skip
        if kept:
            self.lines_run += 1
        else:
            log.warning("batch: line %s of %s was taken over; its answer is dropped",
                        line.line, line.job_id)  # fmt: skip
