"""A plan's limits in words, as the pages show them: "12 of 25 messages left, resets 16:40"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from levante.quota import Allowance, describe_window


@dataclass(frozen=True, slots=True)
class AllowanceLine:
    text: str
    left: int
    limit: int
    exhausted: bool


def allowance_lines(allowance: Sequence[Allowance]) -> list[AllowanceLine]:
    lines = []
    for item in allowance:
        span = describe_window(item.window.seconds)
        text = f"{item.left} of {item.window.limit} messages left this {span}"
        if span.endswith("hours"):
            text = f"{item.left} of {item.window.limit} messages left per {span}"
        if item.resets_at is not None and item.used:
            when = (
                f"{item.resets_at:%H:%M}"
                if item.window.seconds < 86400
                else f"{item.resets_at:%a %H:%M}"
            )
            text += f", next frees up at {when} UTC"
        lines.append(AllowanceLine(text, item.left, item.window.limit, item.left == 0))
    return lines
