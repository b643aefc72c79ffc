"""Files on disk for the embedded mode: one data file and one JSON metadata file per blob,
written to a temporary name and renamed, so a crash never leaves half a file under the id."""

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

from kit.blobs.base import CHUNK_BYTES, Blob, BlobNotFound, BlobStore, digest
from kit.store import DuplicateKey

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


class DiskBlobStore(BlobStore):
    def __init__(self, root: Path):
        self.root = Path(root)

    def _paths(self, blob_id: str) -> tuple[Path, Path]:
        if not _SAFE.match(blob_id) or blob_id.startswith("."):
            raise ValueError(f"invalid blob id {blob_id!r}")
        return self.root / f"{blob_id}.bin", self.root / f"{blob_id}.json"

    async def put(self, blob_id: str, data: bytes, *, filename: str, content_type: str) -> Blob:
        blob = Blob(id=blob_id, filename=filename, content_type=content_type, size=len(data), sha256=digest(data))
        await asyncio.to_thread(self._write, blob, data)
        return blob

    def _write(self, blob: Blob, data: bytes) -> None:
        data_path, meta_path = self._paths(blob.id)
        self.root.mkdir(parents=True, exist_ok=True)
        if meta_path.exists():
            raise DuplicateKey(f"blob {blob.id} exists")
        for path, content in ((data_path, data), (meta_path, json.dumps(blob.__dict__).encode())):
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(content)
            os.replace(tmp, path)  # the metadata file last: it marks the blob complete

    async def get(self, blob_id: str) -> tuple[Blob, bytes]:
        data_path, meta_path = self._paths(blob_id)
        try:
            meta = json.loads(await asyncio.to_thread(meta_path.read_bytes))
            data = await asyncio.to_thread(data_path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(blob_id) from None
        return Blob(**meta), data

    async def open(self, blob_id: str, *, chunk_bytes: int = CHUNK_BYTES) -> tuple[Blob, AsyncIterator[bytes]]:
        data_path, meta_path = self._paths(blob_id)
        try:
            meta = json.loads(await asyncio.to_thread(meta_path.read_bytes))
            handle = await asyncio.to_thread(data_path.open, "rb")
        except FileNotFoundError:
            raise BlobNotFound(blob_id) from None

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await asyncio.to_thread(handle.read, chunk_bytes):
                    yield chunk
            finally:
                handle.close()

        return Blob(**meta), chunks()

    async def delete(self, blob_id: str) -> None:
        for path in reversed(self._paths(blob_id)):
            path.unlink(missing_ok=True)

    async def exists(self, blob_id: str) -> bool:
        return self._paths(blob_id)[1].exists()
