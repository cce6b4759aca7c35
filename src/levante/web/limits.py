"""A plan's limits in words, as the pages show them: "12 of 25 messages left per 5 hours,
next frees up at 16:40". The moment is sent as an instant, which the browser writes in the
visitor's own time (``app.js``); the words around it are the server's fallback, in UTC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from levante.quota import Allowance, describe_window


@dataclass(frozen=True, slots=True)
class AllowanceLine:
    text: str
    left: int
    limit: int
    exhausted: bool
    frees_at: datetime | None = None  # when the next message frees up, if one is used

    @property
    def frees_at_utc(self) -> str:
        """The fallback for browsers without scripts: a date, never a bare weekday that a
        reader on that weekday would take for today."""
        return f"{self.frees_at:%a %-d %b %H:%M} UTC" if self.frees_at else ""

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "exhausted": self.exhausted,
            "frees_at": self.frees_at.isoformat() if self.frees_at else None,
            "frees_at_utc": self.frees_at_utc,
        }


def allowance_lines(allowance: Sequence[Allowance]) -> list[AllowanceLine]:
    lines = []
    for item in allowance:
        span = describe_window(item.window.seconds)
        text = f"{item.left} of {item.window.limit} messages left this {span}"
        if span.endswith("hours"):
            text = f"{item.left} of {item.window.limit} messages left per {span}"
        frees_at = item.resets_at if item.resets_at is not None and item.used else None
        lines.append(AllowanceLine(text, item.left, item.window.limit, item.left == 0, frees_at))
    return lines
