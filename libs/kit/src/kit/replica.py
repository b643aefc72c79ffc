"""Local copies of another service's data, kept from its events: write a copy only if it is newer
than the one held, safely under concurrent writers and redeliveries."""

from typing import Any

from kit.store import Collection, DuplicateKey, VersionConflict


async def keep_latest(coll: Collection, doc_id: str, fields: dict[str, Any], *, order: str, attempts: int = 5) -> bool:
    """Store `fields` under `doc_id` unless the held copy's `order` field is already >= ours.
    Returns True if this call wrote the copy."""
    for _ in range(attempts):
        current = await coll.get(doc_id)
        try:
            if current is None:
                await coll.insert({"_id": doc_id, **fields})
                return True
            if current.get(order, 0) >= fields[order]:
                return False
            await coll.save({"_id": doc_id, **fields}, current["version"])
            return True
        except (DuplicateKey, VersionConflict):
            continue  # another writer got there first: look again
    raise VersionConflict(f"{coll.name}/{doc_id}: too much contention")
