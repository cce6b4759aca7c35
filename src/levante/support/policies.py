"""SLA policies: what a support contract promises, read from its plan's ``features``.

A support plan's features hold, per severity, the clock its targets run on (``24x7`` or
``business``) and three targets in minutes of that clock: ``first_response`` (from the
ticket's opening to the first reply the customer sees), ``next_response`` (from a customer's
message to the next public reply) and ``resolution`` (from opening to solved; ``null`` where
the plan promises none). ``calendar`` names the business-hours calendar, ``credits`` what a
breach costs the vendor, and ``hourly_rate`` what consulting time past the prepaid hours is
billed at::

    {"sla": {"1": {"clock": "24x7", "first_response": 60, "next_response": 120,
                   "resolution": 1440}, ...},
     "calendar": "business-hours",
     "credits": {"percent_per_breach": "5", "severities": [1, 2], "cap_percent": "50"},
     "hourly_rate": {"EUR": "220", "USD": "240"}}

A ticket keeps the :class:`SupportTerms` in force when it was opened (with the calendar itself, not
its name), so that a later change of plan, policy or calendar never rewrites a running clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from levante.errors import InvalidRequestError
from levante.support.calendars import ALWAYS, Calendar, Clock, parse_calendar
from levante.vocabulary import ClockKind, Currency, Severity, SlaTarget, check_severity

MAX_TARGET_MINUTES = 366 * 24 * 60


@dataclass(frozen=True, slots=True)
class Targets:
    """One severity's promises."""

    clock: ClockKind
    first_response: int | None
    next_response: int | None
    resolution: int | None

    def minutes(self, target: SlaTarget) -> int | None:
        value: int | None = getattr(self, target.value)
        return value

    def to_json(self) -> dict[str, Any]:
        return {
            "clock": self.clock.value,
            "first_response": self.first_response,
            "next_response": self.next_response,
            "resolution": self.resolution,
        }


@dataclass(frozen=True, slots=True)
class CreditTerms:
    """A breached ticket of one of ``severities`` credits ``percent_per_breach`` of the
    month's support fee, at most ``cap_percent`` a month in all."""

    percent_per_breach: Decimal
    severities: frozenset[Severity]
    cap_percent: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "percent_per_breach": str(self.percent_per_breach),
            "severities": sorted(int(s) for s in self.severities),
            "cap_percent": str(self.cap_percent),
        }


@dataclass(frozen=True, slots=True)
class SupportTerms:
    """What a ticket is promised: its contract's targets per severity, the calendar their
    business hours follow, and the credits. A ticket without a contract has no targets."""

    plan: str | None
    plan_name: str
    targets: dict[Severity, Targets]
    calendar: Calendar | None
    credits: CreditTerms | None

    @property
    def has_sla(self) -> bool:
        return bool(self.targets)

    def for_severity(self, severity: Severity) -> Targets | None:
        return self.targets.get(severity)

    def clock(self, targets: Targets) -> Clock:
        if targets.clock == ClockKind.BUSINESS and self.calendar is not None:
            return self.calendar
        return ALWAYS

    def allowed(self, severity: Severity, target: SlaTarget) -> timedelta | None:
        targets = self.for_severity(severity)
        minutes = targets.minutes(target) if targets is not None else None
        return None if minutes is None else timedelta(minutes=minutes)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "plan_name": self.plan_name,
            "sla": {str(int(s)): t.to_json() for s, t in sorted(self.targets.items())},
            "calendar": self.calendar.to_json() if self.calendar is not None else None,
            "credits": self.credits.to_json() if self.credits is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SupportTerms:
        calendar = data.get("calendar")
        return cls(
            plan=data.get("plan"),
            plan_name=str(data.get("plan_name") or "Community"),
            targets=parse_targets(data.get("sla") or {}),
            calendar=parse_calendar(calendar) if calendar else None,
            credits=parse_credits(data.get("credits")),
        )


COMMUNITY = SupportTerms(plan=None, plan_name="Community", targets={}, calendar=None, credits=None)


