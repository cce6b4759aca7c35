"""Organisations, workspaces, users and keys on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from levante.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from levante.storage import Database, utcnow
from levante.storage.models import ApiKey, Membership, Role, Workspace
from levante.tenancy import KeyAuthenticator, bootstrap
from levante.tenancy.keys import hash_secret
from levante.tenancy.records import (
    add_member,
    create_api_key,
    create_organization,
    create_workspace,
    find_organization,
    list_api_keys,
    revoke_api_key,
)


def test_organisation_gets_a_default_workspace(database: Database) -> None:
    with database.session() as session:
        org = create_organization(session, "Acme Corp")
        assert org.slug == "acme-corp"
        names = session.scalars(select(Workspace.name).where(Workspace.organization_id == org.id))
        assert list(names) == ["default"]
        assert find_organization(session, "acme-corp").id == org.id
        assert find_organization(session, org.id).slug == "acme-corp"


def test_duplicate_and_empty_organisations(database: Database) -> None:
    with database.session() as session:
        create_organization(session, "Acme")
        with pytest.raises(ConflictError):
            create_organization(session, "ACME")
        with pytest.raises(InvalidRequestError):
            create_organization(session, "  ")
        with pytest.raises(NotFoundError):
            find_organization(session, "nobody")


def test_key_secret_is_shown_once_and_stored_as_a_hash(database: Database) -> None:
    with database.session() as session:
        org = create_organization(session, "Acme")
        issued = create_api_key(session, org.id, "ci")
    assert issued.secret.startswith("lv-")
    with database.session() as session:
        row = session.get(ApiKey, issued.key.id)
        assert row is not None
        assert row.secret_hash == hash_secret(issued.secret)
        assert issued.secret not in (row.secret_hash, row.display_prefix)
        assert issued.secret.startswith(row.display_prefix)


def test_authentication_follows_revocation_and_expiry(database: Database) -> None:
    auth = KeyAuthenticator(database, cache_seconds=0)
    with database.session() as session:
        org = create_organization(session, "Acme")
        key = create_api_key(session, org.id, "ci", allowed_models=["m"])
        short = create_api_key(session, org.id, "short", expires_at=utcnow() + timedelta(hours=1))
    principal = auth.authenticate(key.secret)
    assert principal.organization_id == org.id
    assert principal.may_use("m")
    assert not principal.may_use("other")
    assert auth.authenticate(short.secret).expires_at is not None

    with database.session() as session:
        revoke_api_key(session, org.id, key.key.id)
        session.get_one(ApiKey, short.key.id).expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(AuthenticationError):
        auth.authenticate(key.secret)
    with pytest.raises(AuthenticationError, match="expired"):
        auth.authenticate(short.secret)


def test_cached_lookups_see_local_revocations(database: Database) -> None:
    auth = KeyAuthenticator(database, cache_seconds=60)
    with database.session() as session:
        org = create_organization(session, "Acme")
        key = create_api_key(session, org.id, "ci")
    auth.authenticate(key.secret)
    with database.session() as session:
        revoke_api_key(session, org.id, key.key.id)
    auth.invalidate()
    with pytest.raises(AuthenticationError):
        auth.authenticate(key.secret)


def test_keys_are_scoped_to_their_organisation(database: Database) -> None:
    with database.session() as session:
        acme = create_organization(session, "Acme")
        globex = create_organization(session, "Globex")
        key = create_api_key(session, acme.id, "ci")
        with pytest.raises(NotFoundError):
            revoke_api_key(session, globex.id, key.key.id)
        with pytest.raises(NotFoundError):
            create_api_key(session, globex.id, "x", workspace=key.key.workspace_id)
        assert list_api_keys(session, globex.id) == []
        assert [k.id for k in list_api_keys(session, acme.id)] == [key.key.id]


def test_workspaces_and_members(database: Database) -> None:
    with database.session() as session:
        org = create_organization(session, "Acme")
        ws = create_workspace(session, org.id, "research")
        key = create_api_key(session, org.id, "r", workspace="research")
        assert key.key.workspace_id == ws.id
        with pytest.raises(ConflictError):
            create_workspace(session, org.id, "research")
        user = add_member(session, org.id, "Ada@Example.com", Role.OWNER)
        with pytest.raises(ConflictError):  # the only owner stays one
            add_member(session, org.id, "ada@example.com", Role.BILLING)
        add_member(session, org.id, "bob@example.com", Role.OWNER)
        add_member(session, org.id, "ada@example.com", Role.BILLING)
        membership = session.get_one(Membership, (user.id, org.id))
        assert membership.role == "billing"


def test_bootstrap_runs_once(database: Database) -> None:
    issued = bootstrap(database, "default")
    assert issued is not None
    assert issued.key.is_admin
    assert bootstrap(database, "default") is None


def test_slugs_are_made_from_any_script(database: Database) -> None:
    """Issue 29: "Łódź Ёлка" got the slug "d"."""
    with database.session() as session:
        assert create_organization(session, "Łódź Ёлка").slug == "łódź-ёлка"
        assert (
            create_organization(session, "Αθηναϊκή Ενέργεια Α.Ε.").slug == "αθηναϊκή-ενέργεια-α-ε"
        )
        assert create_organization(session, "ACME Corp.").slug == "acme-corp"
        assert find_organization(session, "łódź-ёлка").name == "Łódź Ёлка"
        with pytest.raises(InvalidRequestError):
            create_organization(session, "!!!")
