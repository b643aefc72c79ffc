import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass


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

    @abstractmethod
    async def delete(self, blob_id: str) -> None: ...

    @abstractmethod
    async def exists(self, blob_id: str) -> bool: ...
