"""Tenancy: organisations, workspaces, users with roles, and API keys.

The front ends call :mod:`levante.tenancy.services` (re-exported here): each action checks the
actor, audits and tells the caches. The building blocks under them are in
:mod:`levante.tenancy.records`, for the other packages and for tests.
"""

from levante.storage.models import ApiKey, Invitation, Role
from levante.tenancy.auth import KeyAuthenticator, key_principal
from levante.tenancy.bootstrap import bootstrap
from levante.tenancy.invitations import accept_invitation, accept_on_behalf, invitation_of
from levante.tenancy.permissions import may, member_actor, refusal, require, require_granted
from levante.tenancy.principal import Principal
from levante.tenancy.records import (
    DEFAULT_WORKSPACE,
    IssuedKey,
    count_seats,
    create_api_key,
    create_organization,
    create_workspace,
    find_organization,
    find_workspace,
)
from levante.tenancy.services import (
    ConsoleSeat,
    acting_on,
    add_member,
    add_workspace,
    audit_log,
    audit_trail,
    console_organizations,
    console_seat,
    create_key,
    keys_last_used,
    list_keys,
    list_organizations,
    listing_scope,
    members,
    open_organization,
    operator_console,
    remove_member,
    require_operator,
    revoke_key,
    sees_all,
    workspaces_of,
)

__all__ = [
    "DEFAULT_WORKSPACE",
    "ApiKey",
    "ConsoleSeat",
    "Invitation",
    "IssuedKey",
    "KeyAuthenticator",
    "Principal",
    "Role",
    "accept_invitation",
    "accept_on_behalf",
    "acting_on",
    "add_member",
    "add_workspace",
    "audit_log",
    "audit_trail",
    "bootstrap",
    "console_organizations",
    "console_seat",
    "count_seats",
    "create_api_key",
    "create_key",
    "create_organization",
    "create_workspace",
    "find_organization",
    "find_workspace",
    "invitation_of",
    "key_principal",
    "keys_last_used",
    "list_keys",
    "list_organizations",
    "listing_scope",
    "may",
    "member_actor",
    "members",
    "open_organization",
    "operator_console",
    "refusal",
    "remove_member",
    "require",
    "require_granted",
    "require_operator",
    "revoke_key",
    "sees_all",
    "workspaces_of",
]
