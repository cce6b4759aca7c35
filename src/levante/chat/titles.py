"""Titles the model writes for a conversation after its first exchange."""

from __future__ import annotations

import re

TITLE_TOKENS = 16
MAX_WORDS = 8

# Asked as the next turn of the conversation, so that the title request shares the
# conversation's prefix: it reuses the prompt cache instead of evicting it, and the user's
# next turn still finds the first exchange cached.
# The answer is started for the model ("Title:"): a small model then writes a title rather
# than a sentence about one.
INSTRUCTION = "Give this conversation a title of at most six words."
ANSWER_PREFIX = "Title:"

_JUNK = re.compile(r"^(title\s*:\s*)", re.IGNORECASE)


def clean_title(text: str) -> str:
    """The first line of what the model wrote, without quotes, markup or a "Title:" label,
    cut to a few words; empty when nothing usable is left."""
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    line = _JUNK.sub("", line)
    line = line.strip(" \t\"'`*#_.:;-")
    words = line.split()
    if not words:
        return ""
    title = " ".join(words[:MAX_WORDS])
    return title[:80]
