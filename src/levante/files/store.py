"""Where file contents live: a folder on local disk, or an S3-compatible bucket. Both take a
finished file from local disk (the upload was spooled, counted and hashed there first), and
hand contents back in chunks, so a file of gigabytes never sits in memory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from levante.errors import ConfigurationError, NotFoundError
from levante.settings import Settings

CHUNK = 256 * 1024


class BlobStore(Protocol):
    """Contents by key (``<organisation>/<file id>``)."""

    def put(self, key: str, source: Path) -> None:
        """Keep ``source``'s contents under ``key``; ``source`` may be moved away."""

    def chunks(self, key: str) -> Iterator[bytes]:
        """The contents, in pieces; a NotFoundError when there are none."""

    def delete(self, key: str) -> None:
        """Forget the contents (no error if they are already gone)."""


class LocalStore:
    """Files under a folder, one per key; written to a partial name and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise NotFoundError("no such file", param="file_id")
        return path

    def put(self, key: str, source: Path) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        try:
            os.replace(source, partial)  # the spool sits on the same disk: a rename
        except OSError:
            shutil.copyfile(source, partial)
        os.replace(partial, path)

    def chunks(self, key: str) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFoundError("the file's contents are no longer stored") from None
        return _read(handle)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _read(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class S3Store:
    """Objects in a bucket under ``prefix``, through boto3 (AWS S3, MinIO, Ceph, R2 and other
    S3-compatible stores, by ``endpoint_url``)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str = "",
        region: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
    ) -> None:
        import boto3

        if not bucket:
            raise ConfigurationError("files.store = 's3' needs files.s3_bucket")
        self.bucket = bucket
        self.prefix = prefix
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
        )

    def put(self, key: str, source: Path) -> None:
        self._client.upload_file(str(source), self.bucket, self.prefix + key)

    def chunks(self, key: str) -> Iterator[bytes]:
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
        except self._client.exceptions.NoSuchKey:
            raise NotFoundError("the file's contents are no longer stored") from None
        return _stream(body)

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self.prefix + key)


def _stream(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def open_store(settings: Settings) -> BlobStore:
    """The store the settings name."""
    files = settings.files
    if files.store == "s3":
        return S3Store(
            files.s3_bucket,
            prefix=files.s3_prefix,
            endpoint_url=files.s3_endpoint_url,
            region=files.s3_region,
            access_key_id=files.s3_access_key_id,
            secret_access_key=files.s3_secret_access_key,
        )
    return LocalStore(settings.files_dir)
