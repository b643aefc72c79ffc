import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

CHUNK_BYTES = 256 * 1024


class BlobNotFound(Exception):
    pass


@dataclass(frozen=True)
class Blob:
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore(ABC):
    @abstractmethod
    async def put(self, blob_id: str, data: bytes, *, filename: str, content_type: str) -> Blob:
        """Store under `blob_id` (replacing nothing: a second put of the same id is refused)."""

    @abstractmethod
    async def get(self, blob_id: str) -> tuple[Blob, bytes]: ...

    async def open(self, blob_id: str, *, chunk_bytes: int = CHUNK_BYTES) -> tuple[Blob, AsyncIterator[bytes]]:
        """The blob's metadata and its content in chunks, to stream a download without holding the
        whole file. Raises BlobNotFound before any chunk is read. Adapters override this to read
        chunk by chunk; this default reads the whole blob first."""
        blob, data = await self.get(blob_id)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), chunk_bytes):
                yield data[start:start + chunk_bytes]

        return blob, chunks()

    @abstractmethod
    async def delete(self, blob_id: str) -> None: ...

    @abstractmethod
    async def exists(self, blob_id: str) -> bool: ...
