"""First start: an empty database gets a default organisation and one admin key."""

from __future__ import annotations

from levante.storage import Database
from levante.tenancy.records import (
    IssuedKey,
    count_organizations,
    create_api_key,
    create_organization,
)


def bootstrap(database: Database, organization_name: str) -> IssuedKey | None:
    """Create the operator's organisation and an admin key if no organisation exists yet."""
    with database.session() as session:
        if count_organizations(session) > 0:
            return None
        org = create_organization(session, organization_name)
        org.is_operator = True  # the operator's own: manages prices and other tiers
        return create_api_key(session, org.id, "bootstrap admin key", is_admin=True)
