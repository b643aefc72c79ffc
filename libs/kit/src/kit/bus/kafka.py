"""Kafka adapter on aiokafka: idempotent producer with acks=all, manual commits after the handler,
retries with backoff, then `<topic>.dlq` with the error attached."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError

from kit.bus.base import (DLQ_ERROR, DLQ_EXTENSIONS, DLQ_GROUP, DLQ_TOPIC, EventBus, RetryPolicy, Subscription,
                          cancel_and_wait, dlq_topic, raise_if_cancelled)
from kit import metrics
from kit.events import CloudEvent

log = logging.getLogger("kit.bus.kafka")


READ_STALL_SECONDS = 60
LAG_REPORT_SECONDS = 1.0


class BrokerUnavailable(Exception):
    pass


class KafkaBus(EventBus):
    def __init__(self, bootstrap: str, *, client_id: str = "motcua", topic_prefix: str = "",
                 retry: RetryPolicy | None = None, partitions: int = 3, max_batch: int = 200):
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.prefix = topic_prefix
        self.retry = retry or RetryPolicy()
        self.partitions = partitions
        self.max_batch = max_batch
        self.producer: AIOKafkaProducer | None = None
        self.subscriptions: list[Subscription] = []
        self.tasks: list[asyncio.Task] = []
        self.consumers: list[AIOKafkaConsumer] = []
        self.assigned = asyncio.Event()
        self.stopping = False
        self._known_topics: set[str] = set()

    def physical(self, topic: str) -> str:
        return self.prefix + topic

    async def start(self) -> None:
        if self.producer is not None:
            return
        self.stopping = False
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, client_id=self.client_id,
                                         enable_idempotence=True, acks="all", linger_ms=1,
                                         request_timeout_ms=15000)
        await self.producer.start()
        await self.ensure_topics([t for s in self.subscriptions for t in (s.topic, dlq_topic(s.topic))])
        for sub in self.subscriptions:
            self._launch(sub)

    async def ensure_topics(self, topics: list[str]) -> None:
        missing = [t for t in dict.fromkeys(topics) if t not in self._known_topics]
        if not missing:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin")
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            new = [NewTopic(self.physical(t), num_partitions=self.partitions, replication_factor=1)
                   for t in missing if self.physical(t) not in existing]
            if new:
                try:
                    await admin.create_topics(new)
                except TopicAlreadyExistsError:
                    pass
        finally:
            await admin.close()
        self._known_topics.update(missing)

    def subscribe(self, topic: str, group: str, handler) -> None:
        sub = Subscription(topic, group, handler)
        self.subscriptions.append(sub)
        if self.producer is not None:
            async def later() -> None:
                await self.ensure_topics([topic, dlq_topic(topic)])
                await self._consume(sub)
            self.tasks.append(asyncio.create_task(later()))

    def _launch(self, sub: Subscription) -> None:
        self.tasks.append(asyncio.create_task(self._consume(sub), name=f"consume {sub.topic} {sub.group}"))

    async def _consume(self, sub: Subscription) -> None:
        consumer = AIOKafkaConsumer(
            self.physical(sub.topic), bootstrap_servers=self.bootstrap, client_id=self.client_id,
            group_id=self.physical(sub.group), enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=self.max_batch, session_timeout_ms=10000, heartbeat_interval_ms=1000)
        await consumer.start()
        self.consumers.append(consumer)
        lag = _LagReport(sub, consumer)
        reporter = asyncio.create_task(lag.run(), name=f"lag {sub.topic} {sub.group}")
        try:
            while not self.stopping:
                batch = await consumer.getmany(timeout_ms=200, max_records=self.max_batch)
                if consumer.assignment():
                    self.assigned.set()
                for tp, records in batch.items():
                    for record in records:
                        lag.at(tp, record.offset)
                        await self._handle(sub, record)
                        lag.at(tp, record.offset + 1)
                    # Commit only after every handler of the partition's batch succeeded (or parked).
                    try:
                        await consumer.commit({tp: records[-1].offset + 1})
                    except CommitFailedError:
                        log.warning("commit lost to a rebalance; the batch will be redelivered",
                                    extra={"topic": sub.topic, "group": sub.group})
        finally:
            reporter.cancel()
            self.consumers.remove(consumer)
            await consumer.stop()

    async def _handle(self, sub: Subscription, record) -> None:
        try:
            event = CloudEvent.from_kafka(record.headers, record.value)
        except Exception as exc:  # a record that is not a CloudEvent: park it untouched
            headers = list(record.headers or ()) + [("ce_" + DLQ_ERROR, f"not a CloudEvent: {exc}"[:2000].encode()),
                                                    ("ce_" + DLQ_GROUP, sub.group.encode()),
                                                    ("ce_" + DLQ_TOPIC, sub.topic.encode())]
            await self._raw_send(dlq_topic(sub.topic), record.key, record.value, headers)
            metrics.instruments().dead_lettered.add(1, {"topic": sub.topic, "group": sub.group})
            return
        parked = await self.deliver(sub, event)
        if parked is not None:
            await self._send(dlq_topic(sub.topic), parked, record.key.decode() if record.key else None)

    async def _raw_send(self, topic: str, key: bytes | None, value: bytes, headers: list) -> None:
        if self.producer is None:
            raise BrokerUnavailable("the producer is not started")
        try:
            await self.producer.send_and_wait(self.physical(topic), value=value, key=key, headers=headers)
        except KafkaError as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def _send(self, topic: str, event: CloudEvent, key: str | None) -> None:
        await self._raw_send(topic, key.encode() if key is not None else None, event.kafka_value(), event.kafka_headers())

    async def stop(self) -> None:
        self.stopping = True
        if self.tasks:
            # Consumers finish their batch and commit; anything still running after that is cancelled.
            done, pending = await asyncio.wait(self.tasks, timeout=15)
            await cancel_and_wait(list(pending))
        self.tasks.clear()
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def ping(self) -> None:
        if self.producer is None:
            raise BrokerUnavailable("the producer is not started")
        if not await self.producer.client.force_metadata_update():
            raise BrokerUnavailable(f"no answer from {self.bootstrap}")

    async def read_all(self, topic: str) -> AsyncIterator[CloudEvent]:
        name = self.physical(topic)
        # No group: manual assignment, nothing committed, no rebalance to wait for.
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-reader",
                                    group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                    max_poll_records=self.max_batch * 5)
        await consumer.start()
        try:
            parts = [TopicPartition(name, p) for p in await self._partitions_of(name)]
            if not parts:
                return
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)  # the snapshot: what is in the log now
            pending = [tp for tp in parts if await consumer.position(tp) < ends[tp]]
            progressed = time.monotonic()
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=500)
                if batch:
                    progressed = time.monotonic()
                elif time.monotonic() - progressed > READ_STALL_SECONDS:  # an incomplete read must not pass as done
                    raise BrokerUnavailable(f"reading {topic} made no progress for {READ_STALL_SECONDS} s")
                for tp, records in batch.items():
                    for record in records:
                        if record.offset < ends[tp]:
                            event = _decoded(record, topic)
                            if event is not None:
                                yield event
                pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
        finally:
            await consumer.stop()

    async def _partitions_of(self, name: str) -> list[int]:
        """The partition numbers of a physical topic, none if it does not exist (it is not created)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin")
        await admin.start()
        try:
            if name not in await admin.list_topics():
                return []
            [described] = await admin.describe_topics([name])
            return sorted(p["partition"] for p in described["partitions"])
        finally:
            await admin.close()

    async def replay_dlq(self, topic: str) -> int:
        source = dlq_topic(topic)
        await self.ensure_topics([topic, source])
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.physical(source + ".replay"),
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    client_id=f"{self.client_id}-replay")
        await consumer.start()
        moved = 0
        try:
            assert self.producer is not None
            parts = [TopicPartition(self.physical(source), p)
                     for p in sorted(await self.producer.partitions_for(self.physical(source)))]
            consumer.assign(parts)  # manual assignment: commits go to the replay group, no rebalance wait
            ends = await consumer.end_offsets(parts) if parts else {}
            deadline = time.monotonic() + 60
            while parts and time.monotonic() < deadline:
                if all([await consumer.position(tp) >= ends[tp] for tp in parts]):
                    break
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        event = CloudEvent.from_kafka(record.headers, record.value).without_extensions(*DLQ_EXTENSIONS)
                        await self._send(topic, event, record.key.decode() if record.key else None)
                        moved += 1
                    await consumer.commit({tp: records[-1].offset + 1})
        finally:
            await consumer.stop()
        return moved


