"""Files attached to tickets: size-limited, stored under the data directory by their id
(the name they came with is kept for display only, and refused if it carries a path), and
handed out only to the ticket's organisation and the agents; an agent's internal file is
the agents' alone."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from levante.audit import Actor
from levante.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from levante.files import check_filename
from levante.storage import fit, new_id
from levante.storage.models import TicketAttachment
from levante.support.desk import desk_of
from levante.support.tickets import add_event, audit_change, find_ticket
from levante.vocabulary import TicketEventKind

_CHUNK = 64 * 1024
_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


@dataclass(frozen=True, slots=True)
class StoredFile:
    attachment: TicketAttachment
    path: Path


def attach(
    session: Session,
    actor: Actor,
    ref: str,
    *,
    filename: str,
    content_type: str,
    stream: BinaryIO,
    root: Path,
    max_bytes: int,
    internal: bool = False,
    now: datetime,
) -> TicketAttachment:
    """Store a file on a ticket, read from ``stream`` up to ``max_bytes`` (a 413 beyond)."""
    desk = desk_of(session, actor)
    ticket = find_ticket(session, desk, ref, lock=True)
    name = check_filename(filename)
    if internal:
        desk.require_agent()
    kind = content_type.split(";")[0].strip().lower()
    if not _TYPE.match(kind):
        kind = "application/octet-stream"
    # Refused before the file is written: nothing is left behind.
    fit(TicketAttachment.content_type, kind, param="file", label="file's content type")
    attachment_id = new_id("att")
    folder = root / ticket.id
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / attachment_id
    partial = folder / f".{attachment_id}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLargeError(
                        f"the file is larger than {max_bytes:,} bytes", param="file"
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidRequestError("the file is empty", param="file")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    try:
        event = add_event(
            session, ticket, desk, TicketEventKind.ATTACHMENT, now, public=not internal,
            data={"attachment": attachment_id, "filename": name, "size": size},
        )  # fmt: skip
        row = TicketAttachment(
            id=attachment_id, ticket_id=ticket.id, event_id=event.id, filename=name,
            content_type=kind, size=size, sha256=digest.hexdigest(), public=not internal,
            created_at=now,
        )  # fmt: skip
        session.add(row)
        details = {"attachment": attachment_id, "size": size}
        audit_change(session, desk, ticket, "attached", details)
        session.flush()
    except BaseException:
        final.unlink(missing_ok=True)  # a file that no row describes is not kept
        raise
    return row


def open_attachment(
    session: Session, actor: Actor, ref: str, attachment_id: str, *, root: Path
) -> StoredFile:
    """A ticket's file, if the actor may see it (another's is not found)."""
    desk = desk_of(session, actor)
    ticket = find_ticket(session, desk, ref)
    row = session.get(TicketAttachment, attachment_id)
    if row is None or row.ticket_id != ticket.id or (not row.public and not desk.agent):
        raise NotFoundError(f"no attachment '{attachment_id}' on this ticket", param="attachment")
    path = root / ticket.id / row.id
    if not path.is_file():
        raise NotFoundError("the file is no longer stored", param="attachment")
    return StoredFile(row, path)
