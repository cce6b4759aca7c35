"""The customer console over HTTP: an organisation's owner works its keys, usage, billing,
licences and members; another organisation is not found on any page, a plain member is
refused, a billing user reads but changes no key, and every form needs its CSRF token."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from levante import billing, platform
from levante.audit import Actor
from levante.settings import BillingSettings
from levante.storage import Database
from levante.storage.models import Membership, Organization, Role, User
from tests.web.conftest import Browser

PAGES = (
    "/console", "/console/usage", "/console/keys", "/console/billing", "/console/licenses",
    "/console/members",
)  # fmt: skip


def _org_of(database: Database, email: str) -> Organization:
    with database.session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return session.scalars(
            select(Organization)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == user.id)
        ).one()


def _join(database: Database, email: str, org: Organization, role: Role) -> None:
    with database.session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        session.add(Membership(user_id=user.id, organization_id=org.id, role=role))


def _create_key(person: Browser, org: str, **fields: str) -> tuple[int, str]:
    response = person.post("/console/keys", {"org": org, "name": "production", **fields})
    found = re.search(r'id="new-secret">([^<]+)<', response.text)
    return response.status_code, found.group(1) if found else response.text


def test_an_owner_makes_a_key_that_works_at_once(person: Browser, app: TestClient) -> None:
    person.sign_up("owner@acme.example")
    for path in PAGES:
        assert person.get(path).status_code == 200, path
    org = re.search(r'name="org" value="([^"]+)"', person.get("/console/keys").text)
    assert org is not None
    status, secret = _create_key(person, org.group(1))
    assert status == 201, secret
    models = app.get("/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert models.status_code == 200
    assert "production" in person.get("/console/keys").text
    app.post("/v1/embeddings", json={"model": "smollm2", "input": "hello"},
             headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    split = person.get(f"/console/usage?org={org.group(1)}&by=key").text
    data = json.loads(re.search(r'id="usage-data">(.*?)</script>', split, re.S).group(1))  # type: ignore[union-attr]
    assert list(data["series"]) == ["production"]
    assert sum(data["series"]["production"]) == sum(data["tokens"]) > 0
    bad, message = _create_key(person, org.group(1), expires_on="next tuesday")
    assert bad == 400
    assert "YYYY-MM-DD" in message
    refused = person.post("/console/keys", {"org": org.group(1), "name": "x"}, csrf=False)
    assert refused.status_code == 403
    revoke = re.search(r'action="(/console/keys/[^"]+/revoke)"', person.get("/console/keys").text)
    assert revoke is not None
    assert person.post(revoke.group(1), {"org": org.group(1)}).status_code == 303
    gone = app.get("/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401


def test_workspaces_limits_and_top_ups_from_the_console(person: Browser) -> None:
    person.sign_up("owner@acme.example")
    org = re.search(r'name="org" value="([^"]+)"', person.get("/console/keys").text)
    assert org is not None
    slug = org.group(1)
    made = person.post("/console/workspaces", {"org": slug, "name": "staging"})
    assert made.status_code == 303
    assert "staging" in person.get(made.headers["location"]).text
    limit = person.post("/console/spend-limit",
                        {"org": slug, "workspace": "staging", "monthly_limit": "25"})  # fmt: skip
    assert "notice flash error" not in person.get(limit.headers["location"]).text
    assert "25.00" in person.get("/console/usage").text
    bad = person.post("/console/spend-limit", {"org": slug, "monthly_limit": "lots"})
    assert bad.status_code == 400  # in place, on the usage page (test_refusals.py)
    assert 'data-testid="refusal"' in bad.text
    bought = person.post("/console/top-ups", {"org": slug, "amount": "50.00"})
    assert bought.status_code == 303
    billing_page = person.get("/console/billing").text
    assert "No invoice yet." not in billing_page  # the top-up's invoice, to pay
    assert "finalized" in billing_page
    refused = person.post("/console/top-ups", {"org": slug, "amount": "1"}, csrf=False)
    assert refused.status_code == 403


def test_another_organisation_is_not_found_anywhere(
    person: Browser, other_person: Browser, database: Database
) -> None:
    person.sign_up("owner@acme.example")
    other_person.sign_up("owner@globex.example")
    theirs = _org_of(database, "owner@globex.example")
    with database.session() as session:
        billing.subscribe(session, theirs.id, "support-standard",
                          now=datetime(2026, 11, 2, tzinfo=UTC), default_currency="USD",
                          actor=Actor.command_line())  # fmt: skip
    run = platform.run_invoices(
        database, Actor.command_line(), "2026-11", organization=theirs.id, finalize=False,
        settings=BillingSettings(), default_currency="USD", settle_seconds=0,
        now=datetime(2026, 11, 20, tzinfo=UTC),
    )  # fmt: skip
    invoice = run.results[0].invoice.id
    for path in PAGES:
        response = person.get(f"{path}?org={theirs.slug}")
        assert response.status_code == 404, path
        assert "globex" not in response.text
    for ref in (f"{invoice}.pdf", f"{invoice}.html"):
        assert person.get(f"/console/invoices/{ref}").status_code == 404
        assert other_person.get(f"/console/invoices/{ref}").status_code == 200
    key = person.post("/console/keys", {"org": theirs.slug, "name": "sneaky"})
    assert key.status_code == 404
    # Even a billing user of the operator's organisation reads only that organisation's
    # invoices in the console (the operator's console is for its owners and admins).
    ops = Organization(id="org_ops", name="Ops", slug="ops", is_operator=True)
    with database.session() as session:
        session.add(ops)
    _join(database, "owner@acme.example", ops, Role.BILLING)
    for ref in (f"{invoice}.pdf", f"{invoice}.html"):
        assert person.get(f"/console/invoices/{ref}?org=ops").status_code == 404


@pytest.mark.parametrize(("role", "reads", "writes"), [
    (Role.MEMBER, 403, 403), (Role.BILLING, 200, 403), (Role.ADMIN, 200, 201),
])  # fmt: skip
def test_what_each_role_may_do(
    person: Browser, other_person: Browser, database: Database, role: Role, reads: int,
    writes: int,
) -> None:  # fmt: skip
    other_person.sign_up("owner@globex.example")
    person.sign_up("someone@globex.example")
    globex = _org_of(database, "owner@globex.example")
    _join(database, "someone@globex.example", globex, role)
    for path in PAGES:
        assert person.get(f"{path}?org={globex.slug}").status_code == reads, path
    person.get("/console/keys")  # a page of their own, for a fresh CSRF token
    status, _ = _create_key(person, globex.slug)
    assert status == writes


def test_signed_out_goes_to_sign_in(person: Browser) -> None:
    for path in PAGES:
        response = person.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/console")


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.BILLING, Role.MEMBER])
def test_every_console_form_follows_the_permission_table(
    person: Browser, other_person: Browser, database: Database, role: Role
) -> None:
    """Each form of the console, posted by each role: done exactly when the table in
    levante/tenancy/permissions.py grants the permission its service needs; a refusal reads
    in place (the console's page again, 403, saying why), never as a page of its own."""
    from levante.audit import Actor
    from levante.tenancy.permissions import granted
    from levante.vocabulary import Permission

    other_person.sign_up("owner@globex.example")
    person.sign_up("someone@globex.example")
    globex = _org_of(database, "owner@globex.example")
    _join(database, "someone@globex.example", globex, role)
    allowed = granted(Actor.user(globex.id, "", role), operator_organization=False)
    slug = globex.slug
    forms = [
        ("/console/workspaces", {"name": "staging"}, Permission.MANAGE_KEYS),
        ("/console/spend-limit", {"monthly_limit": "25"}, Permission.CHANGE_LIMITS),
        ("/console/top-ups", {"amount": "50.00"}, Permission.BUY),
        ("/console/billing-details", {"legal_name": "Globex SAS"}, Permission.BUY),
        (
            "/console/members",
            {"email": "new@globex.example", "role": "member"},
            Permission.MANAGE_MEMBERS,
        ),
    ]
    for path, fields, permission in forms:
        person.get(f"/console/usage?org={slug}")
        if Permission.OPEN_CONSOLE not in allowed:
            person.get("/chat")  # a page of their own, for a fresh CSRF token
        posted = person.post(path, {"org": slug, **fields})
        if Permission.OPEN_CONSOLE not in allowed:
            assert posted.status_code == 403, (role, path)
            continue
        if permission in allowed:
            assert posted.status_code == 303, (role, path, posted.text)
            assert "notice flash error" not in person.get(posted.headers["location"]).text
        else:
            assert posted.status_code == 403, (role, path, posted.text)
            assert 'data-testid="refusal"' in posted.text, (role, path)
            assert 'aria-label="Console"' in posted.text  # the console's page, not an error page


def _slug(person: Browser) -> str:
    found = re.search(r'name="org" value="([^"]+)"', person.get("/console/keys").text)
    assert found is not None
    return found.group(1)


def _row_of(page: str, name: str) -> str:
    """The keys table's row of the key ``name``, as HTML."""
    rows: list[str] = re.findall(r"<tr[^>]*>.*?</tr>", page.split('id="keys"')[1], re.S)
    return next(row for row in rows if f"<td>{name}" in row)


def test_each_key_shows_when_it_was_last_used(person: Browser, app: TestClient) -> None:
    person.sign_up("owner@acme.example")
    slug = _slug(person)
    made = person.post("/console/keys", {"org": slug, "name": "production"})
    secret = re.search(r'id="new-secret">([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
    # The secret shown once has its Copy button (shown by console.js, which the page loads).
    assert re.search(r'<button type="button" id="copy-secret" data-copies="new-secret" hidden>'
                     r"Copy</button>", made.text)  # fmt: skip
    assert "/static/console.js" in made.text
    person.post("/console/keys", {"org": slug, "name": "spare"})
    keys = person.get("/console/keys").text
    assert "<th>Last used</th>" in keys
    assert "never" in _row_of(keys, "production")
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    used = app.post("/v1/embeddings", json={"model": "smollm2", "input": "hello"},
                    headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    assert used.status_code == 200
    keys = person.get("/console/keys").text  # at once: the page flushes the ledger first
    shown = re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d) UTC</td>", _row_of(keys, "production"))
    assert len(shown) == 2  # created, and last used
    last_used = datetime.fromisoformat(shown[1]).replace(tzinfo=UTC)
    assert before <= last_used <= datetime.now(UTC)
    assert "never" in _row_of(keys, "spare")


def _details(page: str) -> dict[str, str]:
    """What the billing details' form holds."""
    form = page.split('id="billing-details"')[1].split("</form>")[0]
    values = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', form))
    values["address"] = re.search(r'name="address"[^>]*>([^<]*)</textarea>', form).group(1)  # type: ignore[union-attr]
    values["kind"] = re.search(r'<option value="(\w+)" selected>', form).group(1)  # type: ignore[union-attr]
    return values


def test_the_billing_details_are_edited_in_the_console(person: Browser, database: Database) -> None:
    person.sign_up("owner@acme.example")
    slug = _slug(person)
    page = person.get("/console/billing").text
    assert _details(page) | {"csrf_token": ""} == {
        "csrf_token": "", "org": slug, "legal_name": "", "email": "", "address": "",
        "country": "", "vat_number": "", "kind": "consumer",
    }  # fmt: skip
    hostile = "Acme <script>alert(1)</script> SAS"
    fields = {
        "org": slug, "legal_name": hostile, "email": "billing@acme.example",
        "address": "1 rue de la Paix\n75002 Paris", "country": "fr",
        "vat_number": "FR 12345678901", "kind": "business",
    }  # fmt: skip
    saved = person.post("/console/billing-details", fields)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/console/billing?org={slug}"
    page = person.get(saved.headers["location"]).text
    assert "The billing details are saved" in page
    assert "<script>alert(1)</script>" not in page
    assert "Acme &lt;script&gt;alert(1)&lt;/script&gt; SAS, FR, VAT FR12345678901" in page
    details = _details(page)
    assert (details["country"], details["vat_number"]) == ("FR", "FR12345678901")
    assert details["address"] == "1 rue de la Paix\n75002 Paris"
    assert details["kind"] == "business"
    org = _org_of(database, "owner@acme.example")
    with database.session() as session:
        account = billing.account_of(session, Actor.command_line(), org.id,
                                     default_currency="USD")  # fmt: skip
        assert (account.legal_name, account.email, account.is_business) == (
            hostile, "billing@acme.example", True)  # fmt: skip
    # Refused, in place: the reason in words beside the form, what was typed still in it.
    bad = person.post("/console/billing-details", fields | {"vat_number": "DE123", "email": "x"})
    assert bad.status_code == 400
    assert "The billing email must be an email address, like billing@example.com." in bad.text
    assert _details(bad.text)["email"] == "x"
    assert _details(bad.text)["vat_number"] == "DE123"
    bad = person.post("/console/billing-details", fields | {"vat_number": "DE123"})
    assert bad.status_code == 400
    assert "The VAT number is not one of FR&#39;s" in bad.text
    bad = person.post("/console/billing-details", fields | {"country": "France"})
    assert "The country must be its two-letter code (ISO 3166), like FR or US." in bad.text
    assert _details(bad.text)["country"] == "France"
    forged = person.post("/console/billing-details", fields | {"legal_name": "x"}, csrf=False)
    assert forged.status_code == 403
    with database.session() as session:
        account = billing.account_of(session, Actor.command_line(), org.id,
                                     default_currency="USD")  # fmt: skip
        assert (account.legal_name, account.vat_number) == (hostile, "FR12345678901")


@pytest.mark.parametrize(("path", "fields", "said"), [
    ("/console/spend-limit", {"monthly_limit": "lots"},
     "The monthly limit must be a number, like 20 or 20.50."),
    ("/console/top-ups", {"amount": "abc"}, "The amount must be a number, like 20 or 20.50."),
    ("/console/top-ups", {"amount": "20.505"}, "The amount must be in whole cents, like 20 or"),
    ("/console/workspaces", {"name": "default"},
     "There is a workspace named default already: choose another name."),
])  # fmt: skip
def test_a_refused_amount_is_said_in_words(
    person: Browser, path: str, fields: dict[str, str], said: str
) -> None:
    """A refusal reads as a sentence for people, not as the field's name and the raw value
    ("monthly_limit: 'lots' is not a decimal amount")."""
    person.sign_up("owner@acme.example")
    refused = person.post(path, {"org": _slug(person), **fields})
    assert refused.status_code in (400, 409)
    message = re.search(r'data-testid="refusal">([^<]*)<', refused.text).group(1)  # type: ignore[union-attr]
    assert message.startswith(said), message
    assert "_" not in message, message  # no field's name
    assert "&#39;" not in message, message  # no value quoted


def test_usage_is_split_by_product(person: Browser, app: TestClient) -> None:
    """Issue 29: chat messages were mixed into the API's usage, at 0.00 under key "—"."""
    person.sign_up("owner@acme.example")
    status, _ = person.send("Say hi")
    assert status == 200
    org = re.search(r'name="org" value="([^"]+)"', person.get("/console/keys").text)
    assert org is not None
    _, secret = _create_key(person, org.group(1))
    app.post("/v1/embeddings", json={"model": "smollm2", "input": "hello"},
             headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    api = person.get(f"/console/usage?org={org.group(1)}").text
    by_product = re.search(r'id="by-product">.*?</table>', api, re.S)
    assert by_product is not None
    assert ">api<" in by_product.group(0)
    assert ">chat<" in by_product.group(0)
    by_key = re.search(r'id="by-key">.*?</table>', api, re.S)
    assert by_key is not None
    assert "production" in by_key.group(0)
    assert "—" not in by_key.group(0)  # the chat's messages have no key: not in the API's
    chat = person.get(f"/console/usage?org={org.group(1)}&product=chat").text
    assert 'Usage <span class="hint">Chat,' in chat
    assert 'id="by-key"' not in chat


def test_members_are_managed_from_the_console(
    person: Browser, other_person: Browser, database: Database
) -> None:
    """Issue 29: members were read-only, with a pointer to the operator's command line."""
    person.sign_up("owner@globex.example")
    other_person.sign_up("admin@globex.example")
    globex = _org_of(database, "owner@globex.example")
    _join(database, "admin@globex.example", globex, Role.ADMIN)
    slug = globex.slug
    other_person.get(f"/console/members?org={slug}")
    added = other_person.post("/console/members", {"org": slug, "email": "dev@globex.example"})
    assert added.status_code == 303
    page = other_person.get(added.headers["location"]).text
    assert "dev@globex.example is added" in page
    assert "dev@globex.example" in page.split('id="members"')[1]
    changed = other_person.post(
        "/console/members", {"org": slug, "email": "dev@globex.example", "role": "billing"}
    )
    assert "dev@globex.example is now billing" in other_person.get(changed.headers["location"]).text
    # An admin makes no owner: refused in place, what was typed kept.
    owner = other_person.post(
        "/console/members", {"org": slug, "email": "boss@globex.example", "role": "owner"}
    )
    assert (owner.status_code, 'data-testid="refusal"' in owner.text) == (403, True)
    assert 'value="boss@globex.example"' in owner.text
    table = other_person.get(f"/console/members?org={slug}").text.split('id="members"')[1]
    dev = re.search(r'<td>dev@globex.example</td>.*?action="(/console/members/[^"/]+/remove)"',
                    table, re.S)  # fmt: skip
    assert dev is not None
    gone = other_person.post(dev.group(1), {"org": slug})
    assert (
        "dev@globex.example is no longer a member"
        in other_person.get(gone.headers["location"]).text
    )
    # The last owner stays: refused in place by the service.
    person.get(f"/console/members?org={slug}")
    mine = person.get(f"/console/members?org={slug}").text.split('id="members"')[1]
    me = re.search(r'<td>owner@globex.example</td>.*?action="(/console/members/[^"/]+/remove)"',
                   mine, re.S)  # fmt: skip
    assert me is not None
    last = person.post(me.group(1), {"org": slug})
    assert (last.status_code, 'data-testid="refusal"' in last.text) == (409, True)
