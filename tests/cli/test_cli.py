"""The ``levante`` command line against a real database."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from levante import audit
from levante.cli import app
from levante.metering import Ledger, UsageEvent, UsageStatus
from levante.storage import Database, head_revision, utcnow
from levante.storage.models import Organization
from levante.tenancy import KeyAuthenticator
from tests.cli.runner import ok, runner


@pytest.fixture(autouse=True)
def _use_test_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("LEVANTE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")


def test_org_and_key_lifecycle(database: Database) -> None:
    assert "created organisation" in ok("org", "create", "Acme Corp")
    assert "acme-corp" in ok("org", "list")
    out = ok(
        "key", "create", "--org", "acme-corp", "--name", "ci", "--model", "smollm2-135m-instruct"
    )
    secret = re.search(r"lv-\S+", out)
    key_id = re.search(r"key_\w+", out)
    assert secret
    assert key_id
    listing = ok("key", "list", "--org", "acme-corp")
    assert key_id.group() in listing
    assert secret.group() not in listing
    assert "revoked" in ok("key", "revoke", "--org", "acme-corp", key_id.group())
    assert key_id.group() not in ok("key", "list", "--org", "acme-corp")
    assert key_id.group() in ok("key", "list", "--org", "acme-corp", "--all")


def test_a_key_made_for_an_alias_may_use_that_model(database: Database) -> None:
    """Regression: the CLI stored the alias, and the key was then refused its own model."""
    ok("org", "create", "Acme")
    out = ok("key", "create", "--org", "acme", "--name", "ci", "--model", "smollm2")
    secret = re.search(r"lv-\S+", out)
    assert secret
    caller = KeyAuthenticator(database, 0).authenticate(secret.group())
    assert caller.allowed_models == frozenset({"smollm2-135m-instruct"})
    assert caller.may_use("smollm2-135m-instruct")
    [key] = json.loads(ok("key", "list", "--org", "acme", "--json"))
    assert key["models"] == "smollm2-135m-instruct"
    refused = runner.invoke(app, ["key", "create", "--org", "acme", "-n", "x", "-m", "gpt-9"])
    assert "model 'gpt-9' does not exist" in refused.output
    # A price set for an alias is the model's price.
    assert "smollm2-135m-instruct 0.10 in" in ok("price", "set", "smollm2", "--input", "0.1",
                                                  "--output", "0.3")  # fmt: skip
    [price] = json.loads(ok("price", "list", "--json"))
    assert (price["model"], price["batch"]) == ("smollm2-135m-instruct", "-50%")


def test_the_command_line_leaves_an_audit_trail(database: Database) -> None:
    """Regression: keys and members changed from the terminal left no audit record."""
    ok("org", "create", "Acme")
    key_id = re.search(r"key_\w+", ok("key", "create", "--org", "acme", "--name", "ci"))
    assert key_id
    ok("key", "revoke", "--org", "acme", key_id.group())
    ok("org", "member", "add", "--org", "acme", "ana@acme.test")
    [member] = json.loads(ok("org", "member", "list", "--org", "acme", "--json"))
    ok("org", "member", "remove", "--org", "acme", member["id"])
    ok("org", "workspace", "--org", "acme", "research")
    with database.session() as session:
        org = session.scalars(select(Organization).where(Organization.slug == "acme")).one()
        events = [(e.actor, e.action) for e in reversed(audit.list_events(session, org.id))]
    assert events == [
        ("cli", "organization.created"),
        ("cli", "api_key.created"),
        ("cli", "api_key.revoked"),
        ("cli", "member.added"),
        ("cli", "member.removed"),
        ("cli", "workspace.created"),
    ]


def test_errors_are_one_line_not_tracebacks(database: Database) -> None:
    result = runner.invoke(app, ["key", "create", "--org", "nobody", "--name", "x"])
    assert result.exit_code == 1
    assert "no organisation 'nobody'" in result.output
    assert "Traceback" not in result.output
    ok("org", "create", "Acme")
    duplicate = runner.invoke(app, ["org", "create", "Acme"])
    assert duplicate.exit_code == 1
    bad_date = runner.invoke(app, ["usage", "--org", "acme", "--start", "soon"])
    assert bad_date.exit_code == 2


def test_usage_table(database: Database) -> None:
    ok("org", "create", "Acme")
    with database.session() as session:
        from levante.tenancy import find_organization

        org_id = find_organization(session, "acme").id
    now = utcnow()
    Ledger(database).record(
        UsageEvent(
            request_id="req_cli",
            organization_id=org_id,
            workspace_id=None,
            api_key_id=None,
            product="api",
            endpoint="chat.completions",
            model="smollm2-135m-instruct",
            prompt_tokens=1234,
            completion_tokens=56,
            cached_tokens=0,
            status=UsageStatus.COMPLETED,
            finish_reason="stop",
            stream=False,
            time_to_first_token_ms=1,
            duration_ms=2,
            started_at=now,
            finished_at=now,
        )
    )
    out = ok("usage", "--org", "acme", "-g", "model")
    assert "smollm2-135m-instruct" in out  # whole, though the output is not a terminal
    assert "1,234" in out
    assert "1,290" in out
    assert "0.00 USD" in out  # the cost column (no price set: free)
    [row] = json.loads(ok("usage", "--org", "acme", "-g", "model", "--json"))
    assert row == {
        "model": "smollm2-135m-instruct", "requests": "1", "prompt": "1,234", "cached": "0",
        "completion": "56", "total": "1,290", "cost": "0.00 USD",
    }  # fmt: skip


def test_every_listing_takes_json(database: Database) -> None:
    ok("org", "create", "Acme")
    ok("key", "create", "--org", "acme", "--name", "ci")
    ok("org", "member", "add", "--org", "acme", "ana@acme.test")
    listings = [
        ["org", "list"], ["key", "list", "--org", "acme"], ["org", "member", "list", "--org", "acme"],
        ["models", "list"], ["price", "list"], ["limits", "show", "--org", "acme"],
        ["plans", "list"], ["subscriptions", "list"], ["wallet", "show", "--org", "acme"],
        ["invoices", "list"], ["license", "list"], ["license", "held"],
    ]  # fmt: skip
    for command in listings:
        rows = json.loads(ok(*command, "--json"))
        assert isinstance(rows, list), command
        assert all(isinstance(r, dict) for r in rows), command
    [key] = json.loads(ok("key", "list", "--org", "acme", "--json"))
    assert key["name"] == "ci"
    assert "acme" in {o["slug"] for o in json.loads(ok("org", "list", "--json"))}


def test_models_list_and_db_commands(database: Database) -> None:
    out = ok("models", "list")
    assert "smollm2-135m-instruct" in out
    assert "present" in out
    assert str(head_revision()) in ok("db", "upgrade")
    assert f"database: {head_revision()}" in ok("db", "current")


def test_prices_limits_and_reconcile(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("LEVANTE_PRICE_REFRESH_SECONDS", "1")
    ok("org", "create", "Acme")
    out = ok("price", "set", "smollm2-135m-instruct", "--input", "0.1", "--output", "0.3")
    assert "0.10 in / 0.30 out per 1M tokens (USD)" in out
    listing = ok("price", "list")
    assert "smollm2-135m-instruct" in listing
    assert "0.01" in listing  # cached input: 10% by default
    model = "smollm2-135m-instruct"
    early = runner.invoke(
        app, ["price", "set", model, "--input", "1", "--output", "1", "--from", "2020-01-01"]
    )
    assert early.exit_code == 1
    assert "at the earliest" in early.output
    bad = runner.invoke(app, ["price", "set", model, "--input", "x", "--output", "1"])
    assert bad.exit_code == 1
    assert "The input must be a number, like 20 or 20.50. [invalid_request]" in bad.output
    unknown = runner.invoke(app, ["price", "set", "m", "--input", "1", "--output", "1"])
    assert "model 'm' does not exist" in unknown.output

    assert "free" in ok("limits", "show", "--org", "acme")
    assert "250.00 USD" in ok("limits", "spend", "--org", "acme", "250")
    ok("limits", "spend", "--org", "acme", "--workspace", "default", "40.5")
    shown = ok("limits", "show", "--org", "acme")
    assert "250.00 USD" in shown
    assert "40.50 USD" in shown
    assert "tier-1" in ok("limits", "payment", "--org", "acme", "25")
    paid = ok("limits", "payment", "--org", "acme", "90", "--currency", "EUR")
    assert "paid spend of acme: 90.00 EUR; tier tier-1" in paid  # not 115 of anything
    assert "paid spend 90.00 EUR, 25.00 USD" in ok("limits", "show", "--org", "acme")
    ok("limits", "tier", "--org", "acme", "tier-3")
    assert "tier-3" in ok("limits", "show", "--org", "acme")
    assert "(pinned)" in ok("limits", "show", "--org", "acme")
    ok("limits", "tier", "--org", "acme", "--follow-spend")
    assert runner.invoke(app, ["limits", "tier", "--org", "acme", "gold"]).exit_code == 1

    out = ok("billing", "reconcile")
    assert "0 orphaned, 0 mispriced" in out


def test_an_existing_user_is_invited_from_the_terminal_too(database: Database) -> None:
    ok("org", "create", "Acme")
    ok("org", "create", "Globex")
    ok("org", "member", "add", "--org", "acme", "ana@acme.test", "--name", "Ana")
    out = ok("org", "member", "add", "--org", "globex", "ana@acme.test")
    assert "invitation" in out
    assert "user_" not in out
    assert json.loads(ok("org", "member", "list", "--org", "globex", "--json")) == []
    claim, mail = json.loads(ok("mail", "outbox", "--json"))  # Ana's claim link, the invitation
    assert "/password/reset/" in claim["body"]
    token = re.search(r"/invitations/(\S+)", mail["body"])
    assert token
    assert "joined globex" in ok("org", "member", "accept", token.group(1))
    [member] = json.loads(ok("org", "member", "list", "--org", "globex", "--json"))
    assert member["email"] == "ana@acme.test"


def test_the_first_owner_gets_a_claim_link_or_a_password_from_the_terminal(
    database: Database,
) -> None:
    """A new user made on the command line claims the account through the link printed here
    (no mail server), or the operator sets its password; a sign-up never does."""
    ok("org", "create", "Ops")
    out = ok("org", "member", "add", "--org", "ops", "boss@ops.test", "--role", "owner")
    link = re.search(r"http://\S+/password/reset/pwr-\S+", out)
    assert link is not None
    result = runner.invoke(
        app, ["user", "set-password", "boss@ops.test"], input="a long secret\na long secret\n"
    )
    assert result.exit_code == 0, result.output
    assert "the password of boss@ops.test is set" in result.output
    with database.session() as session:
        from levante.errors import NotFoundError
        from levante.identity import check_reset_token

        with pytest.raises(NotFoundError):  # the printed link ended with the new password
            check_reset_token(session, link.group(0).rsplit("/", 1)[1])
    missing = runner.invoke(
        app, ["user", "set-password", "nobody@ops.test"], input="a long secret\na long secret\n"
    )
    assert missing.exit_code == 1
    assert "no user with the address" in missing.output


def test_serve_refuses_a_currency_it_cannot_bill_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVANTE_CURRENCY", "GBP")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: invalid settings: currency: Input should be 'EUR' or 'USD' (got 'GBP') "
        "[configuration_error]"
    )
