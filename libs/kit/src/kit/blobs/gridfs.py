"""GridFS through PyMongo's async GridFS bucket, in the service's own database."""

from collections.abc import AsyncIterator

from gridfs import AsyncGridFSBucket
from gridfs.errors import FileExists, NoFile

from kit.blobs.base import CHUNK_BYTES, Blob, BlobNotFound, BlobStore, digest
from kit.store import DuplicateKey
from kit.store.mongodb import MongoStore


class GridFsBlobStore(BlobStore):
    def __init__(self, store: MongoStore, bucket: str = "files"):
        self.store = store
        self.bucket_name = bucket

    @property
    def bucket(self) -> AsyncGridFSBucket:
        return AsyncGridFSBucket(self.store.db, bucket_name=self.bucket_name)

    async def put(self, blob_id: str, data: bytes, *, filename: str, content_type: str) -> Blob:
        blob = Blob(id=blob_id, filename=filename, content_type=content_type, size=len(data), sha256=digest(data))
        try:
            await self.bucket.upload_from_stream_with_id(
                blob_id, filename, data, metadata={"content_type": content_type, "sha256": blob.sha256})
        except FileExists:
            raise DuplicateKey(f"blob {blob_id} exists") from None
        return blob

    async def get(self, blob_id: str) -> tuple[Blob, bytes]:
        try:
            stream = await self.bucket.open_download_stream(blob_id)
        except NoFile:
            raise BlobNotFound(blob_id) from None
        data = await stream.read()
        meta = stream.metadata or {}
        return Blob(id=blob_id, filename=stream.filename, content_type=meta.get("content_type", "application/octet-stream"),
                    size=len(data), sha256=meta.get("sha256", digest(data))), data

    async def open(self, blob_id: str, *, chunk_bytes: int = CHUNK_BYTES) -> tuple[Blob, AsyncIterator[bytes]]:
        try:
            stream = await self.bucket.open_download_stream(blob_id)
        except NoFile:
            raise BlobNotFound(blob_id) from None
        meta = stream.metadata or {}
        blob = Blob(id=blob_id, filename=stream.filename, size=stream.length,
                    content_type=meta.get("content_type", "application/octet-stream"), sha256=meta.get("sha256", ""))

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await stream.read(chunk_bytes):
                    yield chunk
            finally:
                await stream.close()

        return blob, chunks()

    async def delete(self, blob_id: str) -> None:
        try:
            await self.bucket.delete(blob_id)
        except NoFile:
            pass

    async def exists(self, blob_id: str) -> bool:
        return await self.store.db[f"{self.bucket_name}.files"].find_one({"_id": blob_id}) is not None
