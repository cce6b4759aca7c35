"""SLA state from a ticket's history: first response, next response and resolution, pauses,
reopening, severity changes, and the breach at the due instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from levante.billing.catalog import SUPPORT_FEATURES
from levante.support import parse_calendar
from levante.support.clocks import Happening, countdown, derive
from levante.support.contracts import DEFAULT_CALENDAR_SPEC
from levante.support.policies import SupportTerms, terms_of
from levante.vocabulary import Severity, SlaTarget, TicketEventKind, TicketStatus

PARIS = ZoneInfo("Europe/Paris")
HOUR = timedelta(hours=1)
T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Paris


def terms(plan: str) -> SupportTerms:
    return terms_of(plan, plan, SUPPORT_FEATURES[plan], parse_calendar(DEFAULT_CALENDAR_SPEC))


def reply(at: datetime, *, agent: bool) -> Happening:
    return Happening(TicketEventKind.REPLY, at, by_agent=agent)


def status(at: datetime, before: TicketStatus, after: TicketStatus) -> Happening:
    return Happening(TicketEventKind.STATUS, at, True, True, {"from": before, "to": after})


def severity(at: datetime, before: int, after: int) -> Happening:
    return Happening(TicketEventKind.SEVERITY, at, True, True, {"from": before, "to": after})


def test_a_premium_severity_1_opened_on_saturday_night_is_due_at_midnight() -> None:
    opened = datetime(2026, 12, 5, 23, 0, tzinfo=PARIS).astimezone(UTC)
    state = derive(terms("support-premium"), opened, Severity.CRITICAL, [], opened)
    first = state.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert first.state == "running"
    assert first.due_at == datetime(2026, 12, 6, 0, 0, tzinfo=PARIS)
    assert state.next_due == first.due_at


def test_a_standard_severity_3_opened_friday_evening_is_due_the_next_business_day() -> None:
    opened = datetime(2026, 12, 4, 17, 30, tzinfo=PARIS).astimezone(UTC)
    state = derive(terms("support-standard"), opened, Severity.NORMAL, [], opened)
    first = state.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert first.due_at == datetime(2026, 12, 7, 17, 0, tzinfo=PARIS)


def test_a_reply_before_the_due_instant_meets_the_target_and_one_at_it_does_not() -> None:
    plan = terms("support-critical")  # severity 1: 30 minutes, 24x7
    due = T0 + timedelta(minutes=30)
    early = derive(
        plan, T0, Severity.CRITICAL, [reply(due - timedelta(microseconds=1), agent=True)], due
    )
    late = derive(plan, T0, Severity.CRITICAL, [reply(due, agent=True)], due)
    assert early.latest(SlaTarget.FIRST_RESPONSE).state == "met"  # type: ignore[union-attr]
    assert late.latest(SlaTarget.FIRST_RESPONSE).state == "breached"  # type: ignore[union-attr]


def test_unanswered_the_target_is_breached_exactly_at_the_due_instant() -> None:
    plan = terms("support-critical")
    due = T0 + timedelta(minutes=30)
    before = derive(plan, T0, Severity.CRITICAL, [], due - timedelta(microseconds=1))
    at = derive(plan, T0, Severity.CRITICAL, [], due)
    assert before.latest(SlaTarget.FIRST_RESPONSE).state == "running"  # type: ignore[union-attr]
    first = at.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert first.state == "breached"
    assert first.breached_at == due
    assert at.breached
    assert at.next_due == T0 + 8 * HOUR


def test_a_customers_reply_on_the_public_thread_does_not_answer() -> None:
    plan = terms("support-critical")
    state = derive(plan, T0, Severity.CRITICAL, [reply(T0 + HOUR / 4, agent=False)], T0 + HOUR)
    assert state.latest(SlaTarget.FIRST_RESPONSE).state == "breached"  # type: ignore[union-attr]
    note = Happening(TicketEventKind.REPLY, T0 + HOUR / 4, by_agent=True, public=False)
    hidden = derive(plan, T0, Severity.CRITICAL, [note], T0 + HOUR)
    assert hidden.latest(SlaTarget.FIRST_RESPONSE).state == "breached"  # type: ignore[union-attr]


def test_pending_for_two_days_resumes_the_clock_where_it_stopped() -> None:
    plan = terms("support-critical")  # severity 1: resolution 8 hours
    events = [
        reply(T0 + HOUR / 4, agent=True),
        status(T0 + HOUR / 4, TicketStatus.NEW, TicketStatus.OPEN),
        status(T0 + HOUR, TicketStatus.OPEN, TicketStatus.PENDING),
    ]
    paused = derive(plan, T0, Severity.CRITICAL, events, T0 + 49 * HOUR)
    resolution = paused.latest(SlaTarget.RESOLUTION)
    assert resolution is not None
    assert resolution.state == "paused"
    assert resolution.used == HOUR
    assert resolution.due_at is None
    back = T0 + 49 * HOUR
    events += [reply(back, agent=False), status(back, TicketStatus.PENDING, TicketStatus.OPEN)]
    resumed = derive(plan, T0, Severity.CRITICAL, events, back + HOUR)
    resolution = resumed.latest(SlaTarget.RESOLUTION)
    assert resolution is not None
    assert resolution.state == "running"
    assert resolution.used == 2 * HOUR
    assert resolution.due_at == back + 7 * HOUR  # one hour used before, seven left
    cycle = resumed.latest(SlaTarget.NEXT_RESPONSE)
    assert cycle is not None
    assert cycle.started_at == back
    assert cycle.due_at == back + HOUR


def test_each_customer_message_after_the_first_answer_starts_a_next_response_wait() -> None:
    plan = terms("support-critical")  # severity 1: next response 1 hour
    events = [
        reply(T0 + HOUR / 4, agent=True),
        reply(T0 + HOUR, agent=False),
        reply(T0 + HOUR * 1.5, agent=False),  # the same wait
        reply(T0 + HOUR * 1.75, agent=True),
        reply(T0 + 3 * HOUR, agent=False),
    ]
    state = derive(plan, T0, Severity.CRITICAL, events, T0 + 5 * HOUR)
    cycles = [t for t in state.timers if t.target == SlaTarget.NEXT_RESPONSE]
    assert [(c.cycle, c.state) for c in cycles] == [(1, "met"), (2, "breached")]
    assert cycles[1].breached_at == T0 + 4 * HOUR


def test_solving_stops_the_resolution_clock_and_reopening_resumes_it() -> None:
    plan = terms("support-critical")
    events = [
        reply(T0 + HOUR / 4, agent=True),
        status(T0 + 2 * HOUR, TicketStatus.NEW, TicketStatus.SOLVED),
    ]
    solved = derive(plan, T0, Severity.CRITICAL, events, T0 + 30 * HOUR)
    assert solved.latest(SlaTarget.RESOLUTION).state == "met"  # type: ignore[union-attr]
    back = T0 + 30 * HOUR
    events += [reply(back, agent=False), status(back, TicketStatus.SOLVED, TicketStatus.OPEN)]
    reopened = derive(plan, T0, Severity.CRITICAL, events, back)
    resolution = reopened.latest(SlaTarget.RESOLUTION)
    assert resolution is not None
    assert resolution.state == "running"
    assert resolution.due_at == back + 6 * HOUR


def test_raising_the_severity_tightens_a_running_target_at_once() -> None:
    plan = terms("support-premium")  # severity 3: 4 business hours; severity 1: 1 hour 24x7
    state = derive(plan, T0, Severity.NORMAL, [severity(T0 + HOUR / 2, 3, 1)], T0 + HOUR / 2)
    first = state.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert first.severity == Severity.CRITICAL
    assert first.due_at == T0 + HOUR


def test_lowering_the_severity_never_undoes_a_breach() -> None:
    plan = terms("support-premium")
    events = [severity(T0 + 2 * HOUR, 1, 4)]
    state = derive(plan, T0, Severity.CRITICAL, events, T0 + 3 * HOUR)
    first = state.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert first.state == "breached"
    assert first.severity == 1


def test_a_ticket_without_a_contract_has_no_targets() -> None:
    from levante.support.policies import COMMUNITY

    state = derive(COMMUNITY, T0, Severity.CRITICAL, [], T0 + 100 * HOUR)
    assert state.timers == ()
    assert state.next_due is None
    assert not state.breached


def test_business_hours_targets_follow_the_calendar() -> None:
    plan = terms("support-premium")  # severity 4: first response one business day
    friday = datetime(2026, 12, 4, 16, 0, tzinfo=PARIS).astimezone(UTC)
    state = derive(plan, friday, Severity.LOW, [], friday)
    first = state.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert first.due_at == datetime(2026, 12, 7, 16, 0, tzinfo=PARIS)


def test_a_holiday_on_the_standard_calendar_moves_the_severity_3_due_time() -> None:
    spec = {**DEFAULT_CALENDAR_SPEC, "holidays": ["2026-12-07"]}
    plan = terms_of(
        "support-standard", "Standard", SUPPORT_FEATURES["support-standard"], parse_calendar(spec)
    )
    opened = datetime(2026, 12, 4, 17, 30, tzinfo=PARIS).astimezone(UTC)
    state = derive(plan, opened, Severity.NORMAL, [], opened)
    first = state.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert first.due_at == datetime(2026, 12, 8, 17, 0, tzinfo=PARIS)


def test_a_countdown_names_the_clock_of_each_figure() -> None:
    opened = datetime(2026, 12, 7, 16, 0, tzinfo=PARIS).astimezone(UTC)  # Monday, 1 h to close
    now = opened + timedelta(minutes=20)
    state = derive(terms("support-premium"), opened, Severity.NORMAL, [], now)  # 4 business h
    first = state.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert countdown(first, now) == (
        "due Tue 2026-12-08 11:00 UTC (19 h 40 min from now, 3 h 40 min of business hours left)"
    )
    around_the_clock = derive(terms("support-premium"), T0, Severity.CRITICAL, [], T0 + HOUR / 4)
    first = around_the_clock.latest(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert countdown(first, T0 + HOUR / 4) == "due Wed 2026-12-02 11:00 UTC (45 min from now)"
