"""``/v1/files``: upload (multipart), list, retrieve, delete and download an organisation's
files, with any API key of the organisation. Another organisation's file is a 404 everywhere,
like one that does not exist."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse

from levante.api.schemas.files import FileDeleted, FileList, FileView
from levante.api.state import Caller, State

router = APIRouter(prefix="/v1/files")


@router.post("")
def upload(
    state: State,
    caller: Caller,
    file: Annotated[UploadFile, File()],
    purpose: Annotated[str | None, Form(max_length=32)] = None,
) -> FileView:
    """Upload a file (multipart, field ``file``; at most ``files.max_file_bytes``) for a
    ``purpose``: ``batch``, ``fine-tune`` (the default) or ``ocr``."""
    with state.database.session() as session:
        row = state.files.upload(
            session, caller.actor, organization_id=caller.organization_id,
            api_key_id=caller.api_key_id, filename=file.filename or "",
            content_type=file.content_type or "", stream=file.file, purpose=purpose,
            now=state.clock(),
        )  # fmt: skip
        return FileView.of(row)


@router.get("")
def listing(
    state: State,
    caller: Caller,
    purpose: Annotated[str | None, Query(max_length=32)] = None,
    sample_type: Annotated[str | None, Query(max_length=32)] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=0, le=1_000_000, description="Mistral's page, from 0")] = 0,
    page_size: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="OpenAI's page size")] = None,
    after: Annotated[str | None, Query(max_length=64, description="OpenAI's cursor")] = None,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> FileList:
    """The organisation's files, newest first: by ``page`` and ``page_size`` (Mistral) or by
    ``limit`` and ``after`` (OpenAI)."""
    size = page_size or limit or 100
    with state.database.session() as session:
        found = state.files.page(
            session, caller.organization_id, purpose=purpose, sample_type=sample_type,
            source=source, search=search, after=after, offset=page * size, limit=size,
            newest_first=order == "desc",
        )  # fmt: skip
        return FileList.of(found)


@router.get("/{file_id}")
def retrieve(file_id: str, state: State, caller: Caller) -> FileView:
    with state.database.session() as session:
        return FileView.of(state.files.find(session, caller.organization_id, file_id))


@router.delete("/{file_id}")
def delete(file_id: str, state: State, caller: Caller) -> FileDeleted:
    with state.database.session() as session:
        state.files.delete(session, caller.actor, caller.organization_id, file_id)
    return FileDeleted(id=file_id)


@router.get("/{file_id}/content")
def content(file_id: str, state: State, caller: Caller) -> StreamingResponse:
    """The file's contents, as a download (``application/octet-stream``, as Mistral's API
    sends it and its SDK expects; the file's own type is in its description)."""
    with state.database.session() as session:
        row = state.files.find(session, caller.organization_id, file_id)
    chunks = state.files.chunks(row)  # opened here: a missing object is a 404, not a cut body
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "content-length": str(row.bytes),
            "content-disposition": _disposition(row.filename),
            "x-content-type-options": "nosniff",
        },
    )


def _disposition(name: str) -> str:
    """An attachment's header: the name in ASCII, and in full (RFC 5987) when it is not."""
    plain = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"
