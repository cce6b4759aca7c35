"""What every command needs: settings, a migrated database, and clean error reporting."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from levante.audit import Actor
from levante.errors import LevanteError
from levante.platform import Database, open_database
from levante.settings import Settings, load_settings

# Piped or captured output is not cut at 80 columns (Rich's default off a terminal): a table
# or a message keeps its full width, for a reader and for grep alike. Markup and highlighting
# are off: data is printed verbatim (a ticket "About [batch] pricing", a subject "[#1001]"),
# and what is styled on purpose says so with a Text (see ``styled``).
_WIDE = 10_000
console = Console(width=None if sys.stdout.isatty() else _WIDE, markup=False, highlight=False)
errors = Console(
    stderr=True, width=None if sys.stderr.isatty() else _WIDE, markup=False, highlight=False
)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line with some parts styled: ``styled("tier: ", (name, "bold"))``; every text is
    taken as it is, never as markup."""
    return Text.assemble(*parts)


# Whoever runs the command line runs the deployment: the audit log names them "cli".
CLI = Actor.command_line()

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the rows as JSON (one object per row), not a table.")
]


def show(table: Table, as_json: bool = False) -> None:
    """Print a listing: the table, or with ``--json`` its rows as a JSON list of objects keyed
    by the column names (snake_case), with the cells' text as shown."""
    if not as_json:
        console.print(table)
        return
    keys = [str(c.header).strip().lower().replace(" ", "_") for c in table.columns]
    columns = [[_plain(cell) for cell in c.cells] for c in table.columns]
    rows = [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]
    sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


@contextmanager
def handled() -> Iterator[None]:
    """Show a LevanteError as one red line and exit 1, never as a traceback."""
    try:
        yield
    except LevanteError as exc:
        code = f" [{exc.code}]" if exc.code else ""
        errors.print(styled(("error:", "bold red"), f" {exc.message}{code}"))
        raise typer.Exit(1) from exc


def settings() -> Settings:
    with handled():
        return load_settings()


@contextmanager
def database(migrate: bool = True) -> Iterator[Database]:
    """The configured database, migrated to the newest schema and holding the default plans
    first (if auto_migrate), as the server makes it when it starts."""
    config = settings()
    with handled():
        db = open_database(config, migrate=migrate)
    try:
        with handled():
            yield db
    finally:
        db.dispose()


def hand_over(secret: str, config: Settings) -> None:
    """Give the first admin key to the person starting the server, and to no log: on the
    terminal (standard error) when there is one, else in a file only its owner can read."""
    intro = (
        f"First start: created organisation '{config.bootstrap_organization}' and an admin API "
        "key, stored only as a hash; send it as 'Authorization: Bearer <key>'."
    )
    if sys.stderr.isatty():
        errors.print(styled((intro, "bold"), " It is shown this once:"))
        errors.print(secret, highlight=False, soft_wrap=True, markup=False)
        return
    path = config.data_dir / "bootstrap-admin-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)
    console.print(
        f"{intro} Not on a terminal, so it is not printed: it is in {path} (readable by its "
        "owner only). Copy it, then delete the file.",
        highlight=False,
        markup=False,
    )
