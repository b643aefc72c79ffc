"""Document store port: aggregates as JSON documents with a `version` and an `outbox`."""

from kit.store.base import Collection, DocumentStore, DuplicateKey, StoreUnavailable, VersionConflict

__all__ = ["Collection", "DocumentStore", "DuplicateKey", "StoreUnavailable", "VersionConflict", "make_store"]


def make_store(settings) -> DocumentStore:
    """The adapter chosen by MOTCUA_STORE."""
    if settings.store == "mongodb":
        from kit.store.mongodb import MongoStore

        return MongoStore(settings.mongodb_url, settings.database_name)
    from kit.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_dir / f"{settings.service_name}.sqlite3")
