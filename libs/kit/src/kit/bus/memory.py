"""In-process adapter with Kafka's semantics: partitioned logs, keys, consumer groups with committed
offsets, at-least-once delivery (commit after the handler), and DLQ topics.

`MemoryBroker` plays the server (logs and committed offsets, outliving any client);
`MemoryBus` plays a client (its subscriptions and consumer tasks), so a test can "crash" a client
and start another on the same broker, as with Kafka. Given a file, the broker also journals its
logs and offsets there and reloads them when created again (the embedded mode's restarts)."""

import asyncio
import itertools
import logging
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from kit.bus.base import DLQ_EXTENSIONS, EventBus, RetryPolicy, Subscription, cancel_and_wait, dlq_topic
from kit import metrics
from kit.bus.journal import Journal
from kit.events import CloudEvent

log = logging.getLogger("kit.bus.memory")
_member_ids = itertools.count(1)
REPLAY_GROUP = "__replay__"  # the offsets of what `replay_dlq` has already moved


@dataclass
class _Partition:
    records: list[tuple[str | None, CloudEvent]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class MemoryBroker:
    def __init__(self, partitions: int = 3, *, journal: Path | str | None = None):
        self.partition_count = partitions
        self.topics: dict[str, list[_Partition]] = {}
        self.committed: dict[tuple[str, str, int], int] = {}
        self.members: dict[tuple[str, str], list[int]] = {}
        self._round_robin = itertools.count()
        self.journal = Journal(journal) if journal is not None else None
        if self.journal is not None:
            self._reload(self.journal)

    def _reload(self, journal: Journal) -> None:
        for name, index, key, event in journal.records():
            parts = self.topic(name)
            parts.extend(_Partition() for _ in range(index + 1 - len(parts)))  # created with more partitions
            parts[index].records.append((key, event))
        self.committed.update(journal.committed())

    def topic(self, name: str) -> list[_Partition]:
        if name not in self.topics:
            self.topics[name] = [_Partition() for _ in range(self.partition_count)]
        return self.topics[name]

    def append(self, name: str, key: str | None, event: CloudEvent) -> None:
        parts = self.topic(name)
        index = (zlib.crc32(key.encode()) if key is not None else next(self._round_robin)) % len(parts)
        if self.journal is not None:  # written before it can be seen: what a consumer gets is durable
            self.journal.append(name, index, len(parts[index].records), key, event)
        parts[index].records.append((key, event))
        parts[index].changed.set()

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        if self.journal is not None:
            self.journal.commit(group, topic, partition, offset)
        self.committed[(group, topic, partition)] = offset

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def join(self, group: str, topic: str, member: int) -> None:
        self.members.setdefault((group, topic), []).append(member)
        self._wake(topic)

    def leave(self, group: str, topic: str, member: int) -> None:
        members = self.members.get((group, topic), [])
        if member in members:
            members.remove(member)
        self._wake(topic)

    def owner(self, group: str, topic: str, partition: int) -> int | None:
        members = self.members.get((group, topic)) or []
        return members[partition % len(members)] if members else None

    def _wake(self, topic: str) -> None:
        for part in self.topic(topic):
            part.changed.set()


class MemoryBus(EventBus):
    def __init__(self, broker: MemoryBroker | None = None, *, retry: RetryPolicy | None = None):
        self.broker = broker or MemoryBroker()
        self.retry = retry or RetryPolicy()
        self.subscriptions: list[tuple[Subscription, int]] = []
        self.tasks: list[asyncio.Task] = []
        self.started = False
        self.stopping = False

    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.stopping = False
        for sub, member in self.subscriptions:
            self._launch(sub, member)

    def subscribe(self, topic: str, group: str, handler) -> None:
        sub = Subscription(topic, group, handler)
        member = next(_member_ids)
        self.subscriptions.append((sub, member))
        if self.started:
            self._launch(sub, member)

    def _launch(self, sub: Subscription, member: int) -> None:
        self.broker.join(sub.group, sub.topic, member)
        for index in range(self.broker.partition_count):
            self.tasks.append(asyncio.create_task(self._consume(sub, member, index),
                                                  name=f"consume {sub.topic}[{index}] {sub.group}"))

    async def _consume(self, sub: Subscription, member: int, index: int) -> None:
        part = self.broker.topic(sub.topic)[index]
        key = (sub.group, sub.topic, index)
        lag, labels = metrics.instruments().lag, {"topic": sub.topic, "group": sub.group, "partition": str(index)}
        try:
            while not self.stopping:
                part.changed.clear()
                offset = self.broker.committed.get(key, 0)
                owner = self.broker.owner(sub.group, sub.topic, index) == member
                if owner:
                    lag.set(len(part.records) - offset, labels)
                if not owner or offset >= len(part.records):
                    try:
                        await asyncio.wait_for(part.changed.wait(), timeout=0.5)
                    except TimeoutError:
                        pass
                    continue
                record_key, event = part.records[offset]
                parked = await self.deliver(sub, event)
                if parked is not None:
                    self.broker.append(dlq_topic(sub.topic), record_key, parked)
                # Commit only after the handler succeeded (or the event was parked).
                self.broker.commit(sub.group, sub.topic, index, offset + 1)
        finally:
            self.broker.leave(sub.group, sub.topic, member)

    async def stop(self) -> None:
        self.stopping = True
        for part_list in self.broker.topics.values():
            for part in part_list:
                part.changed.set()
        # Let in-flight handlers finish (they commit), then make sure nothing is left running.
        done, pending = await asyncio.wait(self.tasks, timeout=10) if self.tasks else (set(), set())
        await cancel_and_wait(list(pending))
        self.tasks.clear()
        self.started = False

    async def _send(self, topic: str, event: CloudEvent, key: str | None) -> None:
        self.broker.append(topic, key, event)

    async def read_all(self, topic: str) -> AsyncIterator[CloudEvent]:
        parts = self.broker.topics.get(topic, [])
        ends = [len(part.records) for part in parts]  # the snapshot: what is in the log now
        for part, end in zip(parts, ends):
            for offset in range(end):
                yield part.records[offset][1]
                if offset % 500 == 499:
                    await asyncio.sleep(0)  # a long read must not starve the live consumers

    async def replay_dlq(self, topic: str) -> int:
        moved, source = 0, dlq_topic(topic)
        for index, part in enumerate(self.broker.topic(source)):
            start = self.broker.committed.get((REPLAY_GROUP, source, index), 0)
            end = len(part.records)
            for record_key, event in part.records[start:end]:
                self.broker.append(topic, record_key, event.without_extensions(*DLQ_EXTENSIONS))
                moved += 1
            self.broker.commit(REPLAY_GROUP, source, index, end)
        return moved

    async def ping(self) -> None:
        return None

    def parked(self, topic: str) -> list[CloudEvent]:
        """Events currently on `<topic>.dlq` (for operators' tooling and tests)."""
        return [event for part in self.broker.topic(dlq_topic(topic)) for _, event in part.records]
