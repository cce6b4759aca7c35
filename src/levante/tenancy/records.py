"""Organisations, workspaces, users and API keys: the operations on them, scoped by tenant.

Every function that touches another tenant's rows takes the caller's organisation id and
answers ``NotFoundError`` for rows outside it, so one tenant cannot even learn that another's
key exists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.storage import Topic, announce, as_utc, fit, new_id, utcnow
from levante.storage.models import (
    ApiKey,
    Membership,
    Organization,
    Role,
    UsageRecord,
    User,
    Workspace,
)
from levante.tenancy.keys import display_prefix, generate_secret, hash_secret

DEFAULT_WORKSPACE = "default"
KEY_LIFETIME = timedelta(days=3653)  # the furthest a key's expiry may lie: ten years
_SLUG_RE = re.compile(r"[\W_]+")  # anything but a letter or a digit, of any script
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly created key: the row, and the secret that is shown this one time."""

    key: ApiKey
    secret: str


def slugify(name: str) -> str:
    """A short name for addresses and the command line, in the name's own script: letters and
    digits of any alphabet ("Łódź Ёлка" gives "łódź-ёлка"), the rest one dash."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    slug = _SLUG_RE.sub("-", folded).strip("-")[:64].strip("-")
    if not slug:
        raise InvalidRequestError(f"'{name}' gives an empty slug", param="name")
    return slug


def create_organization(session: Session, name: str, slug: str | None = None) -> Organization:
    """Create an organisation with its default workspace."""
    name = fit(Organization.name, name.strip())
    if not name:
        raise InvalidRequestError("an organisation needs a name", param="name")
    slug = slugify(slug or name)
    if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise ConflictError(f"an organisation with slug '{slug}' exists", param="slug")
    org = Organization(id=new_id("org"), name=name, slug=slug)
    session.add(org)
    session.add(Workspace(id=new_id("ws"), organization_id=org.id, name=DEFAULT_WORKSPACE))
    session.flush()
    return org


def find_organization(session: Session, ref: str) -> Organization:
    """An organisation by id or slug."""
    org = session.scalar(
        select(Organization).where((Organization.id == ref) | (Organization.slug == ref))
    )
    if org is None:
        raise NotFoundError(f"no organisation '{ref}'", param="organization")
    return org


def list_organizations(session: Session) -> Sequence[Organization]:
    return session.scalars(select(Organization).order_by(Organization.created_at)).all()


def count_organizations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Organization)) or 0


def create_workspace(session: Session, organization_id: str, name: str) -> Workspace:
    name = fit(Workspace.name, name.strip())
    if not name:
        raise InvalidRequestError("a workspace needs a name", param="name")
    exists = session.scalar(
        select(Workspace.id).where(
            Workspace.organization_id == organization_id, Workspace.name == name
        )
    )
    if exists is not None:
        raise ConflictError(
            f"There is a workspace named {name} already: choose another name.", param="name"
        )
    workspace = Workspace(id=new_id("ws"), organization_id=organization_id, name=name)
    session.add(workspace)
    session.flush()
    return workspace


def find_workspace(session: Session, organization_id: str, ref: str) -> Workspace:
    """A workspace of the organisation, by id or name."""
    workspace = session.scalar(
        select(Workspace).where(
            Workspace.organization_id == organization_id,
            (Workspace.id == ref) | (Workspace.name == ref),
        )
    )
    if workspace is None:
        raise NotFoundError(f"no workspace '{ref}' in this organisation", param="workspace")
    return workspace


def list_workspaces(session: Session, organization_id: str) -> list[Workspace]:
    return list(
        session.scalars(
            select(Workspace)
            .where(Workspace.organization_id == organization_id)
            .order_by(Workspace.name)
        )
    )


def create_api_key(
    session: Session,
    organization_id: str,
    name: str,
    *,
    workspace: str = DEFAULT_WORKSPACE,
    is_admin: bool = False,
    expires_at: datetime | None = None,
    allowed_models: Sequence[str] | None = None,
) -> IssuedKey:
    """Issue a key in one of the organisation's workspaces."""
    name = fit(ApiKey.name, name.strip())
    if not name:
        raise InvalidRequestError("an API key needs a name", param="name")
    if expires_at is not None:
        expires_at = as_utc(expires_at, param="expires_at")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidRequestError("expiry must lie in the future", param="expires_at")
    if expires_at is not None and expires_at > utcnow() + KEY_LIFETIME:
        raise InvalidRequestError(
            f"expiry must lie within {KEY_LIFETIME.days // 365} years from now", param="expires_at"
        )
    ws = find_workspace(session, organization_id, workspace)
    secret = generate_secret()
    key = ApiKey(
        id=new_id("key"),
        organization_id=organization_id,
        workspace_id=ws.id,
        name=name,
        secret_hash=hash_secret(secret),
        display_prefix=display_prefix(secret),
        is_admin=is_admin,
        expires_at=expires_at,
        allowed_models=sorted(set(allowed_models)) if allowed_models else None,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, secret=secret)


