"""The event-bus contract: the same tests, unchanged, on the in-process adapter and on Kafka."""

import asyncio

import pytest

from kit.bus import EventBus, RetryPolicy
from kit.bus.base import DLQ_ERROR, DLQ_GROUP
from kit.bus.kafka import KafkaBus
from kit.bus.memory import MemoryBroker, MemoryBus
from kit.events import CloudEvent
from kit.idempotency import AppliedEvents
from kit.store.sqlite import SqliteStore
from kit.testing import FAST_RETRY, KAFKA, eventually, require_server, unique

TOPIC = "dossier.events"


@pytest.fixture(params=["memory", "journaled memory", pytest.param("kafka", marks=pytest.mark.integration)])
async def bus_factory(request, tmp_path):
    """kit.testing's bus_factory, plus the memory broker journaling to a file (the embedded mode's bus):
    clients on one shared "server", so a test can stop one client and start another."""
    clients: list[EventBus] = []
    broker = None
    if request.param == "kafka":
        require_server("Kafka", KAFKA)
        prefix = unique("t") + "."

        def client(retry: RetryPolicy) -> EventBus:
            return KafkaBus(KAFKA, client_id="test", topic_prefix=prefix, retry=retry)
    else:
        broker = MemoryBroker(journal=tmp_path / "bus.sqlite3" if request.param == "journaled memory" else None)

        def client(retry: RetryPolicy) -> EventBus:
            return MemoryBus(broker, retry=retry)

    def make(retry: RetryPolicy = FAST_RETRY) -> EventBus:
        clients.append(client(retry))
        return clients[-1]

    make.kind = request.param  # type: ignore[attr-defined]
    yield make
    for bus in clients:
        await bus.stop()
    if broker is not None:
        broker.close()


