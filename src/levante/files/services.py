"""The rules of files: who may read one (its organisation, nobody else), how large one and
all of an organisation's may be, and what is counted of each (bytes, lines, a hash)."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante.audit import Actor, record
from levante.errors import (
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    StorageLimitReachedError,
)
from levante.files.store import CHUNK, BlobStore
from levante.storage import new_id, visible
from levante.storage.models import StoredFile
from levante.vocabulary import FilePurpose, FileSource, SampleType

MAX_NAME = 200
_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
# What a file of lines is read as: its lines are counted (``num_lines``).
_LINED = (".jsonl", ".ndjson", ".jsonlines", ".txt", ".csv")


def check_filename(name: str, *, param: str = "file") -> str:
    """The file's own name, or a 400: no directory, no parent, no control character. The
    invisible format characters are dropped first (:func:`levante.storage.visible`)."""
    name = visible(name)
    if not name or not name.strip():
        raise InvalidRequestError("the file needs a name", param=param)
    if "/" in name or "\\" in name or name in (".", "..") or ".." in name.split("."):
        raise InvalidRequestError(
            "a file name may not contain a path (no '/', '\\' or '..')", param=param
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidRequestError("the file name has a control character in it", param=param)
    if len(name) > MAX_NAME:
        raise InvalidRequestError(f"the file name is at most {MAX_NAME} characters", param=param)
    return name.strip()


def check_purpose(value: str | None) -> FilePurpose:
    """Mistral's purposes; OpenAI's ``batch`` and ``fine-tune`` are the same words. Without
    one, a file is for fine-tuning, as on Mistral's API."""
    if value is None or value == "":
        return FilePurpose.FINE_TUNE
    try:
        return FilePurpose(value)
    except ValueError:
        names = ", ".join(p.value for p in FilePurpose)
        raise InvalidRequestError(
            f"purpose '{value}' is not supported here; use one of {names}", param="purpose"
        ) from None


@dataclass(frozen=True, slots=True)
class FilePage:
    """One page of an organisation's files, with how many match in all."""

    files: list[StoredFile]
    total: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class _Spooled:
    path: Path
    size: int
    sha256: str
    lines: int


