"""The assistant answers with the real model, keeps the conversation, and writes one chat
usage record per answer through the API's admission and ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from levante.chat import Mode, as_json, as_markdown, search, transcript
from levante.errors import (
    ContextLengthExceededError,
    MessageLimitReachedError,
    NotFoundError,
    PermissionDeniedError,
)
from levante.identity import delete_account
from levante.storage import utcnow
from levante.storage.models import ChatMessage, Conversation, UsageRecord
from levante.vocabulary import MessageState, Product, TitleSource
from tests.chat.conftest import PASSWORD, Chat
from tests.helpers import MODEL


def records(chat: Chat) -> list[UsageRecord]:
    chat.settle()
    with chat.database.session() as session:
        return list(session.scalars(select(UsageRecord).order_by(UsageRecord.id)))


def test_an_answer_is_streamed_kept_and_recorded_once(chat: Chat) -> None:
    alice = chat.user("alice@example.com")
    reply, finished = chat.say(alice, "What is the capital of France?")
    assert finished.state == MessageState.COMPLETE
    assert finished.content.strip()
    with chat.database.session() as session:
        kept = transcript(session, alice, reply.conversation_id)
        assert [(m.role, m.state) for m in kept.messages] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert kept.messages[1].content == finished.content
    answers = [r for r in records(chat) if r.endpoint == "chat.message"]
    assert len(answers) == 1
    record = answers[0]
    assert (record.product, record.user_id, record.model) == (Product.CHAT, alice, MODEL)
    assert record.completion_tokens == finished.completion_tokens > 0
    assert record.prompt_tokens == finished.prompt_tokens
    assert record.cost_nanos == 0  # consumers are not billed per token


def test_the_next_turn_reuses_the_prompt_cache(chat: Chat) -> None:
    alice = chat.user("alice@example.com")
    reply, first = chat.say(alice, "Name a colour.")
    chat.settle()  # the title is asked as a next turn: it keeps the conversation cached
    _, second = chat.say(alice, "Name another one.", conversation_id=reply.conversation_id)
    assert second.prompt_tokens > first.prompt_tokens
    # The first turn's prompt and answer are already in the model's cache.
    assert second.cached_tokens >= first.prompt_tokens


def test_the_model_writes_the_title_after_the_first_exchange(chat: Chat) -> None:
    alice = chat.user("alice@example.com")
    reply, _ = chat.say(alice, "How do I bake bread at home?")
    chat.settle()
    with chat.database.session() as session:
        conversation = session.get_one(Conversation, reply.conversation_id)
        assert conversation.title_source == TitleSource.MODEL
        assert 0 < len(conversation.title) <= 80
    titles = [r for r in records(chat) if r.endpoint == "chat.title"]
    assert len(titles) == 1  # written to the ledger too, and counted against no limit


def test_a_message_over_the_window_is_refused_before_anything_is_kept(chat: Chat) -> None:
    chat.set_free_plan(messages_per_window=2)
    alice = chat.user("alice@example.com")
    reply, _ = chat.say(alice, "Hello")
    chat.say(alice, "Hello again", conversation_id=reply.conversation_id)
    with pytest.raises(MessageLimitReachedError) as refused:
        chat.say(alice, "One more", conversation_id=reply.conversation_id)
    assert "2 messages" in refused.value.message
    assert refused.value.resets_at > utcnow()
    with chat.database.session() as session:
        assert len(transcript(session, alice, reply.conversation_id).messages) == 4
    allowance = chat.run(lambda: chat.assistant.allowance(chat.assistant.account(alice)))
    assert (allowance[0].used, allowance[0].left) == (2, 0)
    # Another user has a window of their own.
    chat.say(chat.user("bob@example.com"), "Hello")


def test_two_tabs_at_the_limit_admit_exactly_the_limit(chat: Chat) -> None:
    import anyio

    chat.set_free_plan(messages_per_window=3)
    alice = chat.user("alice@example.com")
    account = chat.assistant.account(alice)
    outcomes: list[str] = []

    async def tab(n: int) -> None:
        try:
            reply = await chat.assistant.reply(account, conversation_id=None, content=f"Hi {n}")
        except MessageLimitReachedError:
            outcomes.append("refused")
            return
        async for _ in reply.events():
            pass
        outcomes.append("answered")

    async def both() -> None:
        async with anyio.create_task_group() as tasks:
            for n in range(6):
                tasks.start_soon(tab, n)

    chat.run(both)
    assert sorted(outcomes) == ["answered"] * 3 + ["refused"] * 3
    answers = [r for r in records(chat) if r.endpoint == "chat.message"]
    assert len(answers) == 3
    with chat.database.session() as session:
        kept = session.scalars(select(ChatMessage).where(ChatMessage.role == "assistant")).all()
        assert sorted(r.completion_tokens for r in answers) == sorted(
            m.completion_tokens for m in kept
        )


def test_a_stopped_answer_is_kept_and_billed_for_what_was_produced(chat: Chat) -> None:
    alice = chat.user("alice@example.com")
    reply = chat.stop_after_first_words(alice, "Tell me a long story about a dragon.")
    chat.settle()
    with chat.database.session() as session:
        answer = transcript(session, alice, reply.conversation_id).messages[1]
    assert answer.state == MessageState.STOPPED
    assert answer.content
    (record,) = [r for r in records(chat) if r.endpoint == "chat.message"]
    assert record.status == "cancelled"
    assert record.completion_tokens == answer.completion_tokens > 0


def test_regenerate_and_edit_replace_the_later_turns(chat: Chat) -> None:
    alice = chat.user("alice@example.com")
    reply, _ = chat.say(alice, "Say hello.")
    conversation = reply.conversation_id
    chat.say(alice, "Say goodbye.", conversation_id=conversation)
    again, _ = chat.say(alice, "", conversation_id=conversation, mode=Mode.REGENERATE)
    assert again.answer_position == 3
    edited, _ = chat.say(
        alice, "Say thank you.", conversation_id=conversation, mode=Mode.EDIT, position=0
    )
    assert (edited.user_position, edited.answer_position) == (0, 1)
    with chat.database.session() as session:
        messages = transcript(session, alice, conversation).messages
    assert messages[0].content == "Say thank you."
    assert len(messages) == 2


def test_search_export_and_privacy(chat: Chat) -> None:
    alice, bob = chat.user("alice@example.com"), chat.user("bob@example.com")
    reply, _ = chat.say(alice, "Tell me about volcanoes in Iceland")
    chat.say(bob, "Tell me about volcanoes in Italy")
    with chat.database.session() as session:
        found = search(session, alice, "volcano iceland")
        assert [c.id for c in found] == [reply.conversation_id]
        assert search(session, alice, "italy") == []
        item = transcript(session, alice, reply.conversation_id)
        markdown = as_markdown(item)
        assert "## You\n\nTell me about volcanoes in Iceland" in markdown
        assert as_json(item)["messages"][1]["usage"]["completion_tokens"] > 0
        with pytest.raises(NotFoundError):
            transcript(session, bob, reply.conversation_id)
    with pytest.raises(NotFoundError):
        chat.say(bob, "Hijack", conversation_id=reply.conversation_id)


def test_a_model_outside_the_plan_is_refused(chat: Chat) -> None:
    chat.set_free_plan(models=["some-bigger-model"])
    alice = chat.user("alice@example.com")
    account = chat.assistant.account(alice)
    assert [(m.id, m.allowed) for m in account.models] == [(MODEL, False)]
    with pytest.raises(PermissionDeniedError):
        chat.say(alice, "Hello", model=MODEL)


def test_deleting_the_account_keeps_the_usage_without_the_user(chat: Chat) -> None:
    alice = chat.user("alice@example.com")
    chat.say(alice, "Hello")
    chat.settle()
    with chat.database.session() as session:
        delete_account(session, alice, PASSWORD, now=utcnow())
    with chat.database.session() as session:
        assert session.scalars(select(Conversation)).all() == []
        assert session.scalars(select(ChatMessage)).all() == []
        usage = session.scalars(select(UsageRecord)).all()
        assert usage
        assert all(r.user_id is None for r in usage)


def test_an_answer_cut_off_by_a_dead_gateway_is_kept_as_stopped(chat: Chat) -> None:
    alice = chat.user("alice@example.com")
    reply, _ = chat.say(alice, "Hello")
    chat.settle()
    with chat.database.session() as session:
        answer = session.scalars(select(ChatMessage).where(ChatMessage.role == "assistant")).one()
        # As a gateway that died mid-answer leaves it, once its reservation is swept.
        answer.state = MessageState.STREAMING
    with chat.database.session() as session:
        kept = transcript(session, alice, reply.conversation_id).messages[1]
        assert kept.state == MessageState.STOPPED
    with chat.database.session() as session:
        assert transcript(session, alice, reply.conversation_id).messages[1].state == "stopped"


def test_a_first_message_past_the_context_is_told_to_shorten_not_to_start_over(
    chat: Chat,
) -> None:
    """Issue 29: a new conversation's first, too long message was told "this conversation has
    grown longer than ...; start a new chat"."""
    chat.set_free_plan(max_context_tokens=64)
    alice = chat.user("alice@example.com")
    with pytest.raises(ContextLengthExceededError) as first:
        chat.say(alice, "otters " * 200)
    assert "this message is longer than the 64 tokens your plan allows" in first.value.message
    assert "shorten it" in first.value.message
    reply, _ = chat.say(alice, "Hi")
    with pytest.raises(ContextLengthExceededError) as later:
        chat.say(alice, "otters " * 200, conversation_id=reply.conversation_id)
    assert "this conversation has grown longer" in later.value.message
