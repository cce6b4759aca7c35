"""Gap-free numbers (invoice numbers, ticket numbers) from a named row of one table."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from levante.storage.models import InvoiceSequence


def next_number(session: Session, name: str, *, after: int = 0) -> int:
    """The next number of sequence ``name`` (the first is ``after + 1``). The UPDATE locks the
    sequence's row until this transaction ends, so a concurrent caller waits and then takes
    the number after this one: numbers are consecutive, and a rolled-back one is reused."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(InvoiceSequence).values(name=name, last_number=after).on_conflict_do_nothing()
    )
    number: int = session.execute(
        update(InvoiceSequence)
        .where(InvoiceSequence.name == name)
        .values(last_number=InvoiceSequence.last_number + 1)
        .returning(InvoiceSequence.last_number)
    ).scalar_one()
    return number