def parse_targets(raw: Any, param: str = "sla") -> dict[Severity, Targets]:
    """The ``sla`` feature: per severity, its clock and targets in minutes."""
    if not isinstance(raw, dict):
        raise InvalidRequestError("sla is an object keyed by severity", param=param)
    out: dict[Severity, Targets] = {}
    for key, value in raw.items():
        severity = check_severity(key, param)
        if not isinstance(value, dict):
            raise InvalidRequestError(f"sla.{key} is an object", param=param)
        try:
            clock = ClockKind(value.get("clock", ClockKind.ALWAYS))
        except ValueError:
            raise InvalidRequestError(
                f"sla.{key}.clock is '24x7' or 'business'", param=f"{param}.{key}.clock"
            ) from None
        minutes = {t: _minutes(value.get(t.value), f"{param}.{key}.{t.value}") for t in SlaTarget}
        out[severity] = Targets(
            clock,
            minutes[SlaTarget.FIRST_RESPONSE],
            minutes[SlaTarget.NEXT_RESPONSE],
            minutes[SlaTarget.RESOLUTION],
        )
    return out


def _minutes(value: Any, param: str) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_TARGET_MINUTES
    ):
        raise InvalidRequestError(
            "a target is a whole number of minutes (1 to a year), or null for none", param=param
        )
    return value


def parse_credits(raw: Any, param: str = "credits") -> CreditTerms | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidRequestError("credits is an object", param=param)
    try:
        percent = Decimal(str(raw.get("percent_per_breach", "0")))
        cap = Decimal(str(raw.get("cap_percent", "100")))
    except InvalidOperation:
        raise InvalidRequestError("credit percentages are numbers", param=param) from None
    if not (percent.is_finite() and cap.is_finite() and 0 <= percent <= 100 and 0 <= cap <= 100):
        raise InvalidRequestError("credit percentages are between 0 and 100", param=param)
    listed = raw.get("severities") or []
    if not isinstance(listed, list):
        raise InvalidRequestError("credits.severities is a list such as [1, 2]", param=param)
    severities = frozenset(check_severity(s, param) for s in listed)
    return CreditTerms(percent, severities, cap)


def hourly_rate(features: dict[str, Any] | None, currency: str) -> Decimal | None:
    """The consulting rate per hour in ``currency`` a plan sets, if any."""
    rates = (features or {}).get("hourly_rate") or {}
    value = rates.get(Currency(currency).value) if isinstance(rates, dict) else None
    return Decimal(str(value)) if value is not None else None


def terms_of(
    plan_code: str, plan_name: str, features: dict[str, Any] | None, calendar: Calendar | None
) -> SupportTerms:
    features = features or {}
    return SupportTerms(
        plan=plan_code,
        plan_name=plan_name,
        targets=parse_targets(features.get("sla") or {}),
        calendar=calendar,
        credits=parse_credits(features.get("credits")),
    )


def describe_minutes(minutes: int | None, clock: ClockKind, calendar: Calendar | None) -> str:
    """``4 business hours``, ``1 business day``, ``30 min``: a target as a person says it."""
    if minutes is None:
        return "none"
    business = clock == ClockKind.BUSINESS
    day = _business_day_minutes(calendar) if business else 24 * 60
    word = "business " if business else ""
    if minutes % day == 0:
        days = minutes // day
        return f"{days} {word}day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} {word}hour{'s' if hours != 1 else ''}"
    return f"{minutes} {word}min"


def duration(minutes: int) -> str:
    """``3 h 30 min``, ``10 h``, ``45 min``: time logged, or left, as a person reads it."""
    hours, rest = divmod(abs(minutes), 60)
    sign = "-" if minutes < 0 else ""
    if not hours:
        return f"{sign}{rest} min"
    return f"{sign}{hours} h {rest} min" if rest else f"{sign}{hours} h"


def _business_day_minutes(calendar: Calendar | None) -> int:
    if calendar is None:
        return 8 * 60
    open_days = sum(1 for spans in calendar.hours if spans) or 1
    return max(1, calendar.weekly_minutes() // open_days)
