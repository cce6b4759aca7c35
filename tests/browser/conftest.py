"""Browser tests: the journeys a person takes, in Debian's Chromium driven by Playwright.

Chromium comes from the system (``apt-get install -y chromium``), never from
``playwright install``. Without it, every test here is skipped with one line saying so.
The app runs for real on loopback (uvicorn, SQLite, the real model, greedy). Set
``LEVANTE_SCREENSHOTS=docs/images`` to keep a screenshot of each main page there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)
from sqlalchemy import select

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import ChatSettings, Settings, TierSettings
from levante.storage import Database, upgrade
from levante.storage.models import Plan
from tests.conftest import TEST_MODEL
from tests.helpers import live_server, mailed_link

CHROMIUM = os.environ.get("LEVANTE_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery"
FREE_MESSAGES = 3  # per window, on this test server: the limit journey reaches it
SKIP_REASON = (
    f"browser tests need Chromium at {CHROMIUM}: install it with 'apt-get install -y chromium' "
    "(or set LEVANTE_CHROMIUM)"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which(CHROMIUM) is not None:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, for this module's tests. Playwright's sync API runs an event loop
    of its own while it is started, so it is stopped as soon as the module is done: the tests
    after it run their own loops."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture(autouse=True)
def policy_breaches(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the browser says about the Content-Security-Policy, in any page of any context a
    test opens: a refused inline script, handler, style or other host fails the test."""
    breaches: list[str] = []
    new_context = Browser.new_context

    def watched(browser: Browser, *args: Any, **kwargs: Any) -> BrowserContext:
        context = new_context(browser, *args, **kwargs)
        context.on("console", lambda message: _note_breach(message, breaches))
        return context

    monkeypatch.setattr(Browser, "new_context", watched)
    yield breaches
    assert not breaches, "the page broke its Content-Security-Policy:\n" + "\n".join(breaches)


def _note_breach(message: ConsoleMessage, breaches: list[str]) -> None:
    if "Content Security Policy" in message.text:
        breaches.append(f"{message.location.get('url', '?')}: {message.text}")


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    # Far from UTC, so that a moment written in the visitor's time shows it.
    context = chromium.new_context(
        viewport={"width": 1280, "height": 720}, timezone_id="Asia/Tokyo"
    )
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, model_registry: ModelRegistry
) -> Iterator[tuple[str, Database]]:
    """The platform on loopback: its base URL and its database."""
    data = tmp_path_factory.mktemp("site")
    database = Database(f"sqlite:///{data / 'levante.db'}")
    upgrade(database.engine)
    settings = Settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'levante.db'}",
        models=[TEST_MODEL],
        tiers=[TierSettings(name="unlimited")],
        # Every browser here signs up from 127.0.0.1.
        chat=ChatSettings(temperature=0, max_answer_tokens=160, sign_ups_per_hour=1000),
    )
    app = create_app(settings, models=model_registry, database=database)
    with live_server(app) as url:
        _DATABASES[url] = database
        with database.session() as session:
            free = session.scalars(select(Plan).where(Plan.code == "chat-free")).one()
            free.features = {**(free.features or {}), "messages_per_window": FREE_MESSAGES}
        yield url, database
    database.dispose()


@pytest.fixture
def site_url(site: tuple[str, Database]) -> str:
    return site[0]


@pytest.fixture
def site_database(site: tuple[str, Database]) -> Database:
    return site[1]


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page for the docs, when asked to."""
    folder = os.environ.get("LEVANTE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


# The database behind each running site, for the links it mails.
_DATABASES: dict[str, Database] = {}


def sign_up(page: Page, site_url: str, email: str) -> None:
    """Sign up as a person does: the form, then the link mailed to the address, where the
    password is chosen."""
    page.goto(f"{site_url}/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_test_id("check-mail")).to_contain_text(email)
    page.goto(site_url + mailed_link(_DATABASES[site_url], email, "/signup/confirm/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page).to_have_url(f"{site_url}/chat")


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")