class _LagReport:
    """The group's lag on the partitions this consumer holds: the end offset minus the next offset
    not yet handled, every second from its own task (a stuck handler must not freeze its own lag). A
    partition handed to another member reads 0 here (that member reports it)."""

    def __init__(self, sub: Subscription, consumer: AIOKafkaConsumer):
        self.sub = sub
        self.consumer = consumer
        self.handled: dict[TopicPartition, int] = {}  # next offset to handle, per partition
        self.partitions: set[int] = set()

    def at(self, tp: TopicPartition, offset: int) -> None:
        self.handled[tp] = offset

    async def run(self) -> None:
        while True:
            await asyncio.sleep(LAG_REPORT_SECONDS)
            try:
                await self.report()
            except Exception as exc:  # metrics must never stop a consumer
                log.debug("lag report failed: %s", type(exc).__name__)
            raise_if_cancelled()

    async def report(self) -> None:
        gauge = metrics.instruments().lag
        assigned = self.consumer.assignment()
        # Asked of the broker: the client's own high watermark stops moving while a handler is stuck
        # (it fetches no more for a partition whose records are still waiting).
        ends = await asyncio.wait_for(self.consumer.end_offsets(list(assigned)), timeout=5) if assigned else {}
        held: set[int] = set()
        for tp in assigned:
            highwater = ends.get(tp)
            if highwater is None:
                continue
            position = self.handled.get(tp)
            if position is None:
                try:
                    position = await asyncio.wait_for(self.consumer.position(tp), timeout=0.5)
                except (TimeoutError, KafkaError, AssertionError):
                    continue
            held.add(tp.partition)
            gauge.set(max(0, highwater - position), self._labels(tp.partition))
        for gone in self.partitions - held:
            gauge.set(0, self._labels(gone))
        for tp in [tp for tp in self.handled if tp not in assigned]:
            del self.handled[tp]
        self.partitions = held

    def _labels(self, partition: int) -> dict[str, str]:
        return {"topic": self.sub.topic, "group": self.sub.group, "partition": str(partition)}


def _decoded(record, topic: str) -> CloudEvent | None:
    try:
        return CloudEvent.from_kafka(record.headers, record.value)
    except Exception:  # not a CloudEvent: the live consumers park it on the DLQ; a reader skips it
        log.warning("skipped a record that is not a CloudEvent", extra={"topic": topic, "offset": record.offset})
        return None
