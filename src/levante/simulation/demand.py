"""The simulated company's customers and their demand: who joins and leaves when, how large
each is, and how much API usage each sends day by day. Pure and seeded, so a scenario gives
the same company every time; nothing here touches the database."""

from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from levante.pricing import NANOS

WEEKDAY_WEIGHT = (1.15, 1.15, 1.15, 1.15, 1.1, 0.65, 0.65)  # Monday first


@dataclass(slots=True)
class Member:
    """One customer of a stream: the month it joins (0 is the first), the month it leaves
    (None: still there at the end), its size (a weight, scaled by the stream later) and the
    day and hour it joins at."""

    index: int
    joins: int
    leaves: int | None
    weight: float
    day: int
    hour: int

    def active(self, month: int) -> bool:
        return self.joins <= month and (self.leaves is None or month < self.leaves)


def population(
    rng: random.Random, *, final: int, months: int, opening: float, churn: float, sigma: float
) -> list[Member]:
    """Customers who join and leave so that ``final`` are there at the end, starting from
    ``opening`` x ``final`` in the first month and growing in a straight line, with
    ``churn`` of those there leaving each month. Sizes are log-normal (a few large ones)."""
    out: list[Member] = []
    active: list[Member] = []
    for month in range(months):
        if month:
            staying = []
            for m in active:
                if rng.random() < churn:
                    m.leaves = month
                else:
                    staying.append(m)
            active = staying
        target = round(final * (opening + (1 - opening) * month / max(1, months - 1)))
        if month == months - 1:
            target = final
        for _ in range(max(0, target - len(active))):
            member = Member(
                index=len(out),
                joins=month,
                leaves=None,
                weight=rng.lognormvariate(0, sigma),
                day=rng.randint(1, 27),
                hour=rng.randint(7, 19),
            )
            out.append(member)
            active.append(member)
    return out


def month_start(first: date, month: int) -> datetime:
    year, index = divmod(first.month - 1 + month, 12)
    return datetime(first.year + year, index + 1, 1, tzinfo=UTC)


def days_of(start: datetime) -> list[datetime]:
    count = calendar.monthrange(start.year, start.month)[1]
    return [start + timedelta(days=d) for d in range(count)]


def day_shares(start: datetime) -> list[float]:
    """How a month's usage spreads over its days: more on weekdays."""
    weights = [WEEKDAY_WEIGHT[d.weekday()] for d in days_of(start)]
    total = sum(weights)
    return [w / total for w in weights]


@dataclass(frozen=True, slots=True)
class Mix:
    """How a priced model's usage splits into token kinds: of every token, ``prompt`` is
    prompt (``cached`` of the prompt read from cache), the rest completion."""

    prompt: float = 0.75
    cached: float = 0.3

    def tokens_for(
        self, spend_nanos: int, input_nanos: int, cached_nanos: int, output_nanos: int
    ) -> tuple[int, int, int]:
        """Prompt, cached and completion tokens that cost about ``spend_nanos`` at these
        prices per million tokens."""
        per_token = (
            self.prompt * (1 - self.cached) * input_nanos
            + self.prompt * self.cached * cached_nanos
            + (1 - self.prompt) * output_nanos
        ) / 1_000_000
        total = spend_nanos / per_token if per_token > 0 else 0
        prompt = int(total * self.prompt)
        return prompt, int(prompt * self.cached), int(total - prompt)


def interpolate(low: str, high: str, month: int, months: int) -> Decimal:
    """A rate moving from ``low`` to ``high`` over the months, to four places."""
    a, b = Decimal(low), Decimal(high)
    step = (b - a) * month / max(1, months - 1)
    return (a + step).quantize(Decimal("0.0001"))


def noisy(rng: random.Random, sigma: float = 0.08) -> float:
    return math.exp(rng.gauss(0, sigma))


def nanos(amount: float) -> int:
    return round(amount * NANOS)
