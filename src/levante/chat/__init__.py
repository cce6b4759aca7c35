"""Levante Chat: the consumer assistant. Conversations and their messages, plans and their
limits, titles, search and export; answers come from the serving layer in process, limited
by admission and written to the same ledger as the API's. Nothing here knows HTTP."""

from levante.chat.assistant import (
    MESSAGE_ENDPOINT,
    TITLE_ENDPOINT,
    Answered,
    Assistant,
    ChatAccount,
    Delta,
    Mode,
    ModelChoice,
    Reply,
)
from levante.chat.conversations import (
    Transcript,
    all_transcripts,
    as_json,
    as_markdown,
    count_conversations,
    list_conversations,
    remove,
    rename,
    transcript,
)
from levante.chat.operator import ChatUser, chat_users, set_plan
from levante.chat.plans import FREE_PLAN, ChatPlan, Standing, chat_plans, chat_standing
from levante.chat.search import search

__all__ = [
    "FREE_PLAN",
    "MESSAGE_ENDPOINT",
    "TITLE_ENDPOINT",
    "Answered",
    "Assistant",
    "ChatAccount",
    "ChatPlan",
    "ChatUser",
    "Delta",
    "Mode",
    "ModelChoice",
    "Reply",
    "Standing",
    "Transcript",
    "all_transcripts",
    "as_json",
    "as_markdown",
    "chat_plans",
    "chat_standing",
    "chat_users",
    "count_conversations",
    "list_conversations",
    "remove",
    "rename",
    "search",
    "set_plan",
    "transcript",
]
