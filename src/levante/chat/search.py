"""Search over a user's conversations: one inverted index of words, portable across SQLite
and PostgreSQL (``chat_search_terms``), so search is the same query, and fast, on both.

A word matches by prefix ("deploy" finds "deployment"); a query of several words finds the
conversations that have all of them, in the title or in any message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from levante.storage.models import ChatMessage, Conversation, SearchTerm

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERM = 64
MAX_QUERY_WORDS = 8
_TOP = "\U0010ffff"  # above every character: term >= w AND term < w + TOP is a prefix match


def terms_of(text: str) -> set[str]:
    """The words of ``text`` as the index keeps them: lower case, two characters or more."""
    return {w[:MAX_TERM] for w in _WORD.findall(text.lower()) if len(w) >= 2}


def index_text(session: Session, conversation: Conversation, texts: Iterable[str]) -> None:
    """Add the words of ``texts`` to the conversation's entries."""
    words: set[str] = set()
    for text in texts:
        words |= terms_of(text)
    if not words:
        return
    known = set(
        session.scalars(
            select(SearchTerm.term).where(
                SearchTerm.conversation_id == conversation.id, SearchTerm.term.in_(words)
            )
        )
    )
    session.add_all(
        SearchTerm(user_id=conversation.user_id, term=term, conversation_id=conversation.id)
        for term in sorted(words - known)
    )


def reindex(session: Session, conversation: Conversation) -> None:
    """Rebuild the conversation's entries from its title and messages (after an edit)."""
    session.execute(delete(SearchTerm).where(SearchTerm.conversation_id == conversation.id))
    session.flush()
    contents = session.scalars(
        select(ChatMessage.content).where(ChatMessage.conversation_id == conversation.id)
    )
    index_text(session, conversation, [conversation.title, *contents])


def search(session: Session, user_id: str, query: str, *, limit: int = 50) -> list[Conversation]:
    """The user's conversations that hold every word of ``query``, newest first."""
    words = sorted(terms_of(query), key=len, reverse=True)[:MAX_QUERY_WORDS]
    if not words:
        return []
    # One pass over the user's matching terms, whatever the number of words: a conversation
    # is found when every word matched one of its terms. (A chain of IN subqueries, one per
    # word, let PostgreSQL pick nested loops over every conversation before statistics.)
    matches = [and_(SearchTerm.term >= w, SearchTerm.term < w + _TOP) for w in words]
    which = case(*((match, index) for index, match in enumerate(matches)))
    hits = (
        select(SearchTerm.conversation_id)
        .where(SearchTerm.user_id == user_id, or_(*matches))
        .group_by(SearchTerm.conversation_id)
        .having(func.count(func.distinct(which)) == len(words))
        .subquery()
    )
    statement = (
        select(Conversation)
        .join(hits, hits.c.conversation_id == Conversation.id)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id)
        .limit(limit)
    )
    return list(session.scalars(statement))
