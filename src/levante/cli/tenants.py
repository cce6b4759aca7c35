"""``levante org …`` and ``levante key …``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from levante import identity, tenancy
from levante.cli.context import CLI, JsonOption, console, database, handled, settings, show
from levante.engine import ModelNames
from levante.licensing import open_guard
from levante.tenancy import DEFAULT_WORKSPACE, Role

org_app = typer.Typer(help="Organisations (customers) and their workspaces.", no_args_is_help=True)
key_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)

OrgOption = Annotated[str, typer.Option("--org", "-o", help="Organisation id or slug.")]


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="Display name.")],
    slug: Annotated[
        str | None, typer.Option(help="URL-safe short name (default: from name).")
    ] = None,
) -> None:
    """Create an organisation with a 'default' workspace."""
    with database() as db, db.session() as session:
        org = tenancy.open_organization(session, CLI, name=name, slug=slug)
        console.print(f"created organisation {org.name} id={org.id} slug={org.slug}")


@org_app.command("list")
def org_list(as_json: JsonOption = False) -> None:
    """List organisations."""
    with database() as db, db.session() as session:
        table = Table("slug", "name", "created")
        table.add_column("id", no_wrap=True, min_width=24)
        for org in tenancy.list_organizations(session, CLI):
            table.add_row(org.slug, org.name, org.created_at.isoformat(timespec="seconds"), org.id)
        show(table, as_json)


@org_app.command("workspace")
def org_workspace(org: OrgOption, name: Annotated[str, typer.Argument()]) -> None:
    """Add a workspace to an organisation."""
    with database() as db, db.session() as session:
        ws = tenancy.add_workspace(session, CLI, org, name=name)
        console.print(f"created workspace {ws.name} id={ws.id}")


@key_app.command("create")
def key_create(
    org: OrgOption,
    name: Annotated[str, typer.Option("--name", "-n", help="What the key is for.")],
    workspace: Annotated[str, typer.Option(help="Workspace id or name.")] = DEFAULT_WORKSPACE,
    admin: Annotated[bool, typer.Option(help="May call /v1/admin endpoints.")] = False,
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3653, help="Expire after this many days (ten years at most)."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Allow only this model, by id or alias (repeat)."),
    ] = None,
) -> None:
    """Create an API key; the secret is printed once and never stored."""
    config = settings()
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    with database() as db, db.session() as session:
        issued = tenancy.create_key(
            session,
            CLI,
            org,
            name=name,
            models=ModelNames(config.models),
            workspace=workspace,
            admin=admin,
            expires_at=expires,
            allowed_models=model,
        )
        console.print(f"created key {issued.key.id} for {org}; it is shown once:")
        console.print(issued.secret, highlight=False, soft_wrap=True)


@key_app.command("list")
def key_list(
    org: OrgOption,
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List an organisation's keys (never their secrets)."""
    with database() as db, db.session() as session:
        keys = tenancy.list_keys(session, CLI, org, include_revoked=all_keys)
        table = Table()
        table.add_column("id", no_wrap=True, min_width=24)
        for header in ("name", "prefix", "workspace", "admin", "models", "expires", "revoked"):
            table.add_column(header)
        for key in keys:
            table.add_row(
                key.id,
                key.name,
                key.display_prefix + "…",
                key.workspace_id,
                "yes" if key.is_admin else "",
                ", ".join(key.allowed_models or []) or "all",
                key.expires_at.isoformat(timespec="seconds") if key.expires_at else "",
                key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
            )
        show(table, as_json)


@key_app.command("revoke")
def key_revoke(org: OrgOption, key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a key; it stops working at once on this node, within seconds on others."""
    with database() as db, db.session() as session:
        key = tenancy.revoke_key(session, CLI, org, key_id=key_id)
        console.print(f"revoked {key.id} ({key.name})")


member_app = typer.Typer(help="Users of an organisation (each takes a seat).", no_args_is_help=True)
org_app.add_typer(member_app, name="member")


@member_app.command("add")
def member_add(
    org: OrgOption,
    email: Annotated[str, typer.Argument()],
    role: Annotated[Role, typer.Option(help="owner, admin, billing or member.")] = Role.MEMBER,
    name: Annotated[str, typer.Option()] = "",
) -> None:
    """Add a user to an organisation; under a licence, a new user takes one of its seats. An
    address that is already another organisation's user is sent an invitation instead."""
    config = settings()
    with handled():
        guard = open_guard(config)
        with database() as db, db.session() as session:
            change = tenancy.add_member(
                session,
                CLI,
                org,
                email=email,
                role=role,
                name=name,
                public_url=config.billing.public_url,
                seat_check=guard.check_seats if guard is not None else None,
            )
            if change.user is not None:
                console.print(f"{change.email} ({change.user.id}) is {role.value} of {org}")
            if change.claim_link is not None:
                if config.mail.smtp_host:
                    console.print("a link to choose a password was mailed to them")
                else:
                    console.print(
                        "no mail server is configured: give them this link to choose a "
                        "password (it works once, for 7 days):"
                    )
                    console.print(change.claim_link, markup=False, highlight=False, soft_wrap=True)
            if change.invitation is not None:
                console.print(
                    f"{change.email} is a user here already: an invitation to {org} was mailed "
                    "to them ('levante mail outbox'); they join when they accept it"
                )


user_app = typer.Typer(help="People who sign in to the pages.", no_args_is_help=True)


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Argument()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Set a user's password (for example the deployment's first owner, made with 'levante org
    member add'); their other links to set one, and their sessions, end."""
    with handled(), database() as db, db.session() as session:
        user = identity.set_password(session, CLI, email, password)
        console.print(f"the password of {user.email} is set", markup=False)


@member_app.command("accept")
def member_accept(token: Annotated[str, typer.Argument(help="The invitation's secret.")]) -> None:
    """Accept an invitation on its recipient's behalf (they gave you its secret)."""
    with handled():
        guard = open_guard(settings())
        with database() as db, db.session() as session:
            organization, user, _ = tenancy.accept_on_behalf(
                session, CLI, token, seat_check=guard.check_seats if guard is not None else None
            )
            console.print(f"{user.email} joined {organization.slug}")


@member_app.command("list")
def member_list(org: OrgOption, as_json: JsonOption = False) -> None:
    """List an organisation's users."""
    with handled(), database() as db, db.session() as session:
        table = Table("email", "name", "role", "id")
        users, _ = tenancy.members(session, CLI, org)
        for user, role in users:
            table.add_row(user.email, user.name, role, user.id)
        show(table, as_json)


@member_app.command("remove")
def member_remove(org: OrgOption, user_id: Annotated[str, typer.Argument()]) -> None:
    """Take a user out of an organisation (their seat is freed if it was their last)."""
    with handled(), database() as db, db.session() as session:
        user = tenancy.remove_member(session, CLI, org, user_id=user_id)
        console.print(f"{user.email} removed from {org}")
