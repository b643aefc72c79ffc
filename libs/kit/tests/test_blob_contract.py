"""The file-store contract, on disk and on GridFS (FerretDB)."""

import pytest

from kit.blobs import BlobNotFound, make_blobs
from kit.settings import PlatformSettings
from kit.store import DuplicateKey

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 50


@pytest.fixture
def blobs(store, tmp_path):
    kind = "mongodb" if type(store).__name__ == "MongoStore" else "sqlite"
    return make_blobs(PlatformSettings(store=kind, sqlite_dir=tmp_path, service_name="t"), store)


async def test_put_get_with_sha256(blobs):
    stored = await blobs.put("form-TK-KH", PDF, filename="To khai.pdf", content_type="application/pdf")
    assert stored.size == len(PDF) and len(stored.sha256) == 64
    meta, data = await blobs.get("form-TK-KH")
    assert data == PDF and meta == stored
    assert await blobs.exists("form-TK-KH")


async def test_an_id_is_never_overwritten(blobs):
    await blobs.put("x", b"first", filename="a", content_type="text/plain")
    with pytest.raises(DuplicateKey):
        await blobs.put("x", b"second", filename="b", content_type="text/plain")
    assert (await blobs.get("x"))[1] == b"first"


async def test_missing_and_deleted(blobs):
    with pytest.raises(BlobNotFound):
        await blobs.get("nope")
    await blobs.put("y", b"data", filename="y", content_type="text/plain")
    await blobs.delete("y")
    assert not await blobs.exists("y")
    await blobs.delete("y")  # idempotent


async def test_a_blob_is_streamed_in_chunks_with_its_metadata(blobs):
    stored = await blobs.put("z", PDF, filename="Giấy tờ.pdf", content_type="application/pdf")
    meta, chunks = await blobs.open("z", chunk_bytes=1000)
    parts = [chunk async for chunk in chunks]
    assert b"".join(parts) == PDF and len(parts) == -(-len(PDF) // 1000)
    assert meta == stored
    with pytest.raises(BlobNotFound):
        await blobs.open("nope")
