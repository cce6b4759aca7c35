"""The file service on both databases and both stores: limits, counting, paging, and one
organisation never reaching another's file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from levante.audit import Actor
from levante.errors import (
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    StorageLimitReachedError,
)
from levante.files import BlobStore, FileService, LocalStore, S3Store
from levante.storage import Database, utcnow
from tests.helpers import Tenant, free_port

LINES = b'{"custom_id": "0", "body": {}}\n{"custom_id": "1", "body": {}}\n'


def _service(store: BlobStore, tmp_path: Path, **limits: int) -> FileService:
    return FileService(
        store,
        spool_dir=tmp_path / "spool",
        max_file_bytes=limits.get("max_file_bytes", 1 << 20),
        organization_max_bytes=limits.get("organization_max_bytes", 1 << 22),
    )


def _upload(
    files: FileService, database: Database, tenant: Tenant, data: bytes, name: str = "in.jsonl"
) -> str:
    with database.session() as session:
        row = files.upload(
            session, Actor.api_key(tenant.organization_id, tenant.key_id),
            organization_id=tenant.organization_id, api_key_id=tenant.key_id, filename=name,
            content_type="application/octet-stream", stream=io.BytesIO(data), purpose="batch",
            now=utcnow(),
        )  # fmt: skip
        return row.id


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """An S3 API on loopback (moto's server), with a bucket ``levante``."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        import boto3

        boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        ).create_bucket(Bucket="levante")  # fmt: skip
        yield url
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalStore(tmp_path / "files")
    url: str = request.getfixturevalue("s3_endpoint")
    return S3Store(
        "levante", prefix="t/", endpoint_url=url, region="us-east-1",
        access_key_id="test", secret_access_key="test",
    )  # fmt: skip


def test_an_upload_is_counted_kept_and_read_back(
    store: BlobStore, tmp_path: Path, database: Database, tenant: Tenant
) -> None:
    files = _service(store, tmp_path)
    file_id = _upload(files, database, tenant, LINES)
    with database.session() as session:
        row = files.find(session, tenant.organization_id, file_id)
        assert (row.bytes, row.num_lines, row.purpose, row.sample_type, row.source) == (
            len(LINES),
            2,
            "batch",
            "batch_request",
            "upload",
        )
        assert row.mimetype == "application/jsonl"
        assert b"".join(files.chunks(row)) == LINES
        assert list(files.lines(row)) == LINES.splitlines()
        assert files.used_bytes(session, tenant.organization_id) == len(LINES)
    assert not list((tmp_path / "spool").iterdir()), "the spool keeps nothing"
    with database.session() as session:
        files.delete(session, Actor("test"), tenant.organization_id, file_id)
    with database.session() as session:
        with pytest.raises(NotFoundError):
            files.find(session, tenant.organization_id, file_id)
        assert files.used_bytes(session, tenant.organization_id) == 0
        with pytest.raises(NotFoundError):
            files.chunks(row)


def test_another_organisation_finds_nothing(
    tmp_path: Path, database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    files = _service(LocalStore(tmp_path / "files"), tmp_path)
    file_id = _upload(files, database, tenant, LINES)
    with database.session() as session:
        with pytest.raises(NotFoundError) as missing:
            files.find(session, other_tenant.organization_id, file_id)
        assert missing.value.code == "file_not_found"
        with pytest.raises(NotFoundError):
            files.delete(session, Actor("x"), other_tenant.organization_id, file_id)
        assert files.page(session, other_tenant.organization_id).files == []
        assert files.find(session, tenant.organization_id, file_id).id == file_id


def test_limits_per_file_and_per_organisation(
    tmp_path: Path, database: Database, tenant: Tenant
) -> None:
    files = _service(
        LocalStore(tmp_path / "files"), tmp_path, max_file_bytes=1024, organization_max_bytes=1500
    )
    with pytest.raises(PayloadTooLargeError):
        _upload(files, database, tenant, b"x" * 1025)
    _upload(files, database, tenant, b"x" * 1000)
    with pytest.raises(StorageLimitReachedError) as full:
        _upload(files, database, tenant, b"x" * 600)
    assert full.value.code == "storage_limit_reached"
    with pytest.raises(InvalidRequestError):
        _upload(files, database, tenant, b"")
    with pytest.raises(InvalidRequestError):
        _upload(files, database, tenant, b"x", name="../etc/passwd")
    with database.session() as session:
        assert files.used_bytes(session, tenant.organization_id) == 1000
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file()][1:], (
        "refused uploads leave nothing behind"
    )


def test_pages_by_offset_and_by_cursor(tmp_path: Path, database: Database, tenant: Tenant) -> None:
    files = _service(LocalStore(tmp_path / "files"), tmp_path)
    ids = [_upload(files, database, tenant, LINES, name=f"f{i}.jsonl") for i in range(5)]
    with database.session() as session:
        first = files.page(session, tenant.organization_id, limit=2)
        assert [f.id for f in first.files] == ids[::-1][:2]
        assert (first.total, first.has_more) == (5, True)
        rest = files.page(session, tenant.organization_id, after=first.files[-1].id, limit=10)
        assert [f.id for f in rest.files] == ids[::-1][2:]
        assert not rest.has_more
        second = files.page(session, tenant.organization_id, offset=2, limit=2)
        assert [f.id for f in second.files] == ids[::-1][2:4]
        oldest = files.page(session, tenant.organization_id, limit=1, newest_first=False)
        assert [f.id for f in oldest.files] == ids[:1]
        assert [
            f.filename for f in files.page(session, tenant.organization_id, search="f3").files
        ] == ["f3.jsonl"]
        assert files.page(session, tenant.organization_id, purpose="ocr").total == 0
