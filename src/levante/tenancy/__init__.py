"""Tenancy: organisations, workspaces, users with roles, and API keys."""

from levante.tenancy.auth import KeyAuthenticator
from levante.tenancy.bootstrap import bootstrap
from levante.tenancy.invitations import (
    MemberChange,
    accept_hint,
    accept_invitation,
    add_or_invite,
    list_invitations,
)
from levante.tenancy.principal import Principal
from levante.tenancy.service import (
    DEFAULT_WORKSPACE,
    IssuedKey,
    add_member,
    count_seats,
    create_api_key,
    create_organization,
    create_workspace,
    find_organization,
    find_workspace,
    get_api_key,
    list_api_keys,
    list_members,
    list_organizations,
    remove_member,
    revoke_api_key,
)

__all__ = [
    "DEFAULT_WORKSPACE",
    "IssuedKey",
    "KeyAuthenticator",
    "MemberChange",
    "Principal",
    "accept_hint",
    "accept_invitation",
    "add_member",
    "add_or_invite",
    "bootstrap",
    "count_seats",
    "create_api_key",
    "create_organization",
    "create_workspace",
    "find_organization",
    "find_workspace",
    "get_api_key",
    "list_api_keys",
    "list_invitations",
    "list_members",
    "list_organizations",
    "remove_member",
    "revoke_api_key",
]
