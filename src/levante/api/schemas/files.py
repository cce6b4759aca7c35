"""What the file routes answer: a file in both Mistral's and OpenAI's shape (one object
carries the fields of both), lists that page either way, and deletions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from levante.files import FilePage, StoredFile


class FileView(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    sample_type: str | None
    source: str
    num_lines: int | None
    mimetype: str
    signature: str | None = None
    # OpenAI's: a stored file is processed at once.
    status: Literal["processed"] = "processed"
    status_details: None = None
    expires_at: None = None

    @classmethod
    def of(cls, row: StoredFile) -> FileView:
        return cls(
            id=row.id,
            bytes=row.bytes,
            created_at=int(row.created_at.timestamp()),
            filename=row.filename,
            purpose=row.purpose,
            sample_type=row.sample_type,
            source=row.source,
            num_lines=row.num_lines,
            mimetype=row.mimetype,
            signature=row.sha256,
        )


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileView]
    total: int
    has_more: bool
    first_id: str | None
    last_id: str | None

    @classmethod
    def of(cls, page: FilePage) -> FileList:
        data = [FileView.of(f) for f in page.files]
        return cls(
            data=data,
            total=page.total,
            has_more=page.has_more,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
        )


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True