def list_api_keys(
    session: Session, organization_id: str, *, include_revoked: bool = False
) -> Sequence[ApiKey]:
    query = select(ApiKey).where(ApiKey.organization_id == organization_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return session.scalars(query.order_by(ApiKey.created_at, ApiKey.id)).all()


def keys_last_used(session: Session, organization_id: str) -> dict[str, datetime]:
    """When each of the organisation's keys last made a request, from the usage ledger (the
    start of its newest record); a key never used is not in it."""
    # One look-up per key down its (api_key_id, started_at) index, however long the ledger.
    newest = (
        select(func.max(UsageRecord.started_at))
        .where(UsageRecord.api_key_id == ApiKey.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(ApiKey.id, newest).where(ApiKey.organization_id == organization_id)
    ).all()
    return {key_id: as_utc(last) for key_id, last in rows if last is not None}


def get_api_key(session: Session, organization_id: str, key_id: str) -> ApiKey:
    key = session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.organization_id == organization_id)
    )
    if key is None:
        raise NotFoundError(f"no API key '{key_id}'", param="key_id")
    return key


def revoke_api_key(session: Session, organization_id: str, key_id: str) -> ApiKey:
    """Revoke a key of the organisation; revoking twice keeps the first time."""
    announce(session, Topic.API_KEYS, organization_id)
    key = get_api_key(session, organization_id, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def count_seats(session: Session) -> int:
    """Seats in use: users who are members of at least one organisation."""
    return int(session.scalar(select(func.count(func.distinct(Membership.user_id)))) or 0)


def normalise_email(email: str) -> str:
    """``email`` trimmed and lower-cased, if it is an email address."""
    email = email.strip().lower()
    if not _EMAIL_RE.match(email) or len(email) > 320:
        raise InvalidRequestError(f"'{email}' is not an email address", param="email")
    return email


def add_member(
    session: Session,
    organization_id: str,
    email: str,
    role: Role,
    name: str = "",
    *,
    seat_check: Callable[[int], None] | None = None,
) -> User:
    """Add a user (created on first use) to an organisation with a role. A user who belongs to
    no organisation yet takes a seat: ``seat_check`` is given the seats there would then be,
    and may refuse."""
    email = normalise_email(email)
    user = session.scalar(select(User).where(User.email == email))
    takes_seat = user is None or (
        session.scalar(select(Membership.user_id).where(Membership.user_id == user.id).limit(1))
        is None
    )
    if takes_seat and seat_check is not None:
        seat_check(count_seats(session) + 1)
    if user is None:
        user = User(id=new_id("user"), email=email, name=name)
        session.add(user)
        session.flush()
    existing = session.get(Membership, (user.id, organization_id))
    if existing is not None:
        if role != Role.OWNER:
            keep_an_owner(session, existing)
        existing.role = role.value
    else:
        session.add(Membership(user_id=user.id, organization_id=organization_id, role=role.value))
    session.flush()
    return user


def keep_an_owner(session: Session, leaving: Membership) -> None:
    """Refuse (409) to take the owner role from ``leaving`` when it is its organisation's last
    owner: every organisation keeps someone who can manage it. The organisation's row is
    written first, which serialises every such change on both databases (SQLite ignores
    FOR UPDATE), so two owners demoting each other at once cannot both succeed."""
    if leaving.role != Role.OWNER:
        return
    session.execute(
        update(Organization)
        .where(Organization.id == leaving.organization_id)
        .values(slug=Organization.slug)
    )
    session.refresh(leaving)
    owners = session.scalars(
        select(Membership.user_id).where(
            Membership.organization_id == leaving.organization_id,
            Membership.role == Role.OWNER,
        )
    ).all()
    if leaving.role == Role.OWNER and set(owners) <= {leaving.user_id}:
        raise ConflictError(
            "an organisation needs an owner: make someone else owner first", param="role"
        )


def list_members(session: Session, organization_id: str) -> list[tuple[User, str]]:
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization_id)
        .order_by(User.email)
    ).all()
    return [(user, role) for user, role in rows]


def remove_member(session: Session, organization_id: str, user_id: str) -> User:
    """Take a user out of an organisation (their seat is freed if it was their last)."""
    membership = session.get(Membership, (user_id, organization_id))
    if membership is None:
        raise NotFoundError(f"user '{user_id}' is not a member")
    keep_an_owner(session, membership)
    session.delete(membership)
    session.flush()
    return session.get_one(User, user_id)
