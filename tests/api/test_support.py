"""The support desk over HTTP: a customer's admin key works its own tickets, an operator key
is an agent's, and another organisation's ticket, note or file is never seen."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from levante import billing
from levante.audit import Actor
from levante.settings import Settings
from levante.storage import Database, utcnow
from tests.helpers import Tenant, make_operator, make_tenant


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"support": settings.support.model_copy(update={"attachment_max_bytes": 4096})}
    )


@pytest.fixture
def ops(database: Database) -> Tenant:
    return make_operator(database, make_tenant(database, "Levante Ops"))


@pytest.fixture
def acme(tenant: Tenant, database: Database) -> Tenant:
    with database.session() as session:
        billing.ensure_catalog(session)
        billing.subscribe(session, tenant.organization_id, "support-premium", now=utcnow(),
                          default_currency="EUR", actor=Actor.command_line())  # fmt: skip
    return tenant


def opened(client: TestClient, who: Tenant, **extra: object) -> dict[str, object]:
    body = {"subject": "Inference down", "description": "All requests fail with 500.",
            "severity": 1, "deployment": "lic_42", "model": "mistral-small", **extra}  # fmt: skip
    response = client.post("/v1/support/tickets", json=body, headers=who.headers(admin=True))
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def test_a_customer_opens_a_ticket_and_an_agent_answers_it(
    client: TestClient, acme: Tenant, ops: Tenant
) -> None:
    ticket = opened(client, acme)
    number = ticket["number"]
    assert ticket["status"] == "new"
    assert ticket["plan"] == "support-premium"
    first = next(t for t in ticket["sla"] if t["target"] == "first_response")  # type: ignore[attr-defined]
    assert first["allowed_minutes"] == 60
    assert first["clock"] == "24x7"
    agent = ops.headers(admin=True)
    queue = client.get("/v1/support/queue", headers=agent).json()["data"]
    assert [e["ticket"]["number"] for e in queue] == [number]
    assert queue[0]["seconds_left"] > 3500
    reply = client.post(f"/v1/support/tickets/{number}/replies", json={"body": "On it."},
                        headers=agent)  # fmt: skip
    assert reply.status_code == 201
    assert reply.json()["by_agent"] is True
    note = client.post(f"/v1/support/tickets/{number}/notes", json={"body": "Known bug 123."},
                       headers=agent)  # fmt: skip
    assert note.status_code == 201
    seen = client.get(f"/v1/support/tickets/{number}", headers=acme.headers(admin=True)).json()
    assert seen["status"] == "open"
    assert "Known bug" not in str(seen)
    assert [e["kind"] for e in seen["events"]] == ["opened", "reply", "status"]
    as_agent = client.get(f"/v1/support/tickets/{number}", headers=agent).json()
    assert "note" in [e["kind"] for e in as_agent["events"]]


def test_agents_move_assign_rate_and_log_time(
    client: TestClient, acme: Tenant, ops: Tenant
) -> None:
    number = opened(client, acme, severity=3)["number"]
    agent = ops.headers(admin=True)
    assert client.post(f"/v1/support/tickets/{number}/severity", json={"severity": 2, "reason": "x"},
                       headers=agent).json()["severity"] == 2  # fmt: skip
    assert client.post(f"/v1/support/tickets/{number}/status", json={"status": "pending"},
                       headers=agent).json()["status"] == "pending"  # fmt: skip
    assert client.post(f"/v1/support/tickets/{number}/assignee", json={"agent": None},
                       headers=agent).status_code == 200  # fmt: skip
    wrong = client.post(f"/v1/support/tickets/{number}/assignee", json={"agent": "nobody@x.example"},
                        headers=agent)  # fmt: skip
    assert wrong.status_code == 404
    assert wrong.json()["object"] == "error"
    time = client.post(f"/v1/support/tickets/{number}/time", json={"minutes": 45}, headers=agent)
    assert time.status_code == 201
    assert time.json()["data"] == {"minutes": 45}
    period = f"{utcnow():%Y-%m}"
    report = client.get("/v1/support/reports", params={"period": period}, headers=agent).json()
    mine = next(r for r in report["data"] if r["organization_id"] == acme.organization_id)
    assert mine["opened"]["3"] == 1
    assert mine["hours_logged"] == 0.75
    csv = client.get("/v1/support/reports", params={"period": period, "format": "csv"},
                     headers=acme.headers(admin=True))  # fmt: skip
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("organization,period,opened")
    assert len(csv.text.splitlines()) == 2  # the customer's own row only


def test_another_organisation_sees_nothing_over_every_route(
    client: TestClient, acme: Tenant, other_tenant: Tenant, ops: Tenant
) -> None:
    number = opened(client, acme)["number"]
    upload = client.post(f"/v1/support/tickets/{number}/attachments",
                         files={"file": ("trace.txt", b"stack trace", "text/plain")},
                         headers=acme.headers(admin=True))  # fmt: skip
    assert upload.status_code == 201, upload.text
    attachment = upload.json()["id"]
    other = other_tenant.headers(admin=True)
    ticket = f"/v1/support/tickets/{number}"
    calls = [
        ("get", ticket, None),
        ("post", f"{ticket}/replies", {"body": "hi"}),
        ("post", f"{ticket}/notes", {"body": "hi"}),
        ("post", f"{ticket}/status", {"status": "solved"}),
        ("post", f"{ticket}/severity", {"severity": 4}),
        ("post", f"{ticket}/assignee", {"agent": None}),
        ("post", f"{ticket}/time", {"minutes": 5}),
        ("get", f"{ticket}/attachments/{attachment}", None),
    ]
    for method, path, body in calls:
        response = client.request(method, path, json=body, headers=other)
        assert response.status_code in (403, 404), (path, response.status_code)
        if method == "get" or path.endswith(("replies", "status")):
            assert response.status_code == 404, path
    sneaky = client.post(f"{ticket}/attachments", files={"file": ("x.txt", b"x", "text/plain")},
                         headers=other)  # fmt: skip
    assert sneaky.status_code == 404
    assert client.get("/v1/support/tickets", headers=other).json()["data"] == []
    for path in ("/queue", "/calendars"):
        assert client.get(f"/v1/support{path}", headers=other).status_code == 403
    hours = client.get("/v1/support/hours", params={"organization": acme.organization_id},
                       headers=other)  # fmt: skip
    assert hours.status_code == 404
    bought = client.post("/v1/support/packs", json={"plan": "consulting-10h",
                         "organization": acme.organization_id}, headers=other)  # fmt: skip
    assert bought.status_code == 404
    assert client.get("/v1/support/tickets", headers=other_tenant.headers()).status_code == 403


def test_attachments_are_size_limited_and_refuse_a_path_in_the_name(
    client: TestClient, acme: Tenant, ops: Tenant
) -> None:
    number = opened(client, acme)["number"]
    url = f"/v1/support/tickets/{number}/attachments"
    headers = acme.headers(admin=True)
    too_big = client.post(url, files={"file": ("big.bin", b"x" * 5000)}, headers=headers)
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "payload_too_large"
    for name in ("../etc/passwd", "logs/app.log", "..\\boot.ini"):
        bad = client.post(url, files={"file": (name, b"data")}, headers=headers)
        assert bad.status_code == 400, name
        assert "path" in bad.json()["message"]
    good = client.post(url, files={"file": ("app.log", b"line 1\n", "text/plain")},
                       headers=headers).json()  # fmt: skip
    disguised = client.post(url, files={"file": ("invoice\u202egnp.exe", b"MZ")}, headers=headers)
    assert disguised.json()["filename"] == "invoicegnp.exe"
    download = client.get(f"/v1/support/tickets/{number}/attachments/{good['id']}",
                          headers=headers)  # fmt: skip
    assert download.content == b"line 1\n"
    assert "attachment" in download.headers["content-disposition"]
    assert download.headers["content-type"].startswith("text/plain")
    # Probe: an upload declared text/html or image/svg+xml was served as such.
    for name, declared in (("page.html", "text/html"), ("logo.svg", "image/svg+xml")):
        sent = client.post(url, files={"file": (name, b"<script>alert(1)</script>", declared)},
                           headers=headers).json()  # fmt: skip
        served = client.get(f"{url}/{sent['id']}", headers=headers)
        assert served.headers["content-type"] == "application/octet-stream", name
        assert "sandbox" in served.headers["content-security-policy"]
        assert served.headers["x-content-type-options"] == "nosniff"
    internal = client.post(url, files={"file": ("notes.txt", b"internal")},
                           data={"internal": "true"}, headers=ops.headers(admin=True))  # fmt: skip
    assert internal.status_code == 201
    hidden = client.get(f"{url}/{internal.json()['id']}", headers=headers)
    assert hidden.status_code == 404
    assert client.post(url, files={"file": ("n.txt", b"x")}, data={"internal": "true"},
                       headers=headers).status_code == 403  # fmt: skip


def test_the_operator_edits_policies_and_calendars(
    client: TestClient, acme: Tenant, ops: Tenant
) -> None:
    agent = ops.headers(admin=True)
    policies = client.get("/v1/support/policies", headers=acme.headers(admin=True)).json()["data"]
    premium = next(p for p in policies if p["plan"] == "support-premium")
    assert premium["sla"]["1"]["first_response"] == 60
    changed = client.put("/v1/support/policies/support-premium",
                         json={"sla": {"1": {"clock": "24x7", "first_response": 15,
                                             "next_response": 60, "resolution": 240}}},
                         headers=agent)  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["sla"]["1"]["first_response"] == 15
    assert changed.json()["sla"]["2"]["first_response"] == 120  # the rest kept
    refused = client.put("/v1/support/policies/support-premium",
                         json={"sla": {"1": {"first_response": -5}}}, headers=agent)  # fmt: skip
    assert refused.status_code == 400
    assert client.put("/v1/support/policies/support-premium", json={},
                      headers=acme.headers(admin=True)).status_code == 403  # fmt: skip
    calendar = client.put(
        "/v1/support/calendars/acme-hours",
        json={"timezone": "America/New_York", "hours": {"mon": ["08:00-18:00"]},
              "holidays": ["2026-12-25"], "organization": acme.organization_id},
        headers=agent,
    )  # fmt: skip
    assert calendar.status_code == 200, calendar.text
    assert calendar.json()["description"] == "Mon 08:00-18:00 (America/New_York)"
    bad = client.put("/v1/support/calendars/x", json={"timezone": "Nowhere/Here", "hours": {}},
                     headers=agent)  # fmt: skip
    assert bad.status_code == 400
    names = [c["name"] for c in client.get("/v1/support/calendars", headers=agent).json()["data"]]
    assert names == ["acme-hours", "business-hours"]


def test_bad_input_gets_the_documented_error_body(client: TestClient, acme: Tenant) -> None:
    headers = acme.headers(admin=True)
    bad = client.post("/v1/support/tickets", json={"subject": "x", "description": "y", "severity": 9},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["object"] == "error"
    missing = client.get("/v1/support/tickets/99999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["param"] == "ticket"
    period = client.get("/v1/support/reports", params={"period": "2026-13"}, headers=headers)
    assert period.status_code == 400


def test_a_malformed_policy_or_calendar_is_a_400_never_a_500(
    client: TestClient, acme: Tenant, ops: Tenant
) -> None:
    agent = ops.headers(admin=True)
    url = "/v1/support/policies/support-premium"
    for body in (
        {"credits": {"severities": 5}},
        {"credits": {"percent_per_breach": "NaN"}},
        {"credits": {"cap_percent": "lots"}},
        {"hourly_rate": {"EUR": "NaN"}},
        {"hourly_rate": {"GBP": "100"}},
        {"sla": {"9": {"first_response": 10}}},
        {"sla": {"1": {"clock": "sometimes"}}},
        {"calendar": "no-such-calendar"},
    ):
        response = client.put(url, json=body, headers=agent)
        assert response.status_code in (400, 404), (body, response.text)
        assert response.json()["object"] == "error"
    partial = client.put(url, json={"sla": {"2": {"first_response": 90}}}, headers=agent)
    assert partial.json()["sla"]["2"] == {
        "clock": "24x7", "first_response": 90, "next_response": 240, "resolution": 4320,
    }  # fmt: skip
    assert client.put("/v1/support/policies/chat-free", json={}, headers=agent).status_code == 400
    weird = client.put("/v1/support/calendars/x", json={"timezone": "UTC", "hours": {"mon": [5]}},
                       headers=agent)  # fmt: skip
    assert weird.status_code in (400, 422)


def test_a_customer_buys_hours_and_follows_them_as_agents_log_time(
    client: TestClient, acme: Tenant, ops: Tenant
) -> None:
    admin, agent = acme.headers(admin=True), ops.headers(admin=True)
    offers = client.get("/v1/support/packs", headers=admin).json()["data"]
    assert [(o["plan"], o["hours"]) for o in offers] == [("consulting-10h", 10.0),
                                                         ("consulting-40h", 40.0)]  # fmt: skip
    assert offers[0]["prices"] == {"EUR": "2000.00", "USD": "2200.00"}
    once = {**admin, "Idempotency-Key": "order-7"}
    bought = client.post("/v1/support/packs", json={"plan": "consulting-10h"}, headers=once)
    assert bought.status_code == 201, bought.text
    body = bought.json()
    retried = client.post("/v1/support/packs", json={"plan": "consulting-10h"}, headers=once)
    assert retried.json()["pack"]["id"] == body["pack"]["id"]
    assert body["pack"]["hours_left"] == 10.0
    assert body["invoice"]["status"] == "finalized"
    # The pack is invoiced on its own; the contract's year waits for the month's invoice.
    assert body["invoice"]["subtotal"] == "2000.00"
    unnamed = client.post("/v1/support/packs", json={"plan": "consulting-10h"}, headers=agent)
    assert unnamed.status_code == 400
    assert unnamed.json()["param"] == "organization"
    number = opened(client, acme, severity=4)["number"]
    logged = client.post(f"/v1/support/tickets/{number}/time", json={"minutes": 90},
                         headers=agent)  # fmt: skip
    assert logged.status_code == 201
    hours = client.get("/v1/support/hours", headers=admin).json()
    assert hours["hours_left"] == 8.5
    assert hours["time"] == [
        {"ticket": number, "at": hours["time"][0]["at"], "minutes": 90, "from_packs": 90,
         "billable": 0}
    ]  # fmt: skip
    as_agent = client.get("/v1/support/hours", params={"organization": acme.organization_id},
                          headers=agent).json()  # fmt: skip
    assert as_agent["packs"][0]["hours_used"] == 1.5
    refused = client.post("/v1/admin/billing/subscriptions", json={"plan": "consulting-10h"},
                          headers=admin)  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["param"] == "plan"
    wrong = client.post("/v1/support/packs", json={"plan": "support-critical"}, headers=admin)
    assert wrong.status_code == 400
    assert "not an hour pack" in wrong.json()["message"]
