"""Keeps the lookup read model: one entry per dossier, written only if the event is newer."""

from kit.cache import Cache
from kit.events import CloudEvent

from contracts import UnknownEventType, parse
from contracts.dossier import DossierChange
from dossier.lookup.view import Entry, shape

PREFIX = "lookup:"


def key(code: str) -> str:
    return PREFIX + code


class LookupProjection:
    def __init__(self, cache: Cache):
        self.cache = cache

    async def apply(self, event: CloudEvent) -> str | None:
        """Apply one event; returns the dossier code it concerns, None for an event without one."""
        try:
            change = parse(event)
        except UnknownEventType:
            return None  # an event type this version does not know: nothing to show
        if not isinstance(change, DossierChange):
            return None
        current = Entry.decode(await self.cache.get(key(change.code)))
        if current is None or current.sequence < change.sequence:  # else a duplicate or a stale replay
            await self.cache.set(key(change.code), shape(change, current).encode())
        return change.code
