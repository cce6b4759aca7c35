"""The front door: ``/`` as a stranger finds it (a landing page) and as each kind of person
does (sent where they belong); an invitation to an organisation, accepted only by the person
signed in as the invited address."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from levante import tenancy
from levante.audit import Actor
from levante.storage import Database, new_id
from levante.storage.models import Membership, Organization, Role, User
from tests.helpers import mailed_link, make_tenant
from tests.web.conftest import Browser, join_operator


def test_a_stranger_finds_a_landing_page(app: TestClient) -> None:
    page = Browser(app).get("/", follow_redirects=False)
    assert page.status_code == 200
    assert 'href="/signup"' in page.text
    assert 'href="/login"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def _member_of(database: Database, email: str, organization_id: str, role: Role) -> None:
    with database.session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        session.add(Membership(user_id=user.id, organization_id=organization_id, role=role))


@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("operator admin", "/console/operator"),
        ("agent", "/support/queue"),
        ("customer admin", "/console"),
        ("customer member", "/chat"),
        ("newcomer", "/chat"),
    ],
)
def test_each_person_is_sent_where_they_belong(
    person: Browser, database: Database, who: str, home: str
) -> None:
    """Issue 29: everyone, agents and the operator included, landed in the chat."""
    email = f"{who.replace(' ', '-')}@example.com"
    if who == "operator admin":
        join_operator(database, person, email, Role.ADMIN)
    elif who == "agent":
        join_operator(database, person, email, Role.SUPPORT)
    else:
        person.sign_up(email)
        if who.startswith("customer"):
            acme = make_tenant(database, f"Acme {new_id('x')}").organization_id
            _member_of(database, email, acme, Role.ADMIN if who.endswith("admin") else Role.MEMBER)
    assert person.get("/", follow_redirects=False).headers["location"] == home
    assert person.get(home).status_code == 200


def test_an_invitation_is_accepted_only_signed_in_as_its_address(
    person: Browser, other_person: Browser, database: Database
) -> None:
    """Probe: a Team's owner, shown the link, accepted it for the invitee through an API route
    that took the secret alone."""
    person.sign_up("ana@example.com")
    other_person.sign_up("mallory@example.com")
    with database.session() as session:
        acme = tenancy.open_organization(session, Actor.command_line(), name="Acme", slug="acme")
        tenancy.add_member(
            session, Actor.command_line(), "acme", email="ana@example.com", role=Role.ADMIN,
            public_url="http://testserver",
        )  # fmt: skip
    link = mailed_link(database, "ana@example.com", "/invitations/")
    assert re.fullmatch(r"/invitations/inv-[\w-]+", link)

    stranger = Browser(person._client)
    offered = stranger.get(link)
    assert "Sign in as ana@example.com" in offered.text
    assert "Accept" not in offered.text

    wrong = other_person.get(link)
    assert "This invitation is for ana@example.com" in wrong.text
    refused = other_person.post(link, {})
    assert refused.status_code == 404
    with database.session() as session:
        assert session.scalar(
            select(Membership).join(User).where(User.email == "mallory@example.com",
                                                Membership.organization_id == acme.id)
        ) is None  # fmt: skip

    assert "Accept and join Acme" in person.get(link).text
    joined = person.post(link, {})
    assert joined.status_code == 303, joined.text[-1500:]
    assert (joined.status_code, joined.headers["location"]) == (303, "/")
    assert "You joined Acme as admin." in person.get("/console").text
    with database.session() as session:
        assert session.scalars(select(Organization).where(Organization.slug == "acme")).one()
    assert person.post(link, {}).status_code == 404  # used
