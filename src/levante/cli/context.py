"""What every command needs: settings, a migrated database, and clean error reporting."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from levante.billing import ensure_catalog
from levante.errors import LevanteError
from levante.settings import Settings, load_settings
from levante.storage import Database, upgrade

# Piped or captured output is not cut at 80 columns (Rich's default off a terminal): a table
# or a message keeps its full width, for a reader and for grep alike.
_WIDE = 10_000
console = Console(width=None if sys.stdout.isatty() else _WIDE)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else _WIDE)


@contextmanager
def handled() -> Iterator[None]:
    """Show a LevanteError as one red line and exit 1, never as a traceback."""
    try:
        yield
    except LevanteError as exc:
        errors.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(1) from exc


def settings() -> Settings:
    with handled():
        return load_settings()


@contextmanager
def database(migrate: bool = True) -> Iterator[Database]:
    """The configured database, migrated to the newest schema and holding the default plans
    first (if auto_migrate), as the server makes it when it starts."""
    config = settings()
    db = Database(config.resolved_database_url)
    try:
        if migrate and config.auto_migrate:
            upgrade(db.engine)
            with db.session() as session:
                ensure_catalog(session)
        with handled():
            yield db
    finally:
        db.dispose()
