"""Conversations and their messages, always by their owner: a conversation that is not the
user's is "not found", never "forbidden", so one user cannot learn of another's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from levante.chat.search import index_text, reindex
from levante.errors import InvalidRequestError, NotFoundError
from levante.storage import new_id, visible
from levante.storage.models import ChatMessage, Conversation, Reservation
from levante.vocabulary import MessageRole, MessageState, TitleSource

MAX_TITLE = 120
MAX_MESSAGE_CHARS = 32_000

# What a file name may not hold on common systems, or cannot show.
_NOT_IN_A_FILE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


@dataclass(frozen=True, slots=True)
class Transcript:
    conversation: Conversation
    messages: list[ChatMessage]


def export_name(item: Transcript, extension: str) -> str:
    """A download's file name: the conversation's title in its own script ("Trip to Łódź.md"),
    without what file systems refuse or hide; its id when the title leaves nothing."""
    title = _NOT_IN_A_FILE_NAME.sub(" ", visible(item.conversation.title))
    title = " ".join(title.split())[:80].strip(" .")
    return f"{title or item.conversation.id}.{extension}"


def provisional_title(text: str) -> str:
    """The first words of the first message, until the model writes a title."""
    words = " ".join(text.split())
    if len(words) <= 48:
        return words or "New chat"
    return words[:48].rsplit(" ", 1)[0] + "…"


def check_message(text: str) -> str:
    if not text.strip():
        raise InvalidRequestError("write a message first", param="content")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidRequestError(
            f"a message may have at most {MAX_MESSAGE_CHARS:,} characters", param="content"
        )
    return text


def start_conversation(
    session: Session, user_id: str, first_message: str, *, model: str, now: datetime
) -> Conversation:
    conversation = Conversation(
        id=new_id("conv"),
        user_id=user_id,
        title=provisional_title(first_message),
        title_source=TitleSource.PENDING,
        model=model,
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    session.flush()
    return conversation


def conversation_of(session: Session, user_id: str, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user_id:
        raise NotFoundError("this conversation does not exist", param="conversation")
    return conversation


def transcript(session: Session, user_id: str, conversation_id: str) -> Transcript:
    conversation = conversation_of(session, user_id, conversation_id)
    messages = messages_of(session, conversation.id)
    for message in messages:
        _settle_orphan(session, message)
    return Transcript(conversation, messages)


def _settle_orphan(session: Session, message: ChatMessage) -> None:
    """An answer still marked as streaming whose request no longer holds a reservation was
    cut off by a gateway that died (the ledger has swept its usage): it is kept as stopped.
    A live answer holds its reservation until the moment it is kept."""
    if message.state != MessageState.STREAMING or message.request_id is None:
        return
    if session.get(Reservation, message.request_id) is not None:
        return
    # Only if still streaming when this commits: the answer's own final write wins.
    session.execute(
        update(ChatMessage)
        .where(ChatMessage.id == message.id, ChatMessage.state == MessageState.STREAMING)
        .values(state=MessageState.STOPPED)
        .execution_options(synchronize_session=False)
    )
    session.expire(message, ["state"])


def messages_of(session: Session, conversation_id: str) -> list[ChatMessage]:
    return list(
        session.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conversation_id)
            .order_by(ChatMessage.position)
        )
    )


def list_conversations(session: Session, user_id: str, *, limit: int = 200) -> list[Conversation]:
    """The user's conversations, most recently active first."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.user_id == user_id)
            .order_by(Conversation.updated_at.desc(), Conversation.id)
            .limit(limit)
        )
    )


def count_conversations(session: Session, user_id: str) -> int:
    query = select(func.count()).select_from(Conversation).where(Conversation.user_id == user_id)
    return int(session.scalar(query) or 0)


def rename(session: Session, user_id: str, conversation_id: str, title: str) -> Conversation:
    conversation = conversation_of(session, user_id, conversation_id)
    title = " ".join(title.split())
    if not title:
        raise InvalidRequestError("a title may not be empty", param="title")
    conversation.title = title[:MAX_TITLE]
    conversation.title_source = TitleSource.USER
    reindex(session, conversation)
    return conversation


def set_model_title(session: Session, conversation_id: str, title: str) -> bool:
    """Give a conversation the title the model wrote, unless the user named it meanwhile (or
    deleted it); returns whether it took."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.title_source != TitleSource.PENDING or not title:
        return False
    conversation.title = title[:MAX_TITLE]
    conversation.title_source = TitleSource.MODEL
    index_text(session, conversation, [title])
    return True


def remove(session: Session, user_id: str, conversation_id: str) -> None:
    conversation = conversation_of(session, user_id, conversation_id)
    session.delete(conversation)
    session.flush()


def truncate(session: Session, conversation: Conversation, from_position: int) -> None:
    """Drop the messages from ``from_position`` on (to regenerate, or to resend an edit)."""
    session.execute(
        delete(ChatMessage).where(
            ChatMessage.conversation_id == conversation.id,
            ChatMessage.position >= from_position,
        )
    )
    session.flush()


def add_message(
    session: Session,
    conversation: Conversation,
    position: int,
    role: MessageRole,
    content: str,
    *,
    now: datetime,
    state: MessageState = MessageState.COMPLETE,
    model: str | None = None,
    request_id: str | None = None,
) -> ChatMessage:
    message = ChatMessage(
        conversation_id=conversation.id,
        position=position,
        role=role,
        content=content,
        state=state,
        model=model,
        request_id=request_id,
        created_at=now,
    )
    session.add(message)
    conversation.updated_at = now
    if content:
        index_text(session, conversation, [content])
    session.flush()
    return message


# -- export ---------------------------------------------------------------------------------------


def as_markdown(item: Transcript) -> str:
    conversation = item.conversation
    lines = [
        f"# {conversation.title}",
        "",
        f"_{conversation.created_at:%Y-%m-%d %H:%M} UTC · {conversation.model}_",
        "",
    ]
    for message in item.messages:
        who = "You" if message.role == MessageRole.USER else "Assistant"
        note = "" if message.state == MessageState.COMPLETE else f" ({message.state})"
        lines += [f"## {who}{note}", "", message.content.rstrip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def as_json(item: Transcript) -> dict[str, Any]:
    conversation = item.conversation
    return {
        "id": conversation.id,
        "title": conversation.title,
        "model": conversation.model,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "state": m.state,
                "model": m.model,
                "created_at": m.created_at.isoformat(),
                "usage": None
                if m.role == MessageRole.USER
                else {
                    "prompt_tokens": m.prompt_tokens,
                    "cached_tokens": m.cached_tokens,
                    "completion_tokens": m.completion_tokens,
                },
            }
            for m in item.messages
        ],
    }


def all_transcripts(session: Session, user_id: str) -> list[Transcript]:
    return [
        Transcript(c, messages_of(session, c.id))
        for c in list_conversations(session, user_id, limit=1_000_000)
    ]
