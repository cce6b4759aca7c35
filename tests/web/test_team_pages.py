"""Chat Team over HTTP: the owner invites by email, the invited person joins and chats on the
Team's plan, seats are counted, and nobody else reaches the team or its invitations."""

from __future__ import annotations

import re

from sqlalchemy import select

from levante.storage import Database
from levante.storage.models import Membership, UsageRecord, User
from tests.helpers import mailed_link
from tests.web.conftest import PASSWORD, Browser


def _team(owner: Browser, seats: int = 2) -> None:
    owner.get("/account")
    owner.post("/account/country", {"country": "FR"})
    chosen = owner.post("/account/plan", {"plan": "chat-team-monthly", "seats": str(seats)})
    assert chosen.status_code == 303
    assert "trial runs until" in owner.get(chosen.headers["location"]).text


def _invite(owner: Browser, email: str) -> str:
    owner.get("/chat/team")
    page = owner.post("/chat/team/invite", {"email": email})
    assert page.status_code == 200, page.text
    link = re.search(r'value="(http[^"]+/chat/join/[^"]+)"', page.text)
    assert link is not None, "without a mail server the owner sees the link"
    return link.group(1).split("127.0.0.1:8080", 1)[1]


def test_an_invited_person_signs_up_joins_and_chats_on_the_team(
    person: Browser, other_person: Browser, database: Database
) -> None:
    person.sign_up("owner@example.com")
    _team(person)
    join = _invite(person, "member@example.com")
    assert "1 of 2 seats taken" not in person.get("/chat/team").text
    assert "2 of 2 seats taken" in person.get("/chat/team").text  # the invitation holds one
    page = other_person.get(join)
    assert page.status_code == 200
    assert "Create an account for member@example.com" in page.text
    token = join.rsplit("/", 1)[1]
    other_person.get(f"/signup?invitation={token}&email=member@example.com")
    asked = other_person.post("/signup", {"email": "member@example.com", "invitation": token})
    assert "Check your mail" in asked.text  # the invitation link proves nothing: the mail does
    confirm = mailed_link(database, "member@example.com", "/signup/confirm/")
    other_person.get(confirm)
    assert other_person.post(confirm, {"password": PASSWORD}).status_code == 303
    other_person.get(join)
    assert other_person.post(join).status_code == 303
    assert "Chat Team" in other_person.get("/chat/team").text
    status, events = other_person.send("Hello from the team")
    assert status == 200
    conversation = events[0]["conversation_id"]
    # The owner sees the member in the team, never their conversation.
    assert "member@example.com" in person.get("/chat/team").text
    assert person.get(f"/chat/c/{conversation}").status_code == 404
    with database.session() as session:
        record = session.scalars(
            select(UsageRecord).where(UsageRecord.endpoint == "chat.message")
        ).one()
        owner = session.scalars(select(User).where(User.email == "owner@example.com")).one()
        member = session.scalars(select(User).where(User.email == "member@example.com")).one()
        team_org = session.scalars(
            select(Membership.organization_id).where(
                Membership.user_id == owner.id, Membership.role == "owner"
            )
        ).one()
    # Billed to the team's organisation, as the member's message.
    assert (record.product, record.user_id, record.organization_id) == (
        "chat",
        member.id,
        team_org,
    )


def test_an_invitation_past_the_seats_is_refused(person: Browser) -> None:
    person.sign_up("owner@example.com")
    _team(person, seats=2)
    _invite(person, "one@example.com")
    refused = person.post("/chat/team/invite", {"email": "two@example.com"})
    assert refused.status_code == 409
    assert "all 2 seats are taken" in refused.text
    assert person.post("/chat/team/seats", {"seats": "3"}).status_code == 303
    assert "2 of 3 seats taken" in person.get("/chat/team").text
    assert person.post("/chat/team/invite", {"email": "two@example.com"}).status_code == 200
    too_few = person.post("/chat/team/seats", {"seats": "1"})
    assert too_few.status_code == 400
    assert "seats are taken" in too_few.text


def test_invitations_are_only_the_invited_persons(person: Browser, other_person: Browser) -> None:
    person.sign_up("owner@example.com")
    _team(person)
    join = _invite(person, "member@example.com")
    other_person.sign_up("stranger@example.com")  # signed in as someone else
    assert other_person.get(join).status_code == 404
    assert other_person.post(join).status_code == 404
    assert other_person.get("/chat/join/inv-forged").status_code == 404
    # A stranger manages no team: the owner's invitations and members are out of reach.
    page = person.get("/chat/team")
    invitation = re.search(r"/chat/team/invitations/(inv_\w+)/withdraw", page.text)
    assert invitation is not None
    other_person.get("/chat/team")
    assert (
        other_person.post(f"/chat/team/invitations/{invitation.group(1)}/withdraw").status_code
        == 404
    )
    # Their own invitations are for their own organisation, which is not on a Team plan.
    own = other_person.post("/chat/team/invite", {"email": "x@example.com"})
    assert own.status_code == 409
    assert "invitations are for a Team plan" in own.text
    # The owner withdraws it: the link is dead.
    person.get("/chat/team")
    assert person.post(f"/chat/team/invitations/{invitation.group(1)}/withdraw").status_code == 303
    assert other_person.get(join).status_code == 404
