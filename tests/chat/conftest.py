"""The chat assistant on the real model, in the app that serves it: a signed-up user, and a
way to run the assistant's coroutines on the app's event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from levante.api import create_app
from levante.api.state import AppState
from levante.audit import Actor
from levante.chat import Answered, Assistant, Delta, Reply
from levante.engine import ModelRegistry
from levante.identity import create_account
from levante.settings import ChatSettings, Settings
from levante.storage import Database
from levante.storage.models import Plan

T = TypeVar("T")
PASSWORD = "correct horse battery"


@pytest.fixture
def chat_settings(settings: Settings) -> Settings:
    """Greedy, short answers: the tests read what the model wrote."""
    chat = ChatSettings(temperature=0, max_answer_tokens=24)
    return settings.model_copy(update={"chat": chat})


@pytest.fixture
def app_client(
    chat_settings: Settings, database: Database, model_registry: ModelRegistry
) -> Iterator[TestClient]:
    app = create_app(chat_settings, models=model_registry, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


class Chat:
    """The app's assistant, driven from a test."""

    def __init__(self, client: TestClient, database: Database) -> None:
        self.client = client
        self.database = database
        state: AppState = client.app.state.levante  # type: ignore[attr-defined]
        self.state = state
        self.assistant: Assistant = state.assistant

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        assert self.client.portal is not None
        return self.client.portal.call(work)

    def user(self, email: str) -> str:
        with self.database.session() as session:
            user = create_account(session, Actor.command_line(), email, PASSWORD, currency="USD")
            return user.id

    def say(self, user_id: str, content: str, **options: Any) -> tuple[Reply, Answered]:
        """Send a message and read the whole answer."""
        account = self.assistant.account(user_id)

        async def go() -> tuple[Reply, Answered]:
            reply = await self.assistant.reply(account, content=content, **options)
            finished = None
            async for event in reply.events():
                if isinstance(event, Answered):
                    finished = event
            assert finished is not None
            return reply, finished

        return self.run(go)

    def stop_after_first_words(self, user_id: str, content: str, **options: Any) -> Reply:
        account = self.assistant.account(user_id)

        async def go() -> Reply:
            reply = await self.assistant.reply(account, content=content, **options)
            events = reply.events()
            async for event in events:
                if isinstance(event, Delta):
                    break
            await events.aclose()  # type: ignore[attr-defined]
            return reply

        return self.run(go)

    def settle(self) -> None:
        self.run(self.assistant.settled)
        self.run(self.state.ledger.flush)

    def set_free_plan(self, **features: Any) -> None:
        with self.database.session() as session:
            plan = session.scalars(select(Plan).where(Plan.code == "chat-free")).one()
            plan.features = {**(plan.features or {}), **features}


@pytest.fixture
def chat(app_client: TestClient, database: Database) -> Chat:
    return Chat(app_client, database)
