"""Alembic, driven from code so that the migrations ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from levante.errors import ConfigurationError

_MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` on the given engine.

    On SQLite, adding a constraint rebuilds the table (a copy, then a rename), which foreign
    keys would refuse for a table other rows refer to: they are off while migrations run,
    checked once they are done, and on again before the connection goes back to the pool."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        try:
            if sqlite:
                # Outside a transaction (pysqlite begins one only before DML), or it is ignored.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            before = MigrationContext.configure(connection).get_current_revision()
            connection.commit()
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                migrated = MigrationContext.configure(connection).get_current_revision()
                if sqlite and migrated != before:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise ConfigurationError(
                            f"after migrating to {migrated}, rows refer to rows that are "
                            f"gone ({broken[:3]}); restore the database from its backup"
                        )
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
                if not connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
                    connection.invalidate()  # never pool a connection without them


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()