def event(subject: str, n: int, **data) -> CloudEvent:
    return CloudEvent(source="/test", type="vn.motcua.test.happened.v1", subject=subject, data={"n": n, **data})


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing retries or commits."""


@pytest.fixture
async def applied_store(tmp_path):
    store = SqliteStore(tmp_path / "applied.sqlite3")
    await store.start()
    yield store
    await store.stop()


async def test_events_of_one_key_arrive_in_order(bus_factory):
    bus = bus_factory()
    seen: dict[str, list[int]] = {}

    async def handler(ev: CloudEvent) -> None:
        seen.setdefault(ev.subject, []).append(ev.data["n"])

    bus.subscribe(TOPIC, "lookup", handler)
    await bus.start()
    keys = [f"H49-261123-{i:04d}" for i in range(1, 6)]
    for n in range(20):
        for key in keys:
            await bus.publish(TOPIC, event(key, n), key=key)
    await eventually(lambda: sum(len(v) for v in seen.values()) == 100, timeout=30)
    for key in keys:
        assert seen[key] == list(range(20)), key


async def test_every_consumer_group_gets_every_event(bus_factory):
    bus = bus_factory()
    got: dict[str, list[int]] = {"notification": [], "lookup": []}

    def recorder(group):
        async def handler(ev):
            got[group].append(ev.data["n"])
        return handler

    for group in got:
        bus.subscribe(TOPIC, group, recorder(group))
    await bus.start()
    for n in range(10):
        await bus.publish(TOPIC, event("D", n), key="D")
    await eventually(lambda: len(got["notification"]) == 10 and len(got["lookup"]) == 10, timeout=30)
    assert got["notification"] == got["lookup"] == list(range(10))


async def test_a_consumer_dying_after_its_handler_but_before_commit_does_not_apply_twice(bus_factory, applied_store):
    effects: list[int] = []

    async def apply(ev: CloudEvent) -> None:
        effects.append(ev.data["n"])

    guard = AppliedEvents(applied_store, "notification").guard
    crashed = asyncio.Event()
    guarded = guard(apply)

    async def dies_before_commit(ev: CloudEvent) -> None:
        await guarded(ev)  # the effect is applied and recorded...
        crashed.set()
        raise Crash()  # ...then the process dies before the offset is committed

    first = bus_factory()
    first.subscribe(TOPIC, "notification", dies_before_commit)
    await first.start()
    await first.publish(TOPIC, event("D1", 1), key="D1")
    await asyncio.wait_for(crashed.wait(), timeout=30)
    await first.stop()
    assert effects == [1]

    restarted = bus_factory()
    restarted.subscribe(TOPIC, "notification", guard(apply))
    await restarted.start()
    await restarted.publish(TOPIC, event("D1", 2), key="D1")
    await eventually(lambda: 2 in effects, timeout=30)
    await asyncio.sleep(0.3)
    assert effects == [1, 2]  # event 1 was redelivered (uncommitted) and skipped


async def test_a_failing_event_is_retried_then_parked_on_the_dlq_and_the_partition_keeps_flowing(bus_factory):
    bus = bus_factory()
    handled: list[int] = []
    attempts: dict[int, int] = {}
    fixed = False

    async def handler(ev: CloudEvent) -> None:
        n = ev.data["n"]
        attempts[n] = attempts.get(n, 0) + 1
        if ev.data.get("poison") and not fixed:
            raise ValueError("procedure 9.999999 is unknown")
        handled.append(n)

    parked: list[CloudEvent] = []

    async def dlq_watcher(ev: CloudEvent) -> None:
        parked.append(ev)

    bus.subscribe(TOPIC, "dossier", handler)
    bus.subscribe(TOPIC + ".dlq", "operator", dlq_watcher)
    await bus.start()
    await bus.publish(TOPIC, event("D", 1), key="D")
    await bus.publish(TOPIC, event("D", 2, poison=True), key="D")
    await bus.publish(TOPIC, event("D", 3), key="D")

    await eventually(lambda: handled == [1, 3] and len(parked) == 1, timeout=30)
    assert attempts[2] == bus.retry.attempts  # retried, then given up
    dead = parked[0]
    assert dead.data["n"] == 2
    assert "procedure 9.999999 is unknown" in dead.extensions[DLQ_ERROR]
    assert dead.extensions[DLQ_GROUP] == "dossier"

    fixed = True
    assert await bus.replay_dlq(TOPIC) == 1
    await eventually(lambda: handled == [1, 3, 2], timeout=30)
    assert await bus.replay_dlq(TOPIC) == 0  # nothing replayed twice


async def test_trace_context_travels_with_the_event(bus_factory):
    from opentelemetry.sdk.trace import TracerProvider

    from kit import telemetry

    telemetry.setup_tracing("test")
    bus = bus_factory()
    received: list[CloudEvent] = []

    async def handler(ev):
        received.append(ev)

    bus.subscribe(TOPIC, "g", handler)
    await bus.start()
    with telemetry.tracer.start_as_current_span("request") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        from kit.events import new_event
        await bus.publish(TOPIC, new_event(source="/t", type="vn.motcua.t.v1", subject="D", data={}), key="D")
    await eventually(lambda: received, timeout=30)
    assert received[0].traceparent.split("-")[1] == trace_id
    assert isinstance(telemetry.trace.get_tracer_provider(), TracerProvider)


async def test_ping(bus_factory):
    bus = bus_factory()
    await bus.start()
    await bus.ping()


async def _read_all(bus, topic: str = TOPIC) -> list[CloudEvent]:
    return [ev async for ev in bus.read_all(topic)]


async def test_read_all_gives_every_event_from_the_beginning_in_order_per_key(bus_factory):
    writer = bus_factory()
    await writer.start()
    keys = [f"H49-261123-{i:04d}" for i in range(1, 8)]
    for n in range(5):
        for key in keys:
            await writer.publish(TOPIC, event(key, n), key=key)
    await writer.publish("other.events", event("X", 99), key="X")

    read = await _read_all(bus_factory())  # a client that was never started, as a rebuild command is
    by_key: dict[str, list[int]] = {}
    for ev in read:
        by_key.setdefault(ev.subject, []).append(ev.data["n"])
    assert by_key == {key: list(range(5)) for key in keys}
    assert len(await _read_all(writer)) == 35  # reading moves no offset: the same again


async def test_read_all_stops_at_the_end_it_saw_when_it_started(bus_factory):
    bus = bus_factory()
    await bus.start()
    for n in range(6):
        await bus.publish(TOPIC, event(f"D{n}", n), key=f"D{n}")
    seen: list[int] = []
    async for ev in bus.read_all(TOPIC):
        seen.append(ev.data["n"])
        if len(seen) == 1:  # written while the read runs: after the snapshot, so not part of it
            for n in range(6, 9):
                await bus.publish(TOPIC, event(f"D{n}", n), key=f"D{n}")
    assert sorted(seen) == list(range(6))


async def test_read_all_of_an_empty_or_unknown_topic_ends_at_once(bus_factory):
    bus = bus_factory()
    assert await asyncio.wait_for(_read_all(bus, "nothing.events"), timeout=30) == []


async def test_read_all_leaves_the_groups_offsets_alone(bus_factory):
    bus = bus_factory()
    got: list[int] = []

    async def handler(ev: CloudEvent) -> None:
        got.append(ev.data["n"])

    bus.subscribe(TOPIC, "lookup", handler)
    await bus.start()
    for n in range(3):
        await bus.publish(TOPIC, event("D", n), key="D")
    await eventually(lambda: got == [0, 1, 2], timeout=30)
    assert [ev.data["n"] for ev in await _read_all(bus)] == [0, 1, 2]
    await bus.publish(TOPIC, event("D", 3), key="D")
    await eventually(lambda: got == [0, 1, 2, 3], timeout=30)
    await asyncio.sleep(0.3)
    assert got == [0, 1, 2, 3]  # nothing redelivered, nothing skipped
