"""Rebuild the lookup read model from the event log, never from the write side's database.

Reads `dossier.events` from the beginning with `EventBus.read_all` (no consumer group, so the live
consumer's offsets are untouched). The projection keeps the newest sequence per dossier, so a rebuild
may run while the live consumer runs: whichever applies an event first, the newest one wins. (On Redis
the check and the write are two calls: should both processes write one dossier in the same instant,
an older view could land last; the dossier's next event, or another rebuild, puts it right.)"""

import asyncio
import contextlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from kit.bus import EventBus
from kit.cache import Cache
from kit.events import CloudEvent

from contracts.dossier import TOPIC as DOSSIER_EVENTS
from dossier.lookup.projection import PREFIX, LookupProjection, key

_DONE = None


@dataclass(frozen=True)
class RebuildReport:
    events: int  # events read from the log
    dossiers: int  # dossiers met in the log that have an entry in the read model now


async def rebuild(bus: EventBus, cache: Cache, *, fresh: bool = False, workers: int = 16,
                  progress: Callable[[int], object] | None = None) -> RebuildReport:
    """Apply every event of the log to the read model. `fresh` first deletes every lookup entry (until
    the rebuild reaches a dossier, a lookup of it answers "not found")."""
    if fresh:
        await cache.delete_prefix(PREFIX)
    projection = LookupProjection(cache)
    codes: set[str] = set()
    # Events of one dossier go to one worker, in log order; different dossiers are applied side by side.
    queues: list[asyncio.Queue[CloudEvent | None]] = [asyncio.Queue(maxsize=100) for _ in range(workers)]

    async def worker(queue: asyncio.Queue[CloudEvent | None]) -> None:
        while (event := await queue.get()) is not _DONE:
            code = await projection.apply(event)
            if code is not None:
                codes.add(code)
            if progress is not None:
                progress(1)

    events = 0
    async with asyncio.TaskGroup() as group:  # a failing worker (cache down) cancels the read
        for queue in queues:
            group.create_task(worker(queue))
        async with contextlib.aclosing(bus.read_all(DOSSIER_EVENTS)) as log:  # closes the reader if cancelled
            async for event in log:
                await queues[zlib.crc32((event.subject or "").encode()) % workers].put(event)
                events += 1
        for queue in queues:
            await queue.put(_DONE)
    return RebuildReport(events=events, dossiers=await _present(cache, sorted(codes)))


async def _present(cache: Cache, codes: list[str], chunk: int = 1000) -> int:
    found = 0
    for start in range(0, len(codes), chunk):
        found += sum(raw is not None for raw in await cache.get_many([key(c) for c in codes[start:start + chunk]]))
    return found
