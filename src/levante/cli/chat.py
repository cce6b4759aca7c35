"""``levante chat …``: the chat's users and their plans, for the operator."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from levante import chat
from levante.cli.context import CLI, JsonOption, console, database, handled, settings, show

chat_app = typer.Typer(help="The chat assistant's users and their plans.", no_args_is_help=True)


@chat_app.command("users")
def users(
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Chat users, oldest first: their organisation, the plan that applies now, and the
    messages they sent in the last seven days."""
    with handled(), database() as db, db.session() as session:
        table = Table("email", "organization", "plan", "messages this week", "joined")
        for user in chat.chat_users(session, CLI, limit=limit):
            table.add_row(
                user.email, user.organization, user.plan, str(user.messages_this_week),
                f"{user.joined_at:%Y-%m-%d}",
            )  # fmt: skip
        show(table, as_json)


@chat_app.command("plan")
def plan(
    user: Annotated[str, typer.Option("--user", "-u", help="The user's email address.")],
    code: Annotated[str, typer.Argument(help="A chat plan: chat-free, chat-pro-monthly, ...")],
    seats: Annotated[int | None, typer.Option(min=1, help="Seats, for a Team plan.")] = None,
) -> None:
    """Put a user's chat organisation on a plan now (billed with the month); chat-free ends
    their subscription at once."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        done = chat.set_plan(
            session, CLI, user, code, seats=seats, settings=config.billing,
            currency=config.currency,
        )  # fmt: skip
    console.print(done)
