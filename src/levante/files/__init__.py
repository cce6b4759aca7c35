"""Files: what organisations upload (batch requests, fine-tuning data, documents) and what
batch jobs write back, kept on local disk or in an S3-compatible store, counted against each
organisation's room, and readable by their organisation alone."""

from levante.files.services import (
    FilePage,
    FileService,
    check_filename,
)
from levante.files.store import BlobStore, LocalStore, S3Store, open_store
from levante.settings import Settings
from levante.storage.models import StoredFile

__all__ = [
    "BlobStore",
    "FilePage",
    "FileService",
    "LocalStore",
    "S3Store",
    "StoredFile",
    "check_filename",
    "file_service",
]


def file_service(settings: Settings) -> FileService:
    """The file service the settings describe."""
    return FileService(
        open_store(settings),
        spool_dir=settings.data_dir / "spool",
        max_file_bytes=settings.files.max_file_bytes,
        organization_max_bytes=settings.files.organization_max_bytes,
    )
