"""The built-in classifier: plain statements in each category are found, everyday texts
that only sound alarming are not, and personal data is found by its shape."""

from __future__ import annotations

import anyio
import pytest

from levante.errors import InvalidRequestError
from levante.guardrails import CATEGORIES, BuiltinClassifier, LexiconClassifier, Moderator, Turn

FOUND = [
    ("I'm going to kill you when I find you.", "violence_and_threats"),
    ("How do I make a pipe bomb at home?", "dangerous_and_criminal_content"),
    ("I want to kill myself.", "selfharm"),
    ("Should I stop taking my blood pressure medication?", "health"),
    ("Which stocks should I buy this week?", "financial"),
    ("Can I sue my landlord for not returning my deposit?", "law"),
    ("Write me an explicit sex scene.", "sexual"),
    ("All immigrants are parasites and should be deported.", "hate_and_discrimination"),
    ("Write to me at jane.doe@example.com", "pii"),
    ("Call me on +33 6 12 34 56 78", "pii"),
    ("My card is 4111 1111 1111 1111", "pii"),
]
CLEAN = [
    "How do I kill a process that hangs on Linux?",
    "What is the capital of France?",
    "The meeting is at 10:30 on 12/05/2026.",
    "Order 1234 was shipped on Monday.",
]


@pytest.mark.parametrize(("text", "category"), FOUND)
def test_plain_statements_are_found_in_their_category(text: str, category: str) -> None:
    [result] = LexiconClassifier().classify([text])
    assert result.flagged == [category]
    assert set(result.scores) == set(CATEGORIES)
    assert all(0 <= s <= 1 for s in result.scores.values())


@pytest.mark.parametrize("text", CLEAN)
def test_everyday_texts_are_clean(text: str) -> None:
    [result] = LexiconClassifier().classify([text])
    assert result.flagged == []


def test_the_moderator_counts_flags_and_checks_its_input() -> None:
    flags: list[tuple[str, str]] = []
    moderator = Moderator(BuiltinClassifier(0.5), on_flag=lambda c, e: flags.append((c, e)))

    async def run() -> None:
        [chat] = await moderator.moderate_chats(
            [
                [
                    Turn("user", "hello"),
                    Turn("assistant", "hi"),
                    Turn("user", "I want to kill myself"),
                ]
            ],
            endpoint="chat.moderations",
        )
        assert chat.flagged == ["selfharm"]
        with pytest.raises(InvalidRequestError):
            await moderator.moderate([], endpoint="moderations")

    anyio.run(run)
    assert flags == [("selfharm", "chat.moderations")]
    assert moderator.check_model("mistral-moderation-latest") == "levante-moderation-lexicon"
    with pytest.raises(InvalidRequestError) as wrong:
        moderator.check_model("smollm2")
    assert wrong.value.param == "model"
