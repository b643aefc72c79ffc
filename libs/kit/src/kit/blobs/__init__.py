"""File store port: form files and dossier attachments, with their SHA-256.
GridFS in MongoDB; files on disk in the embedded mode."""

from kit.blobs.base import Blob, BlobStore, BlobNotFound

__all__ = ["Blob", "BlobNotFound", "BlobStore", "make_blobs"]


def make_blobs(settings, store=None) -> BlobStore:
    """The adapter that goes with MOTCUA_STORE (GridFS shares the service's MongoDB database)."""
    from kit.store.mongodb import MongoStore

    # Follow the store actually in use (a test may hand a service a store its settings do not name).
    if isinstance(store, MongoStore) or (store is None and settings.store == "mongodb"):
        from kit.blobs.gridfs import GridFsBlobStore

        return GridFsBlobStore(store)
    from kit.blobs.disk import DiskBlobStore

    return DiskBlobStore(settings.sqlite_dir / f"{settings.service_name}-files")