class FileService:
    """Files kept in ``store``, at most ``max_file_bytes`` each and ``organization_max_bytes``
    per organisation; uploads are spooled in ``spool_dir`` first (on the store's disk for the
    local store, so keeping one is a rename)."""

    def __init__(
        self,
        store: BlobStore,
        *,
        spool_dir: Path,
        max_file_bytes: int,
        organization_max_bytes: int,
    ) -> None:
        self.store = store
        self._spool_dir = spool_dir
        self.max_file_bytes = max_file_bytes
        self.organization_max_bytes = organization_max_bytes

    # -- writing ----------------------------------------------------------------------------------

    def upload(
        self,
        session: Session,
        actor: Actor,
        *,
        organization_id: str,
        api_key_id: str | None,
        filename: str,
        content_type: str,
        stream: BinaryIO,
        purpose: str | None,
        now: datetime,
    ) -> StoredFile:
        """Keep an uploaded file: a 413 beyond the file limit or the organisation's room."""
        name = check_filename(filename)
        kind = check_purpose(purpose)
        spooled = self._spool(_pieces(stream), limit=self.max_file_bytes)
        try:
            if spooled.size == 0:
                raise InvalidRequestError("the file is empty", param="file")
            used = self.used_bytes(session, organization_id, lock=True)
            if used + spooled.size > self.organization_max_bytes:
                raise StorageLimitReachedError(
                    f"the organisation's files would take {used + spooled.size:,} bytes, more "
                    f"than its {self.organization_max_bytes:,}; delete some first",
                    param="file",
                )
            row = self._stored(
                spooled, organization_id=organization_id, api_key_id=api_key_id,
                filename=name, mimetype=_mimetype(name, content_type), purpose=kind,
                sample_type=_sample_type(kind), source=FileSource.UPLOAD, now=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
        finally:
            spooled.path.unlink(missing_ok=True)
        record(session, organization_id=organization_id, actor=actor, action="file.uploaded",
               target=row.id, details={"bytes": row.bytes, "purpose": row.purpose})  # fmt: skip
        return row

    def stage(
        self,
        *,
        organization_id: str,
        filename: str,
        pieces: Iterable[bytes],
        purpose: FilePurpose,
        sample_type: SampleType,
        now: datetime,
    ) -> StoredFile:
        """Put a file the platform wrote for an organisation (a batch job's results) in the
        store, and return its row for the caller to add in the transaction it belongs to (or
        :meth:`discard`). It counts in the organisation's room but is never refused for it:
        results are not lost."""
        spooled = self._spool(iter(pieces), limit=None)
        try:
            return self._stored(
                spooled, organization_id=organization_id, api_key_id=None,
                filename=filename, mimetype="application/jsonl", purpose=purpose,
                sample_type=sample_type, source=FileSource.MISTRAL, now=now,
            )  # fmt: skip
        finally:
            spooled.path.unlink(missing_ok=True)

    def discard(self, row: StoredFile) -> None:
        """Forget a staged file that was not kept."""
        self.store.delete(row.storage_key)

    def delete(self, session: Session, actor: Actor, organization_id: str, file_id: str) -> None:
        row = self.find(session, organization_id, file_id)
        session.delete(row)
        session.flush()
        record(session, organization_id=organization_id, actor=actor, action="file.deleted",
               target=row.id, details={"bytes": row.bytes})  # fmt: skip
        self.store.delete(row.storage_key)

    # -- reading ----------------------------------------------------------------------------------

    def find(self, session: Session, organization_id: str, file_id: str) -> StoredFile:
        """The organisation's file; another organisation's is not found, like a missing one."""
        row = session.get(StoredFile, file_id)
        if row is None or row.organization_id != organization_id:
            raise NotFoundError(f"no file '{file_id}'", param="file_id", code="file_not_found")
        return row

    def chunks(self, row: StoredFile) -> Iterator[bytes]:
        return self.store.chunks(row.storage_key)

    def lines(self, row: StoredFile) -> Iterator[bytes]:
        """The file's lines (without their line ends), read in pieces."""
        rest = b""
        for chunk in self.chunks(row):
            rest += chunk
            *done, rest = rest.split(b"\n")
            yield from done
        if rest:
            yield rest

    def used_bytes(self, session: Session, organization_id: str, *, lock: bool = False) -> int:
        """What the organisation's files take. ``lock`` holds its rows for the transaction, so
        two uploads at once cannot both pass the limit (PostgreSQL; SQLite has one writer)."""
        if lock:
            session.execute(
                select(StoredFile.id)
                .where(StoredFile.organization_id == organization_id)
                .with_for_update()
            ).all()
        total = session.scalar(
            select(func.coalesce(func.sum(StoredFile.bytes), 0)).where(
                StoredFile.organization_id == organization_id
            )
        )
        return int(total or 0)

    def page(
        self,
        session: Session,
        organization_id: str,
        *,
        purpose: str | None = None,
        sample_type: str | None = None,
        source: str | None = None,
        search: str | None = None,
        after: str | None = None,
        offset: int = 0,
        limit: int = 100,
        newest_first: bool = True,
    ) -> FilePage:
        """The organisation's files, filtered, newest first unless asked otherwise: by page
        (``offset``, Mistral's) or after a file id (``after``, OpenAI's cursor)."""
        conditions = [StoredFile.organization_id == organization_id]
        if purpose:
            conditions.append(StoredFile.purpose == purpose)
        if sample_type:
            conditions.append(StoredFile.sample_type == sample_type)
        if source:
            conditions.append(StoredFile.source == source)
        if search:
            conditions.append(StoredFile.filename.contains(search, autoescape=True))
        total = session.scalar(select(func.count()).select_from(StoredFile).where(*conditions))
        order = (StoredFile.created_at, StoredFile.id)
        if after:
            mark = self.find(session, organization_id, after)
            if newest_first:
                conditions.append(
                    (StoredFile.created_at < mark.created_at)
                    | ((StoredFile.created_at == mark.created_at) & (StoredFile.id < mark.id))
                )
            else:
                conditions.append(
                    (StoredFile.created_at > mark.created_at)
                    | ((StoredFile.created_at == mark.created_at) & (StoredFile.id > mark.id))
                )
        query = select(StoredFile).where(*conditions)
        query = query.order_by(*(c.desc() for c in order) if newest_first else order)
        rows = list(session.scalars(query.offset(offset).limit(limit + 1)))
        return FilePage(rows[:limit], int(total or 0), len(rows) > limit)

    # -- the parts --------------------------------------------------------------------------------

    def _spool(self, pieces: Iterator[bytes], *, limit: int | None) -> _Spooled:
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        digest, size, lines, last = hashlib.sha256(), 0, 0, b"\n"
        fd, name = tempfile.mkstemp(dir=self._spool_dir, prefix=".upload-")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                for piece in pieces:
                    size += len(piece)
                    if limit is not None and size > limit:
                        raise PayloadTooLargeError(
                            f"the file is larger than {limit:,} bytes", param="file"
                        )
                    digest.update(piece)
                    lines += piece.count(b"\n")
                    last = piece[-1:] or last
                    handle.write(piece)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if size and last != b"\n":
            lines += 1
        return _Spooled(path, size, digest.hexdigest(), lines)

    def _stored(
        self,
        spooled: _Spooled,
        *,
        organization_id: str,
        api_key_id: str | None,
        filename: str,
        mimetype: str,
        purpose: FilePurpose,
        sample_type: SampleType | None,
        source: FileSource,
        now: datetime,
    ) -> StoredFile:
        """The contents in the store, and the row that describes them (not yet added)."""
        file_id = new_id("file", 24)
        key = f"{organization_id}/{file_id}"
        self.store.put(key, spooled.path)
        return StoredFile(
            id=file_id, organization_id=organization_id, api_key_id=api_key_id,
            purpose=purpose.value, sample_type=sample_type.value if sample_type else None,
            source=source.value, filename=filename, mimetype=mimetype, bytes=spooled.size,
            sha256=spooled.sha256,
            num_lines=spooled.lines if filename.lower().endswith(_LINED) else None,
            storage_key=key, created_at=now,
        )  # fmt: skip


def _pieces(stream: BinaryIO) -> Iterator[bytes]:
    while piece := stream.read(CHUNK):
        yield piece


def _mimetype(name: str, given: str) -> str:
    kind = given.split(";")[0].strip().lower()
    # A type longer than its column holds (100) is read as none given.
    if _TYPE.match(kind) and kind != "application/octet-stream" and len(kind) <= 100:
        return kind
    if name.lower().endswith((".jsonl", ".ndjson", ".jsonlines")):
        return "application/jsonl"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _sample_type(purpose: FilePurpose) -> SampleType | None:
    return {
        FilePurpose.BATCH: SampleType.BATCH_REQUEST,
        FilePurpose.FINE_TUNE: SampleType.INSTRUCT,
        FilePurpose.OCR: SampleType.OCR_INPUT,
    }[purpose]
