"""A ticket's SLA state, derived from its events and the terms it was opened under.

Nothing here is stored: the state is recomputed from the history whenever it is needed, so
it can always be checked and never drifts. The rules:

- **First response** runs from the opening to the first reply the customer sees from an
  agent. **Next response** runs from a customer's message (after that first reply) to the
  next public agent reply; each such wait is a cycle of its own. **Resolution** runs from
  the opening to solved; a reopened ticket's resolution clock resumes where it stopped.
- Solving or closing a ticket ends its response timers. Time spent ``pending`` (waiting on
  the customer) counts on no timer; time spent solved counts on no resolution timer.
- Each timer follows the most severe severity the ticket had while it ran: raising the
  severity tightens a running timer at once; lowering it never loosens one (so a breach
  cannot be undone), and timers started afterwards follow the new severity.
- A target is breached once its whole time has been used: a reply strictly before the due
  instant meets it, a reply at or after it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from levante.support.calendars import advance, counted
from levante.support.policies import SupportTerms, duration
from levante.vocabulary import ClockKind, Severity, SlaTarget, TicketEventKind, TicketStatus

TimerState = Literal["running", "paused", "met", "breached"]
_STOPPED = (TicketStatus.SOLVED, TicketStatus.CLOSED)


@dataclass(frozen=True, slots=True)
class Happening:
    """What the clocks need of a ticket event."""

    kind: TicketEventKind
    at: datetime
    by_agent: bool = False
    public: bool = True
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timer:
    target: SlaTarget
    cycle: int  # 1, 2, ... for next-response waits; 0 for the others
    severity: Severity
    clock: ClockKind
    allowed: timedelta
    started_at: datetime
    ended_at: datetime | None
    due_at: datetime | None  # None while a pause holds it before its end
    used: timedelta
    state: TimerState

    @property
    def key(self) -> str:
        return f"{self.target.value}:{self.cycle}"

    @property
    def breached_at(self) -> datetime | None:
        return self.due_at if self.state == "breached" else None

    @property
    def open(self) -> bool:
        return self.state in ("running", "paused")


@dataclass(frozen=True, slots=True)
class SlaState:
    timers: tuple[Timer, ...]
    status: TicketStatus
    severity: Severity

    @property
    def running(self) -> list[Timer]:
        return [t for t in self.timers if t.state == "running"]

    @property
    def next_due(self) -> datetime | None:
        """When the next target that is still running falls due (breached ones excluded)."""
        return min((t.due_at for t in self.running if t.due_at is not None), default=None)

    @property
    def breached(self) -> bool:
        return any(t.state == "breached" for t in self.timers)

    def breaches(self) -> list[Timer]:
        return [t for t in self.timers if t.state == "breached"]

    def latest(self, target: SlaTarget) -> Timer | None:
        found = [t for t in self.timers if t.target == target]
        return found[-1] if found else None


def countdown(timer: Timer, now: datetime) -> str:
    """When a running target falls due, each figure naming its clock: the wall clock's time
    to it, and on a business clock the business time left, which may be far shorter
    (``due Tue 2026-12-08 14:00 UTC (19 h 59 min from now, 4 h of business hours left)``)."""
    if timer.due_at is None:
        return ""
    wall = duration(int((timer.due_at - now).total_seconds() // 60))
    business = ""
    if timer.clock == ClockKind.BUSINESS:
        left = int((timer.allowed - timer.used).total_seconds() // 60)
        business = f", {duration(left)} of business hours left"
    return f"due {timer.due_at:%a %Y-%m-%d %H:%M} UTC ({wall} from now{business})"


@dataclass(slots=True)
class _Span:
    target: SlaTarget
    cycle: int
    start: datetime
    end: datetime | None = None


def derive(
    terms: SupportTerms,
    opened_at: datetime,
    severity: Severity,
    history: Sequence[Happening],
    now: datetime,
) -> SlaState:
    """The SLA state at ``now`` of a ticket opened at ``opened_at`` with ``severity``."""
    severities: list[tuple[datetime, Severity]] = [(opened_at, severity)]
    status = TicketStatus.NEW
    pauses: list[tuple[datetime, datetime | None]] = []  # pending
    stops: list[tuple[datetime, datetime | None]] = []  # solved or closed
    first = _Span(SlaTarget.FIRST_RESPONSE, 0, opened_at)
    resolution = _Span(SlaTarget.RESOLUTION, 0, opened_at)
    cycles: list[_Span] = []
    for event in sorted(history, key=lambda e: e.at):
        if event.kind == TicketEventKind.SEVERITY:
            severities.append((event.at, Severity(int(event.data["to"]))))
        elif event.kind == TicketEventKind.REPLY and event.public:
            if event.by_agent:
                if first.end is None:
                    first.end = event.at
                if cycles and cycles[-1].end is None:
                    cycles[-1].end = event.at
            elif first.end is not None and (not cycles or cycles[-1].end is not None):
                cycles.append(_Span(SlaTarget.NEXT_RESPONSE, len(cycles) + 1, event.at))
        elif event.kind == TicketEventKind.STATUS:
            new = TicketStatus(event.data["to"])
            if status == TicketStatus.PENDING and new != TicketStatus.PENDING:
                pauses[-1] = (pauses[-1][0], event.at)
            if new == TicketStatus.PENDING and status != TicketStatus.PENDING:
                pauses.append((event.at, None))
            if new in _STOPPED and status not in _STOPPED:
                stops.append((event.at, None))
                for span in (first, *cycles[-1:]):
                    if span.end is None:
                        span.end = event.at
                resolution.end = event.at
            elif new not in _STOPPED and status in _STOPPED:  # reopened
                stops[-1] = (stops[-1][0], event.at)
                resolution.end = None
            status = new
    spans = [first, *cycles, resolution]
    timers = []
    for span in spans:
        extra = stops if span.target == SlaTarget.RESOLUTION else []
        timer = _timer(terms, span, severities, [*pauses, *extra], status, now)
        if timer is not None:
            timers.append(timer)
    current = severities[-1][1]
    return SlaState(tuple(timers), status, current)


def _timer(
    terms: SupportTerms,
    span: _Span,
    severities: list[tuple[datetime, Severity]],
    pauses: list[tuple[datetime, datetime | None]],
    status: TicketStatus,
    now: datetime,
) -> Timer | None:
    until = span.end or now
    severity = _most_severe(severities, span.start, until)
    targets = terms.for_severity(severity)
    allowed = terms.allowed(severity, span.target)
    if targets is None or allowed is None:
        return None
    clock = terms.clock(targets)
    due = advance(clock, span.start, allowed, pauses)
    used = counted(clock, span.start, until, pauses)
    state: TimerState
    if span.end is not None:
        state = "met" if due is None or span.end < due else "breached"
    elif due is not None and now >= due:
        state = "breached"
    elif status == TicketStatus.PENDING or (
        span.target == SlaTarget.RESOLUTION and status in _STOPPED
    ):
        state = "paused"
    else:
        state = "running"
    return Timer(
        span.target, span.cycle, severity, targets.clock, allowed,
        span.start, span.end, due, used, state,
    )  # fmt: skip


def _most_severe(
    severities: list[tuple[datetime, Severity]], start: datetime, end: datetime
) -> Severity:
    at_start = severities[0][1]
    for at, value in severities:
        if at <= start:
            at_start = value
    within = [value for at, value in severities if start < at <= end]
    return min([at_start, *within])
