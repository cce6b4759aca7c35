"""Levante Chat: the consumer assistant. Conversations and their messages, plans and their
limits, titles, search and export; answers come from the serving layer in process, limited
by admission and written to the same ledger as the API's. Nothing here knows HTTP."""

from levante.chat.assistant import (
    Answered,
    Assistant,
    ChatAccount,
    Delta,
    Mode,
    Reply,
)
from levante.chat.conversations import (
    all_transcripts,
    as_json,
    as_markdown,
    export_name,
    list_conversations,
    remove,
    rename,
    transcript,
)
from levante.chat.operator import chat_users, set_plan
from levante.chat.plans import chat_standing
from levante.chat.search import search

__all__ = [
    "Answered",
    "Assistant",
    "ChatAccount",
    "Delta",
    "Mode",
    "Reply",
    "all_transcripts",
    "as_json",
    "as_markdown",
    "chat_standing",
    "chat_users",
    "export_name",
    "list_conversations",
    "remove",
    "rename",
    "search",
    "set_plan",
    "transcript",
]
