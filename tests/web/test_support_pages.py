"""The support pages over HTTP: a customer opens and follows tickets, an agent works them
from the queue; another person's ticket is a 404 everywhere, internal notes stay internal,
forms need their CSRF token, and hostile text is escaped."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from levante import billing
from levante.audit import Actor
from levante.mail import outbox
from levante.storage import Database, utcnow
from levante.storage.models import Role
from tests.web.conftest import Browser, join_operator


def make_agent(database: Database, person: Browser, email: str) -> None:
    join_operator(database, person, email, Role.SUPPORT)


def org_of(person: Browser) -> str:
    """The organisation a customer opens tickets for, as their support page says."""
    page = person.get("/support")
    assert page.status_code == 200, page.text
    org = re.search(r'name="org" value="([^"]+)"', page.text)
    assert org is not None
    return org.group(1)


def ticket_fields(
    person: Browser, subject: str = "Inference is down", **fields: str
) -> dict[str, str]:
    return {
        "org": org_of(person), "subject": subject, "severity": "2",
        "description": "Every request answers 500 since 09:00.", "model": "smollm2", **fields,
    }  # fmt: skip


def opened(response: Any) -> int:
    """The number of the ticket a form opened."""
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def open_ticket(person: Browser, subject: str = "Inference is down", **fields: str) -> int:
    return opened(person.post("/support/tickets", ticket_fields(person, subject, **fields)))


@pytest.fixture
def customer(person: Browser) -> Browser:
    person.sign_up("ana@acme.example")
    return person


@pytest.fixture
def agent(app: TestClient, database: Database) -> Browser:
    browser = Browser(app)
    make_agent(database, browser, "agent@levante.example")
    return browser


def test_a_customer_opens_a_ticket_and_follows_it(customer: Browser) -> None:
    page = customer.get("/support")
    assert "No support contract" in page.text
    number = open_ticket(customer)
    ticket = customer.get(f"/support/tickets/{number}")
    assert ticket.status_code == 200
    assert "Inference is down" in ticket.text
    assert 'data-testid="status">new<' in ticket.text
    assert "No response targets" in ticket.text
    listed = customer.get("/support")
    assert f"#{number}" in listed.text
    reply = customer.post(f"/support/tickets/{number}/reply", {"body": "Still failing."})
    assert reply.status_code == 303
    assert "Still failing." in customer.get(f"/support/tickets/{number}").text
    solved = customer.post(f"/support/tickets/{number}/status", {"status": "solved"})
    assert solved.status_code == 303
    assert 'data-testid="status">solved<' in customer.get(f"/support/tickets/{number}").text


def test_an_agent_works_the_ticket_from_the_queue(customer: Browser, agent: Browser) -> None:
    number = open_ticket(customer)
    landing = agent.get("/support", follow_redirects=False)
    assert landing.status_code == 303
    assert landing.headers["location"] == "/support/queue"
    queue = agent.get("/support/queue")
    assert f"/support/tickets/{number}" in queue.text
    agent.get(f"/support/tickets/{number}")
    note = agent.post(f"/support/tickets/{number}/reply",
                      {"body": "Customer is on an old build.", "internal": "1"})  # fmt: skip
    assert note.status_code == 303
    assert (
        agent.post(f"/support/tickets/{number}/reply", {"body": "Fixed in 0.3.2."}).status_code
        == 303
    )
    assert agent.post(f"/support/tickets/{number}/assign",
                      {"agent": "agent@levante.example"}).status_code == 303  # fmt: skip
    assert agent.post(f"/support/tickets/{number}/severity", {"severity": "1",
                      "reason": "all regions"}).status_code == 303  # fmt: skip
    assert agent.post(f"/support/tickets/{number}/time", {"minutes": "20"}).status_code == 303
    assert agent.post(f"/support/tickets/{number}/status", {"status": "pending"}).status_code == 303
    as_agent = agent.get(f"/support/tickets/{number}").text
    assert "old build" in as_agent
    assert "internal note" in as_agent
    assert 'data-testid="assignee">agent@levante.example<' in as_agent
    as_customer = customer.get(f"/support/tickets/{number}").text
    assert "Fixed in 0.3.2." in as_customer
    assert "old build" not in as_customer
    assert "logged 20 min" not in as_customer
    assert 'data-testid="status">pending<' in as_customer
    mine = agent.get("/support/queue", params={"assignee": "agent@levante.example"})
    assert f"#{number}" in mine.text
    refused = agent.post(f"/support/tickets/{number}/status", {"status": "new"})
    assert refused.status_code == 409
    assert "cannot become new" in refused.text


def test_another_person_finds_nothing(
    customer: Browser, other_person: Browser, agent: Browser
) -> None:
    number = open_ticket(customer)
    upload = customer.upload(f"/support/tickets/{number}/attachments", "trace.txt", b"boom")
    assert upload.status_code == 303
    attachment = re.search(rf"/support/tickets/{number}/attachments/(att_\w+)",
                           customer.get(f"/support/tickets/{number}").text)  # fmt: skip
    assert attachment is not None
    other_person.sign_up("eve@globex.example")
    assert other_person.get(f"/support/tickets/{number}").status_code == 404
    assert (
        other_person.get(f"/support/tickets/{number}/attachments/{attachment.group(1)}").status_code
        == 404
    )
    for action, data in (("reply", {"body": "hi"}), ("status", {"status": "solved"}),
                         ("severity", {"severity": "4"}), ("assign", {"agent": ""}),
                         ("time", {"minutes": "5"})):  # fmt: skip
        assert other_person.post(f"/support/tickets/{number}/{action}", data).status_code == 404
    assert (
        other_person.upload(f"/support/tickets/{number}/attachments", "x.txt", b"x").status_code
        == 404
    )
    assert f"#{number}" not in other_person.get("/support").text
    assert other_person.get("/support/queue").status_code == 403
    assert customer.get("/support/queue").status_code == 403
    assert other_person.get("/support/tickets/99999").status_code == 404
    download = agent.get(f"/support/tickets/{number}/attachments/{attachment.group(1)}")
    assert download.content == b"boom"


def test_forms_need_their_csrf_token_and_a_session(customer: Browser, app: TestClient) -> None:
    number = open_ticket(customer)
    assert customer.post(f"/support/tickets/{number}/reply", {"body": "x"},
                         csrf=False).status_code == 403  # fmt: skip
    assert customer.post("/support/tickets", {"subject": "x", "description": "y"},
                         csrf=False).status_code == 403  # fmt: skip
    anonymous = Browser(app)
    signed_out = anonymous.get("/support", follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/login")


def test_hostile_text_is_escaped_and_bad_input_explained(customer: Browser) -> None:
    number = open_ticket(customer, subject="<script>alert(1)</script>")
    page = customer.get(f"/support/tickets/{number}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    customer.post(f"/support/tickets/{number}/reply",
                  {"body": '<img src=x onerror="alert(2)"> **bold**'})  # fmt: skip
    page = customer.get(f"/support/tickets/{number}").text
    assert "<img" not in page  # raw HTML is shown as text, never run
    assert "&lt;img src=x" in page
    assert "<strong>bold</strong>" in page
    empty = customer.post("/support/tickets", {"subject": "", "description": "x"})
    assert empty.status_code == 400
    assert "needs a subject" in empty.text
    bad = customer.upload(f"/support/tickets/{number}/attachments", "../../etc/passwd", b"x")
    assert bad.status_code == 400
    assert "may not contain a path" in bad.text


def test_the_report_page_and_its_csv(customer: Browser, agent: Browser) -> None:
    open_ticket(customer)
    page = agent.get("/support/reports")
    assert page.status_code == 200
    assert "ana@acme.example" in page.text  # the customer's personal organisation's name
    csv = customer.get("/support/reports", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("organization,period,opened")


def test_a_customer_buys_hours_and_sees_them_drawn_down(
    app: TestClient, customer: Browser, agent: Browser
) -> None:
    number = open_ticket(customer, subject="Help us fine-tune")
    page = customer.get("/support/hours")
    assert page.status_code == 200, page.text
    assert "0 min</strong> left" in page.text
    assert "2,200.00 USD" in page.text  # the deployment's default currency
    org = re.search(r'name="org" value="([^"]+)"', page.text)
    assert org is not None
    once = re.search(r'name="once" value="([^"]+-consulting-10h)"', page.text)
    assert once is not None
    order = {"org": org.group(1), "plan": "consulting-10h", "once": once.group(1)}
    bought = customer.post("/support/hours", order)
    assert bought.status_code == 303, bought.text
    assert customer.post("/support/hours", order).status_code == 303  # a second click
    after = customer.get(bought.headers["location"])
    assert "10 h</strong> left" in after.text
    invoice = re.search(r"Invoice (\S+) has been issued", after.text)  # the session's notice
    assert invoice is not None
    shown = customer.get(f"/support/hours/invoices/{invoice.group(1)}?org={org.group(1)}")
    assert shown.status_code == 200
    assert "Consulting, 10 hours, prepaid" in shown.text

    logged = agent.post(f"/support/tickets/{number}/time", {"minutes": "90", "note": "plan"})
    assert logged.status_code == 303
    assert "8 h 30 min</strong> left" in customer.get("/support/hours").text
    as_agent = agent.get(f"/support/hours?org={org.group(1)}")
    assert as_agent.status_code == 200
    assert f"#{number}" in as_agent.text
    assert "1 h 30 min" in as_agent.text

    unknown = customer.post("/support/hours", {"org": org.group(1), "plan": "nope"})
    assert unknown.status_code == 404
    assert "plan &#39;nope&#39; does not exist" in unknown.text
    assert "Consulting hours for" in unknown.text  # the page again, with the reason
    refused = customer.post("/support/hours", {"org": org.group(1), "plan": "support-premium"})
    assert refused.status_code == 400
    assert "not an hour pack" in refused.text
    stranger = Browser(app)
    stranger.sign_up("eve@evil.example")
    assert stranger.get(f"/support/hours?org={org.group(1)}").status_code == 404
    assert stranger.get(invoice.group(1).replace("&amp;", "&")).status_code == 404
    sneaky = stranger.post("/support/hours", {"org": org.group(1), "plan": "consulting-10h"})
    assert sneaky.status_code == 404


def test_a_customer_opens_a_ticket_with_a_file(customer: Browser, agent: Browser) -> None:
    form = customer.get("/support").text
    assert 'enctype="multipart/form-data"' in form
    assert '<input type="file" name="file">' in form
    fields = ticket_fields(customer, "Crash on load")
    number = opened(customer.upload("/support/tickets", "trace.txt", b"Traceback: boom", fields))
    page = customer.get(f"/support/tickets/{number}").text
    link = re.search(rf'"(/support/tickets/{number}/attachments/att_\w+)">trace.txt<', page)
    assert link is not None
    assert agent.get(link.group(1)).content == b"Traceback: boom"
    # No file chosen: the browser sends an empty, nameless one, and the ticket has no file.
    plain = opened(customer.upload("/support/tickets", "", b"", ticket_fields(customer, "Plain")))
    assert "/attachments/" not in customer.get(f"/support/tickets/{plain}").text
    # A file refused as a later one would be opens no ticket; the form says why, as typed.
    bad = customer.upload("/support/tickets", "../../etc/passwd", b"x",
                          ticket_fields(customer, "Second try"))  # fmt: skip
    assert bad.status_code == 400
    assert "may not contain a path" in bad.text
    assert 'value="Second try"' in bad.text
    assert "Second try" not in customer.get("/support").text


def test_the_mail_of_an_answer_links_to_the_ticket(
    app: TestClient, customer: Browser, agent: Browser
) -> None:
    number = open_ticket(customer)
    agent.get(f"/support/tickets/{number}")
    assert agent.post(f"/support/tickets/{number}/reply", {"body": "Fixed."}).status_code == 303
    public_url = app.app.state.levante.settings.billing.public_url.rstrip("/")  # type: ignore[attr-defined]
    with customer.database.session() as session:
        mail = outbox(session)[-1]
        assert mail.to == "ana@acme.example"
        assert f"{public_url}/support/tickets/{number}\n" in mail.body


def test_agents_search_the_queue_and_list_solved_and_closed_tickets(
    customer: Browser, agent: Browser
) -> None:
    down = open_ticket(customer, "Inference is down")
    slow = open_ticket(customer, "Slow answers", description="Tokens trickle at 2/s.")
    agent.get("/support/queue")
    assert agent.post(f"/support/tickets/{slow}/status", {"status": "solved"}).status_code == 303

    def numbers(**query: str) -> tuple[Any, set[int]]:
        page = agent.get("/support/queue", params=query)
        assert page.status_code == 200, page.text
        return page, {int(n) for n in re.findall(r'href="/support/tickets/(\d+)"', page.text)}

    page, found = numbers()
    assert found == {down}  # the waiting ones by default
    assert '<option value="" selected>' in page.text
    page, found = numbers(status="solved")
    assert found == {slow}
    assert '<option value="solved" selected>' in page.text
    assert numbers(status="closed")[1] == set()
    assert numbers(status="all")[1] == {down, slow}
    page, found = numbers(q="IS DOWN")
    assert found == {down}
    assert 'name="q" maxlength="200" value="IS DOWN"' in page.text  # the query stays
    assert numbers(q="trickle", status="all")[1] == {slow}  # the description
    assert numbers(q=f"#{slow}", status="all")[1] == {slow}
    assert numbers(q="acme.example", status="all")[1] == {down, slow}  # the customer's name
    assert numbers(q="50%")[1] == set()
    hostile = agent.get("/support/queue", params={"q": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in hostile.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in hostile.text
    refused = agent.get("/support/queue", params={"status": "gone", "q": "down"})
    assert refused.status_code == 400
    assert "status is one of" in refused.text
    assert 'value="down"' in refused.text  # what was typed, beside the reason
    assert customer.get("/support/queue", params={"q": "down"}).status_code == 403


def test_the_ticket_page_shows_its_status_and_severity_chosen(
    customer: Browser, agent: Browser
) -> None:
    number = open_ticket(customer, severity="2")
    page = agent.get(f"/support/tickets/{number}").text
    assert '<option value="new" selected>new</option>' in page
    assert '<option value="open" >open</option>' in page
    assert re.search(r'<option value="2" selected>[^<]*</option>', page)
    assert agent.post(f"/support/tickets/{number}/status", {"status": "pending"}).status_code == 303
    assert agent.post(f"/support/tickets/{number}/severity", {"severity": "1"}).status_code == 303
    page = agent.get(f"/support/tickets/{number}").text
    assert '<option value="pending" selected>pending</option>' in page
    assert re.search(r'<option value="1" selected>[^<]*</option>', page)
    assert not re.search(r'<option value="2" selected>', page)
    # Sending the status it has changes nothing.
    assert agent.post(f"/support/tickets/{number}/status", {"status": "pending"}).status_code == 303
    assert 'data-testid="status">pending<' in agent.get(f"/support/tickets/{number}").text


def test_an_agent_picks_the_customer_of_the_hours_by_name(
    customer: Browser, agent: Browser
) -> None:
    org = org_of(customer)
    page = agent.get("/support/hours").text
    assert '<select name="org" required data-autosubmit>' in page
    assert f'<option value="{org}" >ana@acme.example</option>' in page
    assert "Levante Ops" not in page  # the operator is no customer
    shown = agent.get("/support/hours", params={"org": org}).text
    assert f'<option value="{org}" selected>ana@acme.example</option>' in shown
    assert '<select name="org"' not in customer.get("/support/hours").text


def test_a_running_target_says_which_clock_each_figure_is_on(
    customer: Browser, database: Database
) -> None:
    with database.session() as session:
        billing.subscribe(session, org_of(customer), "support-premium",
                          now=utcnow() - timedelta(days=1), default_currency="USD",
                          actor=Actor.command_line())  # fmt: skip
    business = open_ticket(customer, severity="3")  # Premium: 4 business hours
    page = customer.get(f"/support/tickets/{business}").text
    due = r"due \w{3} \d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.search(rf"{due} \([\w ]+ from now, [\w ]+ of business hours left\)", page), page
    around_the_clock = open_ticket(customer, severity="1")  # Premium: 1 hour, 24x7
    page = customer.get(f"/support/tickets/{around_the_clock}").text
    assert re.search(rf"{due} \([\w ]+ from now\)", page)
    assert " left)" not in page
