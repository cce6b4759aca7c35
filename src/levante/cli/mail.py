"""``levante mail …``: the messages Levante has queued for people."""

from __future__ import annotations

import typer
from rich.table import Table

from levante import mail
from levante.cli.context import JsonOption, database, handled, show

mail_app = typer.Typer(help="Mail queued for people (invitations).", no_args_is_help=True)


@mail_app.command("outbox")
def outbox(as_json: JsonOption = False) -> None:
    """Messages not sent yet, oldest first, with their text (no mail transport is configured:
    pass them on)."""
    with handled(), database() as db, db.session() as session:
        table = Table("queued", "to", "subject", "body")
        for message in mail.outbox(session):
            table.add_row(
                f"{message.created_at:%Y-%m-%d %H:%M}", message.to, message.subject, message.body
            )
        show(table, as_json)
